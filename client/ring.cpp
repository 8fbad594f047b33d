// Rendezvous hashing rather than a ring of virtual nodes (docs/CLIENT.md "Routing"): each
// (sender, node) pair gets a SHA-256 weight and the sender goes to the heaviest node. The
// ranking by weight is the failover order, with nothing to tune; removing a node moves only
// the senders it held, and with n nodes of a few dozen at most, n hashes per lookup is cheap.
#include "client/ring.h"

#include <algorithm>

#include "crypto/sha256.h"

namespace cairn::client {

Ring::Ring(std::vector<std::string> nodes) : nodes_(std::move(nodes)) {
  std::sort(nodes_.begin(), nodes_.end());
  nodes_.erase(std::unique(nodes_.begin(), nodes_.end()), nodes_.end());
}

uint64_t Ring::Weight(const ledger::Address& sender, const std::string& node) {
  static constexpr std::string_view kDomain = "cairn-ring-v1";
  crypto::Sha256 h;
  h.Update(AsBytes(kDomain));
  h.Update(sender.view());
  h.Update(AsBytes(node));
  const crypto::Hash256 d = h.Finish();
  uint64_t w = 0;
  for (int i = 0; i < 8; ++i) w = (w << 8) | d.data()[i];
  return w;
}

std::vector<size_t> Ring::Rank(const ledger::Address& sender) const {
  std::vector<std::pair<uint64_t, size_t>> scored;
  scored.reserve(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) scored.emplace_back(Weight(sender, nodes_[i]), i);
  // Ties (a 2^-64 event) fall to the lower index, i.e. the smaller URL: still deterministic.
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<size_t> out;
  out.reserve(scored.size());
  for (const auto& [w, i] : scored) out.push_back(i);
  return out;
}

size_t Ring::Home(const ledger::Address& sender) const {
  size_t best = 0;
  uint64_t best_w = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const uint64_t w = Weight(sender, nodes_[i]);
    if (i == 0 || w > best_w) {
      best = i;
      best_w = w;
    }
  }
  return best;
}

}  // namespace cairn::client
