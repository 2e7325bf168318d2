#include "apps/train/rank_split.hpp"

#include <vector>

#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "engine/ops.hpp"

namespace fc::app {

bool split_over_ranks(int64_t n) { return dist::size() > 1 && n >= dist::size(); }

Tensor my_rows_of(const Tensor& whole) {
  const dist::Rows rows = dist::my_rows(whole.dim(0));
  return slice(whole, 0, rows.begin, rows.end);
}

Tensor gather_rows_on_root(const Tensor& mine, int64_t total) {
  FC_CHECK(mine.dim(0) == dist::my_rows(total).count(),
           "gather_rows_on_root: " << mine.dim(0) << " rows on rank " << dist::rank() << ", its share of " << total
                                   << " is " << dist::my_rows(total).count());
  const int64_t row_size = mine.numel() / mine.dim(0);
  std::vector<float> send = mine.to_vector();
  std::vector<float> all(dist::is_root() ? static_cast<size_t>(total * row_size) : 0);
  dist::gather_rows(send.data(), total, row_size, dist::is_root() ? all.data() : nullptr);
  if (!dist::is_root()) return Tensor();
  std::vector<int64_t> dims = mine.shape().vec();
  dims[0] = total;
  return Tensor::from_vector(all, Shape(dims));
}

}  // namespace fc::app
