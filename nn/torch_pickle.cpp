#include "nn/torch_pickle.hpp"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <unordered_map>

#include "engine/file_io.hpp"

namespace fc::nn {

namespace {

using Kind = PickleValue::Kind;

constexpr int kMaxDepth = 32;
// A state_dict makes about ten values a tensor; a million values is a pickle built to
// exhaust memory (every opcode is one byte, each value a few hundred).
constexpr int64_t kMaxValues = int64_t{1} << 20;
constexpr size_t kMaxLine = 256;  // a GLOBAL's module or name

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "?";
}

// The storage classes a persistent id may name; only FloatStorage is read later, the
// others are known so that the refusal can say which dtype a file holds.
bool is_storage_class(const std::string& global) {
  static const char* const names[] = {"Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char",
                                      "Byte", "Bool", "ComplexFloat", "ComplexDouble"};
  for (const char* n : names)
    if (global == std::string("torch.") + n + "Storage") return true;
  return false;
}

const char* const kOrderedDict = "collections.OrderedDict";
const char* const kRebuildTensor = "torch._utils._rebuild_tensor_v2";
const char* const kRebuildParameter = "torch._utils._rebuild_parameter";

// Throws "PATH: data.pkl, byte N: what" (the opcode being run).
#define PFAIL(msg) fail_with([&](std::ostream& os_) { os_ << msg; })

class Machine {
 public:
  Machine(const std::string& bytes, const std::string& where) : b_(bytes), where_(where) {}

  PickleRef run() {
    while (true) {
      op_at_ = at_;
      const uint8_t op = byte();
      switch (op) {
        case 0x80: {  // PROTO
          const uint8_t v = byte();
          if (v < 2 || v > 5) PFAIL("pickle protocol " << int(v) << " (torch.save writes 2)");
          break;
        }
        case 0x95: uint(8); break;  // FRAME: a length hint only
        case '.': {  // STOP
          if (!marks_.empty() || stack_.size() != 1) PFAIL("STOP with " << stack_.size() << " values on the stack");
          if (at_ != b_.size()) PFAIL(b_.size() - at_ << " bytes after STOP");
          return stack_.back();
        }
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '}': push(make(Kind::Dict)); break;           // EMPTY_DICT
        case ']': push(make(Kind::List)); break;           // EMPTY_LIST
        case ')': push(make(Kind::Tuple)); break;          // EMPTY_TUPLE
        case 'N': push(make(Kind::None)); break;
        case 0x88: push(boolean(true)); break;   // NEWTRUE
        case 0x89: push(boolean(false)); break;  // NEWFALSE
        case 'J': push(integer(static_cast<int32_t>(uint(4)))); break;  // BININT
        case 'K': push(integer(uint(1))); break;                       // BININT1
        case 'M': push(integer(uint(2))); break;                       // BININT2
        case 0x8a: {                                                   // LONG1
          const uint8_t n = byte();
          if (n > 8) PFAIL("an integer of " << int(n) << " bytes");
          uint64_t v = uint(n);
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign
          push(integer(static_cast<int64_t>(v)));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = bits << 8 | byte();
          PickleRef v = make(Kind::Float);
          std::memcpy(&v->real, &bits, 8);
          push(v);
          break;
        }
        case 'X': push(string(uint(4))); break;     // BINUNICODE
        case 0x8c: push(string(uint(1))); break;    // SHORT_BINUNICODE
        case 0x8d: push(string(uint(8))); break;    // BINUNICODE8
        case 't': push(tuple(pop_mark())); break;   // TUPLE
        case 0x85: push(tuple(pop_n(1))); break;    // TUPLE1
        case 0x86: push(tuple(pop_n(2))); break;    // TUPLE2
        case 0x87: push(tuple(pop_n(3))); break;    // TUPLE3
        case 'c': {                                 // GLOBAL
          std::string module = line();
          push(global(module + "." + line()));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          PickleRef name = pop(), module = pop();
          if (name->kind != Kind::String || module->kind != Kind::String) PFAIL("STACK_GLOBAL of non-strings");
          push(global(module->text + "." + name->text));
          break;
        }
        case 'R': {  // REDUCE
          PickleRef args = pop(), callable = pop();
          push(reduce(*callable, args));
          break;
        }
        case 'Q': push(persistent(pop())); break;  // BINPERSID
        case 'q': memo_[uint(1)] = top(); break;   // BINPUT
        case 'r': memo_[uint(4)] = top(); break;   // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;  // MEMOIZE
        case 'h': push(memo(uint(1))); break;      // BINGET
        case 'j': push(memo(uint(4))); break;      // LONG_BINGET
        case 'a': {                                // APPEND
          PickleRef item = pop();
          add_items(Kind::List, {item});
          break;
        }
        case 'e': add_items(Kind::List, pop_mark()); break;  // APPENDS
        case 's': {                                          // SETITEM
          PickleRef value = pop(), key = pop();
          add_items(Kind::Dict, {key, value});
          break;
        }
        case 'u': add_items(Kind::Dict, pop_mark()); break;  // SETITEMS
        case 'b': {  // BUILD: the attributes of an OrderedDict (a state_dict's
                     // _metadata: module versions), which nothing here needs
          PickleRef state = pop();
          if (top()->kind != Kind::Dict || (state->kind != Kind::Dict && state->kind != Kind::None))
            PFAIL("BUILD of a " << kind_name(top()->kind) << " with a " << kind_name(state->kind));
          break;
        }
        default:
          PFAIL("opcode 0x" << std::hex << int(op) << ", which torch.save does not write for a state_dict");
      }
    }
  }

