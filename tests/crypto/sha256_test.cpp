#include <catch2/catch.hpp>

#include "crypto/sha256.h"

using namespace cairn;
using namespace cairn::crypto;

TEST_CASE("SHA-256 matches FIPS 180-2 vectors", "[crypto]") {
  REQUIRE(Sha256Of(AsBytes("")).ToHex() ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  REQUIRE(Sha256Of(AsBytes("abc")).ToHex() ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("incremental SHA-256 equals one-shot and resets after Finish", "[crypto]") {
  Sha256 h;
  Hash256 a = h.Update(AsBytes("ab")).Update(AsBytes("c")).Finish();
  REQUIRE(a == Sha256Of(AsBytes("abc")));
  REQUIRE(h.Update(AsBytes("abc")).Finish() == a);
}
