#include "consensus/solo/solo.h"

#include <cassert>
#include <string>

namespace cairn::consensus::solo {

Status SoloEngine::Step(ReplicaId from, ByteView) {
  return Status::Error("solo: unexpected message from replica " + std::to_string(from) +
                       " (a solo validator has no peers)");
}

std::optional<ProposalSlot> SoloEngine::ProposalWanted() const {
  return ProposalSlot{tip_, /*parent_committed=*/tip_ == committed_};
}

Status SoloEngine::Propose(Block block) {
  if (block.height != tip_.height + 1) {
    return Status::Error("solo: proposed height " + std::to_string(block.height) + ", expected " +
                         std::to_string(tip_.height + 1));
  }
  tip_ = BlockRef{block.height, block.hash};
  pending_.push_back(std::move(block));
  return Status::Ok();
}

Status SoloEngine::SyncCompleted(const BlockRef&) {
  return Status::Error("solo: no block sync was requested");
}

Ready SoloEngine::TakeReady() {
  assert(!outstanding_);
  Ready rd;
  rd.committed = std::move(pending_);
  pending_.clear();
  if (!rd.committed.empty())
    committed_ = BlockRef{rd.committed.back().height, rd.committed.back().hash};
  outstanding_ = true;
  return rd;
}

void SoloEngine::Advance() {
  assert(outstanding_);
  outstanding_ = false;
}

EngineStatus SoloEngine::GetStatus() const {
  EngineStatus s;
  s.id = 0;
  s.role = Role::kLeader;
  s.term = 1;
  s.leader = 0;
  s.commit_height = committed_.height;
  s.applied_height = committed_.height;
  s.last_log_height = tip_.height;
  return s;
}

}  // namespace cairn::consensus::solo
