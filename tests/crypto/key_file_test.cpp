#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

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
