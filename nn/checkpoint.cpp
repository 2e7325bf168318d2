#include "nn/checkpoint.hpp"

#include <cmath>

#include "engine/autograd.hpp"
#include "engine/error.hpp"
#include "engine/file_io.hpp"
#include "nn/pth.hpp"

namespace fc::nn {

void save_checkpoint(const std::string& path, Module& module,
                     const std::map<std::string, std::string>& metadata,
                     const std::vector<NamedTensor>& extra) {
  std::vector<NamedTensor> tensors;
  for (auto& [name, t] : module.named_parameters()) tensors.push_back({name, t->detach().to(Device::CPU)});
  for (const NamedTensor& e : extra) tensors.push_back({e.name, e.tensor.detach().to(Device::CPU)});
  save_safetensors(path, tensors, metadata);
}

SafetensorsFile load_state_dict(const std::string& path) {
  uint64_t size = 0;
  unsigned char magic[4] = {0, 0, 0, 0};
  {
    io::Fd fd(io::open_for_reading(path, &size));
    if (size >= 4) io::read_all_at(fd.fd, magic, 4, 0, path);
  }
  // "PK\3\4": a ZIP's first local header. A safetensors file starts with its header
  // length, which would have to be about 67 MB for these bytes.
  if (magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4) return load_pth(path);
  return load_safetensors(path);
}

void load_parameters(Module& module, const SafetensorsFile& file, const std::string& path,
                     const std::string& prefix) {
  for (auto& [name, t] : module.named_parameters()) {
    const Tensor* src = file.find(prefix + name);
    FC_CHECK(src, path << ": checkpoint has no tensor '" << prefix + name << "'");
    FC_CHECK(src->shape() == t->shape(), path << ": tensor '" << prefix + name << "' has shape "
                                              << src->shape() << ", the model expects "
                                              << t->shape());
    require_finite(*src, path, prefix + name);
    t->detach().copy_(src->to(t->device()));
  }
}

void require_finite(const Tensor& t, const std::string& path, const std::string& name) {
  const std::vector<float> v = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i)
    FC_CHECK(std::isfinite(v[i]), path << ": tensor '" << name << "' holds " << v[i] << " at element " << i
                                       << " (a damaged file, or weights saved after training diverged)");
}

}  // namespace fc::nn
