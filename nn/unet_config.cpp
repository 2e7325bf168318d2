// UNetConfig: the reference recipes and the checkpoint metadata (ours and the
// reference fixtures').
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <utility>

#include "engine/error.hpp"
#include "nn/unet.hpp"

namespace fc::nn {

namespace {

// The reference's UNetModelWrapper: channel_mult by image size, attention where the
// image is downsampled to size / 16 ("16" in its attention_resolutions).
UNetConfig reference_recipe(int64_t in_channels, int64_t size, std::vector<int> channel_mult, int64_t channels) {
  UNetConfig c;
  c.in_channels = c.out_channels = in_channels;
  c.image_size = size;
  c.model_channels = channels;
  c.channel_mult = std::move(channel_mult);
  c.attention_resolutions = {static_cast<int>(size / 16)};
  return c;
}

}  // namespace

UNetConfig UNetConfig::mnist(int64_t channels) { return reference_recipe(1, 28, {1, 2, 2}, channels); }
UNetConfig UNetConfig::cifar10(int64_t channels) { return reference_recipe(3, 32, {1, 2, 2, 2}, channels); }
UNetConfig UNetConfig::celeba64(int64_t channels) { return reference_recipe(3, 64, {1, 2, 3, 4}, channels); }

namespace {

template <class T>
std::string join(const std::vector<T>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}

// The shortest decimal that reads back as the same float.
std::string float_text(float v) {
  for (int digits = 6;; ++digits) {
    std::ostringstream s;
    s.precision(digits);
    s << v;
    if (std::strtof(s.str().c_str(), nullptr) == v || digits >= 9) return s.str();
  }
}

class MetadataReader {
 public:
  explicit MetadataReader(const std::map<std::string, std::string>& meta) : meta_(meta) {}

  bool has(const std::string& key) const { return meta_.count(key) != 0; }

  const std::string& text(const std::string& key) const {
    auto f = meta_.find(key);
    FC_CHECK(f != meta_.end(), "checkpoint metadata lacks '" << key << "'");
    return f->second;
  }

  // A comma-separated list of integers >= min ("" is the empty list).
  std::vector<int64_t> ints(const std::string& key, int64_t min) const {
    const std::string& s = text(key);
    std::vector<int64_t> out;
    size_t at = 0;
    while (at < s.size()) {
      size_t comma = s.find(',', at);
      std::string item = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(item.c_str(), &end, 10);
      FC_CHECK(!item.empty() && *end == '\0' && v >= min && errno != ERANGE,
               "checkpoint metadata '" << key << "' is not a list of integers >= " << min << ": '"
                                       << s << "'");
      out.push_back(v);
      if (comma == std::string::npos) break;
      at = comma + 1;
      FC_CHECK(at < s.size(), "checkpoint metadata '" << key << "' ends with a comma: '" << s << "'");
    }
    return out;
  }

  int64_t integer(const std::string& key, int64_t min) const {
    auto v = ints(key, min);
    FC_CHECK(v.size() == 1, "checkpoint metadata '" << key << "' is not one integer: '" << text(key) << "'");
    return v[0];
  }

  float real(const std::string& key) const {
    const std::string& s = text(key);
    char* end = nullptr;
    float v = std::strtof(s.c_str(), &end);
    FC_CHECK(!s.empty() && *end == '\0', "checkpoint metadata '" << key << "' is not a number: '" << s << "'");
    return v;
  }

  bool flag(const std::string& key) const {
    const std::string& s = text(key);
    FC_CHECK(s == "0" || s == "1" || s == "true" || s == "false",
             "checkpoint metadata '" << key << "' is not a boolean: '" << s << "'");
    return s == "1" || s == "true";
  }

  // An integer that must fit an int (a multiplier, a head count).
  int small(int64_t v, const std::string& key) const {
    FC_CHECK(v <= std::numeric_limits<int>::max(), "checkpoint metadata '" << key << "' holds " << v << ", too large");
    return static_cast<int>(v);
  }
  std::vector<int> small_ints(const std::string& key, int64_t min) const {
    std::vector<int> out;
    for (int64_t v : ints(key, min)) out.push_back(small(v, key));
    return out;
  }

