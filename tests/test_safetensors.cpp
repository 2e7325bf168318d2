#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/file_io.hpp"
#include "nn/safetensors.hpp"
#include "test_util.hpp"

using fc::Shape;
using fc::Tensor;
using fc::nn::load_safetensors;
using fc::nn::NamedTensor;
using fc::nn::save_safetensors;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using Json = nlohmann::ordered_json;

namespace {

const char* kFixture = "tests/fixtures/mlp_adamw.safetensors";

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

uint64_t header_len_of(const std::string& bytes) {
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  return n;
}

// A file from a hand-written header and data section.
void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  write_bytes(path, le64(header.size()) + header + data);
}

std::string header_text(const std::string& bytes) { return bytes.substr(8, header_len_of(bytes)); }
std::string data_section(const std::string& bytes) { return bytes.substr(8 + header_len_of(bytes)); }

Tensor iota(const Shape& shape, float start = 0.f) {
  Tensor t = Tensor::empty(shape);
  float* p = t.cpu_data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = start + 0.25f * static_cast<float>(i);
  return t;
}

// A valid file: "a" [2, 3] (24 bytes) then "b" [4] (16 bytes), and one metadata entry.
void write_good(const std::string& path) {
  save_safetensors(path, {{"a", iota({2, 3})}, {"b", iota({4}, 10.f)}}, {{"note", "good"}});
}

// Rewrites the JSON header of a good file, keeping its data section.
void edit_header(const std::string& path, const std::function<void(Json&)>& edit) {
  std::string bytes = read_bytes(path);
  Json h = Json::parse(header_text(bytes));
  edit(h);
  write_raw(path, h.dump(), data_section(bytes));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.cpu_data(), b.cpu_data(), static_cast<size_t>(a.numel()) * sizeof(float)) == 0;
}

}  // namespace

// Loading must throw an fc::Error whose single-line message starts with the path and
// contains the phrase that names the defect.
#define REQUIRE_LOAD_FAILS(path, phrase)                                                      \
  do {                                                                                        \
    REQUIRE_THROWS_AS(load_safetensors(path), fc::Error);                                     \
    REQUIRE_THROWS_WITH(load_safetensors(path),                                               \
                        StartsWith(path) && Contains(phrase) && !Contains("\n") && !Contains("\r")); \
  } while (0)

TEST_CASE("safetensors round trip keeps names, shapes, values and metadata", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  Tensor special = Tensor::from_vector({-0.f, std::numeric_limits<float>::infinity(),
                                        std::numeric_limits<float>::quiet_NaN(),
                                        std::numeric_limits<float>::denorm_min(), 1e-38f, -3.5f},
                                       {6});
  std::vector<NamedTensor> tensors = {
      {"z.scalar", Tensor::scalar(2.5f)},
      {"layers.0.weight", iota({3, 5}, -1.f)},
      {"conv", iota({2, 3, 4, 5}, 7.f)},
      {"empty", Tensor::empty({0, 3})},
      {"special", special},
      {"unicode.名前", iota({2})},
  };
  std::map<std::string, std::string> meta = {{"model", "MLP(3,64)"}, {"steps", "5"}, {"empty", ""}};
  save_safetensors(path, tensors, meta);

  fc::nn::SafetensorsFile f = load_safetensors(path);
  REQUIRE(f.metadata == meta);
  REQUIRE(f.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    INFO(tensors[i].name);
    REQUIRE(f.tensors[i].name == tensors[i].name);  // given order is kept
    REQUIRE(f.tensors[i].tensor.is_cpu());
    REQUIRE(same_bits(f.tensors[i].tensor, tensors[i].tensor));
  }
  REQUIRE(f.find("z.scalar") != nullptr);
  REQUIRE(f.find("z.scalar")->ndim() == 0);
  REQUIRE(f.find("z.scalar")->item() == 2.5f);
  REQUIRE(f.find("conv")->shape() == Shape{2, 3, 4, 5});
  REQUIRE(f.find("missing") == nullptr);

  // Saving what was loaded gives the same bytes.
  const std::string again = dir.file("again.safetensors");
  save_safetensors(again, f.tensors, f.metadata);
  REQUIRE(read_bytes(again) == read_bytes(path));
}

