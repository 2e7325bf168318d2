// CPU elementwise kernels: plain loops, vectorised by the compiler, split over the
// OpenMP threads when large enough to pay for it.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/cpu/fast_math.hpp"
#include "engine/parallel.hpp"
#include "engine/unary_formulas.hpp"

namespace fc::cpu {

void fill(float* y, int64_t n, float v) {
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) y[i] = v;
  });
}

void copy(const float* x, float* y, int64_t n) {
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    // An empty tensor's host vector has no buffer: memcpy must not see its null.
    if (e > b) std::memcpy(y + b, x + b, static_cast<size_t>(e - b) * sizeof(float));
  });
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) y[i] += alpha * x[i];
  });
}

void scale(float* y, int64_t n, float s) {
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) y[i] *= s;
  });
}

void scale_to_norm(float* y, int64_t n, const float* sum_sq, float max_norm) {
  const float coef = max_norm / (std::sqrt(sum_sq[0]) + 1e-6f);
  if (coef < 1.f) scale(y, n, coef);
}

namespace {

template <class F>
void map(const float* x, float* y, int64_t n, F f, int64_t grain = kElementwiseGrain) {
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) y[i] = f(x[i]);
  });
}

// gx[i] = f(x[i], y[i], gy[i]); x or y may be null when f ignores it (gy stands in
// for it then, so that the loop has no branch and vectorises).
template <class F>
void map_backward(const float* x, const float* y, const float* gy, float* gx, int64_t n, F f,
                  int64_t grain = kElementwiseGrain) {
  const float* xs = x ? x : gy;
  const float* ys = y ? y : gy;
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) gx[i] = f(xs[i], ys[i], gy[i]);
  });
}

// Calls f(std::integral_constant<UnaryOp, op>{}): the kernels below instantiate their
// loop once per op, so that the formula's switch folds away and each loop vectorises.
template <int I = 0, class F>
void with_constant_op(UnaryOp op, F&& f) {
  if constexpr (I < kUnaryOpCount) {
    constexpr UnaryOp kOp = static_cast<UnaryOp>(I);
    if (op == kOp) return f(std::integral_constant<UnaryOp, kOp>{});
    with_constant_op<I + 1>(op, f);
  }
}

constexpr bool is_transcendental(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Sigmoid || op == UnaryOp::Tanh ||
         op == UnaryOp::Sin || op == UnaryOp::Cos;
}

const auto cpu_exp = [](float v) { return fast_exp(v); };

}  // namespace

// The formulas are engine/unary_formulas.hpp's, shared with the CUDA kernels.
void unary(UnaryOp op, const float* x, float* y, int64_t n, float s) {
  with_constant_op(op, [&](auto k) {
    constexpr UnaryOp K = decltype(k)::value;
    constexpr int64_t grain = is_transcendental(K) ? kTranscendentalGrain : kElementwiseGrain;
    map(x, y, n, [s](float v) { return unary_value(K, v, s, cpu_exp); }, grain);
  });
}

void unary_backward(UnaryOp op, const float* x, const float* y, const float* gy, float* gx,
                    int64_t n, float s) {
  FC_CHECK(unary_gradient_reads(op) != GradientReads::None,
           "unary_backward: no fused gradient for this op");
  with_constant_op(op, [&](auto k) {
    constexpr UnaryOp K = decltype(k)::value;
    if constexpr (unary_gradient_reads(K) != GradientReads::None)
      map_backward(x, y, gy, gx, n,
                   [s](float xv, float yv, float g) { return unary_gradient(K, xv, yv, g, s); });
  });
}

namespace {

template <class F>
void binary_walk(const float* a, const float* b, float* y, const BroadcastPlan& p, F f) {
  switch (p.kind) {
    case BroadcastPlan::Same:
      return parallel_for(p.n, kElementwiseGrain, [&](int64_t s, int64_t e) {
#pragma omp simd
        for (int64_t i = s; i < e; ++i) y[i] = f(a[i], b[i]);
      });
    case BroadcastPlan::AScalar: {
      float av = a[0];
      return parallel_for(p.n, kElementwiseGrain, [&](int64_t s, int64_t e) {
#pragma omp simd
        for (int64_t i = s; i < e; ++i) y[i] = f(av, b[i]);
      });
    }
    case BroadcastPlan::BScalar: {
      float bv = b[0];
      return parallel_for(p.n, kElementwiseGrain, [&](int64_t s, int64_t e) {
#pragma omp simd
        for (int64_t i = s; i < e; ++i) y[i] = f(a[i], bv);
      });
    }
    case BroadcastPlan::BRows: {
      int64_t inner = p.inner, rows = p.n / inner;
      return parallel_for(rows, kElementwiseGrain / inner + 1, [&](int64_t s, int64_t e) {
        for (int64_t r = s; r < e; ++r) {
          const float* ar = a + r * inner;
          float* yr = y + r * inner;
#pragma omp simd
          for (int64_t i = 0; i < inner; ++i) yr[i] = f(ar[i], b[i]);
        }
      });
    }
    case BroadcastPlan::BCols: {
      int64_t inner = p.inner, rows = p.n / inner;
      return parallel_for(rows, kElementwiseGrain / inner + 1, [&](int64_t s, int64_t e) {
        for (int64_t r = s; r < e; ++r) {
          const float* ar = a + r * inner;
          float* yr = y + r * inner;
          float bv = b[r];
#pragma omp simd
          for (int64_t i = 0; i < inner; ++i) yr[i] = f(ar[i], bv);
        }
      });
    }
    case BroadcastPlan::General: {
      int nd = p.ndim;
      int64_t last = nd ? p.shape[nd - 1] : 1, rows = p.n / (last ? last : 1);
      return parallel_for(rows, kElementwiseGrain / (last + 1) + 1, [&](int64_t s, int64_t e) {
        for (int64_t r = s; r < e; ++r) {
          // Offsets of row r's first element in a and b.
          int64_t oa = 0, ob = 0, rem = r;
          for (int d = nd - 2; d >= 0; --d) {
            int64_t c = rem % p.shape[d];
            rem /= p.shape[d];
            oa += c * p.a_strides[d];
            ob += c * p.b_strides[d];
          }
          int64_t sa = nd ? p.a_strides[nd - 1] : 0, sb = nd ? p.b_strides[nd - 1] : 0;
          float* yr = y + r * last;
          for (int64_t i = 0; i < last; ++i) yr[i] = f(a[oa + i * sa], b[ob + i * sb]);
        }
      });
    }
  }
}

}  // namespace

void binary(BinaryOp op, const float* a, const float* b, float* y, const BroadcastPlan& p) {
  switch (op) {
    case BinaryOp::Add: return binary_walk(a, b, y, p, [](float u, float v) { return u + v; });
    case BinaryOp::Sub: return binary_walk(a, b, y, p, [](float u, float v) { return u - v; });
    case BinaryOp::Mul: return binary_walk(a, b, y, p, [](float u, float v) { return u * v; });
    case BinaryOp::Div: return binary_walk(a, b, y, p, [](float u, float v) { return u / v; });
  }
}

void fill_rows(const float* bias, float* y, int64_t rows, int64_t cols) {
  parallel_for(rows, kElementwiseGrain / (cols + 1) + 1, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) std::memcpy(y + r * cols, bias, static_cast<size_t>(cols) * sizeof(float));
  });
}

}  // namespace fc::cpu
