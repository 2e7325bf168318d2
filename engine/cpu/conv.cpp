// 2-D convolution as im2col + sgemm, one image at a time. In NCHW the output of image
// i is W [o, c*kh*kw] @ cols [c*kh*kw, ho*wo], already in its final layout, so a
// convolution is one sgemm per image and no transposes. Images are spread over the
// threads (each with its own column buffer and a one-thread sgemm); backward
// recomputes the columns instead of keeping them (they are kh*kw times the input).
// 3x3 kernels with stride 1 and padding 1 go to Winograd's algorithm instead where it
// is the faster (engine/cpu/winograd.cpp): im2col here is the code to read,
// Winograd the fast code; FLOWCPP_CONV=im2col runs this one alone.
#include <omp.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/cpu/per_item.hpp"
#include "engine/cpu/winograd.hpp"

namespace fc::cpu {

namespace {

int64_t col_rows(const ConvGeometry& g) { return g.c * g.kh * g.kw; }
int64_t col_cols(const ConvGeometry& g) { return g.ho * g.wo; }

// A 1x1 kernel with stride 1 and no padding: the image itself is the column matrix.
bool is_pointwise(const ConvGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.stride == 1 && g.pad == 0;
}

// cols[(ci, ky, kx), (oy, ox)] = x[ci, oy*stride - pad + ky, ox*stride - pad + kx], 0
// outside the image.
void im2col(const float* x, float* cols, const ConvGeometry& g) {
  const int64_t hw_out = g.ho * g.wo;
  for (int64_t ci = 0; ci < g.c; ++ci) {
    const float* xc = x + ci * g.h * g.w;
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        float* row = cols + ((ci * g.kh + ky) * g.kw + kx) * hw_out;
        for (int64_t oy = 0; oy < g.ho; ++oy) {
          int64_t iy = oy * g.stride - g.pad + ky;
          float* out = row + oy * g.wo;
          if (iy < 0 || iy >= g.h) {
            std::memset(out, 0, sizeof(float) * g.wo);
            continue;
          }
          const float* xrow = xc + iy * g.w;
          if (g.stride == 1) {
            // ix = ox - pad + kx: a shifted copy with zeros at both ends.
            int64_t shift = kx - g.pad;
            int64_t lo = shift < 0 ? -shift : 0;
            int64_t hi = g.w - shift < g.wo ? g.w - shift : g.wo;
            for (int64_t ox = 0; ox < lo; ++ox) out[ox] = 0.f;
            if (hi > lo) std::memcpy(out + lo, xrow + lo + shift, sizeof(float) * (hi - lo));
            for (int64_t ox = hi > lo ? hi : lo; ox < g.wo; ++ox) out[ox] = 0.f;
          } else {
            for (int64_t ox = 0; ox < g.wo; ++ox) {
              int64_t ix = ox * g.stride - g.pad + kx;
              out[ox] = ix >= 0 && ix < g.w ? xrow[ix] : 0.f;
            }
          }
        }
      }
  }
}

// The adjoint of im2col: x[ci, iy, ix] += every column entry that was read from it.
// x is zeroed first.
void col2im(const float* cols, float* x, const ConvGeometry& g) {
  const int64_t hw_out = g.ho * g.wo;
  std::memset(x, 0, sizeof(float) * g.c * g.h * g.w);
  for (int64_t ci = 0; ci < g.c; ++ci) {
    float* xc = x + ci * g.h * g.w;
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const float* row = cols + ((ci * g.kh + ky) * g.kw + kx) * hw_out;
        for (int64_t oy = 0; oy < g.ho; ++oy) {
          int64_t iy = oy * g.stride - g.pad + ky;
          if (iy < 0 || iy >= g.h) continue;
          float* xrow = xc + iy * g.w;
          const float* in = row + oy * g.wo;
          for (int64_t ox = 0; ox < g.wo; ++ox) {
            int64_t ix = ox * g.stride - g.pad + kx;
            if (ix >= 0 && ix < g.w) xrow[ix] += in[ox];
          }
        }
      }
  }
}

thread_local std::vector<float> tl_cols;

// The column matrix of image xi: the image itself for a pointwise kernel, else
// im2col into this thread's buffer.
const float* columns_of(const float* xi, const ConvGeometry& g) {
  if (is_pointwise(g)) return xi;
  float* buf = scratch(tl_cols, col_rows(g) * col_cols(g));
  im2col(xi, buf, g);
  return buf;
}

ConvAlgorithm algorithm_from_environment() {
  const char* e = std::getenv("FLOWCPP_CONV");
  std::string v = e ? e : "auto";
  if (v == "im2col") return ConvAlgorithm::Im2col;
  if (v == "winograd") return ConvAlgorithm::Winograd;
  if (v != "auto")
    std::fprintf(stderr, "flowcpp: FLOWCPP_CONV=%s is not im2col, winograd or auto; using auto\n",
                 v.c_str());
  return ConvAlgorithm::Auto;
}

