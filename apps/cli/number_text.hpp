#pragma once
// Numbers as the programs print them in messages, tables and captions (printf's %g
// family), shared so that every table rounds the same way.
#include <cstdio>
#include <string>

namespace fc::app {

// v with `digits` significant digits (%.*g).
inline std::string fmt(double v, int digits = 4) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", digits, v);
  return b;
}

// v in a printf format for one double, such as "%.3f".
inline std::string fmt(double v, const char* format) {
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

}  // namespace fc::app