TEST_CASE("safetensors files have an 8-byte aligned JSON header and contiguous data", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, {{"w", iota({3, 3})}, {"s", Tensor::scalar(1.f)}, {"b", iota({5})}}, {{"k", "v"}});
  std::string bytes = read_bytes(path);
  uint64_t n = header_len_of(bytes);
  REQUIRE(n % 8 == 0);
  REQUIRE(bytes.size() == 8 + n + (9 + 1 + 5) * 4);
  std::string text = header_text(bytes);
  REQUIRE(text.front() == '{');
  REQUIRE(text.find_last_not_of(' ') + 1 >= text.size() - 7);  // only space padding, under 8 bytes

  Json h = Json::parse(text);
  REQUIRE(h.is_object());
  REQUIRE(h.begin().key() == "__metadata__");
  REQUIRE(h["__metadata__"] == Json{{"k", "v"}});
  REQUIRE(h["w"]["dtype"] == "F32");
  REQUIRE(h["w"]["shape"] == Json::array({3, 3}));
  REQUIRE(h["w"]["data_offsets"] == Json::array({0, 36}));
  REQUIRE(h["s"]["shape"] == Json::array());
  REQUIRE(h["s"]["data_offsets"] == Json::array({36, 40}));
  REQUIRE(h["b"]["data_offsets"] == Json::array({40, 60}));

  // No metadata: no "__metadata__" key at all.
  save_safetensors(path, {{"w", iota({2})}});
  REQUIRE(!Json::parse(header_text(read_bytes(path))).contains("__metadata__"));
}

TEST_CASE("safetensors loads a file written by PyTorch", "[checkpoint]") {
  fc::nn::SafetensorsFile f = load_safetensors(kFixture);
  REQUIRE(f.tensors.size() == 35);
  REQUIRE(f.metadata.at("steps") == "5");
  REQUIRE(f.metadata.at("loss") == "mse mean");
  REQUIRE(f.tensors.front().name == "init.layers.0.weight");

  const Tensor* w0 = f.find("init.layers.0.weight");
  REQUIRE(w0 != nullptr);
  REQUIRE(w0->shape() == Shape{64, 3});
  REQUIRE(f.find("init.layers.2.weight")->shape() == Shape{64, 64});
  REQUIRE(f.find("final.layers.6.weight")->shape() == Shape{2, 64});
  REQUIRE(f.find("step0.input")->shape() == Shape{16, 3});
  REQUIRE(f.find("step0.grad.layers.6.bias")->shape() == Shape{2});

  // Values read with Python's struct module from the same file.
  std::vector<float> b0 = f.find("init.layers.0.bias")->to_vector();
  REQUIRE(b0[0] == static_cast<float>(-0.27117425203323364));
  REQUIRE(b0[1] == static_cast<float>(0.03269976004958153));
  REQUIRE(b0[2] == static_cast<float>(0.41794267296791077));
  std::vector<float> losses = f.find("losses")->to_vector();
  REQUIRE(losses.size() == 5);
  REQUIRE(losses[0] == static_cast<float>(0.8001994490623474));
  REQUIRE(losses[4] == static_cast<float>(0.845893144607544));

  // Written back in the same order, the data section is byte for byte PyTorch's.
  TempDir dir;
  const std::string path = dir.file("resaved.safetensors");
  save_safetensors(path, f.tensors, f.metadata);
  REQUIRE(data_section(read_bytes(path)) == data_section(read_bytes(kFixture)));
  fc::nn::SafetensorsFile g = load_safetensors(path);
  REQUIRE(g.metadata == f.metadata);
  for (size_t i = 0; i < f.tensors.size(); ++i) REQUIRE(same_bits(g.tensors[i].tensor, f.tensors[i].tensor));
}