std::atomic<ConvAlgorithm> g_algorithm{algorithm_from_environment()};

bool use_winograd(const ConvGeometry& g) {
  ConvAlgorithm a = g_algorithm.load(std::memory_order_relaxed);
  if (a == ConvAlgorithm::Im2col || !winograd_fits(g)) return false;
  return a == ConvAlgorithm::Winograd || winograd_pays(g);
}

}  // namespace

void set_conv_algorithm(ConvAlgorithm a) { g_algorithm.store(a); }
ConvAlgorithm conv_algorithm() { return g_algorithm.load(); }

void conv2d(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g) {
  if (use_winograd(g)) return winograd_conv2d(x, w, bias, y, g);
  const int64_t k = col_rows(g), hw = col_cols(g);
  // Images over the threads when there is one for each; else one image at a time
  // with the threaded sgemm.
  for_each_item(g.n, omp_get_max_threads(), [&](int64_t i) {
    const float* xi = x + i * g.c * g.h * g.w;
    float* yi = y + i * g.o * hw;
    const float* cols = columns_of(xi, g);
    if (bias)
      for (int64_t oc = 0; oc < g.o; ++oc) {
        // bias[oc] in a local: y may alias bias as far as the compiler knows, and
        // reloading it every element kept this loop scalar (12% of a 1x1 conv).
        const float b = bias[oc];
        float* row = yi + oc * hw;
#pragma omp simd
        for (int64_t p = 0; p < hw; ++p) row[p] = b;
      }
    // One image alone uses the threaded sgemm; inside the image loop, a one-thread one.
    gemm(false, false, g.o, hw, k, 1.f, w, k, 0, cols, hw, 0, bias ? 1.f : 0.f, yi, hw, 0, 1);
  });
}

void conv2d_backward(const float* x, const float* w, const float* gy, float* gx, float* gw,
                     float* gb, const ConvGeometry& g) {
  const int64_t k = col_rows(g), hw = col_cols(g);
  if (gb) {
    for (int64_t oc = 0; oc < g.o; ++oc) gb[oc] = 0.f;
    for (int64_t i = 0; i < g.n; ++i)
      for (int64_t oc = 0; oc < g.o; ++oc) {
        const float* row = gy + (i * g.o + oc) * hw;
        float s = 0.f;
#pragma omp simd reduction(+ : s)
        for (int64_t p = 0; p < hw; ++p) s += row[p];
        gb[oc] += s;
      }
  }
  if (!gx && !gw) return;
  if (use_winograd(g)) return winograd_conv2d_backward(x, w, gy, gx, gw, g);
  // gw = sum_i gy_i [o, hw] @ cols_i^T: each thread sums its images into its own
  // buffer, and the buffers are added at the end.
  int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  bool split = threads > 1 && g.n >= threads;
  int parts = split ? threads : 1;
  static thread_local std::vector<float> gw_buf;
  float* gw_parts = gw ? scratch(gw_buf, parts * g.o * k) : nullptr;
  if (gw) std::memset(gw_parts, 0, sizeof(float) * parts * g.o * k);
  auto image = [&](int64_t i, int part) {
    const float* xi = x + i * g.c * g.h * g.w;
    const float* gyi = gy + i * g.o * hw;
    if (gw) {
      const float* cols = columns_of(xi, g);
      gemm(false, true, g.o, k, hw, 1.f, gyi, hw, 0, cols, hw, 0, 1.f,
           gw_parts + static_cast<int64_t>(part) * g.o * k, k, 0, 1);
    }
    if (gx) {
      float* gxi = gx + i * g.c * g.h * g.w;
      if (is_pointwise(g)) {
        gemm(true, false, k, hw, g.o, 1.f, w, k, 0, gyi, hw, 0, 0.f, gxi, hw, 0, 1);
      } else {
        static thread_local std::vector<float> tl_gcols;
        float* gcols = scratch(tl_gcols, k * hw);
        gemm(true, false, k, hw, g.o, 1.f, w, k, 0, gyi, hw, 0, 0.f, gcols, hw, 0, 1);
        col2im(gcols, gxi, g);
      }
    }
  };
  if (split) {
    // Part p always takes the same contiguous images, and the parts are added in
    // order: the weight gradient does not depend on how the threads were scheduled
    // (a resumed run must reproduce an uninterrupted one bit for bit).
#pragma omp parallel num_threads(parts)
    {
      const int p = omp_get_thread_num(), np = omp_get_num_threads();
      for (int64_t i = g.n * p / np; i < g.n * (p + 1) / np; ++i) image(i, p);
    }
  } else {
    for (int64_t i = 0; i < g.n; ++i) image(i, 0);
  }
  if (gw) {
    std::memcpy(gw, gw_parts, sizeof(float) * g.o * k);
    for (int p = 1; p < parts; ++p) axpy(1.f, gw_parts + p * g.o * k, gw, g.o * k);
  }
}

}  // namespace fc::cpu
