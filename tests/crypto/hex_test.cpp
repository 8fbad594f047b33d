#include <catch2/catch.hpp>

#include "crypto/hex.h"
#include "crypto/sha256.h"

using namespace cairn;
using namespace cairn::crypto;

TEST_CASE("hex round trip and strict decoding", "[crypto]") {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  REQUIRE(ToHex(b) == "0001abff");
  REQUIRE(FromHex("0001ABff") == b);
  REQUIRE_FALSE(FromHex("abc").has_value());
  REQUIRE_FALSE(FromHex("zz").has_value());
  REQUIRE(FromHex("")->empty());
}

TEST_CASE("fixed-size values parse only their exact length", "[crypto]") {
  std::string h(64, 'a');
  REQUIRE(Hash256::FromHex(h).has_value());
  REQUIRE(Hash256::FromHex(h)->ToHex() == h);
  REQUIRE_FALSE(Hash256::FromHex(h.substr(2)).has_value());
  REQUIRE_FALSE(Hash256::FromHex(h + "00").has_value());
  REQUIRE(Hash256().IsZero());
  REQUIRE_FALSE(Hash256::FromHex(h)->IsZero());
}

TEST_CASE("ShortHex prints the leading hex digits of a fixed-size value", "[crypto]") {
  const Hash256 h = Sha256Of(AsBytes("abc"));
  const std::string full = h.ToHex();
  CHECK(ShortHex(h) == full.substr(0, 12));
  CHECK(ShortHex(h, 16) == full.substr(0, 16));
  CHECK(ShortHex(h, 8) == "ba7816bf");
  CHECK(ShortHex(h, 1000) == full);
}
