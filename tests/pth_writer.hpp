#pragma once
// Writes .pth files byte for byte the way torch.save does (checked against files it
// wrote: tests/fixtures/mlp_torch_save.pth and the reference's ckpt.pth), so that the
// tests can make state_dicts of any shape, and damaged ones, without PyTorch:
//   the pickle (protocol 2): OrderedDict() filled by SETITEMS with
//     name -> _rebuild_tensor_v2(BINPERSID ('storage', torch.FloatStorage, key, 'cpu', numel),
//                                offset, size, stride, False, OrderedDict())
//     then BUILD with the _metadata attribute, STOP;
//   the ZIP: stored members ARCHIVE/data.pkl, ARCHIVE/byteorder, ARCHIVE/data/<key>,
//     ARCHIVE/version, each local header with zero sizes, flag 0x0808 and an extra field
//     padding the data to 64 bytes, a data descriptor after it; the central directory
//     with the CRCs; ZIP64 end record and locator; the end record.
#include <zlib.h>

#include "tests/gzip_bytes.hpp"  // raw_deflate_bytes

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace pth {

struct TensorSpec {
  TensorSpec(std::string n, std::vector<int64_t> s, std::vector<float> v)
      : name(std::move(n)), sizes(std::move(s)), values(std::move(v)) {}
  std::string name;
  std::vector<int64_t> sizes;
  std::vector<float> values;
  std::string storage_class = "FloatStorage";
  std::vector<int64_t> strides;  // empty: contiguous
  int64_t numel_claim = -1;      // the storage numel the pickle states (-1: the true one)
};

inline void put(std::string& s, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s += static_cast<char>(i < 8 ? (v >> (8 * i)) & 0xff : 0);  // n may be 12 zeros
}

// Pickle opcodes, as Python's pickler (protocol 2) emits them.
struct Pickle {
  std::string b = std::string("\x80\x02", 2);
  uint32_t memo = 0;
  void op(char c) { b += c; }
  void str(const std::string& s) {
    b += 'X';
    put(b, s.size(), 4);
    b += s;
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      b += 'K';
      put(b, static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v < 65536) {
      b += 'M';
      put(b, static_cast<uint64_t>(v), 2);
    } else {
      b += 'J';
      put(b, static_cast<uint64_t>(v), 4);
    }
  }
  void global(const std::string& module, const std::string& name) { b += "c" + module + "\n" + name + "\n"; }
  uint8_t binput() {
    b += 'q';
    put(b, memo, 1);
    return static_cast<uint8_t>(memo++);
  }
  void binget(uint8_t i) {
    b += 'h';
    put(b, i, 1);
  }
  void ints(const std::vector<int64_t>& v) {
    if (v.size() >= 1 && v.size() <= 3) {
      for (int64_t x : v) integer(x);
      b += static_cast<char>(0x84 + v.size());  // TUPLE1..3
    } else {
      b += '(';
      for (int64_t x : v) integer(x);
      b += 't';
    }
  }
};

inline std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> st(sizes.size());
  int64_t s = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    st[d] = s;
    s *= sizes[d];
  }
  return st;
}

// The state_dict's pickle; storage i is data/<i>.
inline std::string state_dict_pickle(const std::vector<TensorSpec>& tensors) {
  Pickle p;
  p.global("collections", "OrderedDict");
  const uint8_t od = p.binput();
  p.op(')');
  p.op('R');
  p.binput();
  p.op('(');
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorSpec& t = tensors[i];
    p.str(t.name);
    p.binput();
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.binput();
    p.op('(');
    p.op('(');
    p.str("storage");
    p.global("torch", t.storage_class);
    p.str(std::to_string(i));
    p.str("cpu");
    p.integer(t.numel_claim >= 0 ? t.numel_claim : static_cast<int64_t>(t.values.size()));
    p.op('t');
    p.binput();
    p.op('Q');
    p.integer(0);
    p.ints(t.sizes);
    p.ints(t.strides.empty() ? contiguous_strides(t.sizes) : t.strides);
    p.op('\x89');  // requires_grad False
    p.binget(od);
    p.op(')');
    p.op('R');  // OrderedDict(): no backward hooks
    p.op('t');
    p.op('R');
    p.binput();
  }
  p.op('u');
  // The state_dict's _metadata attribute: {'': {'version': 1}}.
  p.op('}');
  p.str("_metadata");
  p.binget(od);
  p.op(')');
  p.op('R');
  p.op('(');
  p.str("");
  p.op('}');
  p.str("version");
  p.integer(1);
  p.op('s');
  p.op('u');
  p.op('s');
  p.op('b');
  p.op('.');
  return p.b;
}

