#pragma once
// Module checkpoints on top of safetensors: the parameters under their names, the
// model configuration (and anything else the caller wants) in the metadata, extra
// tensors (optimizer moments, EMA weights) beside them.
#include <map>
#include <string>
#include <vector>

#include "nn/module.hpp"
#include "nn/safetensors.hpp"

namespace fc::nn {

void save_checkpoint(const std::string& path, Module& module,
                     const std::map<std::string, std::string>& metadata,
                     const std::vector<NamedTensor>& extra = {});

// The tensors and metadata of a checkpoint: a safetensors file, or a PyTorch .pth
// (nn/pth.hpp: a ZIP, told by its first bytes, whatever the file is called) as a file
// without metadata. Errors are one line that starts with the path.
SafetensorsFile load_state_dict(const std::string& path);

// Copies every parameter of `module` from `file` (`prefix` + name), checking that
// each is present with the right shape and finite; throws one line naming `path`
// otherwise. (A model with a NaN weight samples NaN everywhere: better refused at the
// door, naming the file, than reported as a diverged run or a table of nulls.)
// Throws one line naming `path` and `name` if `t` holds a NaN or an infinity.
void require_finite(const Tensor& t, const std::string& path, const std::string& name);
void load_parameters(Module& module, const SafetensorsFile& file, const std::string& path,
                     const std::string& prefix = "");

}  // namespace fc::nn
