// The tar reader (datasets/tar_archive) that unpacks the CIFAR-10 tarball: archives
// made byte for byte by tests/tar_writer.hpp and by GNU tar, gzip-compressed or not,
// unpacked to the same bytes; names that would leave the folder refused; damaged
// archives refused on one line naming the archive and the member; a signal stops it.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "datasets/tar_archive.hpp"
#include "engine/cancel.hpp"
#include "engine/error.hpp"
#include "tests/gzip_bytes.hpp"
#include "tests/tar_writer.hpp"
#include "tests/test_util.hpp"

namespace fs = std::filesystem;
using fc::data::extract_tar;
using fc::data::TarContents;

namespace {

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 9)) & 0xff);
  return s;
}

// The archive's bytes written to DIR/NAME; returns the path.
std::string put(const TempDir& dir, const std::string& name, const std::string& bytes) {
  write_bytes(dir.file(name), bytes);
  return dir.file(name);
}

// What extract_tar says of `bytes`, the message of its fc::Error ("" when it unpacked).
std::string refusal(const TempDir& dir, const std::string& bytes, const std::string& dest) {
  const std::string path = put(dir, "bad.tar", bytes);
  try {
    extract_tar(path, dest);
  } catch (const fc::Error& e) {
    return e.what();
  }
  return "";
}

size_t count_files(const std::string& root) {
  size_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(root)) n += e.is_regular_file() || e.is_symlink();
  return n;
}

}  // namespace

TEST_CASE("tar: files, folders, long names and pax names unpacked to the same bytes, gzip or not", "[tar]") {
  const std::string a = pattern(3073 * 3, 1), b = pattern(511, 2), c = pattern(1 << 20 | 5, 3);
  const std::string long120 = "cifar-10-batches-bin/" + std::string(80, 'd') + "/" + std::string(90, 'e') + ".bin";
  const std::string gnu_long = std::string(150, 'g') + ".bin";  // no '/' to split at: needs an 'L' member
  const std::string raw = tar::folder("cifar-10-batches-bin/") + tar::member("cifar-10-batches-bin/data_batch_1.bin", a) +
                          tar::member("./cifar-10-batches-bin/readme.html", b) + tar::member("empty", "") +
                          tar::member(long120, c) + tar::long_name(gnu_long, b) + tar::pax_path("pax/named.bin", a) +
                          tar::member("link", "", '2') + tar::end();
  for (bool gz : {false, true}) {
    INFO((gz ? "tar.gz" : "tar"));
    TempDir dir;
    const std::string archive = put(dir, gz ? "x.tar.gz" : "x.tar", gz ? gzip_bytes(raw) : raw);
    const std::string out = dir.file("out");
    const TarContents got = extract_tar(archive, out);
    CHECK(read_bytes(out + "/cifar-10-batches-bin/data_batch_1.bin") == a);
    CHECK(read_bytes(out + "/cifar-10-batches-bin/readme.html") == b);
    CHECK(read_bytes(out + "/empty").empty());
    CHECK(read_bytes(out + "/" + long120) == c);
    CHECK(read_bytes(out + "/" + gnu_long) == b);
    CHECK(read_bytes(out + "/pax/named.bin") == a);
    CHECK_FALSE(fs::exists(out + "/short-name"));  // the pax path replaced it
    CHECK_FALSE(fs::exists(fs::symlink_status(out + "/link")));
    REQUIRE(got.files.size() == 6);
    CHECK(got.files[0].name == "cifar-10-batches-bin/data_batch_1.bin");
    CHECK(got.files[0].size == a.size());
    CHECK(got.files[3].name == long120);
    CHECK(got.files[3].size == c.size());
    CHECK(got.folders == 1);
    CHECK(got.skipped == 1);
    CHECK(count_files(out) == 6);
  }
  // An old GNU header ("ustar  " magic) keeps access times where POSIX has the prefix:
  // they are not part of the name.
  std::string old_gnu = tar::header("plain.bin", 3);
  std::memcpy(&old_gnu[257], "ustar  \0", 8);
  std::memcpy(&old_gnu[345], "14737044510", 11);
  tar::reseal(old_gnu);
  TempDir dir;
  const TarContents got = extract_tar(put(dir, "gnu.tar", old_gnu + "abc" + tar::padding(3) + tar::end()), dir.file("out"));
  REQUIRE(got.files.size() == 1);
  CHECK(got.files[0].name == "plain.bin");
  CHECK(read_bytes(dir.file("out/plain.bin")) == "abc");
}

