// Winograd minimal filtering F(m x m, 3 x 3) (Lavin & Gray 2015) for 3x3 convolutions
// with stride 1 and padding 1, m = 2 or 4. The output is cut into m x m tiles, each read
// from an a x a patch of the input (a = m + 2: its outputs and a one-pixel ring; zeros
// past the edges, so a size that m does not divide costs a partial tile). With d a patch
// and g a 3x3 filter,
//   y = A^T [(G g G^T) . (B^T d B)] A      (. elementwise, a*a points)
// (the 1-D matrices are in Tile<m> below). Summed over the input channels, each point
// is a matrix product, M[k] [o, tiles] = U[k] [o, c] @ V[k] [c, tiles]: a*a sgemms with
// a*a / (9 m*m) of im2col's flops (0.44 for m = 2, 0.25 for m = 4). Tiles are taken a
// block of whole tile rows at a time (about kBlockTiles, across images), the blocks
// spread over the threads with one-thread sgemms; a block's result does not depend on
// which thread ran it, so the output has the same bits on any number of threads.
//
// Backward: the input gradient is the same convolution of gy by the filters flipped and
// with in and out swapped. The weight gradient is the transpose of the forward's
// bilinear form,
//   dL/dg = G^T [sum over tiles (A gy A^T) . (B^T d B)] G,
// a*a products [o, tiles] @ [tiles, c] summed over the blocks, then one transform back.
#include "engine/cpu/winograd.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/cpu/per_item.hpp"

