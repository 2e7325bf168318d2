// The backend-independent half of engine/dist.hpp: the launcher's environment and
// the row split.
#include "engine/dist.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "engine/error.hpp"

namespace fc::dist {

namespace {

// The first of the variables that is set, as a non-negative integer (-1 if none).
int env_int(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    long x = std::strtol(v, &end, 10);
    FC_CHECK(*end == '\0' && x >= 0 && x < (1L << 24),
             "environment variable " << name << "='" << v << "' is not a rank or size");
    return static_cast<int>(x);
  }
  return -1;
}

struct World {
  int size = 1, rank = 0;
};

World read_world() {
  World w;
  int s = env_int({"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"});
  int r = env_int({"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"});
  if (s > 0) w.size = s;
  if (r >= 0) w.rank = r;
  FC_CHECK(w.rank < w.size, "the launcher says rank " << w.rank << " of " << w.size << " ranks");
  return w;
}

const World& world() {
  static const World w = read_world();
  return w;
}

}  // namespace

int size() { return world().size; }
int local_rank() {
  static const int r = std::max(0, env_int({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}));
  return r;
}
int rank() { return world().rank; }

bool any(bool flag) {
  if (size() == 1) return flag;
  double f = flag ? 1.0 : 0.0;
  all_reduce_max(&f, 1);
  return f != 0.0;
}

Rows rows_of_rank(int64_t rows, int r) {
  const int64_t n = size();
  return {r * rows / n, (r + 1) * rows / n};
}

Rows my_rows(int64_t rows) { return rows_of_rank(rows, rank()); }

}  // namespace fc::dist