inline uint32_t crc(const std::string& s) {
  return static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(s.data()),
                                     static_cast<uInt>(s.size())));
}

// The archive of (name, bytes) members, laid out as PyTorch's writer does; with
// `deflate`, the members deflated (method 8) as zip(1) writes CelebA's JPEGs.
inline std::string zip_members(const std::vector<std::pair<std::string, std::string>>& members,
                               bool deflate = false) {
  std::string z, cd;
  const int method = deflate ? 8 : 0;
  for (const auto& [name, data] : members) {
    const std::string packed = deflate ? raw_deflate_bytes(data) : data;
    const uint64_t local = z.size();
    put(z, 0x04034b50, 4);
    put(z, 0, 2);
    put(z, 0x0808, 2);  // data descriptor; UTF-8 names
    put(z, method, 2);
    put(z, 0, 4);       // time, date
    put(z, 0, 12);      // crc, sizes: in the descriptor and the central directory
    put(z, name.size(), 2);
    // "FB" padding so that the data starts on a 64-byte boundary.
    uint64_t start = local + 30 + name.size() + 4;
    uint64_t pad = (64 - start % 64) % 64;
    put(z, 4 + pad, 2);
    z += name;
    z += "FB";
    put(z, pad, 2);
    z += std::string(pad, 'Z');
    z += packed;
    put(z, 0x08074b50, 4);
    put(z, crc(data), 4);
    put(z, packed.size(), 4);
    put(z, data.size(), 4);
    put(cd, 0x02014b50, 4);
    put(cd, 0, 2);
    put(cd, 0, 2);
    put(cd, 0x0808, 2);
    put(cd, method, 2);
    put(cd, 0, 4);
    put(cd, crc(data), 4);
    put(cd, packed.size(), 4);
    put(cd, data.size(), 4);
    put(cd, name.size(), 2);
    put(cd, 0, 2);
    put(cd, 0, 2);
    put(cd, 0, 2);
    put(cd, 0, 2);
    put(cd, 0, 4);
    put(cd, local, 4);
    cd += name;
  }
  const uint64_t cd_offset = z.size(), end64 = cd_offset + cd.size();
  z += cd;
  put(z, 0x06064b50, 4);
  put(z, 44, 8);
  put(z, 0x031e, 2);
  put(z, 45, 2);
  put(z, 0, 8);  // disks
  put(z, members.size(), 8);
  put(z, members.size(), 8);
  put(z, cd.size(), 8);
  put(z, cd_offset, 8);
  put(z, 0x07064b50, 4);
  put(z, 0, 4);
  put(z, end64, 8);
  put(z, 1, 4);
  put(z, 0x06054b50, 4);
  put(z, 0, 4);
  put(z, members.size(), 2);
  put(z, members.size(), 2);
  put(z, cd.size(), 4);
  put(z, cd_offset, 4);
  put(z, 0, 2);
  return z;
}

inline std::string float_bytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  if (!v.empty()) std::memcpy(&s[0], v.data(), s.size());
  return s;
}

// A whole .pth of the tensors under archive name `archive` (torch uses the file's stem),
// with `pickle` instead of the state_dict's when given.
inline std::string pth_bytes(const std::vector<TensorSpec>& tensors, const std::string& archive = "ckpt",
                             const std::string& pickle = "") {
  std::vector<std::pair<std::string, std::string>> m;
  m.emplace_back(archive + "/data.pkl", pickle.empty() ? state_dict_pickle(tensors) : pickle);
  m.emplace_back(archive + "/byteorder", "little");
  for (size_t i = 0; i < tensors.size(); ++i)
    m.emplace_back(archive + "/data/" + std::to_string(i), float_bytes(tensors[i].values));
  m.emplace_back(archive + "/version", "3\n");
  return zip_members(m);
}

}  // namespace pth
