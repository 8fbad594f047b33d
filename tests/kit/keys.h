// Deterministic test keys: the same (n, family) always gives the same key pair, so encodings,
// hashes and key orderings reproduce from run to run. Thread-safe (a pure function).
#pragma once

#include <cstdint>

#include "crypto/ed25519.h"

namespace cairn::testkit {

// The key pair whose Ed25519 seed is n (little-endian) in bytes [0, 4), `family` in byte 31
// and zero elsewhere. Families keep the keys of unrelated fixtures apart; the layout is fixed
// because some tests pin encodings made with these keys.
crypto::KeyPair TestKey(uint32_t n, uint8_t family);

}  // namespace cairn::testkit
