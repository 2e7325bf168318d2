#pragma once
// The tiled online-softmax attention kernels (engine/cuda/attention_tiled.cu), which
// engine/cuda/attention.cu runs where they fit. Device pointers; the shapes and the
// base-2 log-sum-exp are those of KernelTable::attention.
#include <cstdint>

namespace fc::cuda {

// The most channels per head the tiled kernels take: a tile of q, k, v and gout for
// every channel sits in a block's 48 KB of static shared memory.
constexpr int64_t kTiledMaxD = 64;
bool tiled_attention_fits(int64_t d);

// bh > 0, t > 0, tiled_attention_fits(d).
void tiled_attention(const float* qkv, float* out, float* lse, int64_t bh, int64_t d, int64_t t);
// delta [bh, t] = sum over channels of gout * out, per row (attention.cu computes it).
void tiled_attention_backward(const float* qkv, const float* lse, const float* delta, const float* gout,
                              float* gqkv, int64_t bh, int64_t d, int64_t t);

}  // namespace fc::cuda
