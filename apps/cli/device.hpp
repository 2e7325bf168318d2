#pragma once
// --device auto|cpu|cuda, shared by the programs. auto (the default) takes a real GPU
// when the build has the CUDA backend and the machine a device, else the CPU, as the
// reference project does; cuda where there is none is a usage error (exit 2) that says
// why: "no CUDA device: ...". The emulated device (make CUDA=emulate) is taken only when
// asked for by name, since it runs at CPU speed.
#include <cxxopts.hpp>

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

// A velocity that runs on device d for callers that hold CPU tensors (the plots and
// metrics): x goes to d, v(x, t) comes back to the CPU. v itself where d is the CPU.
flow::VelocityFn velocity_on(Device d, const flow::VelocityFn& v);

}  // namespace fc::app
