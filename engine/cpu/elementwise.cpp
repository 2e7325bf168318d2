// CPU elementwise kernels: plain loops, vectorised by the compiler, split over the
// OpenMP threads when large enough to pay for it.
#include <cmath>
#include <cstring>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/cpu/fast_math.hpp"
#include "engine/parallel.hpp"

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

}  // namespace

void unary(UnaryOp op, const float* x, float* y, int64_t n, float s) {
  switch (op) {
    case UnaryOp::Neg: return map(x, y, n, [](float v) { return -v; });
    case UnaryOp::Exp: return map(x, y, n, [](float v) { return fast_exp(v); }, kTranscendentalGrain);
    case UnaryOp::Log: return map(x, y, n, [](float v) { return std::log(v); });
    case UnaryOp::Sqrt: return map(x, y, n, [](float v) { return std::sqrt(v); });
    case UnaryOp::Square: return map(x, y, n, [](float v) { return v * v; });
    case UnaryOp::Abs: return map(x, y, n, [](float v) { return std::fabs(v); });
    case UnaryOp::Sign:
      return map(x, y, n, [](float v) { return v > 0.f ? 1.f : (v < 0.f ? -1.f : 0.f); });
    case UnaryOp::Step: return map(x, y, n, [](float v) { return v > 0.f ? 1.f : 0.f; });
    case UnaryOp::Sigmoid:
      return map(x, y, n, [](float v) { return fast_sigmoid(v); }, kTranscendentalGrain);
    case UnaryOp::Tanh: return map(x, y, n, [](float v) { return std::tanh(v); }, kTranscendentalGrain);
    case UnaryOp::Relu: return map(x, y, n, [](float v) { return v > 0.f ? v : 0.f; });
    case UnaryOp::Pow: return map(x, y, n, [s](float v) { return std::pow(v, s); });
    case UnaryOp::AddScalar: return map(x, y, n, [s](float v) { return v + s; });
    case UnaryOp::MulScalar: return map(x, y, n, [s](float v) { return v * s; });
    case UnaryOp::RSubScalar: return map(x, y, n, [s](float v) { return s - v; });
    case UnaryOp::RDivScalar: return map(x, y, n, [s](float v) { return s / v; });
    case UnaryOp::Sin: return map(x, y, n, [](float v) { return std::sin(v); }, kTranscendentalGrain);
    case UnaryOp::Cos: return map(x, y, n, [](float v) { return std::cos(v); }, kTranscendentalGrain);
  }
}

void unary_backward(UnaryOp op, const float* x, const float* y, const float* gy, float* gx,
                    int64_t n, float s) {
  switch (op) {
    case UnaryOp::Sqrt:  // d sqrt(x) = 1 / (2 sqrt(x))
      return map_backward(x, y, gy, gx, n, [](float, float yv, float g) { return 0.5f * g / yv; });
    case UnaryOp::Square:
      return map_backward(x, y, gy, gx, n, [](float xv, float, float g) { return 2.f * xv * g; });
    case UnaryOp::Pow:
      return map_backward(x, y, gy, gx, n, [s](float xv, float, float g) {
        return g * s * std::pow(xv, s - 1.f);
      });
    case UnaryOp::Abs:
      return map_backward(x, y, gy, gx, n, [](float xv, float, float g) {
        return xv > 0.f ? g : (xv < 0.f ? -g : 0.f);
      });
    case UnaryOp::Sigmoid:
      return map_backward(x, y, gy, gx, n, [](float, float yv, float g) { return g * yv * (1.f - yv); });
    case UnaryOp::Tanh:
      return map_backward(x, y, gy, gx, n, [](float, float yv, float g) { return g * (1.f - yv * yv); });
    case UnaryOp::Relu:
      return map_backward(x, y, gy, gx, n, [](float xv, float, float g) { return xv > 0.f ? g : 0.f; });
    case UnaryOp::Sin:
      return map_backward(x, y, gy, gx, n, [](float xv, float, float g) { return g * std::cos(xv); });
    case UnaryOp::Cos:
      return map_backward(x, y, gy, gx, n, [](float xv, float, float g) { return -g * std::sin(xv); });
    default:
      FC_THROW("unary_backward: no fused gradient for this op");
  }
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
