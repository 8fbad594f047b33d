// Shared helpers for the libFuzzer harnesses: property checks that abort with a message
// (libFuzzer then saves the input as a crash), fixed keys and the input as bytes.
// Pure functions; each harness runs single-threaded.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/hex.h"

namespace cairn::fuzz {

// A broken property is a finding like a crash: print what broke and abort, so libFuzzer keeps
// the input. Plain assert would vanish under NDEBUG; this never does.
[[noreturn]] inline void Fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", file, line, what);
  std::abort();
}
#define FUZZ_CHECK(cond) ((cond) ? (void)0 : ::cairn::fuzz::Fail(__FILE__, __LINE__, #cond))

inline ByteView Input(const uint8_t* data, size_t size) { return ByteView(data, size); }
inline Bytes ToBytes(ByteView b) { return Bytes(b.begin(), b.end()); }
inline std::string ToString(ByteView b) { return std::string(b.begin(), b.end()); }

// Canonical: the bytes a decoder accepted are exactly the bytes its value encodes to.
inline void CheckSameBytes(ByteView in, const Bytes& re, const char* what) {
  if (in.size() == re.size() && std::equal(in.begin(), in.end(), re.begin())) return;
  std::fprintf(stderr, "%s: not canonical\n  in: %s\n  re: %s\n", what, crypto::ToHex(in).c_str(),
               crypto::ToHex(re).c_str());
  std::abort();
}

// A deterministic key: 32 bytes of `seed`.
inline crypto::KeyPair Key(uint8_t seed) {
  std::array<uint8_t, 32> bytes{};
  bytes.fill(seed);
  return crypto::KeyPair::FromSeed(crypto::PrivateKey(bytes));
}

}  // namespace cairn::fuzz
