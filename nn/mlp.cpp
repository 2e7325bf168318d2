#include "nn/mlp.hpp"

#include "engine/error.hpp"

namespace fc::nn {

MLP::MLP(const MLPConfig& c, Generator& gen)
    : config_(c), layers_(register_module("layers", std::make_shared<Sequential>())) {
  FC_CHECK(c.in_dim > 0 && c.hidden > 0 && c.out_dim > 0 && c.hidden_layers >= 1,
           "MLP: dimensions must be positive (in " << c.in_dim << ", hidden " << c.hidden
                                                   << ", out " << c.out_dim << ", layers "
                                                   << c.hidden_layers << ")");
  int64_t width = c.in_dim;
  for (int64_t i = 0; i < c.hidden_layers; ++i) {
    layers_.add(std::make_shared<Linear>(width, c.hidden, gen));
    layers_.add(std::make_shared<SiLU>());
    width = c.hidden;
  }
  layers_.add(std::make_shared<Linear>(width, c.out_dim, gen));
}

Tensor MLP::forward(const Tensor& x) { return layers_.forward(x); }

std::map<std::string, std::string> MLPConfig::to_metadata() const {
  return {{"model", "mlp"},
          {"in_dim", std::to_string(in_dim)},
          {"hidden", std::to_string(hidden)},
          {"out_dim", std::to_string(out_dim)},
          {"hidden_layers", std::to_string(hidden_layers)}};
}

MLPConfig MLPConfig::from_metadata(const std::map<std::string, std::string>& meta) {
  auto it = meta.find("model");
  FC_CHECK(it != meta.end() && it->second == "mlp",
           "checkpoint is not an MLP (metadata 'model' is '"
               << (it == meta.end() ? std::string("missing") : it->second) << "')");
  auto get = [&](const char* key) -> int64_t {
    auto f = meta.find(key);
    FC_CHECK(f != meta.end(), "checkpoint metadata lacks '" << key << "'");
    try {
      size_t used = 0;
      long long v = std::stoll(f->second, &used);
      FC_CHECK(used == f->second.size() && v > 0, "");
      return v;
    } catch (const std::exception&) {
      FC_THROW("checkpoint metadata '" << key << "' is not a positive integer: '" << f->second << "'");
    }
  };
  MLPConfig c;
  c.in_dim = get("in_dim");
  c.hidden = get("hidden");
  c.out_dim = get("out_dim");
  c.hidden_layers = get("hidden_layers");
  return c;
}

}  // namespace fc::nn
