#pragma once
// Numbers as a person types them on a command line or in a spec ("poly:2", "0,0.5,1"):
// one strict reader for every option, so that "2abc", "0x10", "nan", "1e999" and " 3"
// are refused the same way everywhere instead of read as 2, 0 or 16 depending on
// which library function happened to parse them.
#include <cstdint>
#include <optional>
#include <string>

namespace fc {

// A finite decimal number: [+-] digits [. digits] [e [+-] digits] (either side of the
// point may be empty, not both). Nothing else: no hex, no nan/inf, no spaces, no
// trailing text, nothing that overflows a double.
std::optional<double> parse_decimal(const std::string& text);

// A decimal integer: [+-] digits, within int64_t.
std::optional<int64_t> parse_integer(const std::string& text);

// A decimal integer without a sign, within uint64_t ("-1" is not 2^64 - 1).
std::optional<uint64_t> parse_unsigned(const std::string& text);

}  // namespace fc
