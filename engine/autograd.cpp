// Reverse-mode autograd: recording ops into a graph, and the walk that runs their
// backward rules from a root to the leaves.
//
// Where a parameter's gradient is written: the policy, in one place. Three pieces serve
// it: nn::Module::zero_grad, the grad_zeroed flag of a TensorImpl (engine/tensor.hpp),
// and gradient_buffer below.
//  1. zero_grad() zeroes every parameter's .grad and sets its grad_zeroed.
//  2. While the walk runs a node's backward (for backward(); never for fc::grad()),
//     g_leaf_inputs points at that node's edges. An op's backward asks
//     gradient_buffer(i, shape, device) for the tensor to write input i's gradient into
//     and gets the leaf's .grad itself where it is still zeroed (clearing the flag),
//     else a new tensor.
//  3. accumulate_into_leaf sees a gradient that is the .grad already and adds nothing;
//     another is added into the .grad (or becomes it), and the flag is cleared. So a
//     second edge into the same leaf adds instead of overwriting.
// Why: on a GPU a small model's step is bound by kernel launches, and this saves an add
// kernel a parameter. The price: between zero_grad() and backward(), no .grad is written
// by hand. Everything here is per thread (thread_local): a walk runs on one thread.
#include "engine/autograd.hpp"

#include <unordered_map>

