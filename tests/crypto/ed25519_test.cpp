#include <catch2/catch.hpp>

#include "crypto/ed25519.h"

using namespace cairn;
using namespace cairn::crypto;

TEST_CASE("Ed25519 RFC 8032 test 1 (empty message)", "[crypto]") {
  auto seed =
      PrivateKey::FromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  REQUIRE(seed);
  KeyPair kp = KeyPair::FromSeed(*seed);
  REQUIRE(kp.public_key().ToHex() ==
          "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  Signature sig = kp.Sign({});
  REQUIRE(sig.ToHex() ==
          "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
          "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  REQUIRE(Verify(kp.public_key(), {}, sig));
}

TEST_CASE("Ed25519 rejects a changed message, key or signature", "[crypto]") {
  KeyPair a = KeyPair::Generate(), b = KeyPair::Generate();
  REQUIRE(a.public_key() != b.public_key());
  Bytes msg = {1, 2, 3};
  Signature sig = a.Sign(msg);
  REQUIRE(Verify(a.public_key(), msg, sig));
  REQUIRE_FALSE(Verify(b.public_key(), msg, sig));
  Bytes other = {1, 2, 4};
  REQUIRE_FALSE(Verify(a.public_key(), other, sig));
  for (size_t i = 0; i < Signature::kSize; i += 7) {
    Signature bad = sig;
    bad.data()[i] ^= 0x01;
    REQUIRE_FALSE(Verify(a.public_key(), msg, bad));
  }
}

TEST_CASE("Ed25519 rejects a non-canonical S (malleated signature)", "[crypto]") {
  KeyPair a = KeyPair::Generate();
  Bytes msg = {9};
  Signature sig = a.Sign(msg);
  // S + L is the same scalar mod L; a strict verifier must refuse it.
  static const uint8_t kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                 0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                 0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
  Signature mal = sig;
  unsigned carry = 0;
  for (int i = 0; i < 32; ++i) {
    unsigned s = mal.data()[32 + i] + kL[i] + carry;
    mal.data()[32 + i] = static_cast<uint8_t>(s);
    carry = s >> 8;
  }
  REQUIRE_FALSE(Verify(a.public_key(), msg, mal));
}
