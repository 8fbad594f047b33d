#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>

#include "crypto/key_file.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::crypto;

using cairn::testkit::TempDir;

TEST_CASE("key file round trip with mode 0600", "[crypto]") {
  TempDir dir("keyfile");
  std::string path = dir.Sub("key.json");
  KeyPair kp = KeyPair::Generate();
  REQUIRE(WriteKeyFile(path, kp).ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  REQUIRE((st.st_mode & 0777) == 0600);
  auto back = ReadKeyFile(path);
  REQUIRE(back.ok());
  REQUIRE(back->public_key() == kp.public_key());
  // Never overwrites an existing key.
  REQUIRE_FALSE(WriteKeyFile(path, KeyPair::Generate()).ok());
  REQUIRE(ReadKeyFile(path)->public_key() == kp.public_key());
}

TEST_CASE("key file readable by others is refused", "[crypto]") {
  TempDir dir("keyfile");
  std::string path = dir.Sub("key.json");
  REQUIRE(WriteKeyFile(path, KeyPair::Generate()).ok());
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  auto r = ReadKeyFile(path);
  REQUIRE_FALSE(r.ok());
  REQUIRE_THAT(r.error(), Catch::Contains("chmod 600"));
}

TEST_CASE("malformed and mismatched key files are refused", "[crypto]") {
  TempDir dir("keyfile");
  auto write = [&](const std::string& name, const std::string& text) {
    std::string p = dir.Sub(name);
    std::ofstream(p) << text;
    ::chmod(p.c_str(), 0600);
    return p;
  };
  REQUIRE_FALSE(ReadKeyFile(write("a", "not json")).ok());
  REQUIRE_FALSE(ReadKeyFile(write("b", R"({"type":"rsa","private_key":"00"})")).ok());
  REQUIRE_FALSE(ReadKeyFile(write("c", R"({"type":"ed25519","private_key":"abcd"})")).ok());
  KeyPair a = KeyPair::Generate(), b = KeyPair::Generate();
  std::string mismatched = R"({"type":"ed25519","private_key":")" + a.seed().ToHex() +
                           R"(","public_key":")" + b.public_key().ToHex() + "\"}";
  auto r = ReadKeyFile(write("d", mismatched));
  REQUIRE_FALSE(r.ok());
  REQUIRE_THAT(r.error(), Catch::Contains("does not match"));
  REQUIRE_FALSE(ReadKeyFile(dir.Sub("missing")).ok());
}

TEST_CASE("a FIFO or a directory given as the key file is refused without blocking", "[crypto]") {
  TempDir dir("keyfile");
  const std::string fifo = dir.Sub("node_key.json");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Nobody writes to the FIFO: a blocking open would hang startup. On a regression, open a
  // writer so the reader returns and the test fails instead of hanging.
  auto reading = std::async(std::launch::async, [&] { return ReadKeyFile(fifo); });
  const bool returned = reading.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  if (!returned) ::close(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK));
  REQUIRE(returned);
  CHECK(reading.get().error() == "key file: " + fifo + " is a FIFO (named pipe), not a file");

  const std::string sub = dir.Sub("keys");
  REQUIRE(::mkdir(sub.c_str(), 0700) == 0);
  CHECK(ReadKeyFile(sub).error() == "key file: " + sub + " is a directory, not a file");

  CHECK(ReadKeyFile("/dev/zero").error() ==
        "key file: /dev/zero is a character device, not a file");

  const std::string big = dir.Sub("big.json");
  std::ofstream(big) << std::string(65537, ' ');
  ::chmod(big.c_str(), 0600);
  CHECK(ReadKeyFile(big).error() ==
        "key file: " + big + " is 65537 bytes, more than the 65536 allowed");
}
