#include "crypto/ed25519.h"

#include <sodium.h>

#include <cstdlib>

namespace cairn::crypto {

void Init() {
  static const int rc = sodium_init();  // thread-safe static init
  if (rc < 0) std::abort();
}

KeyPair KeyPair::Generate() {
  Init();
  PrivateKey seed;
  randombytes_buf(seed.data(), PrivateKey::kSize);
  return FromSeed(seed);
}

KeyPair KeyPair::FromSeed(const PrivateKey& seed) {
  Init();
  KeyPair kp;
  kp.seed_ = seed;
  if (crypto_sign_seed_keypair(kp.public_.data(), kp.secret_.data(), seed.data()) != 0) {
    std::abort();
  }
  return kp;
}

Signature KeyPair::Sign(ByteView message) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

bool Verify(const PublicKey& key, ByteView message, const Signature& sig) {
  Init();
  return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), key.data()) == 0;
}

}  // namespace cairn::crypto
