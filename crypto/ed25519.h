// Ed25519 keys and signatures (libsodium). KeyPair signs; PublicKey verifies.
// All functions are thread-safe; call crypto::Init() once before first use.
#pragma once

#include <string>

#include "base/bytes.h"
#include "crypto/fixed_bytes.h"

namespace cairn::crypto {

using PublicKey = FixedBytes<32, struct PublicKeyTag>;
using Signature = FixedBytes<64, struct SignatureTag>;
// The 32-byte Ed25519 seed (RFC 8032 "private key"); everything else derives from it.
using PrivateKey = FixedBytes<32, struct PrivateKeyTag>;

// Initialises libsodium; idempotent and thread-safe. Aborts if the library cannot start.
void Init();

class KeyPair {
 public:
  // A new key from the operating system's CSPRNG.
  static KeyPair Generate();
  // The deterministic key for a seed (test vectors, testnet generation).
  static KeyPair FromSeed(const PrivateKey& seed);

  const PublicKey& public_key() const { return public_; }
  const PrivateKey& seed() const { return seed_; }
  Signature Sign(ByteView message) const;

 private:
  PrivateKey seed_;
  PublicKey public_;
  std::array<uint8_t, 64> secret_{};  // libsodium's expanded secret key (seed || pk)
};

// True iff sig is a valid, canonical Ed25519 signature of message by key. libsodium
// rejects non-canonical S and small-order keys, so a signature is not malleable.
bool Verify(const PublicKey& key, ByteView message, const Signature& sig);

}  // namespace cairn::crypto
