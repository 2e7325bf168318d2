#include "engine/parse_number.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace fc {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Skips digits from i; returns how many.
size_t digits(const std::string& s, size_t& i) {
  const size_t start = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  return i - start;
}

bool is_decimal_syntax(const std::string& s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t mantissa = digits(s, i);
  if (i < s.size() && s[i] == '.') {
    ++i;
    mantissa += digits(s, i);
  }
  if (mantissa == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits(s, i) == 0) return false;
  }
  return i == s.size();
}

bool is_integer_syntax(const std::string& s, bool sign_allowed) {
  size_t i = 0;
  if (sign_allowed && i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  else if (!sign_allowed && i < s.size() && s[i] == '+') ++i;
  return digits(s, i) > 0 && i == s.size();
}

}  // namespace

std::optional<double> parse_decimal(const std::string& text) {
  if (!is_decimal_syntax(text)) return std::nullopt;
  errno = 0;
  const double v = std::strtod(text.c_str(), nullptr);
  // ERANGE is also set for an underflow to a denormal or zero (1e-400), which is the
  // nearest double and fine; an overflow gives inf, which is not.
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_integer(const std::string& text) {
  if (!is_integer_syntax(text, true)) return std::nullopt;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<uint64_t> parse_unsigned(const std::string& text) {
  if (!is_integer_syntax(text, false)) return std::nullopt;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<uint64_t>(v);
}

}  // namespace fc
