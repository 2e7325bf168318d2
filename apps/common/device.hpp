#pragma once
// --device auto|cpu|cuda, shared by the programs. auto (the default) takes a real GPU
// when the build has the CUDA backend and the machine a device, else the CPU, as the
// reference project does; cuda where there is none is a usage error (exit 2) that says
// why: "no CUDA device: ...". The emulated device (make CUDA=emulate) is taken only when
// asked for by name, since it runs at CPU speed.
#include <cxxopts.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "engine/device.hpp"
#include "engine/tensor.hpp"
#include "flow/ode.hpp"

namespace fc::app {

void add_device_option(cxxopts::Options& options, std::string& choice);
// The device `choice` names (auto, cpu or cuda), or a UsageError naming --device.
Device resolve_device(const std::string& choice);
// "CPU (2 threads)" or "CUDA: NVIDIA H200 (139.8 GiB, sm_90)": printed at start and
// recorded as metrics.json's "device".
std::string describe_device(Device d);
// Prints "PROGRAM: device ..." (rank 0 alone under mpirun; GPU ranks add how their
// gradients travel: NCCL, or MPI through host memory) and returns the description.
// Programs call it once their inputs are checked, so that an error stays one line.
std::string announce_device(const char* program, Device d);

// Under mpirun: starts MPI (dist::init) and refuses, before any work, ranks that
// disagree on the device (a UsageError on every rank, naming each rank's device: a
// data-parallel run steps one model on one kind of device). A plain run: nothing.
void init_ranks(Device d);

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
// Where d is not the CPU: metrics.json's "host_waits_in_steady_steps" {steps, waits,
// later_steps, system_allocs, launches_per_step}, and (rank 0) the line "PROGRAM: the
// host waited for the device W times in S steady training steps; A device allocations
// in the L after the first; K kernel launches a step".
void record_host_waits(const char* program, nlohmann::json& metrics, const HostWaits& w, Device d);

// A velocity that runs on device d for callers that hold CPU tensors (the plots and
// metrics): x goes to d, v(x, t) comes back to the CPU. v itself where d is the CPU.
flow::VelocityFn velocity_on(Device d, const flow::VelocityFn& v);

}  // namespace fc::app
