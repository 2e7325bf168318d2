// The CUDA kernels' resources on an H100/H200 (compute capability 9.0), without a GPU.
// `make` compiles engine/cuda/*.cu for sm_90 with `-Xptxas -v` and keeps what ptxas said
// of each kernel (registers, spills, static shared memory) beside its object
// (build/nvcc/engine/cuda/X.o.ptxas). The block sizes and dynamic shared memory the
// kernels are launched with are recorded on the emulated device while every row of the
// op table (tests/op_cases.hpp) runs forward and backward, both forms of attention, and
// an MLP's optimizer step with clipping and an EMA. NVIDIA's occupancy calculator
// (cuda_occupancy.h, in the toolkit) turns the two into each launch's theoretical
// occupancy: resident warps of an SM over its 64.
//
// The test fails on a kernel that spills or runs below 25 % occupancy, unless kAccepted
// below says why; FC_KERNEL_REPORT=FILE writes the table in markdown
// (bench/kernel_resources.md is that file). It says SKIPPED where the build has no
// nvcc (no ptxas reports) or the toolkit's cuda_occupancy.h is not found.
#include <catch2/catch.hpp>

#include <cxxabi.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#if __has_include(<cuda_occupancy.h>)
#include <cuda_occupancy.h>
#define FC_HAVE_OCCUPANCY 1
#endif

#include "engine/autograd.hpp"
#include "engine/cuda/backend.hpp"
#include "engine/cuda/emu/launch_record.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"
#include "nn/ema.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "tests/op_cases.hpp"

using namespace fc;
namespace fs = std::filesystem;

namespace {

// One kernel as ptxas compiled it for sm_90.
struct KernelResources {
  std::string name;       // "tiled_attention_kernel<64>": namespaces and parameters dropped
  std::string source;     // engine/cuda/X.cu
  int registers = 0;
  int spill_stores = 0, spill_loads = 0, stack = 0;  // bytes
  int static_shared = 0;                              // bytes
};

std::string demangle(const std::string& mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status), std::free);
  return status == 0 && d ? std::string(d.get()) : mangled;
}

// "void fc::cuda::(anonymous namespace)::tiled_attention_kernel<64>(float const*, ...)"
// -> "tiled_attention_kernel<64>".
std::string short_name(std::string full) {
  for (size_t at; (at = full.find("(anonymous namespace)::")) != std::string::npos;) full.erase(at, 23);
  full = full.substr(0, full.find('('));
  if (full.rfind("void ", 0) == 0) full = full.substr(5);
  int depth = 0;
  size_t last = 0;  // after the last "::" outside template arguments
  for (size_t i = 0; i + 1 < full.size(); ++i) {
    if (full[i] == '<') ++depth;
    if (full[i] == '>') --depth;
    if (depth == 0 && full[i] == ':' && full[i + 1] == ':') last = i + 2;
  }
  return full.substr(last);
}

std::string base_of(const std::string& name) { return name.substr(0, name.find('<')); }
std::string template_args_of(const std::string& name) {
  const size_t lt = name.find('<');
  return lt == std::string::npos ? "" : name.substr(lt);
}

