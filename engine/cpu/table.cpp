#include "engine/cpu/cpu_kernels.hpp"
#include "engine/dist.hpp"

namespace fc::cpu {

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
  t.group_norm = group_norm;
  t.group_norm_backward = group_norm_backward;
  t.softmax = softmax;
  t.softmax_backward = softmax_backward;
  t.attention = attention;
  t.attention_backward = attention_backward;
  t.upsample2x = upsample2x;
  t.pool2x_sum = pool2x_sum;
  t.gather_rows = gather_rows;
  t.scatter_add_rows = scatter_add_rows;
  t.adamw = adamw;
  t.rand_uniform = rand_uniform;
  t.rand_normal = rand_normal;
  t.rand_int = rand_int;
  t.to_host = copy;    // the host is the CPU
  t.from_host = copy;
  t.synchronize = [] {};  // a CPU kernel has finished when it returns
  t.all_reduce_sum = [](float* data, int64_t n) { dist::all_reduce_sum(data, n); };
  return t;
}

}  // namespace fc::cpu
