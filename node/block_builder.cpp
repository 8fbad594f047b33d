#include "node/block_builder.h"

#include <algorithm>
#include <vector>

#include "ledger/executor.h"
#include "ledger/governance.h"
#include "node/logging.h"

namespace cairn::node {
namespace {

// Blocks stay below wire::kMaxBlockBytes (6 MiB) with room for the Raft and p2p envelopes.
constexpr size_t kMaxBlockBytes = 4u << 20;

// The store plus the writes of this leader's own blocks that are in the consensus log but
// not yet committed (oldest first): the state a pipelining leader builds its next block on.
class PendingState final : public ledger::StateReader {
 public:
  explicit PendingState(const ledger::StateReader& base) : base_(base) {}
  void Push(const ledger::StateDiff& diff) { layers_.push_back(&diff); }

  std::optional<ledger::Account> GetAccount(const ledger::Address& a) const override {
    if (const auto* v = Find(ledger::AccountKey(a))) {
      if (!*v) return std::nullopt;
      auto acct = ledger::Account::Decode(**v);
      if (acct.ok()) return acct.value();
      return std::nullopt;
    }
    return base_.GetAccount(a);
  }
  std::optional<Bytes> GetRecord(const ledger::Address& a, ByteView key) const override {
    if (const auto* v = Find(ledger::RecordKey(a, key))) return *v;
    return base_.GetRecord(a, key);
  }
  std::optional<Bytes> GetSystem(std::string_view name) const override {
    if (const auto* v = Find(ledger::SystemKey(name))) return *v;
    return base_.GetSystem(name);
  }

 private:
  const std::optional<Bytes>* Find(const Bytes& key) const {
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
      auto found = (*it)->find(key);
      if (found != (*it)->end()) return &found->second;
    }
    return nullptr;
  }

  const ledger::StateReader& base_;
  std::vector<const ledger::StateDiff*> layers_;
};

// Keeps the longest prefix of `txs` whose encoding fits the block byte budget.
void FitBudget(std::vector<ledger::Transaction>& txs) {
  size_t bytes = 0, keep = 0;
  while (keep < txs.size()) {
    bytes += 4 + txs[keep].EncodedSize();
    if (bytes > kMaxBlockBytes) break;
    ++keep;
  }
  txs.resize(keep);
}

}  // namespace

BlockBuilder::BlockBuilder(const crypto::KeyPair& key, const ledger::ChainStore& store,
                           const TxPool& pool, BlockCache& cache, const Clock& clock,
                           Options options)
    : key_(key), store_(store), pool_(pool), cache_(cache), clock_(clock), options_(options) {}

std::optional<consensus::Block> BlockBuilder::Build(const consensus::ProposalSlot& slot) {
  const ledger::Head head = store_.head();
  // The parent is the applied tip, or a block of this node's own still in the log, built on
  // the tip through blocks of its own. A parent of someone else's that is not applied yet
  // cannot be built on: wait for it.
  std::vector<const BlockCache::Entry*> in_flight;  // newest first
  for (crypto::Hash256 at = slot.parent.hash; at != head.hash;) {
    const BlockCache::Entry* e = cache_.Find(at);
    if (!e || e->origin != BlockCache::Origin::kBuilt || e->block.header.height <= head.height) {
      return std::nullopt;
    }
    in_flight.push_back(e);
    at = e->block.header.prev_hash;
  }
  PendingState pending(store_);
  for (auto it = in_flight.rbegin(); it != in_flight.rend(); ++it) pending.Push((*it)->exec.diff);

  const uint64_t now = clock_.SteadyMs();
  const size_t queued = pool_.size();
  const bool full = queued >= options_.max_block_txs;
  const bool due = now - last_block_ms_ >= options_.block_interval_ms;
  const bool on_arrival = options_.on_arrival && queued > 0 &&
                          queued < std::max<size_t>(1, options_.max_block_txs / 8) &&
                          in_flight.empty();
  if (!full && !due && !on_arrival) return std::nullopt;
  if (queued == 0 && !options_.empty_blocks) return std::nullopt;
  // Selected against the pending state, so transactions of blocks in flight are skipped.
  std::vector<ledger::Transaction> candidates = pool_.Select(options_.max_block_txs, pending);
  FitBudget(candidates);
  if (candidates.empty() && !options_.empty_blocks) return std::nullopt;

  ledger::BlockHeader parent;
  ledger::StateTree::View parent_view;
  if (!in_flight.empty()) {
    parent = in_flight.front()->block.header;
    parent_view = in_flight.front()->exec.view;
  } else {
    parent_view = store_.HeadView();
    auto stored = store_.HeaderAt(head.height);
    if (!stored.ok() || !stored->has_value()) {
      Log("node")->error("cannot read head header {}: {}", head.height, stored.status().message());
      return std::nullopt;
    }
    parent = **stored;
  }
  ledger::ExecOptions opts;
  // Everything selected from the mempool had its signature checked at admission.
  opts.signature_known_valid = [](const crypto::Hash256&) { return true; };
  ledger::BuiltBlock built = ledger::BuildBlock(pending, parent, parent_view, std::move(candidates),
                                                clock_.UnixMs(), key_, {}, opts);
  if (!built.skipped.empty()) {
    Log("node")->warn("block {}: skipped {} transactions that are no longer valid",
                      built.block.header.height, built.skipped.size());
  }
  if (built.block.txs.empty() && !options_.empty_blocks) return std::nullopt;
  const crypto::Hash256 hash = built.block.Hash();
  consensus::Block cb{built.block.header.height, hash, built.block.Encode(), {}};
  // A BFT height that does not decide makes this node build a block in every round it leads:
  // the cache keeps the newest few.
  cache_.Add(hash, BlockCache::Entry{std::move(built.block), std::move(built.exec),
                                     BlockCache::Origin::kBuilt, now});
  last_block_ms_ = now;
  return cb;
}

bool BlockBuilder::WritesPendingSet(const crypto::Hash256& hash) const {
  const BlockCache::Entry* e = cache_.Find(hash);
  if (!e) return false;
  auto it = e->exec.diff.find(ledger::SystemKey(ledger::kPendingName));
  return it != e->exec.diff.end() && it->second.has_value();
}

}  // namespace cairn::node