TEST_CASE("safetensors save is atomic", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  const std::string good = read_bytes(path);

  SECTION("overwriting leaves no temporary file behind") {
    save_safetensors(path, {{"x", iota({7})}});
    REQUIRE(load_safetensors(path).find("x")->numel() == 7);
    int entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
      ++entries;
      REQUIRE(e.path().filename() == "ckpt.safetensors");
    }
    REQUIRE(entries == 1);
  }
  SECTION("a failed write keeps the old file") {
    // A directory where the temporary file must go makes the write fail.
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    REQUIRE(::mkdir(tmp.c_str(), 0755) == 0);
    REQUIRE_THROWS_AS(save_safetensors(path, {{"x", iota({7})}}), fc::Error);
    REQUIRE_THROWS_WITH(save_safetensors(path, {{"x", iota({7})}}),
                        StartsWith(path) && Contains("cannot create") && !Contains("\n"));
    REQUIRE(read_bytes(path) == good);
    REQUIRE(::rmdir(tmp.c_str()) == 0);
  }
  SECTION("a missing directory throws naming the path") {
    const std::string bad = dir.file("no/such/dir/ckpt.safetensors");
    REQUIRE_THROWS_AS(save_safetensors(bad, {{"x", iota({7})}}), fc::Error);
    REQUIRE_THROWS_WITH(save_safetensors(bad, {{"x", iota({7})}}),
                        StartsWith(bad) && Contains("No such file or directory") && !Contains("\n"));
    REQUIRE(!std::filesystem::exists(dir.file("no")));
  }
  SECTION("bad names are refused before anything is written") {
    REQUIRE_THROWS_WITH(save_safetensors(path, {{"a", iota({1})}, {"a", iota({2})}}),
                        StartsWith(path) && Contains("duplicate tensor name 'a'"));
    REQUIRE_THROWS_WITH(save_safetensors(path, {{"", iota({1})}}), StartsWith(path) && Contains("empty name"));
    REQUIRE_THROWS_WITH(save_safetensors(path, {{"__metadata__", iota({1})}}),
                        StartsWith(path) && Contains("reserved"));
    REQUIRE_THROWS_WITH(save_safetensors(path, {{"u", Tensor()}}), StartsWith(path) && Contains("undefined"));
    REQUIRE(read_bytes(path) == good);
    REQUIRE(std::distance(std::filesystem::directory_iterator(dir.path), {}) == 1);
  }
  SECTION("the temps of killed writers are removed by the next write, a live process's are kept") {
    // A process that has exited: its id names no live process (until the system reuses it).
    const pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    REQUIRE(dead > 0);
    REQUIRE(::waitpid(dead, nullptr, 0) == dead);
    const std::string killed = path + ".tmp." + std::to_string(dead);  // SIGKILL in a write
    const std::string live = path + ".tmp.1";                          // init: always alive
    const std::string other = dir.file("other.npy.tmp." + std::to_string(dead));
    const std::string not_a_pid = path + ".tmp.x1";
    for (const std::string& f : {killed, live, other, not_a_pid}) write_bytes(f, "half a file");
    save_safetensors(path, {{"x", iota({7})}});
    REQUIRE(!std::filesystem::exists(killed));
    REQUIRE(std::filesystem::exists(live));
    REQUIRE(std::filesystem::exists(other));  // another file's: left to its next write
    REQUIRE(std::filesystem::exists(not_a_pid));
    REQUIRE(fc::io::remove_stale_temps(dir.path) == 1);  // any name: `other`
    REQUIRE(!std::filesystem::exists(other));
    REQUIRE(std::filesystem::exists(live));
  }
}

TEST_CASE("safetensors accepts out-of-order offsets that do not overlap", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("swapped.safetensors");
  write_good(path);
  edit_header(path, [](Json& h) {  // "b" first in the data, then "a"
    h["b"]["data_offsets"] = Json::array({0, 16});
    h["a"]["data_offsets"] = Json::array({16, 40});
  });
  fc::nn::SafetensorsFile f = load_safetensors(path);
  REQUIRE(f.find("a")->shape() == Shape{2, 3});
  REQUIRE(f.find("b")->to_vector().size() == 4);
}

// One test per defect: write a good file, break it one way, expect a specific refusal.

TEST_CASE("safetensors refuses a missing file", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("absent.safetensors");
  REQUIRE_LOAD_FAILS(path, "cannot open: No such file or directory");
}

TEST_CASE("safetensors refuses a directory", "[checkpoint]") {
  TempDir dir;
  REQUIRE_LOAD_FAILS(dir.path, "not a regular file");
}

TEST_CASE("safetensors refuses a file shorter than 8 bytes", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("short.safetensors");
  write_good(path);
  write_bytes(path, read_bytes(path).substr(0, 5));
  REQUIRE_LOAD_FAILS(path, "too short: 5 bytes");
}

TEST_CASE("safetensors refuses a header length larger than the file", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  std::string bytes = read_bytes(path);
  write_bytes(path, le64(bytes.size()) + bytes.substr(8));
  std::string phrase = "truncated: header says " + std::to_string(bytes.size()) + " bytes, file has " +
                       std::to_string(bytes.size() - 8);
  REQUIRE_LOAD_FAILS(path, phrase);
}

TEST_CASE("safetensors refuses an absurd header length", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  std::string bytes = read_bytes(path);
  write_bytes(path, le64(uint64_t(1) << 40) + bytes.substr(8));
  REQUIRE_LOAD_FAILS(path, "header length 1099511627776 is absurd");
}

TEST_CASE("safetensors refuses a header that is not JSON", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  std::string bytes = read_bytes(path);
  bytes[8 + 1] = '#';  // {"a"... becomes {#a"...
  write_bytes(path, bytes);
  REQUIRE_LOAD_FAILS(path, "header is not valid JSON");

  write_raw(path, "{\"a\":\n{\"dtype\":", "");  // the parser's message must stay on one line
  REQUIRE_LOAD_FAILS(path, "header is not valid JSON");
}

