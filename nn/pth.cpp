#include "nn/pth.hpp"

#include <cstring>
#include <set>

#include "engine/file_io.hpp"
#include "nn/torch_pickle.hpp"
#include "engine/zip_archive.hpp"

namespace fc::nn {

namespace {

using Kind = PickleValue::Kind;

// A state_dict's pickle is ~100 bytes a tensor; 64 MiB is far beyond any model here.
constexpr uint64_t kMaxPickleBytes = uint64_t{64} << 20;

bool holds_tensors(const PickleValue& v) {
  if (v.kind != Kind::Dict) return false;
  for (const auto& [k, value] : v.entries)
    if (value->kind == Kind::Tensor) return true;
  return false;
}

const PickleValue& find_state_dict(const PickleValue& root, const std::string& path) {
  if (holds_tensors(root)) return root;
  if (root.kind != Kind::Dict) FC_FILE_FAIL(path, "holds a pickled " << (root.kind == Kind::List ? "list" : "value") << ", not a state_dict");
  std::string keys;
  for (const char* name : {"state_dict", "model_state_dict", "model", "ema"})
    for (const auto& [k, v] : root.entries)
      if (k->kind == Kind::String && k->text == name && holds_tensors(*v)) return *v;
  for (const auto& [k, v] : root.entries)
    if (k->kind == Kind::String && keys.size() < 200) keys += (keys.empty() ? "'" : ", '") + k->text + "'";
  FC_FILE_FAIL(path, "holds no state_dict: neither a dict of tensors nor one under 'state_dict', "
                     "'model_state_dict', 'model' or 'ema' (its keys: " << (keys.empty() ? "none" : keys) << ")");
}

// The tensor `name` (row-major and contiguous, float32) copied out of its storage.
Tensor materialize(const PickleValue& t, const std::string& name, const io::ZipArchive& zip, const std::string& prefix) {
  const std::string& path = zip.path();
  const PickleValue& s = *t.storage;
  if (s.type != "FloatStorage")
    FC_FILE_FAIL(path, "tensor '" << name << "' is stored as " << s.type
                                  << "; only float32 (FloatStorage) is read: save model.float().state_dict()");
  if (t.sizes.size() != t.strides.size())
    FC_FILE_FAIL(path, "tensor '" << name << "' has " << t.sizes.size() << " sizes and " << t.strides.size() << " strides");
  if (t.sizes.size() > static_cast<size_t>(kMaxDims))
    FC_FILE_FAIL(path, "tensor '" << name << "' has " << t.sizes.size() << " dimensions (at most " << kMaxDims << ")");
  // Contiguous: each stride the product of the sizes after it (any stride for a size-1
  // dimension, as PyTorch's is_contiguous allows).
  int64_t numel = 1, expect = 1;
  for (size_t d = t.sizes.size(); d-- > 0;) {
    const int64_t n = t.sizes[d];
    if (n < 0 || n > (int64_t{1} << 40)) FC_FILE_FAIL(path, "tensor '" << name << "' has size " << n);
    if (n > 1 && t.strides[d] != expect)
      FC_FILE_FAIL(path, "tensor '" << name << "' is not contiguous (stride " << t.strides[d] << " in dimension " << d
                                    << ", want " << expect << "): save .contiguous() tensors");
    if (n != 0 && numel > (int64_t{1} << 40) / n) FC_FILE_FAIL(path, "tensor '" << name << "' has too many elements");
    numel *= n;
    expect *= std::max<int64_t>(n, 1);
  }
  const io::ZipEntry* member = zip.find(prefix + "data/" + s.text);
  if (!member) FC_FILE_FAIL(path, "tensor '" << name << "': storage '" << s.text << "' has no member " << prefix << "data/" << s.text);
  if (member->size != static_cast<uint64_t>(s.integer) * 4)
    FC_FILE_FAIL(path, "tensor '" << name << "': storage '" << s.text << "' holds " << member->size << " bytes, its pickle says "
                                  << s.integer << " float32 values");
  if (t.offset < 0 || (numel > 0 && (t.offset > s.integer || numel > s.integer - t.offset)))
    FC_FILE_FAIL(path, "tensor '" << name << "' (" << numel << " values from " << t.offset << ") runs past its storage of "
                                  << s.integer << " values");
  Tensor out = Tensor::empty(Shape(t.sizes), Device::CPU);
  if (numel == 0) return out;
  if (t.offset == 0 && numel == s.integer) {
    zip.read(*member, out.data());
  } else {  // a view into a larger storage: the whole member is read for its CRC
    std::string bytes = zip.read_text(*member, member->size);
    std::memcpy(out.data(), bytes.data() + t.offset * 4, static_cast<size_t>(numel) * 4);
  }
  return out;
}

}  // namespace

SafetensorsFile load_pth(const std::string& path) {
  io::ZipArchive zip(path);
  // ARCHIVE/data.pkl: ARCHIVE is the file's stem when it was saved, any name.
  const io::ZipEntry* pickle = nullptr;
  for (const io::ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (pickle) FC_FILE_FAIL(path, "holds two pickles, " << pickle->name << " and " << e.name);
      pickle = &e;
    }
  }
  if (!pickle) FC_FILE_FAIL(path, "a ZIP without ARCHIVE/data.pkl: not a file torch.save wrote");
  const std::string prefix = pickle->name.substr(0, pickle->name.size() - 8);  // "ARCHIVE/"
  if (const io::ZipEntry* order = zip.find(prefix + "byteorder")) {
    const std::string o = zip.read_text(*order, 16);
    if (o != "little") FC_FILE_FAIL(path, "storages in byte order '" << o << "'; only little-endian files are read");
  }
  PickleRef root = read_torch_pickle(zip.read_text(*pickle, kMaxPickleBytes), path);
  const PickleValue& dict = find_state_dict(*root, path);
  SafetensorsFile out;
  std::set<std::string> names;
  for (const auto& [k, v] : dict.entries) {
    if (k->kind != Kind::String) FC_FILE_FAIL(path, "the state_dict has a key that is not a string");
    if (v->kind != Kind::Tensor) FC_FILE_FAIL(path, "state_dict entry '" << k->text << "' is not a tensor");
    if (k->text.empty()) FC_FILE_FAIL(path, "the state_dict has an empty name");
    if (!names.insert(k->text).second) FC_FILE_FAIL(path, "tensor '" << k->text << "' appears twice");
    out.tensors.push_back({k->text, materialize(*v, k->text, zip, prefix)});
  }
  return out;
}

}  // namespace fc::nn
