// The CUDA kernel table: every entry filled (tests/test_cuda_kernels.cpp checks it; a
// null entry would fail loudly, naming the op and the device: FC_KERNEL).
#include "engine/cuda/backend.hpp"
#include "engine/cuda/cuda_kernels.hpp"

namespace fc::cuda {

KernelTable make_table() {
  KernelTable t;
  t.fill = fill;
  t.copy = copy;
  t.axpy = axpy;
  t.scale = scale;
  t.scale_to_norm = scale_to_norm;
  t.unary = unary;
  t.unary_backward = unary_backward;
  t.binary = binary;
  t.strided_copy = strided_copy;
  t.sum_axis = sum_axis;
  t.sum_all = sum_all;
  t.sum_squares = sum_squares;
  t.max_axis = max_axis;
  t.max_axis_backward = max_axis_backward;
  t.copy_rows = copy_rows;
  t.gemm = gemm;
  t.fill_rows = fill_rows;
  t.bias_silu = bias_silu;
  t.silu_backward_bias = silu_backward_bias;
  t.mse = mse;
  t.mse_backward = mse_backward;
  t.conv2d = conv2d;
  t.conv2d_backward = conv2d_backward;
  t.attention = attention;
  t.attention_backward = attention_backward;
  t.group_norm = group_norm;
  t.group_norm_backward = group_norm_backward;
  t.softmax = softmax;
  t.softmax_backward = softmax_backward;
  t.upsample2x = upsample2x;
  t.pool2x_sum = pool2x_sum;
  t.gather_rows = gather_rows;
  t.scatter_add_rows = scatter_add_rows;
  t.adamw = adamw;
  t.rand_uniform = rand_uniform;
  t.rand_normal = rand_normal;
  t.rand_int = rand_int;
  t.to_host = to_host;
  t.from_host = from_host;
  t.synchronize = synchronize;
  t.all_reduce_sum = all_reduce_sum;
  return t;
}

}  // namespace fc::cuda
