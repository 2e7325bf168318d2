#include "nn/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/error.hpp"
#include "engine/file_io.hpp"

// Tensor bytes go to and from disk as they lie in memory; the format is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace fc::nn {
namespace {

using io::errno_text;
using io::Fd;
using io::read_all_at;
using io::write_all;

using Json = nlohmann::ordered_json;  // keeps the header's order: tensors load in file order

// The same limit as the reference Rust implementation: a bigger header is corrupt or hostile.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// A header nests 3 levels deep (the object, a tensor's entry, its shape). Far deeper
// nesting is hostile: nlohmann::json copies nested values recursively, and a header of
// 10^5 '[' overflows the stack (found writing the fuzz targets).
constexpr int kMaxHeaderDepth = 16;
struct TooDeep {};


std::string shape_text(const std::vector<uint64_t>& dims) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < dims.size(); ++i) os << (i ? ", " : "") << dims[i];
  os << ']';
  return os.str();
}

// What the header says about one tensor, once validated.
struct Entry {
  std::string name;
  std::vector<uint64_t> dims;
  uint64_t begin = 0, end = 0;
};

Entry parse_entry(const std::string& path, const std::string& name, const Json& info) {
  Entry e;
  e.name = name;
  if (!info.is_object()) FC_FILE_FAIL(path, "tensor '" << name << "': entry is not a JSON object");

  auto dtype = info.find("dtype");
  if (dtype == info.end() || !dtype->is_string())
    FC_FILE_FAIL(path, "tensor '" << name << "': missing or non-string \"dtype\"");
  const std::string& dt = dtype->get_ref<const std::string&>();
  if (dt != "F32")
    FC_FILE_FAIL(path, "tensor '" << name << "': unsupported dtype " << dt << " (only F32 is supported)");

  auto shape = info.find("shape");
  if (shape == info.end() || !shape->is_array())
    FC_FILE_FAIL(path, "tensor '" << name << "': shape must be a list of non-negative integers");
  uint64_t bytes = sizeof(float);
  for (const Json& d : *shape) {
    if (!d.is_number_unsigned())
      FC_FILE_FAIL(path, "tensor '" << name << "': shape must be a list of non-negative integers, got "
                               << shape->dump());
    uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(bytes, v, &bytes))
      FC_FILE_FAIL(path, "tensor '" << name << "': shape " << shape->dump() << " is too large");
    e.dims.push_back(v);
  }
  if (e.dims.size() > static_cast<size_t>(kMaxDims))
    FC_FILE_FAIL(path, "tensor '" << name << "': shape has " << e.dims.size() << " dimensions, at most "
                             << kMaxDims << " are supported");

  auto offs = info.find("data_offsets");
  if (offs == info.end() || !offs->is_array() || offs->size() != 2 || !(*offs)[0].is_number_unsigned() ||
      !(*offs)[1].is_number_unsigned() || (*offs)[0].get<uint64_t>() > (*offs)[1].get<uint64_t>())
    FC_FILE_FAIL(path, "tensor '" << name << "': data_offsets must be [begin, end] with 0 <= begin <= end, got "
                             << (offs == info.end() ? std::string("nothing") : offs->dump()));
  e.begin = (*offs)[0].get<uint64_t>();
  e.end = (*offs)[1].get<uint64_t>();
  if (e.end - e.begin != bytes)
    FC_FILE_FAIL(path, "tensor '" << name << "': data_offsets [" << e.begin << ", " << e.end << "] hold "
                             << e.end - e.begin << " bytes but shape " << shape_text(e.dims)
                             << " of F32 needs " << bytes);
  return e;
}

}  // namespace

const Tensor* SafetensorsFile::find(const std::string& name) const {
  for (const NamedTensor& t : tensors)
    if (t.name == name) return &t.tensor;
  return nullptr;
}

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const NamedTensor& nt : tensors) {
    if (nt.name.empty()) FC_FILE_FAIL(path, "cannot save a tensor with an empty name");
    if (nt.name == "__metadata__") FC_FILE_FAIL(path, "\"__metadata__\" is reserved and cannot name a tensor");
    if (!seen.insert(nt.name).second) FC_FILE_FAIL(path, "duplicate tensor name '" << nt.name << "'");
    if (!nt.tensor.defined()) FC_FILE_FAIL(path, "tensor '" << nt.name << "' is undefined");
    if (!nt.tensor.is_cpu())
      FC_FILE_FAIL(path, "tensor '" << nt.name << "' is on " << device_name(nt.tensor.device())
                               << "; copy it with .to(Device::CPU) first");
    Json info = Json::object();
    info["dtype"] = "F32";
    Json shape = Json::array();
    for (int64_t d : nt.tensor.shape().vec()) shape.push_back(static_cast<uint64_t>(d));
    info["shape"] = std::move(shape);
    uint64_t bytes = static_cast<uint64_t>(nt.tensor.numel()) * sizeof(float);
    info["data_offsets"] = Json::array({offset, offset + bytes});
    offset += bytes;
    header[nt.name] = std::move(info);
  }

  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    FC_FILE_FAIL(path, "a tensor name or metadata string is not valid UTF-8 (" << e.what() << ")");
  }
  // Pad so the data section starts 8-byte aligned, as the Python writer does.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string head(8, '\0');
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) head[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  head += text;

  io::atomic_write(path, [&](int fd, const std::string& tmp) {
    write_all(fd, head.data(), head.size(), path, tmp);
    for (const NamedTensor& nt : tensors)
      write_all(fd, nt.tensor.data(), static_cast<size_t>(nt.tensor.numel()) * sizeof(float), path, tmp);
  });
}

