#include "apps/train/ranks.hpp"

#include <string>
#include <vector>

#include "apps/cli/device.hpp"
#include "apps/cli/interrupt.hpp"
#include "apps/cli/options.hpp"
#include "engine/cuda/backend.hpp"
#include "engine/dist.hpp"

namespace fc::app {

void init_ranks(Device d) {
  dist::init();
  if (dist::size() == 1) return announce_interrupts();
  // Every rank writes its device into its own slot; the maximum over ranks gathers them.
  std::vector<double> devices(static_cast<size_t>(dist::size()), 0.0);
  devices[static_cast<size_t>(dist::rank())] = d == Device::CPU ? 1.0 : 2.0;
  dist::all_reduce_max(devices.data(), static_cast<int64_t>(devices.size()));
  bool same = true;
  std::string each;
  for (size_t r = 0; r < devices.size(); ++r) {
    same = same && devices[r] == devices[0];
    each += (r ? ", " : "") + std::string("rank ") + std::to_string(r) + " " + (devices[r] == 1.0 ? "cpu" : "cuda");
  }
  if (!same)
    throw UsageError("option '--device': the ranks disagree (" + each +
                     "); every rank of a run must use the same kind of device (say --device cpu or --device cuda)");
  announce_interrupts();
}

}  // namespace fc::app
