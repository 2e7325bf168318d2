#include "nn/mlp.hpp"

#include <algorithm>
#include <set>

#include "engine/autograd.hpp"
#include "engine/error.hpp"
#include "engine/ops.hpp"

namespace fc::nn {

MLP::MLP(const MLPConfig& c, Generator& gen)
    : config_(c), layers_(register_module("layers", std::make_shared<Sequential>())) {
  FC_CHECK(c.in_dim > 0 && c.hidden > 0 && c.out_dim > 0 && c.hidden_layers >= 1,
           "MLP: dimensions must be positive (in " << c.in_dim << ", hidden " << c.hidden
                                                   << ", out " << c.out_dim << ", layers "
                                                   << c.hidden_layers << ")");
  int64_t width = c.in_dim;
  for (int64_t i = 0; i < c.hidden_layers; ++i) {
    linears_.push_back(&layers_.add(std::make_shared<Linear>(width, c.hidden, gen)));
    layers_.add(std::make_shared<SiLU>());
    width = c.hidden;
  }
  linears_.push_back(&layers_.add(std::make_shared<Linear>(width, c.out_dim, gen)));
}

Tensor MLP::forward(const Tensor& x) {
  // Sampling pushes 10^5..10^6 points through at once without a graph: in blocks of
  // rows. On the CPU a block's activations stay in cache from one layer to the next. A
  // GPU has no such cache to fit, and each block costs the same ~10 kernel launches
  // however many rows it has, so its blocks are 16 times larger (64K rows: 128 MiB of
  // activations a layer at H=512, where the whole of 10^6 points would take 2 GiB).
  const int64_t block_rows = x.device() == Device::CPU ? 4096 : 65536;
  if (!grad_enabled() && x.ndim() == 2 && x.dim(0) > 2 * block_rows) {
    int64_t n = x.dim(0);
    Tensor out = Tensor::empty(Shape{n, config_.out_dim}, x.device());
    for (int64_t r = 0; r < n; r += block_rows) {
      int64_t e = std::min(n, r + block_rows);
      Tensor y = forward_rows(Tensor::view_of(x, r * x.dim(1), Shape{e - r, x.dim(1)}));
      Tensor::view_of(out, r * config_.out_dim, y.shape()).copy_(y);
    }
    return out;
  }
  return forward_rows(x);
}

Tensor MLP::forward_rows(const Tensor& x) {
  // Each Linear + SiLU pair of layers_ runs as one fused op (same result as
  // layers_.forward(x), fewer passes over memory).
  Tensor h = x;
  for (size_t i = 0; i + 1 < linears_.size(); ++i)
    h = linear(h, linears_[i]->weight, linears_[i]->bias, Activation::Silu);
  return linears_.back()->forward(h);
}

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

MLPConfig MLPConfig::infer_from_parameters(const SafetensorsFile& file) {
  // The Linear layers sit at the even indices of the Sequential (SiLU between them):
  // walk them while layers.<i>.weight exists, each [out, in] with a bias [out].
  std::vector<std::pair<int64_t, int64_t>> chain;  // (out, in) of each Linear
  int64_t index = 0;
  for (;; index += 2) {
    const std::string w = "layers." + std::to_string(index) + ".weight";
    const std::string b = "layers." + std::to_string(index) + ".bias";
    const Tensor* wt = file.find(w);
    if (!wt) break;
    FC_CHECK(wt->ndim() == 2 && wt->dim(0) > 0 && wt->dim(1) > 0,
             "not an MLP checkpoint: '" << w << "' has shape " << wt->shape() << ", want [out, in]");
    const Tensor* bt = file.find(b);
    FC_CHECK(bt, "not an MLP checkpoint: '" << w << "' has no '" << b << "'");
    FC_CHECK(bt->ndim() == 1 && bt->dim(0) == wt->dim(0),
             "not an MLP checkpoint: '" << b << "' has shape " << bt->shape() << ", want [" << wt->dim(0) << "]");
    if (!chain.empty())
      FC_CHECK(wt->dim(1) == chain.back().first, "not an MLP checkpoint: '" << w << "' takes " << wt->dim(1)
                                                     << " inputs, the layer before gives " << chain.back().first);
    // Every layer but the last is a hidden one, of the first layer's width.
    if (chain.size() >= 2)
      FC_CHECK(chain.back().first == chain.front().first,
               "not an MLP checkpoint: 'layers." << index - 2 << ".weight' has width " << chain.back().first
                                                 << ", the first layer " << chain.front().first);
    chain.emplace_back(wt->dim(0), wt->dim(1));
  }
  FC_CHECK(!chain.empty(), "not an MLP checkpoint: no 'layers.0.weight' (and no metadata naming a model)");
  FC_CHECK(chain.size() >= 2, "not an MLP checkpoint: 'layers.0.weight' is its only Linear layer");
  // A layers.* tensor outside the chain (a Linear where a SiLU belongs, one after a gap)
  // would be dropped silently: another architecture, refused.
  std::set<std::string> chain_names;
  for (int64_t i = 0; i < index; i += 2)
    for (const char* p : {".weight", ".bias"}) chain_names.insert("layers." + std::to_string(i) + p);
  for (const NamedTensor& t : file.tensors)
    FC_CHECK(t.name.compare(0, 7, "layers.") != 0 || chain_names.count(t.name),
             "not an MLP checkpoint: '" << t.name << "' is not a parameter of the Linear layers layers.0 ... layers."
                                        << index - 2);
  MLPConfig c;
  c.in_dim = chain.front().second;
  c.hidden = chain.front().first;
  c.out_dim = chain.back().first;
  c.hidden_layers = static_cast<int64_t>(chain.size()) - 1;
  return c;
}

MLPConfig MLPConfig::from_checkpoint(const SafetensorsFile& file) {
  MLPConfig c = file.metadata.count("model") ? from_metadata(file.metadata) : infer_from_parameters(file);
  double values = 0;
  for (const NamedTensor& t : file.tensors) values += static_cast<double>(t.tensor.numel());
  FC_CHECK(c.num_parameters() <= values, "checkpoint metadata describes an MLP of "
                                             << c.num_parameters() << " parameters, the file holds only " << values
                                             << " values");
  return c;
}

double MLPConfig::num_parameters() const {
  const double in = static_cast<double>(in_dim), h = static_cast<double>(hidden), out = static_cast<double>(out_dim);
  return (in + 1) * h + static_cast<double>(hidden_layers - 1) * (h + 1) * h + (h + 1) * out;
}

}  // namespace fc::nn
