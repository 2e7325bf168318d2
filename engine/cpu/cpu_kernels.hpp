#pragma once
// The CPU backend's kernels, one for each name of FC_KERNELS with KernelTable's
// signature (engine/kernels.hpp says what each one computes); engine/cpu/table.cpp
// puts them in the CPU kernel table.
#include "engine/kernels.hpp"

namespace fc::cpu {

FC_KERNELS(FC_DECLARE_KERNEL)

}  // namespace fc::cpu