 private:
  template <class F>
  [[noreturn]] void fail_with(const F& f) const {
    std::ostringstream os;
    f(os);
    io::fail(where_, "data.pkl, byte " + std::to_string(op_at_) + ": " + os.str());
  }

  uint8_t byte() {
    if (at_ >= b_.size()) PFAIL("truncated (no STOP)");
    return static_cast<uint8_t>(b_[at_++]);
  }
  uint64_t uint(int n) {
    if (b_.size() - at_ < static_cast<size_t>(n)) PFAIL("truncated (no STOP)");
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(b_[at_ + i])) << (8 * i);
    at_ += static_cast<size_t>(n);
    return v;
  }
  std::string line() {
    const size_t end = b_.find('\n', at_);
    if (end == std::string::npos || end - at_ > kMaxLine) PFAIL("GLOBAL without a short name line");
    std::string s = b_.substr(at_, end - at_);
    at_ = end + 1;
    return s;
  }

  PickleRef make(Kind k) {
    if (++values_ > kMaxValues) PFAIL("more than " << kMaxValues << " objects");
    auto v = std::make_shared<PickleValue>();
    v->kind = k;
    if (k == Kind::Tuple || k == Kind::List || k == Kind::Dict) v->depth = 1;
    return v;
  }
  PickleRef boolean(bool b) {
    PickleRef v = make(Kind::Bool);
    v->integer = b;
    return v;
  }
  PickleRef integer(int64_t i) {
    PickleRef v = make(Kind::Int);
    v->integer = i;
    return v;
  }
  PickleRef string(uint64_t n) {
    if (n > b_.size() - at_) PFAIL("a string of " << n << " bytes runs past the pickle");
    PickleRef v = make(Kind::String);
    v->text = b_.substr(at_, n);
    at_ += n;
    return v;
  }

