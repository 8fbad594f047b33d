// Ring: which node a sender's transactions go to, and in what order the others take over,
// by rendezvous (highest-random-weight) hashing of the sender over the node URLs.
// Immutable after construction, so thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ledger/account.h"

namespace cairn::client {

class Ring {
 public:
  // `nodes` are the node URLs; their order does not matter (the ranking depends on the set
  // only), and a duplicate counts once.
  explicit Ring(std::vector<std::string> nodes);

  // Indices into nodes(), best first: [0] is the sender's home node, [1] takes over when it
  // is down, and so on. Each index appears once. Costs one SHA-256 per node.
  std::vector<size_t> Rank(const ledger::Address& sender) const;
  // Rank(sender)[0], without sorting. REQUIRES: !nodes().empty()
  size_t Home(const ledger::Address& sender) const;

  const std::vector<std::string>& nodes() const { return nodes_; }
  size_t size() const { return nodes_.size(); }

  // The weight of `node` for `sender`: the first 8 bytes, big-endian, of
  // SHA-256("cairn-ring-v1" || sender || node). Highest wins; public for the tests and docs.
  static uint64_t Weight(const ledger::Address& sender, const std::string& node);

 private:
  std::vector<std::string> nodes_;  // sorted, unique: the set, in a canonical order
};

}  // namespace cairn::client