// Every kernel of one ptxas report (the entries of `nvcc -Xptxas -v` for sm_90).
std::vector<KernelResources> read_ptxas_report(const std::string& path, const std::string& source) {
  std::ifstream f(path);
  REQUIRE(f);
  std::vector<KernelResources> kernels;
  const std::regex entry(R"(Compiling entry function '([^']+)' for 'sm_90')");
  const std::regex frame(R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  const std::regex used(R"(Used (\d+) registers)"), smem(R"((\d+) bytes smem)");
  std::smatch m;
  for (std::string line; std::getline(f, line);) {
    if (std::regex_search(line, m, entry)) {
      kernels.push_back({short_name(demangle(m[1])), source});
    } else if (!kernels.empty() && std::regex_search(line, m, frame)) {
      kernels.back().stack = std::stoi(m[1]);
      kernels.back().spill_stores = std::stoi(m[2]);
      kernels.back().spill_loads = std::stoi(m[3]);
    } else if (!kernels.empty() && std::regex_search(line, m, used)) {
      kernels.back().registers = std::stoi(m[1]);
      if (std::regex_search(line, m, smem)) kernels.back().static_shared = std::stoi(m[1]);
    }
  }
  return kernels;
}

// What the build says of its CUDA backend: "nvcc", "emulate" or "none" (the Makefile's
// build/cuda-variant).
std::string cuda_variant() {
  std::ifstream f("build/cuda-variant");
  std::string v;
  f >> v;
  return v;
}

// Runs what launches the kernels, with the emulator recording the launch shapes.
std::vector<emu::LaunchShape> record_launch_shapes() {
  emu::record_launches(true);
  uint64_t seed = 900;
  for (cuda::AttentionKernel form : {cuda::AttentionKernel::tiled, cuda::AttentionKernel::gemm}) {
    cuda::set_attention_kernel(form);
    for (const test::OpCase& c : test::op_cases()) {
      if (form == cuda::AttentionKernel::gemm && c.name.rfind("qkv_attention", 0) != 0) continue;
      test::row_forward_backward(c, Device::CUDA, seed);
      seed += c.shapes.size();
    }
  }
  cuda::set_attention_kernel(cuda::AttentionKernel::tiled);
  // What the table's small shapes do not reach: attention with 64 channels a head (the
  // tiled kernels' larger instantiation, as the UNet's 64-channel heads take), and a
  // product over k = 0 (C = beta C).
  Tensor qkv = test::make_input(Shape{1, 3 * 64, 40}, test::Gen::Normal, seed++).to(Device::CUDA);
  qkv.requires_grad_();
  sum(qkv_attention(qkv, 1)).backward();
  matmul(Tensor::zeros(Shape{3, 0}, Device::CUDA), Tensor::zeros(Shape{0, 4}, Device::CUDA)).to_vector();
  // An optimizer step as the programs take it: flat parameters, clipping, AdamW, EMA,
  // the random numbers of a batch.
  Generator gen(3);
  nn::MLPConfig cfg;
  cfg.hidden = 64;
  nn::MLP mlp(cfg, gen);
  mlp.to(Device::CUDA);
  mlp.flatten_parameters();
  nn::AdamW opt(mlp, nn::AdamWOptions{});
  nn::EMA ema(mlp, 0.999f);
  Tensor x = gen.normal(Shape{256, 3}, 0.f, 1.f, Device::CUDA);
  Tensor t = gen.uniform(Shape{256, 1}, 0.f, 1.f, Device::CUDA);
  Tensor ids = gen.randint(Shape{256}, 0, 10, Device::CUDA);
  opt.zero_grad();
  mse_loss(mlp.forward(x), concat({slice(x, 1, 0, 1), t}, 1)).backward();
  nn::clip_grad_norm(mlp, 0.5f);
  opt.step();
  ema.update();
  sum(ids).to_vector();  // waits for the device
  emu::record_launches(false);
  return emu::recorded_launches();
}

// The launch shapes of one kernel instantiation: the launches written with its template
// arguments (or with none), and, for an instantiation no launch names by its numbers,
// those written with a named constant ("<kTiledMaxD>").
std::vector<emu::LaunchShape> shapes_of(const KernelResources& k, const std::vector<emu::LaunchShape>& launches) {
  const std::string base = base_of(k.name), args = template_args_of(k.name);
  bool named_by_number = false;
  for (const emu::LaunchShape& l : launches) named_by_number |= l.kernel == k.name;
  std::vector<emu::LaunchShape> mine;
  for (const emu::LaunchShape& l : launches) {
    if (base_of(l.kernel) != base) continue;
    const std::string largs = template_args_of(l.kernel);
    const bool symbolic = !largs.empty() && !std::isdigit(static_cast<unsigned char>(largs[1]));
    if (l.kernel == k.name || (args.empty() && largs.empty()) || (!named_by_number && symbolic)) mine.push_back(l);
  }
  return mine;
}

struct Occupancy {
  int blocks = 0;       // resident blocks of an SM
  double fraction = 0;  // resident warps / 64
  std::string limit;    // what bounds it: warps, blocks, registers, shared memory
};

#ifdef FC_HAVE_OCCUPANCY
// An H100's SM (an H200's is the same: 132 SMs of compute capability 9.0).
cudaOccDeviceProp h100() {
  cudaOccDeviceProp p;
  p.computeMajor = 9;
  p.computeMinor = 0;
  p.maxThreadsPerBlock = 1024;
  p.maxThreadsPerMultiprocessor = 2048;
  p.regsPerBlock = 65536;
  p.regsPerMultiprocessor = 65536;
  p.warpSize = 32;
  p.sharedMemPerBlock = 48 << 10;
  p.sharedMemPerMultiprocessor = 228 << 10;
  p.numSms = 132;
  p.sharedMemPerBlockOptin = 227 << 10;
  p.reservedSharedMemPerBlock = 1 << 10;
  return p;
}

Occupancy occupancy(const KernelResources& k, const emu::LaunchShape& l) {
  const cudaOccDeviceProp prop = h100();
  cudaOccFuncAttributes attr;
  attr.maxThreadsPerBlock = 1024;
  attr.numRegs = k.registers;
  attr.sharedSizeBytes = static_cast<size_t>(k.static_shared);
  // Above 48 KB a kernel opts in (cudaFuncSetAttribute), as engine/cuda does.
  attr.shmemLimitConfig = FUNC_SHMEM_LIMIT_OPTIN;
  attr.maxDynamicSharedSizeBytes = l.dynamic_shared;
  cudaOccDeviceState state;
  cudaOccResult r{};
  REQUIRE(cudaOccMaxActiveBlocksPerMultiprocessor(&r, &prop, &attr, &state, static_cast<int>(l.threads),
                                                  l.dynamic_shared) == CUDA_OCC_SUCCESS);
  Occupancy o;
  o.blocks = r.activeBlocksPerMultiprocessor;
  o.fraction = o.blocks * ((l.threads + 31) / 32) / 64.0;
  std::vector<std::string> why;
  if (r.limitingFactors & OCC_LIMIT_WARPS) why.push_back("warps");
  if (r.limitingFactors & OCC_LIMIT_BLOCKS) why.push_back("blocks");
  if (r.limitingFactors & OCC_LIMIT_REGISTERS) why.push_back("registers");
  if (r.limitingFactors & OCC_LIMIT_SHARED_MEMORY) why.push_back("shared memory");
  for (const std::string& w : why) o.limit += (o.limit.empty() ? "" : ", ") + w;
  return o;
}
#endif

// Kernels allowed below 25 % occupancy or to spill, and why. A kernel that comes in
// here needs a reason a reader can check.
const std::map<std::string, std::string> kAccepted = {
    {"tiled_attention_gq_kernel<64>",
     "ptxas keeps 4 bytes of a per-thread array in local memory at 64 registers (an L1 hit; `#pragma unroll` "
     "does not move it)"},
    {"tiled_attention_gkv_kernel<32>",
     "ptxas keeps 8 bytes of a per-thread array in local memory (8 stored, 16 loaded a thread) at 64 registers (an L1 hit; `#pragma unroll` "
     "does not move it)"},
};

}  // namespace

