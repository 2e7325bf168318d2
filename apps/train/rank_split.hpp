#pragma once
// Sampling and evaluation split over the ranks of a data-parallel run (mpirun): rank r
// computes rows dist::my_rows(n) of exactly what one process would compute, and rank 0
// gathers the pieces in row order, so that its outputs are one process's. Every rank
// must make the same calls, in the same order (they are collectives).
#include <cstdint>

#include "engine/tensor.hpp"

namespace fc::app {

// Whether n rows are split over the ranks: when there are several ranks and at least
// one row for each (fewer rows than ranks: rank 0 computes them all, the others none).
bool split_over_ranks(int64_t n);

// This rank's rows of `whole` (a host tensor whose first dimension is the batch).
Tensor my_rows_of(const Tensor& whole);

// Rank 0: every rank's rows in rank order, as one host tensor of `total` rows (the
// shape of `mine` after its first dimension); other ranks: an undefined tensor.
// `mine` is this rank's my_rows_of() share of the whole.
Tensor gather_rows_on_root(const Tensor& mine, int64_t total);

}  // namespace fc::app
