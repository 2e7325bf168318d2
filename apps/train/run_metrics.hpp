#pragma once
// metrics.json: writing it, and what a run records in it about the machine (peak
// memory, the host's waits for the device, kernel launches).
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>
#include "engine/device.hpp"

namespace fc::app {

// Writes text to path atomically (temp file + rename).
void write_json(const std::string& path, const std::string& text);

// metrics.json's peak memory: the host's (peak_memory_mb) and, when d is not the CPU,
// the device's (peak_device_memory_mb), as the caching allocators counted them.
void record_peak_memory(nlohmann::json& metrics, Device d);

// How often the host waited for the device (engine/cuda/backend.hpp's host_waits(): 0 on
// the CPU). A GPU runs ahead of the host only while the host does not wait for it.
uint64_t host_waits(Device d);

// Kernels launched so far on d (engine/cuda/backend.hpp's kernel_launches(): 0 on the CPU).
uint64_t kernel_launches(Device d);

// The host's waits in the steady steps of a training run: those that read no loss,
// write no checkpoint and compare no replicas (train_loop counts them). Zero waits in
// them means the GPU's queue never drains inside a step. Also the device allocator's
// calls to cudaMalloc in the steady steps after the run's first step (which fills its
// cache): zero when a step reuses its memory.
struct HostWaits {
  int64_t steps = 0, waits = 0;
  int64_t later_steps = 0, system_allocs = 0;
  int64_t launches = 0;  // kernel launches in the later steps (cuda::kernel_launches)
};

// The device's counters (host waits, allocations, launches) at the start of a training
// step; add_step_to adds the step's differences to a HostWaits. The loop measures the
// steady steps only: those that read no loss, write no checkpoint and compare no replicas.
class StepCounters {
 public:
  explicit StepCounters(Device d);
  // The run's first step fills the caching allocator: its allocations and launches are
  // not counted as a steady step's.
  void add_step_to(HostWaits& w, bool first_step) const;

 private:
  Device device_;
  uint64_t waits_, system_allocs_, launches_;
};

// Where d is not the CPU: metrics.json's "host_waits_in_steady_steps" {steps, waits,
// later_steps, system_allocs, launches_per_step}, and (rank 0) the line "PROGRAM: the
// host waited for the device W times in S steady training steps; A device allocations
// in the L after the first; K kernel launches a step".
void record_host_waits(const char* program, nlohmann::json& metrics, const HostWaits& w, Device d);

}  // namespace fc::app
