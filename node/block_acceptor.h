// BlockAcceptor: the one way a block enters this node's chain. Blocks from consensus, from
// block sync and NewBlock pushes are checked with chain::BlockRules (unless this node built or
// validated them: then the cached execution is used), committed in one synced batch, removed
// from the mempool and announced. It also answers the BFT engine's "may this proposal get my
// prevote?" with the same rules plus the clock-drift check.
// Thread-safety: loop thread only (CheckIdentity may run on any thread).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "base/clock.h"
#include "chain/block_rules.h"
#include "consensus/engine.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "node/block_cache.h"
#include "node/metrics.h"
#include "node/network.h"
#include "node/tx_pool.h"

namespace cairn::node {

// What happened to a block offered for commit.
struct CommitResult {
  enum class Kind : uint8_t {
    kCommitted,
    kRefused,    // the block breaks a rule (verdict says which): the sender is at fault
    kNotNext,    // not the block after this node's head (stale or ahead): nobody's fault
    kDiskError,  // this node could not read or write its store: it must halt
  };
  Kind kind = Kind::kCommitted;
  chain::Verdict verdict = chain::Verdict::kAccepted;
  Status status;  // the error, when not committed

  bool ok() const { return kind == Kind::kCommitted; }
};

class BlockAcceptor final : public consensus::ProposalValidator {
 public:
  struct Options {
    bool sync_writes = true;
    unsigned verify_threads = 2;
  };

  BlockAcceptor(const genesis::Genesis& genesis, ledger::ChainStore& store, TxPool& pool,
                BlockCache& cache, const Clock& clock, Options options);

  // Commits `block` at head + 1 with its certificate (BFT). `exec` is set for a block this
  // node built or validated, whose checks already ran.
  CommitResult Commit(ledger::Block block, std::optional<ledger::ExecResult> exec, bool built,
                      ByteView certificate);
  // Commits what consensus decided: a cached block if this node has it, else its bytes.
  CommitResult ApplyCommitted(const consensus::Block& block);
  // Where commits are announced (NewBlock for our own blocks, Status always); null: nowhere.
  void set_network(Network* net) { net_ = net; }
  // Told of every block once it is durable, in height order, on the loop thread (the
  // subscriptions, api::SubscriptionHub). It must not block: the block pipeline waits for it.
  using CommitObserver = std::function<void(const ledger::Block& block, const crypto::Hash256& hash,
                                            const std::vector<crypto::Hash256>& tx_hashes,
                                            const std::vector<ledger::Receipt>& receipts)>;
  void set_commit_observer(CommitObserver observer) { observer_ = std::move(observer); }
  // Where commits and their timing are counted; null: nowhere.
  void set_metrics(NodeMetrics* m) { metrics_ = m; }

  // consensus::ProposalValidator.
  Status CheckIdentity(const consensus::Block& block) override;
  Status Validate(const consensus::Block& block, const consensus::BlockRef& parent) override;

 private:
  CommitResult DoCommit(ledger::Block block, std::optional<ledger::ExecResult> exec, bool built,
                        ByteView certificate, uint64_t since_ms);
  void Announce(const ledger::Block& block, ByteView certificate, bool built);

  ledger::ChainStore& store_;
  TxPool& pool_;
  BlockCache& cache_;
  const Clock& clock_;
  const Options options_;
  const chain::BlockRules rules_;
  Network* net_ = nullptr;
  CommitObserver observer_;
  NodeMetrics* metrics_ = nullptr;
};

}  // namespace cairn::node
