#pragma once
// A tensor shape: up to kMaxDims dimensions, stored inline (no heap allocation).
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "engine/error.hpp"

namespace fc {

constexpr int kMaxDims = 6;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }

  int ndim() const { return n_; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  // Dimension i, where negative i counts from the end (-1 is the last).
  int64_t dim(int i) const { return d_[axis(i)]; }
  // Normalises a possibly negative axis, throwing if it is out of range.
  int axis(int i) const;
  int64_t numel() const;
  std::vector<int64_t> vec() const { return std::vector<int64_t>(d_.begin(), d_.begin() + n_); }
  std::string str() const;

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  template <class It>
  void assign(It b, It e) {
    FC_CHECK(e - b <= kMaxDims, "shape: at most " << kMaxDims << " dimensions are supported");
    n_ = 0;
    for (It it = b; it != e; ++it) {
      FC_CHECK(*it >= 0, "shape: negative dimension " << *it);
      d_[n_++] = *it;
    }
  }
  std::array<int64_t, kMaxDims> d_{};
  int n_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

// Contiguous row-major strides of a shape.
std::array<int64_t, kMaxDims> contiguous_strides(const Shape& s);

// A shape seen as [outer, n, inner] around one axis: how reductions, concat and
// slice walk memory.
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};
AxisView axis_view(const Shape& s, int axis);

// NumPy broadcasting of two shapes; `op` names the caller in the error message.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace fc
