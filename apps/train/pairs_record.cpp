#include "apps/train/pairs_record.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "apps/cli/options.hpp"
#include "apps/train/run_metrics.hpp"
#include "engine/error.hpp"
#include "engine/file_io.hpp"

namespace fc::app {

namespace {

std::string record_path(const std::string& stem) { return stem + ".json"; }

std::string hex(uint64_t v) {
  std::ostringstream s;
  s << std::hex << v;
  return s.str();
}

}  // namespace

void write_pairs_record(const std::string& stem, const PairsRecord& r) {
  // The checksum as text: JSON numbers lose the low bits of 64-bit integers.
  nlohmann::json j = {{"teacher", r.teacher},   {"teacher_weights", hex(r.teacher_weights)},
                      {"teacher_steps", r.teacher_steps}, {"guidance", r.guidance},
                      {"seed", r.seed},         {"pairs", r.pairs},
                      {"made", r.made}};
  write_json(record_path(stem), j.dump(2));
}

std::optional<PairsRecord> read_pairs_record(const std::string& stem) {
  const std::string path = record_path(stem);
  if (!std::filesystem::exists(path)) return std::nullopt;
  uint64_t size = 0;
  io::Fd fd(io::open_for_reading(path, &size));
  FC_CHECK(size < (1u << 20), path << ": too big for a pairs record (" << size << " bytes)");
  std::string text(size, '\0');
  io::read_all_at(fd.fd, text.data(), size, 0, path);
  PairsRecord r;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    r.teacher = j.at("teacher").get<std::string>();
    r.teacher_weights = std::stoull(j.at("teacher_weights").get<std::string>(), nullptr, 16);
    r.teacher_steps = j.at("teacher_steps").get<int64_t>();
    r.guidance = j.at("guidance").get<double>();
    r.seed = j.at("seed").get<uint64_t>();
    r.pairs = j.at("pairs").get<int64_t>();
    r.made = j.at("made").get<int64_t>();
  } catch (const std::exception& e) {
    FC_THROW(path << ": not a pairs record (" << e.what() << "); remove it and the pairs beside it");
  }
  FC_CHECK(r.pairs > 0 && r.made >= 0 && r.made <= r.pairs,
           path << ": not a pairs record (" << r.made << " of " << r.pairs
                << " pairs made); remove it and the pairs beside it");
  return r;
}

void check_pairs_record(const std::string& stem, const PairsRecord& found, const PairsRecord& want) {
  std::vector<std::string> changed;
  if (found.teacher_weights != want.teacher_weights)
    changed.push_back("the teacher's weights (" + want.teacher + " is another model than the one that made them, " +
                      found.teacher + ")");
  auto number = [&](const char* what, auto was, auto now) {
    if (was == now) return;
    std::ostringstream s;
    s << what << " " << was << " (this run " << now << ")";
    changed.push_back(s.str());
  };
  number("--teacher-steps", found.teacher_steps, want.teacher_steps);
  number("guidance", found.guidance, want.guidance);
  number("x0 seed (from --seed)", found.seed, want.seed);
  if (!found.complete()) number("--pairs", found.pairs, want.pairs);
  FC_CHECK(changed.empty(), record_path(stem) << ": the pairs in " << stem << "_*.npy were made with other settings: "
                                              << join(changed, ", ") << "; remove " << stem << "_*.npy and "
                                              << record_path(stem) << " to make them anew");
}

std::string kept_pairs(const std::string& stem, const PairsRecord& r) {
  if (r.made == 0) return "no pairs were finished";
  return "kept " + std::to_string(r.made) + " of " + std::to_string(r.pairs) + " pairs in " + stem +
         "_*.npy; --resume continues them";
}

}  // namespace fc::app
