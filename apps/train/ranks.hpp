#pragma once
// The ranks of a data-parallel run (mpirun), started once the options are known good.
#include "engine/device.hpp"

namespace fc::app {

// Under mpirun: starts MPI (dist::init) and refuses, before any work, ranks that
// disagree on the device (a UsageError on every rank, naming each rank's device: a
// data-parallel run steps one model on one kind of device). A plain run: nothing.
void init_ranks(Device d);

}  // namespace fc::app
