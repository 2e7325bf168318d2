#include "nn/checkpoint.hpp"

#include "engine/autograd.hpp"
#include "engine/error.hpp"

namespace fc::nn {

void save_checkpoint(const std::string& path, Module& module,
                     const std::map<std::string, std::string>& metadata,
                     const std::vector<NamedTensor>& extra) {
  std::vector<NamedTensor> tensors;
  for (auto& [name, t] : module.named_parameters()) tensors.push_back({name, t->detach().to(Device::CPU)});
  for (const NamedTensor& e : extra) tensors.push_back({e.name, e.tensor.detach().to(Device::CPU)});
  save_safetensors(path, tensors, metadata);
}

void load_parameters(Module& module, const SafetensorsFile& file, const std::string& path,
                     const std::string& prefix) {
  for (auto& [name, t] : module.named_parameters()) {
    const Tensor* src = file.find(prefix + name);
    FC_CHECK(src, path << ": checkpoint has no tensor '" << prefix + name << "'");
    FC_CHECK(src->shape() == t->shape(), path << ": tensor '" << prefix + name << "' has shape "
                                              << src->shape() << ", the model expects "
                                              << t->shape());
    t->detach().copy_(src->to(t->device()));
  }
}

}  // namespace fc::nn
