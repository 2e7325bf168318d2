#pragma once
// The velocity network of the 2-D recipe: [x, t] -> H -> ... -> H -> out with SiLU,
// as torch.nn.Sequential under the name "layers" (layers.0.weight ... layers.6.bias).
#include <map>
#include <string>

#include "nn/layers.hpp"
#include "nn/safetensors.hpp"

namespace fc::nn {

struct MLPConfig {
  int64_t in_dim = 3;         // 2-D point plus time
  int64_t hidden = 512;
  int64_t out_dim = 2;
  int64_t hidden_layers = 3;  // Linear layers of width `hidden` (the recipe has 3)

  std::map<std::string, std::string> to_metadata() const;
  // Reads a config back from checkpoint metadata; throws naming the bad key.
  static MLPConfig from_metadata(const std::map<std::string, std::string>& meta);
  // The architecture read off the shapes of layers.0.weight, layers.2.weight, ... (a
  // Linear at every even index of the Sequential, SiLU between), for a state_dict saved
  // without our metadata: the reference's checkpoints, converted or as .pth. Throws one
  // line naming the tensor when the chain is not such an MLP (a missing bias, widths
  // that do not follow on, hidden layers of different widths).
  static MLPConfig infer_from_parameters(const SafetensorsFile& file);
  // What a checkpoint holds: from_metadata when its metadata names a model, else
  // infer_from_parameters. A config needing more parameters than the file holds values
  // is refused (metadata claiming 10^12 parameters in a small file is a memory bomb).
  static MLPConfig from_checkpoint(const SafetensorsFile& file);
  // The parameters of the MLP this config builds, as a double so that absurd sizes (a
  // corrupt checkpoint's) cannot overflow.
  double num_parameters() const;
};

class MLP : public Module {
 public:
  MLP(const MLPConfig& config, Generator& gen);
  Tensor forward(const Tensor& x) override;
  const MLPConfig& config() const { return config_; }

 private:
  Tensor forward_rows(const Tensor& x);
  MLPConfig config_;
  Sequential& layers_;
  std::vector<Linear*> linears_;  // the Linear layers of layers_, in order
};

}  // namespace fc::nn
