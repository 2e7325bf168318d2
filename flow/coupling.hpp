#pragma once
// Minibatch couplings for OT-CFM (Tong et al. 2023; Pooladian et al. 2023): before the
// flow-matching loss, pair each noise row x0[i] with a data row x1[j] chosen by optimal
// transport inside the batch instead of at random. Straighter conditional paths give a
// marginal velocity field that crosses itself less, so the ODE needs fewer steps.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/random.hpp"
#include "engine/tensor.hpp"

namespace fc::flow {

// Squared Euclidean distances between the rows of a [N, D] and b [M, D], row-major
// N x M. Double, because the assignment compares sums of many of them. Any shape with
// rows in dim 0 works (an image [N, C, H, W] is a row of C*H*W numbers).
std::vector<double> squared_distances(const Tensor& a, const Tensor& b);

// Exact minimum-cost perfect assignment of an n x n cost matrix (row-major):
// result[i] is the column given to row i. Shortest augmenting paths with potentials
// (Jonker-Volgenant / Hungarian, O(n^3) worst case, much less on random costs), because
// an exact answer is cheap at batch-block sizes and leaves no tolerance to tune.
// Costs must be finite.
std::vector<int64_t> linear_assignment(const std::vector<double>& cost, int64_t n);

struct SinkhornResult {
  std::vector<double> plan;   // n x m row-major; sums to 1
  int iterations = 0;         // column updates done (each followed by a row update)
  double marginal_error = 0;  // max abs error of the plan's row and column sums
};

// Entropic OT plan between uniform marginals (1/n, 1/m) for an n x m cost. Log-domain
// stabilised: the dual potentials live in the log domain and absorb the scalings
// whenever these grow, so small reg neither underflows exp(-C / reg) nor pays n m exps
// per iteration. reg is relative to the mean cost (the cost is divided by its mean
// absolute value first), so one default works at any scale. Stops when the max abs
// marginal error < tol * (1/n), or after max_iter.
SinkhornResult sinkhorn(const std::vector<double>& cost, int64_t n, int64_t m, double reg,
                        int max_iter = 1000, double tol = 1e-6);

// sb: the entropic plan of Schrödinger-bridge CFM (Tong et al. 2024), Sinkhorn with
// reg = 2 S² in the units of the squared distances (as torchcfm passes it to POT),
// paired with the Brownian-bridge path of flow/path.hpp.
enum class Coupling { independent, ot, sinkhorn, sb };

// "independent", "ot", "sinkhorn", "sb"; anything else fails with a message listing them,
// because the name comes from a command-line flag.
Coupling parse_coupling(const std::string& name);
std::string coupling_name(Coupling c);

struct CouplingOptions {
  Coupling kind = Coupling::independent;
  int64_t block = 256;  // rows per OT problem: bounds the O(n^3) assignment
  double reg = 0.05;    // sinkhorn: relative to the mean cost; sb: absolute (2 S²)
  int max_iter = 1000;  // sinkhorn only
};

// Returns x1 reordered so that row i is x0 row i's partner (same shape and device as x1).
// independent: x1 itself. ot: rows split into consecutive blocks of `block` (the last
// one shorter), each block's assignment solved exactly on squared distances (a batch of
// 4096 in blocks of 256 is cheap). sinkhorn and sb: per block, row i's partner j is drawn
// from row i of the entropic plan (normalised) with one gen.uniform draw per row, so
// x1 rows may repeat. Only sinkhorn advances gen. Checks shapes equal and values finite.
Tensor couple(const Tensor& x0, const Tensor& x1, const CouplingOptions& options, Generator& gen);

// The same choice as indices: partner[i] is the row of x1 that couple() puts at row i
// (0, 1, ..., n - 1 for independent). For callers that must move more than x1 with the
// pairing (the labels of class-conditional images).
std::vector<int64_t> coupling_partners(const Tensor& x0, const Tensor& x1, const CouplingOptions& options,
                                       Generator& gen);

}  // namespace fc::flow