TEST_CASE("tar: what GNU tar writes is unpacked to the same bytes, and GNU tar reads what the test writer writes",
          "[tar]") {
  if (std::system("tar --version > /dev/null 2>&1") != 0) {
    WARN("skipped: no tar program on this machine to compare with");
    return;
  }
  TempDir dir;
  const std::string src = dir.file("src");
  const std::string deep = "a/" + std::string(120, 'n') + "/" + std::string(110, 'm');  // long parts
  fs::create_directories(src + "/" + deep);
  write_bytes(src + "/top.bin", pattern(70000, 4));
  write_bytes(src + "/" + deep + "/" + std::string(140, 'f'), pattern(1234, 5));
  for (const char* format : {"gnu", "pax", "ustar"}) {
    INFO("tar --format=" << format);
    const std::string archive = dir.file(std::string(format) + ".tar.gz"), out = dir.file(std::string("out_") + format);
    const std::string cmd = "tar --format=" + std::string(format) + " -czf " + archive + " -C " + src + " . 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) {
      // ustar cannot hold a 140-byte file name: GNU tar refuses, and that is not ours to test
      CHECK(std::string(format) == "ustar");
      continue;
    }
    const TarContents got = extract_tar(archive, out);
    CHECK(got.files.size() == 2);
    CHECK(read_bytes(out + "/top.bin") == pattern(70000, 4));
    CHECK(read_bytes(out + "/" + deep + "/" + std::string(140, 'f')) == pattern(1234, 5));
  }
  const std::string ours = put(dir, "ours.tar.gz", gzip_bytes(tar::member("x/y.bin", pattern(1000, 6)) + tar::end()));
  fs::create_directories(dir.file("gnu_out"));
  REQUIRE(std::system(("tar -xzf " + ours + " -C " + dir.file("gnu_out")).c_str()) == 0);
  CHECK(read_bytes(dir.file("gnu_out/x/y.bin")) == pattern(1000, 6));
}

TEST_CASE("tar: a name that would unpack outside the folder refuses the archive; links are never made", "[tar]") {
  TempDir dir;
  const std::string out = dir.file("deep/out");
  for (const char* name : {"../evil", "/tmp/evil", "a/../../evil", "a/b/../../../evil", ".."}) {
    INFO(name);
    const std::string why = refusal(dir, tar::member(name, "x") + tar::end(), out);
    CHECK(why.rfind(dir.file("bad.tar") + ": member 1 ('" + name + "') has ", 0) == 0);
    CHECK((why.find("refused (it would unpack outside the folder)") != std::string::npos));
  }
  CHECK_FALSE(fs::exists(dir.file("evil")));
  CHECK_FALSE(fs::exists(dir.file("deep/evil")));
  CHECK_FALSE(fs::exists("/tmp/evil"));
  // A symlink to outside, then a file through it: the link is skipped, so the file
  // lands inside the folder, in a real folder named like the link.
  const TarContents got = [&] {
    const std::string p = put(dir, "link.tar", tar::member("up", "", '2') + tar::member("up/x", "data") + tar::end());
    return extract_tar(p, out);
  }();
  CHECK(got.skipped == 1);
  CHECK(fs::is_directory(fs::symlink_status(out + "/up")));
  CHECK(read_bytes(out + "/up/x") == "data");
}