namespace fc::cpu {

namespace {

// The 1-D transforms of F(m, 3) on vectors of a = m + 2 values: B^T d, A^T p, G g, and
// for the weight gradient A y and G^T s. Each reads its input through in(i) and writes
// its output through out(i, value): inlined into a loop over tiles, every value is a
// vector register of one point of several tiles (arrays there would keep GCC from
// vectorising the loop).
template <int M>
struct Tile;

// Interpolation points 0, 1, -1, infinity.
template <>
struct Tile<2> {
  static constexpr int A = 4;
  template <class In, class Out>  // B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
  static void input(In d, Out v) {
    v(0, d(0) - d(2));
    v(1, d(1) + d(2));
    v(2, d(2) - d(1));
    v(3, d(1) - d(3));
  }
  template <class In, class Out>  // A^T = [1 1 1 0; 0 1 -1 -1]
  static void output(In p, Out y) {
    y(0, p(0) + p(1) + p(2));
    y(1, p(1) - p(2) - p(3));
  }
  template <class In, class Out>  // G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
  static void filter(In g, Out u) {
    u(0, g(0));
    u(1, 0.5f * (g(0) + g(1) + g(2)));
    u(2, 0.5f * (g(0) - g(1) + g(2)));
    u(3, g(2));
  }
  template <class In, class Out>
  static void gradient(In y, Out a) {
    a(0, y(0));
    a(1, y(0) + y(1));
    a(2, y(0) - y(1));
    a(3, -y(1));
  }
  template <class In, class Out>
  static void filter_back(In s, Out g) {
    g(0, s(0) + 0.5f * (s(1) + s(2)));
    g(1, 0.5f * (s(1) - s(2)));
    g(2, 0.5f * (s(1) + s(2)) + s(3));
  }
};

// Interpolation points 0, 1, -1, 2, -2, infinity. The tile transforms multiply by powers
// of two only, which is exact: whether the compiler fuses a multiply and an add (it may
// in a vectorised loop and not in its scalar remainder) does not change the result.
template <>
struct Tile<4> {
  static constexpr int A = 6;
  // B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
  //        0 4 0 -5 0 1]
  template <class In, class Out>
  static void input(In d, Out v) {
    const float d0 = d(0), d1 = d(1), d2 = d(2), d3 = d(3), d4 = d(4), d5 = d(5);
    v(0, 4.f * (d0 - d2) + (d4 - d2));
    v(1, (d3 + d4) - 4.f * (d1 + d2));
    v(2, (d4 - d3) + 4.f * (d1 - d2));
    v(3, (d4 - d2) + 2.f * (d3 - d1));
    v(4, (d4 - d2) - 2.f * (d3 - d1));
    v(5, 4.f * (d1 - d3) + (d5 - d3));
  }
  // A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
  template <class In, class Out>
  static void output(In p, Out y) {
    const float p1 = p(1) + p(2), n1 = p(1) - p(2), p2 = p(3) + p(4), n2 = p(3) - p(4);
    y(0, p(0) + p1 + p2);
    y(1, n1 + 2.f * n2);
    y(2, p1 + 4.f * p2);
    y(3, n1 + 8.f * n2 + p(5));
  }
  // G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
  template <class In, class Out>
  static void filter(In g, Out u) {
    u(0, 0.25f * g(0));
    u(1, -(g(0) + g(1) + g(2)) / 6.f);
    u(2, -(g(0) - g(1) + g(2)) / 6.f);
    u(3, g(0) / 24.f + g(1) / 12.f + g(2) / 6.f);
    u(4, g(0) / 24.f - g(1) / 12.f + g(2) / 6.f);
    u(5, g(2));
  }
  template <class In, class Out>
  static void gradient(In y, Out a) {
    const float y0 = y(0), y1 = y(1), y2 = y(2), y3 = y(3);
    a(0, y0);
    a(1, (y0 + y2) + (y1 + y3));
    a(2, (y0 + y2) - (y1 + y3));
    a(3, (y0 + 4.f * y2) + 2.f * (y1 + 4.f * y3));
    a(4, (y0 + 4.f * y2) - 2.f * (y1 + 4.f * y3));
    a(5, y3);
  }
  template <class In, class Out>
  static void filter_back(In s, Out g) {
    g(0, 0.25f * s(0) - (s(1) + s(2)) / 6.f + (s(3) + s(4)) / 24.f);
    g(1, (s(2) - s(1)) / 6.f + (s(3) - s(4)) / 12.f);
    g(2, (s(3) + s(4) - s(1) - s(2)) / 6.f + s(5));
  }
};

// Tiles per block, the sgemms' n (measured; for m = 4 the smaller blocks keep a block's
// points nearer the cache).
template <int M>
constexpr int64_t kBlockTiles = M == 2 ? 256 : 96;
// The weight gradient is summed in this many parts (fewer if there are fewer blocks),
// each over fixed contiguous blocks, then added in order: its bits do not depend on the
// number of threads, of which it uses up to this many.
constexpr int64_t kWeightParts = 8;

// Tile rows of all images, numbered image by image, cut into blocks.
struct Tiling {
  int64_t th, tw;  // tiles down and across one image
  int64_t rows, rows_per_block, blocks;
  int64_t max_tiles;  // in a block
  int64_t row_begin(int64_t b) const { return b * rows_per_block; }
  int64_t row_end(int64_t b) const { return std::min(rows, (b + 1) * rows_per_block); }
  int64_t tiles(int64_t b) const { return (row_end(b) - row_begin(b)) * tw; }
};

template <int M>
Tiling make_tiling(const ConvGeometry& g) {
  Tiling t;
  t.th = (g.h + M - 1) / M;
  t.tw = (g.w + M - 1) / M;
  t.rows = g.n * t.th;
  t.rows_per_block = std::max<int64_t>(1, (kBlockTiles<M> + t.tw / 2) / t.tw);
  t.blocks = (t.rows + t.rows_per_block - 1) / t.rows_per_block;
  t.max_tiles = t.rows_per_block * t.tw;
  return t;
}

// Calls f(image, ty0, ty1, first) for each image's run of tile rows [ty0, ty1) in block
// b, where `first` is the block's index of the run's first tile.
template <class F>
void for_each_run(const Tiling& t, int64_t b, F&& f) {
  int64_t first = 0;
  for (int64_t r = t.row_begin(b), end = t.row_end(b); r < end;) {
    int64_t image = r / t.th, ty0 = r % t.th, ty1 = std::min(t.th, ty0 + (end - r));
    f(image, ty0, ty1, first);
    first += (ty1 - ty0) * t.tw;
    r += ty1 - ty0;
  }
}

// The tile transforms work on one image plane and one run of tile rows at a time. Each
// first transforms every image row across (one loop per row over the tiles), keeping
// the rows apart by their phase (row mod m); then the rows of a tile are the same index
// of each phase, or one tile row further on, and the transform down is one long loop
// over all the run's tiles.

// Floats of scratch the transforms of one run need (output_tiles, the most).
template <int M>
int64_t transform_buf_size(const Tiling& t) {
  return M * (Tile<M>::A + M) * (t.th + 1) * t.tw;
}

// v[k * stride + tile] = (B^T d B)[k] for the tiles of rows [ty0, ty1) of one input plane
// [h, w], tile (ty, tx) at (ty - ty0) * tw + tx; d is the patch at rows m ty - 1 ..
// m ty + m and columns m tx - 1 .. m tx + m.
template <int M>
void input_tiles(const float* plane, int64_t h, int64_t w, int64_t tw, int64_t ty0,
                 int64_t ty1, float* v, int64_t stride, float* buf) {
  constexpr int A = Tile<M>::A;
  const int64_t nj = ty1 - ty0, part = (nj + 1) * tw;
  // Across: buf[(phase * A + b) * part + (r / M) * tw + tx] for the run's patch row r
  // (image row M ty0 - 1 + r) of phase r % M.
  for (int64_t r = 0; r < M * nj + 2; ++r) {
    const int64_t y = M * ty0 - 1 + r;
    float* hp[A];
    for (int b = 0; b < A; ++b) hp[b] = buf + ((r % M) * A + b) * part + (r / M) * tw;
    if (y < 0 || y >= h) {
      for (int b = 0; b < A; ++b) std::memset(hp[b], 0, sizeof(float) * tw);
      continue;
    }
    const float* row = plane + y * w;
    // The patches of the first and the last one or two tiles reach past the row.
    const int64_t inner_end = std::max<int64_t>(1, (w - 1) / M);  // M tx + M < w below
    auto edge = [&](int64_t tx) {
      Tile<M>::input(
          [&](int i) {
            int64_t x = M * tx - 1 + i;
            return x >= 0 && x < w ? row[x] : 0.f;
          },
          [&](int b, float value) { hp[b][tx] = value; });
    };
    edge(0);
#pragma omp simd
    for (int64_t tx = 1; tx < inner_end; ++tx)
      Tile<M>::input([&](int i) { return row[M * tx - 1 + i]; },
                     [&](int b, float value) { hp[b][tx] = value; });
    for (int64_t tx = inner_end; tx < tw; ++tx) edge(tx);
  }
  // Down: patch row i of tile row j is row j + i / M of phase i % M.
  for (int b = 0; b < A; ++b) {
    const float* src[A];
    float* dst[A];
    for (int i = 0; i < A; ++i) {
      src[i] = buf + ((i % M) * A + b) * part + (i / M) * tw;
      dst[i] = v + (i * A + b) * stride;
    }
#pragma omp simd
    for (int64_t q = 0; q < nj * tw; ++q)
      Tile<M>::input([&](int i) { return src[i][q]; },
                     [&](int a, float value) { dst[a][q] = value; });
  }
}

// The m x m outputs A^T P A (+ bias) of the tiles of rows [ty0, ty1), from the points
// p[k * stride + tile], into one output plane [h, w] (the parts inside it).
template <int M>
void output_tiles(const float* p, int64_t stride, float* plane, int64_t h, int64_t w,
                  int64_t tw, int64_t ty0, int64_t ty1, float bias, float* buf) {
  constexpr int A = Tile<M>::A;
  const int64_t tiles = (ty1 - ty0) * tw;
  float* down = buf;              // [dy][b][tile]: A^T down each column b
  float* out = buf + M * A * tiles;  // [dy][dx][tile]: then across
  for (int b = 0; b < A; ++b) {
    const float* src[A];
    float* dst[M];
    for (int a = 0; a < A; ++a) src[a] = p + (a * A + b) * stride;
    for (int dy = 0; dy < M; ++dy) dst[dy] = down + (dy * A + b) * tiles;
#pragma omp simd
    for (int64_t t = 0; t < tiles; ++t)
      Tile<M>::output([&](int a) { return src[a][t]; },
                      [&](int dy, float value) { dst[dy][t] = value; });
  }
  for (int dy = 0; dy < M; ++dy) {
    const float* src = down + dy * A * tiles;
    float* dst = out + dy * M * tiles;
#pragma omp simd
    for (int64_t t = 0; t < tiles; ++t)
      Tile<M>::output([&](int b) { return src[b * tiles + t]; },
                      [&](int dx, float value) { dst[dx * tiles + t] = value + bias; });
  }
  const int64_t full = w / M, rest = w % M;  // whole tiles across, columns of the last
  for (int64_t j = 0; j < ty1 - ty0; ++j)
    for (int dy = 0; dy < M && M * (ty0 + j) + dy < h; ++dy) {
      float* row = plane + (M * (ty0 + j) + dy) * w;
      const float* src = out + dy * M * tiles + j * tw;
#pragma omp simd
      for (int64_t tx = 0; tx < full; ++tx)
#pragma GCC unroll 4
        for (int dx = 0; dx < M; ++dx) row[M * tx + dx] = src[dx * tiles + tx];
      for (int dx = 0; dx < rest; ++dx) row[M * full + dx] = src[dx * tiles + full];
    }
}

// ag[k * stride + tile] = (A g A^T)[k] for the m x m tiles g of rows [ty0, ty1) of one
// output-gradient plane [h, w] (zeros past its edges).
template <int M>
void gradient_tiles(const float* plane, int64_t h, int64_t w, int64_t tw, int64_t ty0,
                    int64_t ty1, float* ag, int64_t stride, float* buf) {
  constexpr int A = Tile<M>::A;
  const int64_t nj = ty1 - ty0, part = nj * tw;
  for (int64_t r = 0; r < M * nj; ++r) {  // across, as in input_tiles
    const int64_t y = M * ty0 + r;
    float* hp[A];
    for (int b = 0; b < A; ++b) hp[b] = buf + ((r % M) * A + b) * part + (r / M) * tw;
    if (y >= h) {
      for (int b = 0; b < A; ++b) std::memset(hp[b], 0, sizeof(float) * tw);
      continue;
    }
    const float* row = plane + y * w;
#pragma omp simd
    for (int64_t tx = 0; tx < w / M; ++tx)
      Tile<M>::gradient([&](int i) { return row[M * tx + i]; },
                        [&](int b, float value) { hp[b][tx] = value; });
    if (w % M) {  // the last tile reaches past the row
      const int64_t x0 = M * (tw - 1);
      Tile<M>::gradient([&](int i) { return x0 + i < w ? row[x0 + i] : 0.f; },
                        [&](int b, float value) { hp[b][tw - 1] = value; });
    }
  }
  for (int b = 0; b < A; ++b) {  // down: tile row j's rows are row j of each phase
    const float* src[M];
    float* dst[A];
    for (int i = 0; i < M; ++i) src[i] = buf + (i * A + b) * part;
    for (int i = 0; i < A; ++i) dst[i] = ag + (i * A + b) * stride;
#pragma omp simd
    for (int64_t q = 0; q < part; ++q)
      Tile<M>::gradient([&](int i) { return src[i][q]; },
                        [&](int a, float value) { dst[a][q] = value; });
  }
}

// u[k][oc][ci] = (G g G^T)[k] for g = w[oc][ci] (3x3); with `flip`, the filters of the
// input gradient instead: u[k][ci][oc] for g = w[oc][ci] turned by 180 degrees.
template <int M>
void filter_transform(const float* w, float* u, int64_t o, int64_t c, bool flip) {
  constexpr int A = Tile<M>::A;
  const int64_t plane = o * c;
  for (int64_t oc = 0; oc < o; ++oc)
    for (int64_t ci = 0; ci < c; ++ci) {
      const float* g = w + (oc * c + ci) * 9;
      auto at = [&](int i, int j) { return flip ? g[8 - 3 * i - j] : g[3 * i + j]; };
      float t[A][3];  // G down each column
      for (int j = 0; j < 3; ++j)
        Tile<M>::filter([&](int i) { return at(i, j); }, [&](int a, float x) { t[a][j] = x; });
      float* ui = u + (flip ? ci * o + oc : oc * c + ci);
      for (int a = 0; a < A; ++a)  // then across
        Tile<M>::filter([&](int j) { return t[a][j]; },
                        [&](int b, float x) { ui[(a * A + b) * plane] = x; });
    }
}

// gw[oc][ci] = G^T S G (3x3) for S[k] = s[k][oc][ci].
template <int M>
void filter_gradient(const float* s, float* gw, int64_t o, int64_t c) {
  constexpr int A = Tile<M>::A;
  const int64_t plane = o * c;
  for (int64_t oc = 0; oc < o; ++oc)
    for (int64_t ci = 0; ci < c; ++ci) {
      const float* si = s + oc * c + ci;
      float* g = gw + (oc * c + ci) * 9;
      float t[3][A];  // G^T down each column
      for (int b = 0; b < A; ++b)
        Tile<M>::filter_back([&](int a) { return si[(a * A + b) * plane]; },
                             [&](int i, float x) { t[i][b] = x; });
      for (int i = 0; i < 3; ++i)  // then across
        Tile<M>::filter_back([&](int b) { return t[i][b]; },
                             [&](int j, float x) { g[3 * i + j] = x; });
    }
}

// The products of the points, c[k] = a[k] @ b[k] (b[k]^T with tb), each whole by a
// one-thread sgemm: OpenBLAS's result depends on how a product is cut (over the rows,
// or by its own threads), so a product is never cut and the bits do not depend on the
// number of threads. Outside a parallel region the points are spread over the threads.
void point_products(bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                    int64_t sa, const float* b, int64_t ldb, int64_t sb, float beta, float* c,
                    int64_t ldc, int64_t sc, int64_t points) {
  auto one = [&](int64_t p) {
    gemm(false, tb, m, n, k, 1.f, a + p * sa, lda, 0, b + p * sb, ldb, 0, beta, c + p * sc, ldc,
         0, 1);
  };
  if (omp_in_parallel() || omp_get_max_threads() == 1) {
    for (int64_t p = 0; p < points; ++p) one(p);
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < points; ++p) one(p);
  }
}

thread_local std::vector<float> tl_v, tl_m, tl_ag, tl_buf;
thread_local std::vector<float> tl_u, tl_parts;

// v[k][ch][tile] for the tiles of block b of planes [n, channels, h, w].
template <int M>
void input_block(const float* x, int64_t channels, const ConvGeometry& g, const Tiling& t,
                 int64_t b, float* v) {
  const int64_t tiles = t.tiles(b);
  float* buf = scratch(tl_buf, transform_buf_size<M>(t));
  for_each_run(t, b, [&](int64_t image, int64_t ty0, int64_t ty1, int64_t first) {
    for (int64_t ch = 0; ch < channels; ++ch)
      input_tiles<M>(x + (image * channels + ch) * g.h * g.w, g.h, g.w, t.tw, ty0, ty1,
                     v + ch * tiles + first, channels * tiles, buf);
  });
}

template <int M>
void output_block(const float* p, int64_t channels, const float* bias, float* y,
                  const ConvGeometry& g, const Tiling& t, int64_t b) {
  const int64_t tiles = t.tiles(b);
  float* buf = scratch(tl_buf, transform_buf_size<M>(t));
  for_each_run(t, b, [&](int64_t image, int64_t ty0, int64_t ty1, int64_t first) {
    for (int64_t ch = 0; ch < channels; ++ch)
      output_tiles<M>(p + ch * tiles + first, channels * tiles,
                      y + (image * channels + ch) * g.h * g.w, g.h, g.w, t.tw, ty0, ty1,
                      bias ? bias[ch] : 0.f, buf);
  });
}

template <int M>
void forward(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g) {
  constexpr int64_t P = Tile<M>::A * Tile<M>::A;
  const Tiling t = make_tiling<M>(g);
  float* u = scratch(tl_u, P * g.o * g.c);
  filter_transform<M>(w, u, g.o, g.c, false);
  for_each_item(t.blocks, omp_get_max_threads(), [&](int64_t b) {
    const int64_t tiles = t.tiles(b);
    float* v = scratch(tl_v, P * g.c * t.max_tiles);
    float* m = scratch(tl_m, P * g.o * t.max_tiles);
    input_block<M>(x, g.c, g, t, b, v);
    point_products(false, g.o, tiles, g.c, u, g.c, g.o * g.c, v, tiles, g.c * tiles, 0.f, m,
                   tiles, g.o * tiles, P);
    output_block<M>(m, g.o, bias, y, g, t, b);
  });
}

template <int M>
void backward(const float* x, const float* w, const float* gy, float* gx, float* gw,
              const ConvGeometry& g) {
  constexpr int64_t P = Tile<M>::A * Tile<M>::A;
  const Tiling t = make_tiling<M>(g);
  float* u = nullptr;
  if (gx) {
    u = scratch(tl_u, P * g.o * g.c);
    filter_transform<M>(w, u, g.o, g.c, true);
  }
  const int64_t parts = gw ? std::min(kWeightParts, t.blocks) : 0;
  const int64_t part_size = P * g.o * g.c;
  float* sums = gw ? scratch(tl_parts, parts * part_size) : nullptr;
  if (gw) std::memset(sums, 0, sizeof(float) * parts * part_size);

  auto block = [&](int64_t b, float* sum) {
    const int64_t tiles = t.tiles(b);
    float* v = scratch(tl_v, P * std::max(g.c, g.o) * t.max_tiles);
    float* m = scratch(tl_m, P * g.c * t.max_tiles);
    if (gx) {  // gy's tiles as an input, through the flipped filters
      input_block<M>(gy, g.o, g, t, b, v);
      point_products(false, g.c, tiles, g.o, u, g.o, g.o * g.c, v, tiles, g.o * tiles, 0.f, m,
                     tiles, g.c * tiles, P);
      output_block<M>(m, g.c, nullptr, gx, g, t, b);
    }
    if (gw) {  // gy's tiles as an output, against x's
      float* ag = scratch(tl_ag, P * g.o * t.max_tiles);
      input_block<M>(x, g.c, g, t, b, v);
      float* buf = scratch(tl_buf, transform_buf_size<M>(t));
      for_each_run(t, b, [&](int64_t image, int64_t ty0, int64_t ty1, int64_t first) {
        for (int64_t oc = 0; oc < g.o; ++oc)
          gradient_tiles<M>(gy + (image * g.o + oc) * g.h * g.w, g.h, g.w, t.tw, ty0, ty1,
                            ag + oc * tiles + first, g.o * tiles, buf);
      });
      point_products(true, g.o, g.c, tiles, ag, tiles, g.o * tiles, v, tiles, g.c * tiles, 1.f,
                     sum, g.c, g.o * g.c, P);
    }
  };

  if (gw) {
    for_each_item(parts, 2, [&](int64_t p) {
      for (int64_t b = t.blocks * p / parts; b < t.blocks * (p + 1) / parts; ++b)
        block(b, sums + p * part_size);
    });
    for (int64_t p = 1; p < parts; ++p) axpy(1.f, sums + p * part_size, sums, part_size);
    filter_gradient<M>(sums, gw, g.o, g.c);
  } else {
    for_each_item(t.blocks, omp_get_max_threads(), [&](int64_t b) { block(b, nullptr); });
  }
}

}  // namespace