  void push(PickleRef v) { stack_.push_back(std::move(v)); }
  // The stack below the innermost MARK belongs to an outer construct.
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  PickleRef pop() {
    if (stack_.size() <= floor()) PFAIL("stack underflow");
    PickleRef v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const PickleRef& top() {
    if (stack_.size() <= floor()) PFAIL("stack underflow");
    return stack_.back();
  }
  std::vector<PickleRef> pop_n(size_t n) {
    if (stack_.size() < floor() + n) PFAIL("stack underflow");
    std::vector<PickleRef> out(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    return out;
  }
  std::vector<PickleRef> pop_mark() {
    if (marks_.empty()) PFAIL("no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PickleRef> out(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  PickleRef memo(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) PFAIL("memo " << key << " was never stored");
    return it->second;
  }

  // Puts child inside parent: depth bounded, and the child frozen from now on.
  void nest(PickleValue& parent, const PickleRef& child) {
    if (child.get() == &parent) PFAIL("a " << kind_name(parent.kind) << " inside itself");
    parent.depth = std::max(parent.depth, child->depth + 1);
    if (parent.depth > kMaxDepth) PFAIL("nesting deeper than " << kMaxDepth << " levels");
    child->nested = true;
  }
  PickleRef tuple(std::vector<PickleRef> items) {
    PickleRef t = make(Kind::Tuple);
    for (const PickleRef& i : items) nest(*t, i);
    t->items = std::move(items);
    return t;
  }
  // APPEND(S) and SETITEM(S) into the container on top of the stack.
  void add_items(Kind kind, std::vector<PickleRef> items) {
    PickleValue& c = *top();
    if (c.kind != kind) PFAIL("adding items to a " << kind_name(c.kind) << ", not a " << kind_name(kind));
    // Torch fills each container before nesting it; changing one afterwards is the only
    // way to a cycle.
    if (c.nested) PFAIL("a " << kind_name(c.kind) << " changed after it was nested");
    if (kind == Kind::Dict && items.size() % 2) PFAIL("SETITEMS with an odd number of values");
    for (const PickleRef& i : items) nest(c, i);
    if (kind == Kind::List) {
      c.items.insert(c.items.end(), items.begin(), items.end());
    } else {
      for (size_t i = 0; i < items.size(); i += 2) c.entries.emplace_back(items[i], items[i + 1]);
    }
  }

  PickleRef global(const std::string& name) {
    if (name != kOrderedDict && name != kRebuildTensor && name != kRebuildParameter && !is_storage_class(name))
      PFAIL("global '" << name << "' is not one a state_dict uses (refused: nothing in a .pth is run)");
    PickleRef g = make(Kind::Global);
    g->text = name;
    return g;
  }

  const PickleValue& arg(const std::vector<PickleRef>& a, size_t i, Kind kind, const char* what) {
    if (a[i]->kind != kind) PFAIL(what << " argument " << i << " is a " << kind_name(a[i]->kind) << ", not a " << kind_name(kind));
    return *a[i];
  }
  std::vector<int64_t> ints(const PickleValue& t, const char* what) {
    if (t.items.size() > 16) PFAIL("a tensor of " << t.items.size() << " dimensions");
    std::vector<int64_t> out;
    for (const PickleRef& i : t.items) {
      if (i->kind != Kind::Int) PFAIL("tensor " << what << " holds a " << kind_name(i->kind));
      out.push_back(i->integer);
    }
    return out;
  }

  PickleRef reduce(const PickleValue& callable, const PickleRef& args_ref) {
    if (callable.kind != Kind::Global || args_ref->kind != Kind::Tuple)
      PFAIL("REDUCE of a " << kind_name(callable.kind) << " with a " << kind_name(args_ref->kind));
    const std::vector<PickleRef>& a = args_ref->items;
    if (callable.text == kOrderedDict) {
      if (!a.empty()) PFAIL("OrderedDict called with arguments");
      return make(Kind::Dict);
    }
    if (callable.text == kRebuildParameter) {
      if (a.size() != 3) PFAIL(kRebuildParameter << " with " << a.size() << " arguments");
      arg(a, 0, Kind::Tensor, kRebuildParameter);
      return a[0];
    }
    if (callable.text != kRebuildTensor) PFAIL("calls '" << callable.text << "'");
    if (a.size() != 6 && a.size() != 7) PFAIL(kRebuildTensor << " with " << a.size() << " arguments");
    PickleRef t = make(Kind::Tensor);
    arg(a, 0, Kind::Storage, kRebuildTensor);
    t->storage = a[0];
    t->offset = arg(a, 1, Kind::Int, kRebuildTensor).integer;
    t->sizes = ints(arg(a, 2, Kind::Tuple, kRebuildTensor), "size");
    t->strides = ints(arg(a, 3, Kind::Tuple, kRebuildTensor), "stride");
    arg(a, 4, Kind::Bool, kRebuildTensor);
    // Backward hooks and the (optional) metadata: empty in any saved state_dict.
    if (!arg(a, 5, Kind::Dict, kRebuildTensor).entries.empty()) PFAIL("a tensor with backward hooks");
    if (a.size() == 7 && a[6]->kind != Kind::None && !(a[6]->kind == Kind::Dict && a[6]->entries.empty()))
      PFAIL("a tensor with metadata (" << kind_name(a[6]->kind) << ")");
    t->depth = 2;
    return t;
  }

  // ('storage', torch.FloatStorage, key, location, numel): the member data/<key>.
  PickleRef persistent(const PickleRef& pid) {
    const auto& i = pid->items;
    if (pid->kind != Kind::Tuple || i.size() != 5 || i[0]->kind != Kind::String || i[0]->text != "storage" ||
        i[1]->kind != Kind::Global || !is_storage_class(i[1]->text) || i[2]->kind != Kind::String ||
        i[3]->kind != Kind::String || i[4]->kind != Kind::Int || i[4]->integer < 0)
      PFAIL("a persistent id that is not ('storage', class, key, location, numel)");
    PickleRef s = make(Kind::Storage);
    s->type = i[1]->text.substr(6);  // without "torch."
    s->text = i[2]->text;
    s->integer = i[4]->integer;
    s->depth = 1;
    return s;
  }
#undef PFAIL

  const std::string& b_;
  const std::string where_;
  size_t at_ = 0, op_at_ = 0;
  int64_t values_ = 0;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleRef> memo_;
};

}  // namespace

PickleRef read_torch_pickle(const std::string& bytes, const std::string& where) {
  return Machine(bytes, where).run();
}

}  // namespace fc::nn