TEST_CASE("tar: damaged archives are refused on one line naming the archive and the member", "[tar]") {
  TempDir dir;
  const std::string out = dir.file("out"), bad = dir.file("bad.tar");
  const std::string good = tar::member("one.bin", pattern(5000, 7)) + tar::member("two.bin", pattern(3000, 8)) + tar::end();
  CHECK(refusal(dir, "", out) == bad + ": is empty, not a tar archive");
  CHECK(refusal(dir, "hello, not a tar archive\n", out) == bad + ": cut short in the header of member 1");
  CHECK(refusal(dir, pattern(4096, 9), out) ==
        bad + ": member 1: bad header checksum; not a tar archive, or a damaged one");
  std::string flipped = good;
  flipped[512 + 5120 + 3] ^= 1;  // the second header's name
  CHECK(refusal(dir, flipped, out) == bad + ": member 2: bad header checksum; not a tar archive, or a damaged one");
  // Cut inside the second member's data: the first stays whole, the second is removed.
  CHECK(refusal(dir, good.substr(0, 512 + 5120 + 512 + 1000), out) ==
        bad + ": member 2 ('two.bin') is cut short: the archive ends inside it");
  CHECK(read_bytes(out + "/one.bin") == pattern(5000, 7));
  CHECK_FALSE(fs::exists(out + "/two.bin"));
  CHECK(refusal(dir, good.substr(0, good.size() - 1024), out) == bad + ": ends without its end-of-archive block: cut short?");
  // A header claiming 8 GiB over a few bytes: copied piece by piece until the data ends.
  CHECK(refusal(dir, tar::header("huge.bin", uint64_t{8} << 30) + pattern(2000, 1), out) ==
        bad + ": member 1 ('huge.bin') is cut short: the archive ends inside it");
  CHECK_FALSE(fs::exists(out + "/huge.bin"));
  std::string bad_size = tar::header("x", 10);
  bad_size.replace(124, 3, "0x1");  // hex is not octal; the checksum is made to match
  tar::reseal(bad_size);
  CHECK(refusal(dir, bad_size + std::string(512, 'x') + tar::end(), out) ==
        bad + ": member 1: the size field is not a number");
  CHECK(refusal(dir, tar::member("p", "12 path=x\n", 'x') + tar::end(), out) == bad + ": member 1: a damaged pax header");
  CHECK(refusal(dir, tar::member("p", "99999999999999999999 path=x\n", 'x') + tar::end(), out) ==
        bad + ": member 1: a damaged pax header");
  CHECK(refusal(dir, tar::header("././@LongLink", 2 << 20, 'L') + pattern(4096, 3), out) ==
        bad + ": member 1: a long name or pax header of 2097152 bytes");
  // The gzip stream cut short after the whole tar inside it came through (a cut
  // download of an archive whose end blocks are in the last piece).
  const std::string gz = gzip_bytes(good + std::string(8192, '\0'));
  CHECK(refusal(dir, gz.substr(0, gz.size() - 6), out) == bad + ": the gzip stream is cut short");
  std::string corrupt = gzip_bytes(good);
  corrupt[corrupt.size() / 2] ^= 0x55;
  CHECK(refusal(dir, corrupt, out).rfind(bad + ": ", 0) == 0);
  CHECK(refusal(dir, corrupt, out).find('\n') == std::string::npos);
}

TEST_CASE("tar: the cancellation point stops a long unpack (as SIGTERM does in a program)", "[tar][signals]") {
  TempDir dir;
  const std::string archive = put(dir, "big.tar", tar::member("big.bin", pattern(5 << 20, 1)) + tar::end());
  struct Stop {};
  static int calls;
  calls = 0;
  fc::set_cancellation_check([] {
    if (++calls == 3) throw Stop{};
  });
  CHECK_THROWS_AS(extract_tar(archive, dir.file("out")), Stop);
  fc::set_cancellation_check(nullptr);
  CHECK_FALSE(fs::exists(dir.file("out/big.bin")));  // the member being written is removed
  CHECK(extract_tar(archive, dir.file("out")).files.size() == 1);
}
