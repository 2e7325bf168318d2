// nn/pth: PyTorch's .pth checkpoints read without Python. Files torch.save wrote
// (tests/fixtures/make_pth_fixtures.py) load as their state_dict, also wrapped in a
// training script's dict; a .pth written as torch.save writes it samples in cfm2d exactly
// as its safetensors conversion does; damaged and foreign files are refused in one line
// naming the file.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "app_runner.hpp"
#include "engine/error.hpp"
#include "nn/checkpoint.hpp"
#include "nn/mlp.hpp"
#include "pth_writer.hpp"

using namespace fc;
namespace fs = std::filesystem;

namespace {

std::vector<pth::TensorSpec> specs_of(nn::Module& m) {
  std::vector<pth::TensorSpec> out;
  for (auto& [name, t] : m.named_parameters()) out.emplace_back(name, t->shape().vec(), t->to_vector());
  return out;
}

std::vector<pth::TensorSpec> small_state_dict() {
  return {{"layers.0.weight", {2, 3}, {1, 2, 3, 4, 5, 6}}, {"layers.0.bias", {2}, {0.5f, -0.5f}}};
}

// A literal with NUL bytes in it.
template <size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

// The error load_state_dict gives, which must be one line.
std::string refusal(const std::string& path) {
  try {
    nn::load_state_dict(path);
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find('\n') == std::string::npos);
    return m;
  }
  FAIL("loaded " << path);
  return "";
}

}  // namespace

TEST_CASE("a .pth that torch.save wrote loads as its state_dict (fixture from PyTorch 1.13)", "[pth][checkpoint][fixture]") {
  const nn::SafetensorsFile ref = nn::load_safetensors("tests/fixtures/mlp_torch_save.safetensors");
  for (const char* file : {"tests/fixtures/mlp_torch_save.pth", "tests/fixtures/mlp_torch_save_wrapped.pth"}) {
    INFO(file);
    const nn::SafetensorsFile f = nn::load_state_dict(file);
    CHECK(f.metadata.empty());
    std::vector<std::string> names;
    for (const nn::NamedTensor& t : f.tensors) {
      names.push_back(t.name);
      const Tensor* r = ref.find(t.name);
      REQUIRE(r);
      CHECK(t.tensor.shape() == r->shape());
      CHECK(t.tensor.to_vector() == r->to_vector());  // bit for bit
    }
    CHECK(names == std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
                                            "layers.4.weight", "layers.4.bias", "layers.6.weight", "layers.6.bias"});
    // The MLP the shapes describe computes PyTorch's output.
    nn::MLPConfig c = nn::MLPConfig::from_checkpoint(f);
    CHECK(c.hidden == 8);
    CHECK(c.hidden_layers == 3);
    Generator gen(0);
    nn::MLP mlp(c, gen);
    nn::load_parameters(mlp, f, file);
    auto got = mlp.forward(*ref.find("check.input")).to_vector(), want = ref.find("check.output")->to_vector();
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(std::fabs(got[i] - want[i]) < 1e-6);
  }
}

TEST_CASE("a .pth written as torch.save writes it samples in cfm2d as its safetensors conversion does",
          "[pth][app][cfm2d]") {
  TempDir dir;
  Generator gen(9);
  nn::MLPConfig c;
  c.hidden = 16;
  nn::MLP mlp(c, gen);
  fs::create_directories(dir.path + "/a/moons");
  fs::create_directories(dir.path + "/b/moons");
  nn::save_checkpoint(dir.path + "/a/moons/ckpt.safetensors", mlp, {});
  // The reference's layout: outputs/cfm/DATASET/ckpt.pth alone in its folder.
  write_bytes(dir.path + "/b/moons/ckpt.pth", pth::pth_bytes(specs_of(mlp)));
  const std::string opts = " --sample-only --samples 300 --no-plots --eval-points 50 --quality-points 200 --threads 2";
  AppRun a = run_app("./apps/cfm2d moons" + opts + " --output " + dir.path + "/a");
  AppRun b = run_app("./apps/cfm2d moons" + opts + " --output " + dir.path + "/b");
  INFO(a.err << b.err);
  REQUIRE(a.exit_code == 0);
  REQUIRE(b.exit_code == 0);
  nlohmann::json ma = read_json(dir.path + "/a/moons/metrics.json"), mb = read_json(dir.path + "/b/moons/metrics.json");
  CHECK(mb["config"]["checkpoint"] == dir.path + "/b/moons/ckpt.pth");
  CHECK(mb["config"]["hidden"] == 16);
  for (const char* key : {"energy_distance", "heldout_mean_log_likelihood", "straightness"}) {
    INFO(key);
    CHECK(ma[key] == mb[key]);
  }
  // A damaged one: one line naming it.
  std::string bytes = read_bytes(dir.path + "/b/moons/ckpt.pth");
  write_bytes(dir.path + "/b/moons/ckpt.pth", bytes.substr(0, bytes.size() / 2));
  AppRun cut = run_app("./apps/cfm2d moons" + opts + " --output " + dir.path + "/b");
  CHECK(cut.exit_code == 1);
  CHECK(count_lines(cut.err) == 1);
  CHECK(cut.err.find("ckpt.pth") != std::string::npos);
}

