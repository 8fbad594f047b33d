// The two ends of a deterministic p2p handshake for the p2p harnesses and their seeds: "local"
// (validator 0's key) is the side under test, "remote" (validator 1's key) is the peer whose
// bytes the fuzzer mutates. Fixed ephemeral secrets make every byte reproducible.
// Not thread-safe (one harness thread).
#pragma once
#include <array>
#include <cstdint>

#include "p2p/secure_channel.h"
#include "tests/fuzz/fixtures.h"

namespace cairn::fuzz {

inline p2p::NetworkId FuzzNetworkId() { return crypto::Sha256Of(AsBytes("fuzz network")); }

inline p2p::EphemeralSecret Secret(uint8_t fill) {
  p2p::EphemeralSecret s{};
  s.fill(fill);
  return s;
}

inline const crypto::KeyPair& LocalKey() {
  static const crypto::KeyPair* k = new crypto::KeyPair(ValidatorKey(0));
  return *k;
}
inline const crypto::KeyPair& RemoteKey() {
  static const crypto::KeyPair* k = new crypto::KeyPair(ValidatorKey(1));
  return *k;
}

inline constexpr uint8_t kLocalSecretFill = 0x11;
inline constexpr uint8_t kRemoteSecretFill = 0x22;

// Largest frame the harness reads, as a node with default options would refuse bigger ones
// before reading them.
inline constexpr uint32_t kFuzzMaxFrame = 1u << 20;

}  // namespace cairn::fuzz