TEST_CASE("CUDA resources: no kernel spills or runs below 25 % occupancy on an H100 unless it says why",
          "[cuda][resources]") {
  if (cuda_variant() != "nvcc") {
    WARN("SKIPPED: this build has no nvcc (build/cuda-variant: '" << cuda_variant()
                                                                   << "'), so there are no ptxas reports");
    return;
  }
#ifndef FC_HAVE_OCCUPANCY
  WARN("SKIPPED: the CUDA toolkit's cuda_occupancy.h was not found");
  return;
#else
  std::vector<KernelResources> kernels;
  for (const auto& entry : fs::directory_iterator("engine/cuda")) {
    if (entry.path().extension() != ".cu") continue;
    const std::string source = entry.path().string();
    const std::string path = "build/nvcc/engine/cuda/" + entry.path().stem().string() + ".o.ptxas";
    INFO(path << " is missing: rebuild the nvcc objects (rm -r build/nvcc; make)");
    REQUIRE(fs::exists(path));
    for (KernelResources& k : read_ptxas_report(path, source)) kernels.push_back(k);
  }
  REQUIRE(kernels.size() >= 40);  // engine/cuda has some 50 kernels: a broken parse cannot pass
  const std::vector<emu::LaunchShape> launches = record_launch_shapes();
  REQUIRE(launches.size() >= 40);

  std::ostringstream table;
  table << "| kernel | source | registers | spill bytes (stores/loads) | stack bytes | static smem | threads | "
           "dynamic smem | blocks/SM | occupancy | bound by |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
  int launched = 0;
  for (const KernelResources& k : kernels) {
    INFO("kernel " << k.name << " (" << k.source << ")");
    const auto accepted = kAccepted.find(k.name);
    const bool excused = accepted != kAccepted.end();
    if (!excused) CHECK(k.spill_stores + k.spill_loads == 0);
    const std::vector<emu::LaunchShape> shapes = shapes_of(k, launches);
    launched += !shapes.empty();
    const std::string prefix = "| `" + k.name + "` | " + fs::path(k.source).filename().string() + " | " +
                               std::to_string(k.registers) + " | " + std::to_string(k.spill_stores) + "/" +
                               std::to_string(k.spill_loads) + " | " + std::to_string(k.stack) + " | " +
                               std::to_string(k.static_shared) + " | ";
    if (shapes.empty()) table << prefix << "not launched by this workload | | | | |\n";
    for (const emu::LaunchShape& l : shapes) {
      const Occupancy o = occupancy(k, l);
      INFO("launched with " << l.threads << " threads, " << l.dynamic_shared << " bytes of dynamic shared memory");
      CHECK(o.blocks > 0);  // it can run at all
      if (!excused) CHECK(o.fraction >= 0.25);
      char occ[32];
      std::snprintf(occ, sizeof occ, "%.0f %%", 100 * o.fraction);
      table << prefix << l.threads << " | " << l.dynamic_shared << " | " << o.blocks << " | " << occ << " | "
            << o.limit << (excused ? " (accepted: " + accepted->second + ")" : "") << " |\n";
    }
  }
  // Every kernel ran (a new kernel needs a launch in record_launch_shapes), and so the
  // join of the names at the launches with ptxas's works.
  std::string not_launched;
  for (const KernelResources& k : kernels)
    if (shapes_of(k, launches).empty()) not_launched += " " + k.name;
  INFO("kernels the workload never launched:" << not_launched);
  CHECK(launched == static_cast<int>(kernels.size()));
  if (const char* out = std::getenv("FC_KERNEL_REPORT")) {
    std::ofstream f(out);
    f << table.str();
    REQUIRE(f.good());
  }
#endif
}