TEST_CASE("safetensors refuses a header that is not an object", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_raw(path, "[1, 2, 3]", "");
  REQUIRE_LOAD_FAILS(path, "header is not a JSON object");
}

TEST_CASE("safetensors refuses a dtype other than F32", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  edit_header(path, [](Json& h) { h["b"]["dtype"] = "F16"; });
  REQUIRE_LOAD_FAILS(path, "tensor 'b': unsupported dtype F16");
}

TEST_CASE("safetensors refuses a bad shape", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  const std::string good = read_bytes(path);
  for (Json bad : {Json::array({-2, -3}), Json::array({2.0, 3}), Json::array({"2", 3}), Json("2x3"), Json()}) {
    INFO(bad.dump());
    write_bytes(path, good);
    edit_header(path, [&](Json& h) { h["a"]["shape"] = bad; });
    REQUIRE_LOAD_FAILS(path, "tensor 'a': shape must be a list of non-negative integers");
  }
  write_bytes(path, good);
  edit_header(path, [](Json& h) { h["a"]["shape"] = Json::array({1, 1, 1, 1, 1, 2, 3}); });
  REQUIRE_LOAD_FAILS(path, "tensor 'a': shape has 7 dimensions");
}

TEST_CASE("safetensors refuses malformed data_offsets", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  const std::string good = read_bytes(path);
  for (Json bad : {Json::array({24}), Json::array({40, 24}), Json::array({-8, 16}), Json("24-40"), Json()}) {
    INFO(bad.dump());
    write_bytes(path, good);
    edit_header(path, [&](Json& h) { h["b"]["data_offsets"] = bad; });
    REQUIRE_LOAD_FAILS(path, "tensor 'b': data_offsets must be [begin, end]");
  }
}

TEST_CASE("safetensors refuses data_offsets outside the data section", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  edit_header(path, [](Json& h) { h["b"]["data_offsets"] = Json::array({1000, 1016}); });
  REQUIRE_LOAD_FAILS(path, "tensor 'b' data_offsets [1000, 1016] reach past the end of the data section (40 bytes)");
}

TEST_CASE("safetensors refuses data_offsets that do not match the shape", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  edit_header(path, [](Json& h) { h["a"]["shape"] = Json::array({2, 2}); });
  REQUIRE_LOAD_FAILS(path, "tensor 'a': data_offsets [0, 24] hold 24 bytes but shape [2, 2] of F32 needs 16");
}

TEST_CASE("safetensors refuses overlapping data", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  // "b" [16, 32] overlaps "a" [0, 24]; a third tensor keeps the data section fully used.
  edit_header(path, [](Json& h) {
    h["b"]["data_offsets"] = Json::array({16, 32});
    h["c"] = Json{{"dtype", "F32"}, {"shape", Json::array({2})}, {"data_offsets", Json::array({32, 40})}};
  });
  REQUIRE_LOAD_FAILS(path, "tensors 'a' [0, 24] and 'b' [16, 32] overlap");
}

TEST_CASE("safetensors refuses duplicate tensor names", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  const std::string data(8, '\0');
  write_raw(path,
            R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
            R"("x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            data);
  REQUIRE_LOAD_FAILS(path, "duplicate tensor name 'x'");

  // A name holding a newline still gives a one-line message.
  write_raw(path,
            R"({"x\ny":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
            R"("x\ny":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            data);
  REQUIRE_LOAD_FAILS(path, "duplicate tensor name 'x?y'");
}

TEST_CASE("safetensors refuses metadata that is not strings", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  const std::string good = read_bytes(path);
  edit_header(path, [](Json& h) { h["__metadata__"]["steps"] = 5; });
  REQUIRE_LOAD_FAILS(path, "__metadata__ value for 'steps' is not a string (got number)");

  write_bytes(path, good);
  edit_header(path, [](Json& h) { h["__metadata__"] = Json::array({"a"}); });
  REQUIRE_LOAD_FAILS(path, "__metadata__ is not an object");
}

TEST_CASE("safetensors refuses a truncated data section", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  std::string bytes = read_bytes(path);
  write_bytes(path, bytes.substr(0, bytes.size() - 3));
  REQUIRE_LOAD_FAILS(path, "truncated: tensor 'b' data_offsets [24, 40] reach past the end of the data section (37 bytes)");
}

TEST_CASE("safetensors refuses trailing bytes after the data", "[checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_good(path);
  write_bytes(path, read_bytes(path) + "junk");
  REQUIRE_LOAD_FAILS(path, "4 trailing bytes: data section has 44 bytes but the tensors end at 40");
}
