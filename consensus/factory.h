// OpenEngine: builds the engine a chain names (solo, Raft or BFT) behind consensus::Engine,
// so the node never includes a concrete engine. Not thread-safe (the engine it returns isn't).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "consensus/engine.h"
#include "consensus/signer.h"

namespace cairn::consensus {

enum class EngineKind : uint8_t { kSolo, kRaft, kBft };

struct EngineOptions {
  EngineKind kind = EngineKind::kSolo;
  ReplicaId id = 0;
  uint32_t replicas = 1;
  BlockRef genesis;  // block 0
  // Raft: election timeouts of [election_ticks, 2 * election_ticks), heartbeats; the seed
  // randomises the timeouts and must differ per replica and per start.
  uint32_t election_ticks = 10;
  uint32_t heartbeat_ticks = 1;
  uint64_t seed = 0;
  // BFT: round timeouts in ticks (see bft::BftConfig), and the signer, verifier and proposal
  // validator, which must outlive the engine.
  uint32_t propose_timeout_ticks = 20;
  uint32_t vote_timeout_ticks = 10;
  uint32_t timeout_delta_ticks = 5;
  uint32_t max_timeout_ticks = 100;
  uint32_t rebroadcast_ticks = 10;
  const Signer* signer = nullptr;
  const Verifier* verifier = nullptr;
  ProposalValidator* validator = nullptr;
  // BFT with governance: set(H) for H >= applied + 1, as bft::BftConfig::validators (empty:
  // the genesis set of `replicas` governs every height, as before governance).
  std::map<uint64_t, std::vector<ValidatorInfo>> validators;
  // Raft with governance: the member ids (validators, sorted) and the next id at the applied
  // block (raft::RaftConfig::membership); unset: the genesis voters 0..replicas-1 forever.
  std::optional<std::vector<ReplicaId>> raft_members;
  ReplicaId raft_next_id = 0;
};

// Opens the engine from its stored state (empty on first boot) and the ledger's last
// applied block. Errors name the engine ("raft state: ...").
Result<std::unique_ptr<Engine>> OpenEngine(const EngineOptions& options,
                                           const DurableState& durable, const BlockRef& applied);

}  // namespace cairn::consensus
