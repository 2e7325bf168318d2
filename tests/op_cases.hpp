#pragma once
// The op table: one row per op of engine/ops.hpp and variant, shared by the tests that
// run it (tests/test_ops.cpp: gradient check, cross-device check, timing; the CUDA
// resource report, tests/test_cuda_resources.cpp: the kernels every row launches).
#include <string>
#include <vector>

#include "engine/tensor.hpp"
#include "tests/gradcheck.hpp"

namespace fc::test {

// One row per op and variant, run three ways:
//   gradcheck     autograd's gradient against central differences, with CPU tensors
//                 and with CUDA tensors (the emulated device in make test);
//   cross-device  the forward and every input's gradient on CUDA tensors against the
//                 CPU's, to 1e-9 normalised squared error;
//   timing        hidden from make test (./build/run_tests "[timing]"): the median
//                 time of a forward and backward on each device there is.
// The coverage test reads the ops engine/ops.hpp declares and fails until each has a row.
// A new op's row, the template:
//
//   add_case("my_op: what this variant exercises",  // the part before ':' names the op
//            {{3, 5}, {5}},                          // the inputs' shapes
//            {N, P},                                 // how each is drawn (tests/gradcheck.hpp:
//                                                    // N(0,1), positive, away from 0, distinct)
//            [](V x) { return my_op(x[0], x[1]); },  // the op, alone or in a composition
//            smooth_opt());                          // step and tolerances (below)
//
// and `false` after the options where the finite differences would take too long on
// the emulated device (the other checks still run it there).

struct OpCase {
  std::string name;  // "op: variant"; the part before ':' is the op it covers
  std::vector<Shape> shapes;
  std::vector<Gen> gens;  // one per input
  TensorFn f;
  GradCheckOptions opt;
  bool on_cuda = true;  // false: the finite differences too slow for the emulated device
};

// Step and tolerance presets. Linear ops are exact up to float32 rounding; smooth
// nonlinear ones carry an O(h^2) truncation error; the steep ones (1/x, log, x^-1.5)
// take a smaller step.
inline GradCheckOptions linear_opt() { return {1e-2f, 2e-3f, 2e-4f, 977}; }
inline GradCheckOptions smooth_opt() { return {1e-2f, 5e-3f, 5e-4f, 977}; }
inline GradCheckOptions steep_opt() { return {2e-3f, 1e-2f, 1e-3f, 977}; }
// Products are linear in each input, so a large step has no truncation error and
// divides the float32 rounding noise of the forward pass.
inline GradCheckOptions bilinear_opt() { return {0.25f, 2e-3f, 2e-4f, 977}; }

// Every row of the table (tests/op_cases.cpp).
std::vector<OpCase> op_cases();

// A row's inputs as the gradient check draws them (input i from seed + i), on `device`,
// recording gradients.
std::vector<Tensor> row_inputs(const OpCase& c, Device device, uint64_t seed);
// A row's output and each input's gradient of sum(out * W) (W from c.opt.weight_seed),
// on the host: what the cross-device and schedule checks compare.
std::vector<std::vector<float>> row_forward_backward(const OpCase& c, Device device, uint64_t seed);

}  // namespace fc::test
