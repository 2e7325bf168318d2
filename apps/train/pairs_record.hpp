#pragma once
// The record of a set of teacher pairs, STEM.json beside STEM_x0.npy, STEM_x1.npy (and
// STEM_labels.npy): which teacher made them (a checksum of the weights that integrated
// them) with which settings, how many were asked for and how many are made. Pairs are
// reused (cfm_image keeps them beside their teacher) or continued after an interrupt
// only when this run's teacher and settings are the record's: the pairs of an older
// teacher (a model retrained since) would train the student on another flow without a
// word.
#include <cstdint>
#include <optional>
#include <string>

namespace fc::app {

struct PairsRecord {
  std::string teacher;           // the teacher's checkpoint, for the messages
  uint64_t teacher_weights = 0;  // nn::parameter_checksum of the weights that made the pairs
  int64_t teacher_steps = 0;
  double guidance = 0;
  uint64_t seed = 0;             // of the x0 draws
  int64_t pairs = 0, made = 0;   // asked for, made so far (fewer: an interrupted set)
  bool complete() const { return made == pairs; }
};

// Writes STEM.json atomically; after the pairs' files, so that it never counts more
// pairs than they hold.
void write_pairs_record(const std::string& stem, const PairsRecord& record);
// STEM.json, or none when there is no such file; one line naming it when it is not a
// record.
std::optional<PairsRecord> read_pairs_record(const std::string& stem);
// Refuses, on one line naming STEM.json, what changed and how to start over, pairs that
// another teacher or other settings made than `want`'s, and an unfinished set of
// another size.
void check_pairs_record(const std::string& stem, const PairsRecord& found, const PairsRecord& want);
// "kept K of N pairs in STEM_*.npy; --resume continues them": what an interrupt kept.
std::string kept_pairs(const std::string& stem, const PairsRecord& record);

}  // namespace fc::app
