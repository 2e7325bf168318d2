#include "apps/cli/dataset_dir.hpp"

#include <cstdint>
#include <cstdio>

namespace fc::app {

std::string dataset_dir_name(const std::string& dataset) {
  auto letters = [](const std::string& text, bool dash) {
    std::string out;
    for (char c : text) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                (dash && (c == '-' || c == '_'));
      out += ok ? c : '_';
    }
    return out;
  };
  size_t colon = dataset.find(':');
  if (colon == std::string::npos) return letters(dataset, true);  // a named dataset: its name
  // A file or folder: KIND_BASE_HASH ("points:/a/b/ok.csv" -> points_ok_csv_1f3a9c2e). The
  // base name keeps it readable; the hash of the whole spec keeps apart what the base name
  // alone would mix up (a/ok.csv and b/ok.csv, names that differ only in non-ASCII letters).
  std::string file = dataset.substr(colon + 1);
  while (file.size() > 1 && file.back() == '/') file.pop_back();  // folder:pics/ is folder:pics
  size_t slash = file.find_last_of('/');
  std::string base = slash == std::string::npos ? file : file.substr(slash + 1);
  uint32_t hash = 2166136261u;  // FNV-1a, 32 bits
  for (char c : dataset.substr(0, colon + 1) + file) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", hash);
  return letters(dataset.substr(0, colon), false) + "_" + letters(base, false) + "_" + hex;
}

}  // namespace fc::app
