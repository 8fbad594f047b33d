// Rng: a small seeded PRNG (SplitMix64) so that engines and simulations are reproducible
// from one seed. Value type, not thread-safe; never seeded from a clock inside consensus/.
#pragma once

#include <cassert>
#include <cstdint>

namespace cairn::consensus {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n). std::uniform_int_distribution is implementation-defined, so a
  // seed would not replay across standard libraries; this is (Lemire's multiply-shift,
  // with a negligible bias for the small n used here).
  uint64_t Uniform(uint64_t n) {
    assert(n > 0);
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  uint64_t Range(uint64_t lo, uint64_t hi) { return lo + Uniform(hi - lo + 1); }
  // True with probability num/den.
  bool Chance(uint64_t num, uint64_t den) { return Uniform(den) < num; }
  // A new independent seed derived from this stream (for child generators).
  uint64_t Fork() { return Next() ^ 0x5851f42d4c957f2dULL; }

 private:
  uint64_t state_;
};

}  // namespace cairn::consensus
