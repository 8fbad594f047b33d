#include "consensus/factory.h"

#include "consensus/bft/bft.h"
#include "consensus/raft/raft.h"
#include "consensus/solo/solo.h"

namespace cairn::consensus {

Result<std::unique_ptr<Engine>> OpenEngine(const EngineOptions& o, const DurableState& durable,
                                           const BlockRef& applied) {
  switch (o.kind) {
    case EngineKind::kSolo:
      return std::unique_ptr<Engine>(std::make_unique<solo::SoloEngine>(applied));
    case EngineKind::kRaft: {
      raft::RaftConfig rc;
      rc.id = o.id;
      rc.replicas = o.replicas;
      rc.genesis = o.genesis;
      rc.election_ticks = o.election_ticks;
      rc.heartbeat_ticks = o.heartbeat_ticks;
      rc.seed = o.seed;
      if (o.raft_members) rc.membership = raft::Membership{*o.raft_members, o.raft_next_id};
      auto raft = raft::RaftEngine::Open(rc, durable, applied);
      if (!raft.ok()) return raft.status().Wrap("raft state");
      return std::unique_ptr<Engine>(std::move(raft.value()));
    }
    case EngineKind::kBft: {
      if (!o.signer || !o.verifier || !o.validator) {
        return Status::Error("bft engine needs a signer, a verifier and a proposal validator");
      }
      bft::BftConfig bc;
      bc.id = o.id;
      bc.replicas = o.replicas;
      bc.genesis = o.genesis;
      bc.propose_timeout_ticks = o.propose_timeout_ticks;
      bc.vote_timeout_ticks = o.vote_timeout_ticks;
      bc.timeout_delta_ticks = o.timeout_delta_ticks;
      bc.max_timeout_ticks = o.max_timeout_ticks;
      bc.rebroadcast_ticks = o.rebroadcast_ticks;
      bc.validators = o.validators;
      auto bft = bft::BftEngine::Open(bc, *o.signer, *o.verifier, *o.validator, durable, applied);
      if (!bft.ok()) return bft.status().Wrap("bft state");
      return std::unique_ptr<Engine>(std::move(bft.value()));
    }
  }
  return Status::Error("unknown consensus engine");
}

}  // namespace cairn::consensus