SafetensorsFile load_safetensors(const std::string& path) {
  uint64_t file_size = 0;
  Fd fd(io::open_for_reading(path, &file_size));
  if (file_size < 8)
    FC_FILE_FAIL(path, "too short: " << file_size << " bytes, less than the 8-byte header length");

  unsigned char len_bytes[8];
  read_all_at(fd.fd, len_bytes, 8, 0, path);
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(len_bytes[i]) << (8 * i);
  if (header_len > kMaxHeaderBytes)
    FC_FILE_FAIL(path, "header length " << header_len << " is absurd (limit " << kMaxHeaderBytes << " bytes)");
  if (header_len > file_size - 8)
    FC_FILE_FAIL(path, "truncated: header says " << header_len << " bytes, file has " << file_size - 8
                                            << " after the 8-byte length");
  std::string text(header_len, '\0');
  read_all_at(fd.fd, text.data(), header_len, 8, path);
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = file_size - data_start;

  // nlohmann keeps the last of two equal keys silently; a duplicate name must be refused.
  std::set<std::string> keys;
  std::string duplicate;
  Json header;
  try {
    header = Json::parse(text.begin(), text.end(),
                         [&](int depth, Json::parse_event_t event, Json& parsed) {
                           if (depth > kMaxHeaderDepth) throw TooDeep{};
                           if (depth == 1 && event == Json::parse_event_t::key && duplicate.empty() &&
                               !keys.insert(parsed.get<std::string>()).second)
                             duplicate = parsed.get<std::string>();
                           return true;
                         });
  } catch (const nlohmann::json::exception& e) {
    FC_FILE_FAIL(path, "header is not valid JSON: " << e.what());
  } catch (const TooDeep&) {
    FC_FILE_FAIL(path, "header nests deeper than " << kMaxHeaderDepth << " levels");
  }
  if (!header.is_object()) FC_FILE_FAIL(path, "header is not a JSON object");
  if (!duplicate.empty()) FC_FILE_FAIL(path, "duplicate tensor name '" << duplicate << "' in the header");

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (value.is_null()) continue;
      if (!value.is_object()) FC_FILE_FAIL(path, "__metadata__ is not an object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string())
          FC_FILE_FAIL(path, "__metadata__ value for '" << k << "' is not a string (got " << v.type_name() << ")");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, key, value));
  }

  // Every tensor must lie inside the data section, and the section must end where the
  // last tensor does: a shorter file was cut off, a longer one holds bytes nobody owns.
  const Entry* last = nullptr;
  for (const Entry& e : entries)
    if (!last || e.end > last->end) last = &e;
  const uint64_t max_end = last ? last->end : 0;
  if (max_end > data_size)
    FC_FILE_FAIL(path, "truncated: tensor '" << last->name << "' data_offsets [" << last->begin << ", " << last->end
                                        << "] reach past the end of the data section (" << data_size
                                        << " bytes)");
  if (max_end < data_size)
    FC_FILE_FAIL(path, data_size - max_end << " trailing bytes: data section has " << data_size
                                      << " bytes but the tensors end at " << max_end);

  std::vector<const Entry*> by_begin;
  for (const Entry& e : entries)
    if (e.end > e.begin) by_begin.push_back(&e);
  std::sort(by_begin.begin(), by_begin.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_begin.size(); ++i) {
    const Entry& a = *by_begin[i - 1];
    const Entry& b = *by_begin[i];
    if (b.begin < a.end)
      FC_FILE_FAIL(path, "tensors '" << a.name << "' [" << a.begin << ", " << a.end << "] and '" << b.name << "' ["
                                << b.begin << ", " << b.end << "] overlap");
  }

  out.tensors.reserve(entries.size());
  for (const Entry& e : entries) {
    std::vector<int64_t> dims(e.dims.begin(), e.dims.end());
    Tensor t = Tensor::empty(Shape(dims), Device::CPU);
    if (e.end > e.begin) read_all_at(fd.fd, t.data(), e.end - e.begin, data_start + e.begin, path);
    out.tensors.push_back({e.name, t});
  }
  return out;
}

}  // namespace fc::nn
