#pragma once
#include <string>

namespace fc::fuzz {

// Writes the seed corpus of every target to DIR/<target>/: small valid files of each
// kind (fuzz/seeds.cpp says how each is made). Throws fc::Error when it cannot write.
void write_seeds(const std::string& dir);

}  // namespace fc::fuzz
