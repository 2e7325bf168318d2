// Writes the seed corpora of the fuzz targets (fuzz/seeds.cpp) for scripts/fuzz.sh.
// Usage: make_seeds DIR   (creates DIR/<target>/...)
#include <cstdio>
#include <exception>

#include "fuzz/seeds.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  try {
    fc::fuzz::write_seeds(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
