#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "datasets/npy.hpp"
#include "engine/error.hpp"
#include "test_util.hpp"

using fc::Shape;
using fc::Tensor;
using fc::data::load_npy;
using fc::data::save_npy;
using Catch::Matchers::Contains;

namespace {

// An .npy file as numpy writes it, from its parts, so each can be broken on purpose.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1, int minor = 0) {
  const size_t len_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  size_t total = 6 + 2 + len_bytes + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back(static_cast<char>(minor));
  for (size_t i = 0; i < len_bytes; ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  return out + header + data;
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// The load must fail with one line that names the file and says `what`.
void require_load_error(const std::string& path, const std::string& what) {
  try {
    load_npy(path);
    FAIL("load_npy accepted " << path);
  } catch (const fc::Error& e) {
    std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK_THAT(msg, Contains(path));
    CHECK_THAT(msg, Contains(what));
  }
}

}  // namespace

TEST_CASE("npy: save then load round-trips shape and values", "[npy]") {
  TempDir dir;
  const std::vector<Shape> shapes = {Shape{3, 4}, Shape{5}, Shape{}, Shape{2, 3, 4, 1}, Shape{0, 3}};
  for (const Shape& shape : shapes) {
    std::vector<float> v(static_cast<size_t>(shape.numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.25f * static_cast<float>(i) - 1.5f;
    Tensor t = Tensor::from_vector(v, shape);
    std::string path = dir.file("t.npy");
    save_npy(path, t);
    Tensor back = load_npy(path);
    INFO(shape);
    CHECK(back.shape() == shape);
    CHECK(back.to_vector() == v);
  }
}

TEST_CASE("npy: the written file is numpy's format 1.0 with a 64-byte aligned header", "[npy]") {
  TempDir dir;
  std::string path = dir.file("a.npy");
  save_npy(path, Tensor::from_vector({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3}));
  std::string b = read_bytes(path);
  REQUIRE(b.size() > 10);
  CHECK(b.compare(0, 6, std::string("\x93NUMPY", 6)) == 0);
  CHECK(b[6] == 1);
  CHECK(b[7] == 0);
  size_t header_len = static_cast<unsigned char>(b[8]) | (static_cast<size_t>(static_cast<unsigned char>(b[9])) << 8);
  CHECK((10 + header_len) % 64 == 0);
  CHECK(b.size() == 10 + header_len + 6 * sizeof(float));
  std::string header = b.substr(10, header_len);
  CHECK(header.back() == '\n');
  CHECK_THAT(header, Contains("'descr': '<f4'"));
  CHECK_THAT(header, Contains("'fortran_order': False"));
  CHECK_THAT(header, Contains("'shape': (2, 3)"));
  float first;
  std::memcpy(&first, b.data() + 10 + header_len, sizeof(float));
  CHECK(first == 1.f);

  save_npy(path, Tensor::from_vector({1.f, 2.f}, {2}));
  CHECK_THAT(read_bytes(path), Contains("'shape': (2,)"));
  save_npy(path, Tensor::scalar(3.f));
  CHECK_THAT(read_bytes(path), Contains("'shape': ()"));
}

TEST_CASE("npy: save leaves no temporary file and fails with one line for a bad directory", "[npy]") {
  TempDir dir;
  save_npy(dir.file("x.npy"), Tensor::ones({4, 2}));
  save_npy(dir.file("x.npy"), Tensor::zeros({3}));  // over an existing file
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
    (void)entry;
    ++files;
  }
  CHECK(files == 1);
  CHECK(load_npy(dir.file("x.npy")).shape() == Shape{3});

  std::string bad = dir.file("no/such/dir/x.npy");
  try {
    save_npy(bad, Tensor::ones({2}));
    FAIL("save_npy wrote into a missing directory");
  } catch (const fc::Error& e) {
    std::string msg = e.what();
    CHECK(msg.find('\n') == std::string::npos);
    CHECK_THAT(msg, Contains(bad));
  }
}

TEST_CASE("npy: '<f8' arrays and format versions 2.0 and 3.0 load as float32", "[npy]") {
  TempDir dir;
  std::vector<double> v = {0.5, -1.25, 3.0, 1e-3, 2.0, 7.75};
  std::string path = dir.file("f8.npy");
  write_bytes(path, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", raw(v)));
  Tensor t = load_npy(path);
  CHECK(t.shape() == Shape{3, 2});
  std::vector<float> got = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i) CHECK(got[i] == static_cast<float>(v[i]));

  std::vector<float> f = {1.f, 2.f, 3.f};
  write_bytes(path, npy_bytes("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3L,)}", raw(f), 2));
  CHECK(load_npy(path).to_vector() == f);
  write_bytes(path, npy_bytes("{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}", raw(f), 3));
  CHECK(load_npy(path).to_vector() == f);
}

TEST_CASE("npy: each kind of corrupt or unsupported file is refused with one line naming it", "[npy]") {
  TempDir dir;
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  const std::string data = raw(std::vector<float>{1.f, 2.f, 3.f, 4.f});
  std::string p = dir.file("bad.npy");

  SECTION("missing file") { require_load_error(dir.file("missing.npy"), "cannot open"); }
  SECTION("empty file") {
    write_bytes(p, "");
    require_load_error(p, "not an npy file");
  }
  SECTION("bad magic") {
    std::string b = npy_bytes(good, data);
    b[1] = 'X';
    write_bytes(p, b);
    require_load_error(p, "bad magic");
  }
  SECTION("text file") {
    write_bytes(p, "this is not an npy file at all\n1,2\n");
    require_load_error(p, "bad magic");
  }
  SECTION("unsupported version") {
    write_bytes(p, npy_bytes(good, data, 1, 1));
    require_load_error(p, "version 1.1");
    std::string b = npy_bytes(good, data);
    b[6] = 9;
    write_bytes(p, b);
    require_load_error(p, "version 9.0");
  }
  SECTION("unsupported dtype") {
    write_bytes(p, npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", data));
    require_load_error(p, "dtype '<i4'");
    write_bytes(p, npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", data));
    require_load_error(p, "dtype '>f4'");
  }
  SECTION("fortran order") {
    write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data));
    require_load_error(p, "fortran_order");
  }
  SECTION("truncated data") {
    write_bytes(p, npy_bytes(good, data.substr(0, 10)));
    require_load_error(p, "truncated");
  }
  SECTION("extra data") {
    write_bytes(p, npy_bytes(good, data + "xx"));
    require_load_error(p, "size mismatch");
  }
  SECTION("header runs past the end") {
    write_bytes(p, npy_bytes(good, data).substr(0, 40));
    require_load_error(p, "truncated");
  }
  SECTION("garbage headers") {
    const char* dicts[] = {
        "{'descr': '<f4', 'fortran_order': Flase, 'shape': (2, 2), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2), }",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'extra': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}",
        "['descr', '<f4']",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)} trailing",
        "{'descr: '<f4', 'fortran_order': False, 'shape': (2, 2)}",
        "\x01\x02\xff garbage\n",
    };
    for (const char* d : dicts) {
      INFO(d);
      write_bytes(p, npy_bytes(d, data));
      require_load_error(p, "npy:");
    }
  }
  SECTION("absurd shapes") {
    write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", data));
    require_load_error(p, "too large");
    write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 4), }", data));
    require_load_error(p, "dimensions");
  }
  SECTION("a directory") { require_load_error(dir.path, "not a regular file"); }
}
