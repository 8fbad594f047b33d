#include "tests/kit/keys.h"

#include <array>

namespace cairn::testkit {

crypto::KeyPair TestKey(uint32_t n, uint8_t family) {
  crypto::Init();
  std::array<uint8_t, 32> seed{};
  for (int i = 0; i < 4; ++i) seed[i] = static_cast<uint8_t>(n >> (8 * i));
  seed[31] = family;
  return crypto::KeyPair::FromSeed(crypto::PrivateKey(seed));
}

}  // namespace cairn::testkit