#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }
GradModeGuard::GradModeGuard(bool enabled) : prev_(g_grad_enabled) { g_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { g_grad_enabled = prev_; }

Node::~Node() {
  // Take over every input node we hold the last reference to, and release them from
  // a loop instead of from nested destructors.
  std::vector<std::shared_ptr<Node>> pending;
  for (Edge& e : inputs)
    if (e.node && e.node.use_count() == 1) pending.push_back(std::move(e.node));
  inputs.clear();
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    for (Edge& e : n->inputs)
      if (e.node && e.node.use_count() == 1) pending.push_back(std::move(e.node));
    n->inputs.clear();
    n->backward = nullptr;
  }
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

void record(Tensor& out, const char* op, const std::vector<const Tensor*>& inputs,
            BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs.reserve(inputs.size());
  for (const Tensor* t : inputs) {
    Edge e;
    if (t && t->defined()) {
      if (t->grad_fn()) e.node = t->grad_fn();
      else if (t->impl()->requires_grad) e.leaf = t->impl_ptr();
    }
    node->inputs.push_back(std::move(e));
  }
  node->backward = std::move(backward);
  out.impl()->grad_fn = std::move(node);
}

namespace {

thread_local const BackwardHooks* g_hooks = nullptr;
// The edges of the node whose backward runs now, where the walk accumulates into
// leaves (for gradient_buffer); null otherwise.
thread_local const std::vector<Edge>* g_leaf_inputs = nullptr;

// Adds g into the leaf's .grad (or makes g its .grad) unless g is that .grad already:
// the backward wrote into it (gradient_buffer).
void accumulate_into_leaf(TensorImpl* leaf, const Tensor& g) {
  if (!leaf->grad) {
    leaf->grad = g.clone().impl_ptr();
  } else if (g.data() != Tensor(leaf->grad).data()) {  // (a reshape of it counts as it)
    Tensor(leaf->grad).add_(g);
  }
  leaf->grad_zeroed = false;
}

// What a backward walk delivers gradients to.
struct Targets {
  bool accumulate_leaves = true;  // into leaf.grad (backward) or only into `found` (grad)
  std::unordered_map<const TensorImpl*, size_t> leaves;
  std::unordered_map<const Node*, size_t> nodes;
  std::vector<Tensor> found;
};

void add_into(Tensor& acc, const Tensor& g) {
  if (!acc.defined()) acc = g;
  else acc = add(acc, g);
}

// The graph below a root, counted before the walk: every node (kept alive for the
// walk), how many edges inside the graph point at each (a node runs only when all the
// gradients that flow into it have arrived) and, for the hooks, how many lead into each
// leaf (leaf_done fires once its gradient is complete).
struct Graph {
  std::vector<std::shared_ptr<Node>> all;
  std::unordered_map<const Node*, int> pending_inputs;
  std::unordered_map<const TensorImpl*, int> pending_leaf;
};

Graph count_edges(const std::shared_ptr<Node>& start, bool count_leaves) {
  Graph graph{{start}, {{start.get(), 0}}, {}};
  for (size_t i = 0; i < graph.all.size(); ++i) {  // iterative DFS
    for (const Edge& e : graph.all[i]->inputs) {
      if (count_leaves && e.leaf) ++graph.pending_leaf[e.leaf.get()];
      if (!e.node) continue;
      auto [it, inserted] = graph.pending_inputs.try_emplace(e.node.get(), 0);
      ++it->second;
      if (inserted) graph.all.push_back(e.node);
    }
  }
  return graph;
}

// fc::grad() wants only some inputs' gradients: the nodes that lead to one of them
// (producers before consumers, in a Kahn order of the graph), so that the rest are
// skipped, e.g. the weight gradients when differentiating a model by its input.
std::unordered_map<const Node*, bool> nodes_leading_to_targets(Node* start, const Graph& graph,
                                                                const Targets& targets) {
  std::unordered_map<const Node*, bool> leads_to_target;
  std::unordered_map<const Node*, int> remaining = graph.pending_inputs;
  std::vector<Node*> order{start};
  for (size_t i = 0; i < order.size(); ++i)
    for (const Edge& e : order[i]->inputs)
      if (e.node && --remaining[e.node.get()] == 0) order.push_back(e.node.get());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    bool useful = targets.nodes.count(*it) > 0;
    for (const Edge& e : (*it)->inputs)
      useful = useful || (e.leaf && targets.leaves.count(e.leaf.get())) || (e.node && leads_to_target[e.node.get()]);
    leads_to_target[*it] = useful;
  }
  return leads_to_target;
}

// Runs n's backward rule on its output gradient g, for the inputs marked in `which`;
// one gradient per input comes back (undefined where not wanted).
std::vector<Tensor> run_node_backward(Node* n, const Tensor& g, const std::vector<bool>& which,
                                      const Targets& targets, bool retain_graph) {
  FC_CHECK(n->backward, "backward: the graph through op " << n->op << " was already freed; pass retain_graph");
  std::vector<Tensor> input_grads;
  {
    profiler::Scope scope(n->op, /*backward=*/true);
    g_leaf_inputs = targets.accumulate_leaves ? &n->inputs : nullptr;  // gradient_buffer's leaves
    struct Reset {
      ~Reset() { g_leaf_inputs = nullptr; }
    } reset;
    input_grads = n->backward(g, which);
  }
  FC_CHECK(input_grads.size() == n->inputs.size(),
           "backward of " << n->op << " returned " << input_grads.size() << " gradients for " << n->inputs.size()
                          << " inputs");
  if (!retain_graph) n->backward = nullptr;  // frees the saved tensors now
  return input_grads;
}

void walk(const Tensor& root, const Tensor& grad_root, bool retain_graph, Targets& targets) {
  NoGradGuard no_grad;  // backward functions run engine ops; they must not record
  const std::shared_ptr<Node>& start = root.grad_fn();
  if (!start) {  // the root is a leaf
    auto it = targets.leaves.find(root.impl());
    if (it != targets.leaves.end()) add_into(targets.found[it->second], grad_root);
    if (targets.accumulate_leaves && root.impl()->requires_grad) accumulate_into_leaf(root.impl(), grad_root);
    return;
  }
  const BackwardHooks* hooks = targets.accumulate_leaves ? g_hooks : nullptr;
  Graph graph = count_edges(start, hooks != nullptr);
  std::unordered_map<const Node*, bool> leads_to_target;
  if (!targets.accumulate_leaves) leads_to_target = nodes_leading_to_targets(start.get(), graph, targets);
  auto wanted = [&](const Edge& e) {
    if (!e.valid()) return false;
    if (targets.accumulate_leaves) return true;
    return e.leaf ? targets.leaves.count(e.leaf.get()) > 0 : leads_to_target[e.node.get()];
  };

  // Nodes run when their gradient is complete; each hands its inputs' gradients on: to
  // the nodes that made them (summed there), the leaves' .grad, or fc::grad()'s results.
  std::unordered_map<const Node*, Tensor> grads{{start.get(), grad_root}};
  std::vector<Node*> ready{start.get()};
  std::vector<bool> which;
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    Tensor g;
    if (auto it = grads.find(n); it != grads.end()) {
      g = std::move(it->second);
      grads.erase(it);
    }
    auto t = targets.nodes.find(n);
    if (t != targets.nodes.end() && g.defined()) add_into(targets.found[t->second], g);
    which.assign(n->inputs.size(), false);
    for (size_t i = 0; i < n->inputs.size(); ++i) which[i] = wanted(n->inputs[i]);
    const std::vector<Tensor> input_grads = g.defined() ? run_node_backward(n, g, which, targets, retain_graph)
                                                        : std::vector<Tensor>();
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      const Edge& e = n->inputs[i];
      const Tensor* gi = i < input_grads.size() && input_grads[i].defined() && which[i] ? &input_grads[i] : nullptr;
      if (e.leaf && gi) {
        auto it = targets.leaves.find(e.leaf.get());
        if (it != targets.leaves.end()) add_into(targets.found[it->second], *gi);
        if (targets.accumulate_leaves) accumulate_into_leaf(e.leaf.get(), *gi);
      }
      if (hooks && e.leaf && --graph.pending_leaf[e.leaf.get()] == 0 && hooks->leaf_done) hooks->leaf_done(e.leaf.get());
      if (e.node) {
        if (gi) add_into(grads[e.node.get()], *gi);
        if (--graph.pending_inputs[e.node.get()] == 0) ready.push_back(e.node.get());
      }
    }
    if (hooks && hooks->after_node) hooks->after_node();
  }
  if (!retain_graph)
    for (auto& n : graph.all) n->inputs.clear();
}

}  // namespace

