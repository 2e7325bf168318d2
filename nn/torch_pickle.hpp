#pragma once
// The object graph of the pickle in a .pth file (data.pkl), read by a small, strict
// pickle machine that runs nothing: it knows the opcodes torch.save emits for a
// state_dict (protocol 2; the framing and STACK_GLOBAL of 4 and 5 too) and builds plain
// values. The only callables are a whitelist, evaluated here, never looked up:
//   collections.OrderedDict()                  -> an empty dict
//   torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
//                                   hooks[, metadata])  -> a tensor reference
//   torch._utils._rebuild_parameter(tensor, requires_grad, hooks) -> the tensor
// and the storage classes (torch.FloatStorage, ...) appear only inside the persistent
// ids ('storage', class, key, location, numel) that name a member data/<key>. Any other
// global, opcode or shape, a container changed after it was nested (no cycles), nesting
// deeper than 32 levels, or a pickle that does not end cleanly throws fc::Error.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fc::nn {

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;

struct PickleValue {
  enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor };
  Kind kind = Kind::None;
  int64_t integer = 0;  // Bool, Int; Storage: numel (elements)
  double real = 0;      // Float
  // String: the text; Global: "module.name"; Storage: its key (the member data/<key>).
  std::string text;
  std::string type;  // Storage: its class ("FloatStorage")
  std::vector<PickleRef> items;                            // Tuple, List
  std::vector<std::pair<PickleRef, PickleRef>> entries;    // Dict, in insertion order
  // Tensor: what _rebuild_tensor_v2 was given.
  PickleRef storage;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
  // Bookkeeping of the machine: nesting depth, and whether the value sits inside
  // another (then it may not change: that is how a cycle would be made).
  int depth = 0;
  bool nested = false;
};

// Runs the pickle `bytes`; `where` names it in errors ("FILE: data.pkl").
PickleRef read_torch_pickle(const std::string& bytes, const std::string& where);

}  // namespace fc::nn
