#pragma once
// Reverse-mode autograd. An op that records itself attaches a Node to its output:
// the edges to its inputs' nodes (or leaves), and a backward function that maps the
// output gradient to one gradient per input. The backward function is written in
// engine ops next to the op's forward, and captures (detached) what it needs; the
// walk frees it as soon as it has run.
#include <functional>
#include <memory>
#include <vector>

#include "engine/tensor.hpp"

namespace fc {

// which_inputs[i] says whether input i wants a gradient; backward may skip the others
// and return an undefined Tensor for them.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output,
                                                     const std::vector<bool>& which_inputs)>;

struct Edge {
  std::shared_ptr<Node> node;        // the input was produced by a recorded op, or
  std::shared_ptr<TensorImpl> leaf;  // the input is a leaf that requires a gradient
  bool valid() const { return node || leaf; }
};

struct Node {
  const char* op = "";
  std::vector<Edge> inputs;
  BackwardFn backward;
  // Releases the graph behind it iteratively: a chain of 100,000 nodes must not
  // recurse 100,000 deep in destructors.
  ~Node();
};

// Recording is on by default; NoGradGuard turns it off for its scope (sampling,
// optimizer updates, and the backward pass itself).
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Sets recording on or off for its scope (on: to differentiate inside a no-grad
// region, as the likelihood does through the model at every solver step).
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool prev_;
};

// True when recording is on and any input requires a gradient.
bool needs_grad(std::initializer_list<const Tensor*> inputs);

// Attaches a node to `out` with edges to `inputs`; call only when needs_grad().
void record(Tensor& out, const char* op, const std::vector<const Tensor*>& inputs,
            BackwardFn backward);

// For a backward function: the tensor to write the gradient of its input `input` into,
// of `shape` on `device`: a leaf's zeroed .grad itself where the policy at the top of
// engine/autograd.cpp allows, else a new tensor, uninitialised, or zeros with `zeroed`
// (for kernels that add into their output).
Tensor gradient_buffer(size_t input, const Shape& shape, Device device, bool zeroed = false);

// Gradients of `output` (seeded with grad_output) with respect to `inputs`, returned
// instead of accumulated into .grad() (like torch.autograd.grad). Inputs may be
// leaves or intermediate tensors; one that does not influence the output gets zeros.
std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs,
                         const Tensor& grad_output = Tensor(), bool retain_graph = false);

// The walk behind Tensor::backward: accumulates into the .grad() of leaves.
void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph);

// Callbacks of the backward walks run on this thread while a guard is alive, for
// work that overlaps backward (nn/data_parallel.hpp's bucketed all-reduce):
// leaf_done(leaf) once a leaf's .grad() is complete (every edge into it has been
// walked; called once per leaf per walk, in the order they complete), and
// after_node() after each node's backward (to let communication make progress).
// fc::grad() walks do not call them.
struct BackwardHooks {
  std::function<void(const TensorImpl* leaf)> leaf_done;
  std::function<void()> after_node;
};
class BackwardHooksGuard {
 public:
  explicit BackwardHooksGuard(const BackwardHooks* hooks);
  ~BackwardHooksGuard();
  BackwardHooksGuard(const BackwardHooksGuard&) = delete;
  BackwardHooksGuard& operator=(const BackwardHooksGuard&) = delete;

 private:
  const BackwardHooks* prev_;
};

}  // namespace fc
