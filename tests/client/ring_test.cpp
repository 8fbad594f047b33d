// The ring (rendezvous hashing of senders onto node URLs) and the probe backoff schedule.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "client/backoff.h"
#include "client/ring.h"

using namespace cairn;
using namespace cairn::client;

namespace {

// SHA-256("cairn-ring-v1" || 32 zero bytes || "http://127.0.0.1:8545")[0..8), computed
// independently: python3 -c "import hashlib; print(hashlib.sha256(b'cairn-ring-v1' +
// bytes(32) + b'http://127.0.0.1:8545').hexdigest()[:16])"
constexpr uint64_t kPinnedWeight = 0x4faaeeb6bb93b587ULL;

std::vector<std::string> Urls(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("http://10.0.0." + std::to_string(i + 1) + ":8545");
  return out;
}

// `count` random addresses from `seed` (printed, so a failure replays).
std::vector<ledger::Address> RandomSenders(uint64_t seed, size_t count) {
  std::printf("ring test: senders from seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::vector<ledger::Address> out;
  for (size_t i = 0; i < count; ++i) {
    std::array<uint8_t, 32> b{};
    for (size_t k = 0; k < 32; k += 8) {
      const uint64_t v = rng();
      for (size_t j = 0; j < 8; ++j) b[k + j] = static_cast<uint8_t>(v >> (8 * j));
    }
    out.push_back(*ledger::Address::FromBytes(b));
  }
  return out;
}

// The largest deviation of a node's share from count/n, as a fraction of count/n.
double MaxDeviation(const Ring& ring, const std::vector<ledger::Address>& senders,
                    std::vector<size_t>* shares) {
  shares->assign(ring.size(), 0);
  for (const auto& s : senders) ++(*shares)[ring.Home(s)];
  const double even = static_cast<double>(senders.size()) / static_cast<double>(ring.size());
  double worst = 0;
  for (size_t c : *shares) worst = std::max(worst, std::abs(static_cast<double>(c) - even) / even);
  return worst;
}

}  // namespace

TEST_CASE("ring: 10,000 senders over 3, 4, 5 and 7 nodes: every share within 10% of even",
          "[client][ring]") {
  const uint64_t seed = 20261206;
  const auto senders = RandomSenders(seed, 10'000);
  for (size_t n : {3, 4, 5, 7}) {
    Ring ring(Urls(n));
    std::vector<size_t> shares;
    const double dev = MaxDeviation(ring, senders, &shares);
    std::string line;
    for (size_t c : shares) line += " " + std::to_string(c);
    std::printf("ring balance: %zu nodes, shares%s, max deviation from even %.2f%%\n", n,
                line.c_str(), 100 * dev);
    INFO(n << " nodes, shares" << line);
    CHECK(dev <= 0.10);
  }
}

TEST_CASE("ring: removing a node moves only its senders, about 1/n of them", "[client][ring]") {
  const auto senders = RandomSenders(7, 10'000);
  for (size_t n : {3, 4, 5, 7}) {
    const std::vector<std::string> all = Urls(n);
    Ring before(all);
    for (size_t removed = 0; removed < n; ++removed) {
      std::vector<std::string> rest = all;
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(removed));
      Ring after(rest);
      size_t moved = 0;
      for (const auto& s : senders) {
        const std::string& was = before.nodes()[before.Home(s)];
        const std::string& now = after.nodes()[after.Home(s)];
        if (was != now) {
          ++moved;
          // Only the removed node's senders move, and each to its second choice.
          REQUIRE(was == all[removed]);
          REQUIRE(now == before.nodes()[before.Rank(s)[1]]);
        }
      }
      const double frac = static_cast<double>(moved) / static_cast<double>(senders.size());
      if (removed == 0) {
        std::printf(
            "ring removal: %zu -> %zu nodes moves %zu of %zu senders (%.2f%%, 1/n = %.2f%%)\n", n,
            n - 1, moved, senders.size(), 100 * frac, 100.0 / static_cast<double>(n));
      }
      CHECK(std::abs(frac - 1.0 / static_cast<double>(n)) <= 0.1 / static_cast<double>(n));
    }
  }
}

TEST_CASE("ring: the failover order is deterministic and does not depend on the URLs' order",
          "[client][ring]") {
  const auto senders = RandomSenders(11, 200);
  std::vector<std::string> urls = Urls(5);
  Ring a(urls);
  std::reverse(urls.begin(), urls.end());
  Ring b(urls);
  for (const auto& s : senders) {
    const auto ra = a.Rank(s);
    REQUIRE(ra.size() == 5);
    REQUIRE(ra.front() == a.Home(s));
    std::vector<std::string> na, nb;
    for (size_t i : ra) na.push_back(a.nodes()[i]);
    for (size_t i : b.Rank(s)) nb.push_back(b.nodes()[i]);
    REQUIRE(na == nb);
    std::vector<size_t> sorted = ra;
    std::sort(sorted.begin(), sorted.end());
    REQUIRE(sorted == std::vector<size_t>{0, 1, 2, 3, 4});
  }
  // Pinned: the weight is SHA-256 of "cairn-ring-v1" || sender || url, so every client (in any
  // language, docs/CLIENT.md) routes a sender to the same node.
  const auto zero = *ledger::Address::FromHex(std::string(64, '0'));
  CHECK(Ring::Weight(zero, "http://127.0.0.1:8545") == Ring::Weight(zero, "http://127.0.0.1:8545"));
  CHECK(Ring::Weight(zero, "http://127.0.0.1:8545") != Ring::Weight(zero, "http://127.0.0.1:8546"));
  std::printf("ring pin: weight(0^32, http://127.0.0.1:8545) = %016llx\n",
              static_cast<unsigned long long>(Ring::Weight(zero, "http://127.0.0.1:8545")));
  CHECK(Ring::Weight(zero, "http://127.0.0.1:8545") == kPinnedWeight);
}

TEST_CASE("backoff: 100 ms doubling to 5 s, each delay in [d/2, d], replayed by its seed",
          "[client][backoff]") {
  const uint64_t seed = 42;
  std::printf("backoff test: seed %llu\n", static_cast<unsigned long long>(seed));
  Backoff a(BackoffOptions{}, seed);
  Backoff b(BackoffOptions{}, seed);
  Backoff other(BackoffOptions{}, seed + 1);
  const std::vector<uint64_t> ceilings = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
  bool differs = false;
  std::string schedule;
  for (size_t k = 0; k < ceilings.size(); ++k) {
    REQUIRE(a.Ceiling(static_cast<uint32_t>(k)) == ceilings[k]);
    const uint64_t d = a.Next();
    schedule += " " + std::to_string(d);
    CHECK(d >= ceilings[k] / 2);
    CHECK(d <= ceilings[k]);
    CHECK(b.Next() == d);
    differs |= other.Next() != d;
  }
  std::printf("backoff schedule (seed %llu):%s ms\n", static_cast<unsigned long long>(seed),
              schedule.c_str());
  CHECK(differs);
  a.Reset();
  const uint64_t first = a.Next();
  CHECK(first >= 50);
  CHECK(first <= 100);
}
