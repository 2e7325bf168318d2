// 2-D convolution on the GPU as im2col + one strided-batched cuBLAS sgemm per chunk of
// images: y_i [o, ho*wo] = W [o, c*kh*kw] @ cols_i (W repeated with a stride of 0).
// Backward: gcols_i = W^T @ gy_i gathered back onto the input (col2im as a gather: no
// atomics), gb = the sums of gy, and gw = sum_i gy_i @ cols_i^T as one sgemm whose inner
// dimension runs over every image and position of the chunk: the columns recomputed
// image-minor ([c*kh*kw, images*ho*wo]) and gy brought to [o, images*ho*wo], two
// kernels instead of a launch per image (a batch of 128 made 128 sgemms a convolution).
#include "engine/cuda/block_reduce.hpp"
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/cuda_kernels.hpp"

namespace fc::cuda {

namespace {

// cols[i * image_stride + (ci, ky, kx) * row_stride + (oy, ox)] =
// x[i, ci, oy*stride - pad + ky, ox*stride - pad + kx], 0 outside the image, for nb
// images: image-major [nb, c*kh*kw, hw] (image_stride = c*kh*kw*hw, row_stride = hw) or
// image-minor [c*kh*kw, nb, hw] (image_stride = hw, row_stride = nb*hw).
__global__ void im2col_kernel(const float* x, float* cols, ConvGeometry g, int64_t nb, int64_t image_stride,
                              int64_t row_stride) {
  const int64_t hw = g.ho * g.wo, rows = g.c * g.kh * g.kw;
  FC_GRID_STRIDE(t, nb * rows * hw) {
    int64_t p = t % hw, row = t / hw % rows, i = t / (hw * rows);
    int64_t oy = p / g.wo, ox = p % g.wo;
    int64_t kx = row % g.kw, ky = row / g.kw % g.kh, ci = row / (g.kw * g.kh);
    int64_t iy = oy * g.stride - g.pad + ky, ix = ox * g.stride - g.pad + kx;
    cols[i * image_stride + row * row_stride + p] =
        iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? x[((i * g.c + ci) * g.h + iy) * g.w + ix] : 0.f;
  }
}

// y [o, nb, hw] = x [nb, o, hw]: the channels of nb images brought to the front.
__global__ void channels_first_kernel(const float* x, float* y, int64_t nb, int64_t o, int64_t hw) {
  FC_GRID_STRIDE(t, nb * o * hw) {
    int64_t p = t % hw, oc = t / hw % o, i = t / (hw * o);
    y[(oc * nb + i) * hw + p] = x[t];
  }
}

// gx[i, ci, iy, ix] = the sum of the column entries im2col read from it.
__global__ void col2im_kernel(const float* cols, float* gx, ConvGeometry g, int64_t nb) {
  const int64_t hw = g.ho * g.wo;
  FC_GRID_STRIDE(t, nb * g.c * g.h * g.w) {
    int64_t ix = t % g.w, iy = t / g.w % g.h, ci = t / (g.w * g.h) % g.c, i = t / (g.w * g.h * g.c);
    float acc = 0.f;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      int64_t sy = iy + g.pad - ky;  // = oy * stride
      if (sy < 0 || sy % g.stride) continue;
      int64_t oy = sy / g.stride;
      if (oy >= g.ho) continue;
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        int64_t sx = ix + g.pad - kx;
        if (sx < 0 || sx % g.stride) continue;
        int64_t ox = sx / g.stride;
        if (ox >= g.wo) continue;
        int64_t row = (ci * g.kh + ky) * g.kw + kx;
        acc += cols[(i * g.c * g.kh * g.kw + row) * hw + oy * g.wo + ox];
      }
    }
    gx[t] = acc;
  }
}

__global__ void add_channel_bias_kernel(float* y, const float* bias, int64_t n, int64_t o, int64_t hw) {
  FC_GRID_STRIDE(t, n * o * hw) y[t] += bias[t / hw % o];
}

// gb[oc] = sum over images and positions of gy[i, oc, p]: a block per channel.
__global__ void channel_sums_kernel(const float* gy, float* gb, int64_t n, int64_t o, int64_t hw) {
  for (int64_t oc = blockIdx.x; oc < o; oc += gridDim.x) {
    double acc = 0;
    for (int64_t t = threadIdx.x; t < n * hw; t += blockDim.x) acc += gy[(t / hw * o + oc) * hw + t % hw];
    acc = block_sum(acc);
    if (threadIdx.x == 0) gb[oc] = static_cast<float>(acc);
  }
}