 private:
  const std::map<std::string, std::string>& meta_;
};



}  // namespace

std::map<std::string, std::string> UNetConfig::to_metadata() const {
  return {{"model", "unet"},
          {"image_shape", join(std::vector<int64_t>{in_channels, image_size, image_size})},
          {"out_channels", std::to_string(out_channels)},
          {"model_channels", std::to_string(model_channels)},
          {"num_res_blocks", std::to_string(num_res_blocks)},
          {"channel_mult", join(channel_mult)},
          {"attention_ds", join(attention_resolutions)},
          {"num_heads", std::to_string(num_heads)},
          {"dropout", float_text(dropout)},
          {"num_classes", std::to_string(num_classes)},
          {"null_class", null_class ? "true" : "false"}};
}

UNetConfig UNetConfig::from_metadata(const std::map<std::string, std::string>& meta) {
  MetadataReader r(meta);
  // The reference's fixtures carry no "model" key; any other model is refused.
  FC_CHECK(!r.has("model") || r.text("model") == "unet",
           "checkpoint is not a UNet (metadata 'model' is '" << r.text("model") << "')");
  UNetConfig c;
  auto shape = r.ints("image_shape", 1);
  FC_CHECK(shape.size() == 3 && shape[1] == shape[2],
           "checkpoint metadata 'image_shape' is not C,S,S (square images): '" << r.text("image_shape") << "'");
  c.in_channels = shape[0];
  c.image_size = shape[1];
  c.out_channels = r.has("out_channels") ? r.integer("out_channels", 1) : c.in_channels;
  c.model_channels = r.integer("model_channels", 1);
  c.num_res_blocks = r.integer("num_res_blocks", 1);
  c.channel_mult = r.small_ints("channel_mult", 1);
  if (r.has("attention_ds")) {
    c.attention_resolutions = r.small_ints("attention_ds", 1);
  } else {
    // The reference's resolutions, turned into factors as guided diffusion's
    // create_model does: ds = image_size // resolution (one above image_size gives
    // ds 0, which no level has: no attention, as there).
    c.attention_resolutions.clear();
    for (int64_t res : r.ints("attention_resolutions", 1))
      if (c.image_size / res > 0) c.attention_resolutions.push_back(r.small(c.image_size / res, "attention_resolutions"));
  }
  c.num_heads = r.small(r.integer("num_heads", 1), "num_heads");
  c.dropout = r.real("dropout");
  c.num_classes = r.integer("num_classes", 0);
  c.null_class = r.has("null_class") && r.flag("null_class");
  return c;
}

UNetConfig UNetConfig::infer_from_parameters(const SafetensorsFile& file, int64_t image_size) {
  // A convolution's weight [out, in, 3, 3]; another shape is not a UNet's.
  auto conv_shape = [&](const std::string& name) -> const Shape& {
    const Tensor* t = file.find(name);
    FC_CHECK(t, "not a UNet checkpoint: no parameter '" << name << "'");
    const Shape& s = t->shape();
    FC_CHECK(s.ndim() == 4 && s[0] > 0 && s[1] > 0 && s[2] == 3 && s[3] == 3,
             "not a UNet checkpoint: parameter '" << name << "' has shape " << s << ", want [out, in, 3, 3]");
    return s;
  };
  UNetConfig c;
  const Shape& in = conv_shape("input_blocks.0.0.weight");  // [mc, in_channels, 3, 3]
  c.model_channels = in[0];
  c.in_channels = in[1];
  c.out_channels = conv_shape("out.2.weight")[0];
  c.image_size = image_size;
  c.num_classes = 0;
  if (const Tensor* emb = file.find("label_emb.weight")) {
    FC_CHECK(emb->ndim() == 2, "not a UNet checkpoint: label_emb.weight has shape " << emb->shape());
    c.num_classes = emb->dim(0);
  }
  c.channel_mult.clear();
  c.attention_resolutions.clear();
  // Walk the input blocks: res blocks (their output width gives the level's multiplier)
  // until a downsampling conv ("op") ends the level.
  int64_t res_in_level = 0, ds = 1;
  c.num_res_blocks = 0;
  for (int i = 1;; ++i) {
    const std::string b = "input_blocks." + std::to_string(i) + ".";
    if (file.find(b + "0.op.weight")) {
      c.num_res_blocks = res_in_level;
      res_in_level = 0;
      FC_CHECK(ds < (int64_t{1} << 30), "not a UNet checkpoint: more than 30 downsampling convolutions");
      ds *= 2;
      continue;
    }
    if (!file.find(b + "0.in_layers.2.weight")) break;
    const Shape& conv = conv_shape(b + "0.in_layers.2.weight");
    if (res_in_level == 0) {
      FC_CHECK(conv[0] % c.model_channels == 0 && conv[0] / c.model_channels <= std::numeric_limits<int>::max(),
               "not a UNet checkpoint: " << b << "0.in_layers.2.weight has " << conv[0]
                                         << " channels, not a multiple of model_channels " << c.model_channels);
      c.channel_mult.push_back(static_cast<int>(conv[0] / c.model_channels));
    }
    ++res_in_level;
    if (file.find(b + "1.qkv.weight") &&
        (c.attention_resolutions.empty() || c.attention_resolutions.back() != ds))
      c.attention_resolutions.push_back(static_cast<int>(ds));
  }
  if (c.num_res_blocks == 0) c.num_res_blocks = res_in_level;
  FC_CHECK(!c.channel_mult.empty() && c.num_res_blocks > 0, "not a UNet checkpoint: no res blocks in input_blocks");
  return c;
}

double UNetConfig::min_parameters() const {
  const double mc = static_cast<double>(model_channels), emb = 4 * mc;
  // time_embed's two Linear weights, label_emb, the first and last convolutions.
  double n = mc * emb + emb * emb + static_cast<double>(num_classes) * emb;
  if (!channel_mult.empty())
    n += 9 * mc * channel_mult[0] * static_cast<double>(in_channels + out_channels);
  // The second convolution of every res block on the way down.
  for (int m : channel_mult) n += static_cast<double>(num_res_blocks) * 9 * (m * mc) * (m * mc);
  return n;
}

UNetConfig UNetConfig::from_checkpoint(const SafetensorsFile& file, int64_t image_size) {
  UNetConfig c = file.metadata.empty() ? infer_from_parameters(file, image_size) : from_metadata(file.metadata);
  double values = 0;
  for (const NamedTensor& t : file.tensors) values += static_cast<double>(t.tensor.numel());
  FC_CHECK(c.min_parameters() <= values, "the checkpoint's UNet config needs at least "
                                             << c.min_parameters() << " parameters, the file holds only "
                                             << values << " values");
  return c;
}

}  // namespace fc::nn
