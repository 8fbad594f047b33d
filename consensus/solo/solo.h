// SoloEngine: consensus for a single validator. It may always propose; a proposed block is
// committed in the next Ready. Deterministic and not thread-safe, like every engine.
#pragma once

#include <memory>
#include <vector>

#include "consensus/engine.h"

namespace cairn::consensus::solo {

// Solo has no write-ahead log: the node's ledger commit is its durability. A crash between
// Propose() and applying the Ready loses that block, which is safe because no other node
// ever saw it; the restarted engine continues from the ledger tip it is opened with.
// Block timing stays in the node: it calls Propose() as soon as a few transactions wait and the
// previous block is applied (commit on arrival, node/block_builder.h). Tick() does nothing.
class SoloEngine final : public Engine {
 public:
  // `applied` is the ledger's last block (the genesis block on first boot).
  explicit SoloEngine(const BlockRef& applied) : tip_(applied), committed_(applied) {}

  void Tick() override {}
  Status Step(ReplicaId from, ByteView message) override;
  std::optional<ProposalSlot> ProposalWanted() const override;
  Status Propose(Block block) override;
  Status SyncCompleted(const BlockRef& tip) override;
  Status Compact(uint64_t) override { return Status::Ok(); }
  bool HasReady() const override { return !outstanding_ && !pending_.empty(); }
  Ready TakeReady() override;
  void Advance() override;
  EngineStatus GetStatus() const override;

 private:
  BlockRef tip_;        // the last block proposed (or the ledger tip)
  BlockRef committed_;  // the last block handed out as committed
  std::vector<Block> pending_;
  bool outstanding_ = false;
};

}  // namespace cairn::consensus::solo