int64_t images_per_chunk(const ConvGeometry& g) {
  int64_t per_image = g.c * g.kh * g.kw * g.ho * g.wo;
  int64_t nb = per_image > 0 ? scratch_chunk_floats() / per_image : g.n;  // columns of nb images at a time
  return nb < 1 ? 1 : (nb > g.n ? g.n : nb);
}

// image_minor: cols [c*kh*kw, nb, hw] (for the weight's gradient); else [nb, c*kh*kw, hw].
void im2col(const float* x, float* cols, const ConvGeometry& g, int64_t nb, bool image_minor = false) {
  const int64_t hw = g.ho * g.wo, rows = g.c * g.kh * g.kw, total = nb * rows * hw;
  if (total > 0)
    FC_LAUNCH(im2col_kernel, blocks_for(total), kThreads, 0, stream(), x, cols, g, nb,
              image_minor ? hw : rows * hw, image_minor ? nb * hw : hw);
}

}  // namespace

void conv2d(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g) {
  const int64_t hw = g.ho * g.wo, ckk = g.c * g.kh * g.kw;
  if (g.n * g.o * hw == 0) return;
  if (ckk == 0) {
    fill(y, g.n * g.o * hw, 0.f);
  } else {
    const int64_t chunk = images_per_chunk(g);
    Scratch cols(static_cast<size_t>(chunk * ckk * hw) * sizeof(float));
    for (int64_t i0 = 0; i0 < g.n; i0 += chunk) {
      int64_t nb = g.n - i0 < chunk ? g.n - i0 : chunk;
      im2col(x + i0 * g.c * g.h * g.w, cols.as<float>(), g, nb);
      gemm(false, false, g.o, hw, ckk, 1.f, w, ckk, 0, cols.as<float>(), hw, ckk * hw, 0.f, y + i0 * g.o * hw, hw,
           g.o * hw, nb);
    }
  }
  if (bias)
    FC_LAUNCH(add_channel_bias_kernel, blocks_for(g.n * g.o * hw), kThreads, 0, stream(), y, bias, g.n, g.o, hw);
}

void conv2d_backward(const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb,
                     const ConvGeometry& g) {
  const int64_t hw = g.ho * g.wo, ckk = g.c * g.kh * g.kw;
  if (gb) {
    if (g.o > 0) {
      unsigned blocks = static_cast<unsigned>(g.o < kMaxBlocks ? g.o : kMaxBlocks);
      FC_LAUNCH(channel_sums_kernel, blocks, kThreads, 0, stream(), gy, gb, g.n, g.o, hw);
    }
  }
  if (gw && (g.n == 0 || hw == 0)) fill(gw, g.o * ckk, 0.f);
  if (gx && (hw == 0 || g.o == 0 || ckk == 0)) fill(gx, g.n * g.c * g.h * g.w, 0.f);
  if (g.n == 0 || hw == 0 || ckk == 0) return;
  const int64_t chunk = images_per_chunk(g);
  Scratch cols(static_cast<size_t>(chunk * ckk * hw) * sizeof(float));
  Scratch gy_by_channel(gw ? static_cast<size_t>(chunk * g.o * hw) * sizeof(float) : 0);
  for (int64_t i0 = 0; i0 < g.n; i0 += chunk) {
    int64_t nb = g.n - i0 < chunk ? g.n - i0 : chunk;
    const float* gyc = gy + i0 * g.o * hw;
    if (gw) {  // gw (+)= gy [o, nb*hw] @ cols^T [nb*hw, ckk]
      im2col(x + i0 * g.c * g.h * g.w, cols.as<float>(), g, nb, /*image_minor=*/true);
      if (g.o > 0)
        FC_LAUNCH(channels_first_kernel, blocks_for(nb * g.o * hw), kThreads, 0, stream(), gyc,
                  gy_by_channel.as<float>(), nb, g.o, hw);
      gemm(false, true, g.o, ckk, nb * hw, 1.f, gy_by_channel.as<float>(), nb * hw, 0, cols.as<float>(), nb * hw, 0,
           i0 == 0 ? 0.f : 1.f, gw, ckk, 0, 1);
    }
    if (gx && g.o > 0) {  // gcols_i [ckk, hw] = W^T [ckk, o] @ gy_i [o, hw], then col2im
      gemm(true, false, ckk, hw, g.o, 1.f, w, ckk, 0, gyc, hw, g.o * hw, 0.f, cols.as<float>(), hw, ckk * hw, nb);
      int64_t total = nb * g.c * g.h * g.w;
      if (total > 0)
        FC_LAUNCH(col2im_kernel, blocks_for(total), kThreads, 0, stream(), cols.as<float>(),
                  gx + i0 * g.c * g.h * g.w, g, nb);
    }
  }
}

}  // namespace fc::cuda
