#include "engine/kernels.hpp"

// cuda::make_table: the real table when built with CUDA (or on the emulated device),
// an empty one (every op fails loudly, naming itself) otherwise.
#include "engine/cuda/backend.hpp"

namespace fc {

namespace cpu {
KernelTable make_table();
}

const KernelTable& kernel_table(Device d) {
  static const KernelTable tables[kNumDevices] = {cpu::make_table(), cuda::make_table()};
  return tables[static_cast<int>(d)];
}

}  // namespace fc