bool winograd_fits(const ConvGeometry& g) {
  return g.kh == 3 && g.kw == 3 && g.stride == 1 && g.pad == 1;
}

// Measured at 28x28, batch 128, one thread: with 8 input channels or more both tile
// sizes beat im2col whatever the output channels (8 -> 64: 1.1x forward, 1.2x
// backward; 64 -> 1, the UNet's last layer: 2.2x, 3.3x); with 3 they lose (0.6x).
bool winograd_pays(const ConvGeometry& g) { return g.c >= 8; }

// F(4x4) takes 36 products per 4x4 outputs, F(2x2) 16 per 2x2: 0.56 as many where 4
// divides the image, more where its last tiles hang over the edge. Its transforms cost
// more per image row. Measured (64 channels, batch 128, one thread), it is the faster
// from 12 pixels wide while it takes at most 0.7 of F(2x2)'s products: by 1.06x at 12,
// 1.2x at 16, 1.3-1.5x at 20 to 32; at 14 (0.73 of the products) they tie, and at 8 and
// 7 F(2x2) is 1.25x faster.
int winograd_tile(const ConvGeometry& g) {
  if (g.w < 12) return 2;
  auto products = [&](int64_t m) {
    return (m + 2) * (m + 2) * ((g.h + m - 1) / m) * ((g.w + m - 1) / m);
  };
  return products(4) <= 0.7 * products(2) ? 4 : 2;
}

void winograd_conv2d(const float* x, const float* w, const float* bias, float* y,
                     const ConvGeometry& g, int tile) {
  if ((tile ? tile : winograd_tile(g)) == 4) forward<4>(x, w, bias, y, g);
  else forward<2>(x, w, bias, y, g);
}

void winograd_conv2d_backward(const float* x, const float* w, const float* gy, float* gx,
                              float* gw, const ConvGeometry& g, int tile) {
  if (!gx && !gw) return;
  if ((tile ? tile : winograd_tile(g)) == 4) backward<4>(x, w, gy, gx, gw, g);
  else backward<2>(x, w, gy, gx, gw, g);
}

}  // namespace fc::cpu
