#include <catch2/catch.hpp>

#include "consensus/signer.h"

using namespace cairn;
using namespace cairn::consensus;

TEST_CASE("Ed25519 signer and verifier work by replica index", "[consensus][signer]") {
  crypto::Init();
  std::vector<crypto::KeyPair> keys;
  std::vector<crypto::PublicKey> pubs;
  for (uint8_t i = 0; i < 3; ++i) {
    std::array<uint8_t, 32> seed{};
    seed[0] = static_cast<uint8_t>(i + 1);
    keys.push_back(crypto::KeyPair::FromSeed(crypto::PrivateKey(seed)));
    pubs.push_back(keys.back().public_key());
  }
  Ed25519Signer signer(1, keys[1]);
  Ed25519Verifier verifier(pubs);
  Bytes msg = {'v', 'o', 't', 'e'};
  crypto::Signature sig = signer.Sign(msg);
  REQUIRE(signer.id() == 1);
  REQUIRE(verifier.Verify(1, msg, sig));
  REQUIRE_FALSE(verifier.Verify(0, msg, sig));  // someone else's key
  REQUIRE_FALSE(verifier.Verify(7, msg, sig));  // no such replica
  msg[0] = 'V';
  REQUIRE_FALSE(verifier.Verify(1, msg, sig));
}
