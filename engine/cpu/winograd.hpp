#pragma once
// 3x3 convolutions with stride 1 and padding 1 by Winograd's minimal filtering,
// F(2x2, 3x3) or F(4x4, 3x3) (Lavin & Gray 2015): per pair of channels, 16 products for
// 2x2 outputs (im2col: 36) or 36 for 4x4 (im2col: 144), as batched sgemms over
// transformed tiles (engine/cpu/winograd.cpp). engine/cpu/conv.cpp picks it over im2col
// where it is faster; set_conv_algorithm, or FLOWCPP_CONV=im2col|winograd|auto in the
// environment, forces one (for tests and benchmarks).
#include "engine/kernels.hpp"

namespace fc::cpu {

enum class ConvAlgorithm { Auto, Im2col, Winograd };
// Auto: Winograd where it fits and pays (winograd_pays), im2col elsewhere. Winograd:
// wherever it fits. The default is FLOWCPP_CONV's value, else Auto.
void set_conv_algorithm(ConvAlgorithm a);
ConvAlgorithm conv_algorithm();

// A 3x3 kernel, stride 1, padding 1 (output the size of the input).
bool winograd_fits(const ConvGeometry& g);
// Measured: enough input channels that the transforms cost less than they save.
bool winograd_pays(const ConvGeometry& g);
// The output tile, 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)), that is the faster for g.
int winograd_tile(const ConvGeometry& g);

// As conv2d and conv2d_backward (engine/kernels.hpp), for a geometry that fits, with
// tiles of tile x tile outputs (0: winograd_tile's); the bias gradient is the caller's.
void winograd_conv2d(const float* x, const float* w, const float* bias, float* y,
                     const ConvGeometry& g, int tile = 0);
void winograd_conv2d_backward(const float* x, const float* w, const float* gy, float* gx,
                              float* gw, const ConvGeometry& g, int tile = 0);

}  // namespace fc::cpu
