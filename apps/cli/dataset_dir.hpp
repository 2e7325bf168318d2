#pragma once
// The name of a dataset's output folder (OUTPUT/NAME/), the same for every program.
#include <string>

namespace fc::app {

// The output folder of a dataset name: "checkerboard", or KIND_BASE_HASH for a file or
// folder ("points:runs/a/ok.csv" -> "points_ok_csv_" and 8 hex digits of the whole spec).
std::string dataset_dir_name(const std::string& dataset);

}  // namespace fc::app
