#include "engine/kernels.hpp"

namespace fc {

namespace cpu {
KernelTable make_table();
}
namespace cuda {
// Defined in engine/cuda/: the real table when built with CUDA, an empty one (every
// op fails loudly, naming itself) otherwise.
KernelTable make_table();
}

const KernelTable& kernel_table(Device d) {
  static const KernelTable tables[kNumDevices] = {cpu::make_table(), cuda::make_table()};
  return tables[static_cast<int>(d)];
}

}  // namespace fc
