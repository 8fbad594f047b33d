// Seeded random mutations of valid encodings: a decoder either refuses the bytes with an
// error that names what it decodes, or accepts them and re-encodes exactly those bytes
// (one encoding per value). Run with --rng-seed to vary the seed; it is printed on failure.
#include <catch2/catch.hpp>

#include <random>

#include "ledger_test_util.h"

using namespace cairn;
using namespace cairn::ledger;
using namespace cairn::ledger::testing;

namespace {

// One random edit: flip a bit, overwrite a byte, insert a byte or delete a byte.
void Mutate(Bytes& b, std::mt19937_64& rng) {
  const uint64_t op = rng() % 4;
  const auto byte = static_cast<uint8_t>(rng());
  if (b.empty() || op == 2) {
    b.insert(b.begin() + static_cast<long>(b.empty() ? 0 : rng() % (b.size() + 1)), byte);
    return;
  }
  const size_t at = rng() % b.size();
  switch (op) {
    case 0:
      b[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    case 1:
      b[at] = byte;
      break;
    default:
      b.erase(b.begin() + static_cast<long>(at));
      break;
  }
}

}  // namespace

TEST_CASE("random mutations either fail cleanly or re-encode to the mutated bytes",
          "[ledger][codec]") {
  const uint64_t seed = 0x6c6564676572ull ^ Catch::rngSeed();
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  const std::vector<Sample> samples = AllSamples();
  constexpr int kIterations = 2000;
  int accepted = 0, refused = 0;
  for (int i = 0; i < kIterations; ++i) {
    const Sample& s = samples[rng() % samples.size()];
    Bytes b = s.bytes;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) Mutate(b, rng);
    // Exactly sized so ASan sees any read past the end.
    b.shrink_to_fit();
    auto r = s.recode(b);
    if (r.ok()) {
      ++accepted;
      if (*r != b) {
        CAPTURE(i, s.name);
        FAIL("a mutated encoding decoded to a value with a different encoding");
      }
    } else {
      ++refused;
      if (r.error().rfind(s.error_prefix, 0) != 0 ||
          r.error().find(" at offset ") == std::string::npos) {
        CAPTURE(i, s.name, r.error());
        FAIL("decode error does not name the decoder and an offset");
      }
    }
  }
  INFO("accepted " << accepted << ", refused " << refused);
  // Both outcomes occur, so each branch above was exercised.
  CHECK(accepted > 0);
  CHECK(refused > 0);
}

TEST_CASE("random byte strings never decode to a different encoding", "[ledger][codec]") {
  const uint64_t seed = 0x72616e646f6dull ^ Catch::rngSeed();
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  const Recoder recoders[] = {RecodeTx, RecodeHeader, RecodeBlock, RecodeAccount, RecodeReceipts};
  for (int i = 0; i < 2000; ++i) {
    Bytes b(rng() % 300);
    for (uint8_t& x : b) x = static_cast<uint8_t>(rng());
    for (Recoder recode : recoders) {
      auto r = recode(b);
      if (r.ok() && *r != b) {
        CAPTURE(i);
        FAIL("random bytes decoded to a value with a different encoding");
      }
    }
  }
}