TEST_CASE("a .pth loads whatever its archive is called, and its tensors keep their values", "[pth][checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("weights.pt");
  write_bytes(path, pth::pth_bytes(small_state_dict(), "archive"));
  nn::SafetensorsFile f = nn::load_state_dict(path);
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].tensor.shape() == Shape{2, 3});
  CHECK(f.tensors[0].tensor.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(f.tensors[1].tensor.to_vector() == std::vector<float>{0.5f, -0.5f});
}

TEST_CASE("damaged or foreign .pth files are refused in one line naming the file", "[pth][checkpoint]") {
  using Catch::Contains;
  TempDir dir;
  const std::string good = pth::pth_bytes(small_state_dict());
  auto with = [&](std::vector<pth::TensorSpec> t, auto&& change) {
    change(t);
    return pth::pth_bytes(t);
  };
  auto pickled = [&](const std::string& ops) { return pth::pth_bytes(small_state_dict(), "ckpt", std::string("\x80\x02", 2) + ops); };
  std::string bad_crc = good;
  const std::string weights = pth::float_bytes(small_state_dict()[0].values);
  bad_crc[bad_crc.find(weights) + 5] ^= 0x40;
  struct Case {
    const char* what;
    std::string bytes;
    const char* says;
  };
  const Case cases[] = {
      {"truncated", good.substr(0, good.size() - 30), "ZIP"},
      {"cut in half", good.substr(0, good.size() / 2), "ZIP"},
      {"a bad CRC", bad_crc, "CRC"},
      {"an unknown global", pickled("cos\nsystem\n."), "os.system"},
      {"a storage too short", with(small_state_dict(), [](auto& t) { t[0].numel_claim = 7; }), "holds 24 bytes"},
      {"float64", with(small_state_dict(), [](auto& t) { t[1].storage_class = "DoubleStorage"; }), "DoubleStorage"},
      {"a transposed tensor", with(small_state_dict(), [](auto& t) { t[0].strides = {1, 2}; }), "not contiguous"},
      {"a tensor past its storage", with(small_state_dict(), [](auto& t) { t[0].sizes = {3, 3}; }), "runs past"},
      // A = {}, B = {}, B['k'] = A, then A['k'] = B: A is inside B by then.
      {"a cycle", pickled(bytes("}q\0}q\1X\1\0\0\0" "kh\0sh\0X\1\0\0\0" "kh\1s.")), "after it was nested"},
      {"nesting 40 deep", pickled(")" + std::string(40, '\x85') + "."), "deeper than"},
      {"an unknown opcode", pickled("I1\n."), "opcode"},
      {"no STOP", pickled("}"), "truncated"},
      {"a list, not a dict", pickled("]."), "not a state_dict"},
      {"no tensors", pickled(bytes("}X\1\0\0\0" "aK\1s.")), "holds no state_dict"},
      {"no data.pkl", pth::zip_members({{"ckpt/version", "3\n"}}), "data.pkl"},
      {"not a zip at all", "PK\x03\x04 and then nothing of a ZIP", "ZIP"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const std::string path = dir.file("ckpt.pth");
    write_bytes(path, c.bytes);
    const std::string m = refusal(path);
    CHECK_THAT(m, Contains(path) && Contains(c.says));
  }
}