Tensor gradient_buffer(size_t input, const Shape& shape, Device device, bool zeroed) {
  if (g_leaf_inputs && input < g_leaf_inputs->size()) {
    TensorImpl* leaf = (*g_leaf_inputs)[input].leaf.get();
    if (leaf && leaf->grad && leaf->grad_zeroed && leaf->grad->shape == shape) {
      Tensor g(leaf->grad);
      if (g.device() == device) {
        leaf->grad_zeroed = false;  // a second edge into the same leaf adds to it
        return g;
      }
    }
  }
  return zeroed ? Tensor::zeros(shape, device) : Tensor::empty(shape, device);
}

BackwardHooksGuard::BackwardHooksGuard(const BackwardHooks* hooks) : prev_(g_hooks) { g_hooks = hooks; }
BackwardHooksGuard::~BackwardHooksGuard() { g_hooks = prev_; }

void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph) {
  Targets targets;
  walk(root, grad_root, retain_graph, targets);
}

std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs,
                         const Tensor& grad_output, bool retain_graph) {
  Tensor g = grad_output;
  if (!g.defined()) {
    FC_CHECK(output.numel() == 1, "grad: output of shape " << output.shape()
                                                           << " needs an explicit gradient");
    g = Tensor::ones(output.shape(), output.device());
  }
  FC_CHECK(g.shape() == output.shape(), "grad: gradient of shape " << g.shape()
                                                                   << " for output " << output.shape());
  FC_CHECK(output.requires_grad(), "grad: output does not require grad");
  Targets targets;
  targets.accumulate_leaves = false;
  targets.found.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    FC_CHECK(inputs[i].requires_grad(), "grad: input " << i << " does not require grad");
    if (inputs[i].grad_fn()) targets.nodes[inputs[i].grad_fn().get()] = i;
    else targets.leaves[inputs[i].impl()] = i;
  }
  walk(output, g, retain_graph, targets);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!targets.found[i].defined())
      targets.found[i] = Tensor::zeros(inputs[i].shape(), inputs[i].device());
  return targets.found;
}

}  // namespace fc
