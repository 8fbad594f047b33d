// The BFT engine plugged into the simulation: a fast test-only signer, the sim block
// validator, honest and Byzantine replicas (byzantine.h), and the BFT checker. Single-threaded,
// like the harness.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consensus/bft/bft.h"
#include "consensus/signer.h"
#include "tests/consensus/sim/sim.h"

namespace cairn::consensus::sim {

// TEST ONLY. sig = SHA-256(secret || m) || SHA-256(that digest || secret), the secret derived
// from the run seed and the replica id. Every TestVerifier knows every secret (a MAC, not a
// signature scheme); that is enough in one process, where a Byzantine replica holds only its
// own TestSigner and so cannot sign for anyone else. Ed25519 would make 1,000 seeds several
// times slower without testing anything the engine does differently.
class TestSigner final : public Signer {
 public:
  TestSigner(uint64_t run_seed, ReplicaId id);
  ReplicaId id() const override { return id_; }
  crypto::Signature Sign(ByteView message) const override;

 private:
  ReplicaId id_;
  crypto::Hash256 secret_;
};

class TestVerifier final : public Verifier {
 public:
  TestVerifier(uint64_t run_seed, uint32_t replicas);
  bool Verify(ReplicaId signer, ByteView message, const crypto::Signature& sig) const override;

 private:
  std::vector<crypto::Hash256> secrets_;
};

// The engine parameters of replica `id` in a run (timeouts derive from the run seed).
bft::BftConfig BftConfigFor(uint64_t run_seed, ReplicaId id, uint32_t replicas);

// One simulated BFT replica: owns the signer, verifier, validator and engine, and forwards
// every Engine call. It also watches the ProposalValidator contract (validation happens on
// top of the applied tip only). Byzantine replicas derive from it and rewrite what it sends.
class BftReplica : public Engine {
 public:
  // An honest replica.
  static Result<std::unique_ptr<BftReplica>> Open(const OpenArgs& args);
  ~BftReplica() override;

  void Tick() override;
  Status Step(ReplicaId from, ByteView message) override;
  std::optional<ProposalSlot> ProposalWanted() const override;
  Status Propose(Block block) override;
  Status SyncCompleted(const BlockRef& tip) override;
  Status Compact(uint64_t height) override;
  bool HasReady() const override;
  Ready TakeReady() override;
  void Advance() override;
  EngineStatus GetStatus() const override;

  const bft::BftEngine& engine() const { return *engine_; }
  // The first breach of the ProposalValidator contract, or "".
  const std::string& contract_violation() const { return contract_violation_; }

 protected:
  explicit BftReplica(const OpenArgs& args);
  Status OpenEngine(const OpenArgs& args);

  ReplicaId id() const { return id_; }
  uint32_t replicas() const { return replicas_; }
  const crypto::Hash256& chain() const { return chain_; }
  const Signer& signer() const { return signer_; }
  void Count(const std::string& what, uint64_t n = 1);

 private:
  class Validator;

  ReplicaId id_;
  uint32_t replicas_;
  crypto::Hash256 chain_;
  Counters* counters_;
  TestSigner signer_;
  TestVerifier verifier_;
  std::unique_ptr<Validator> validator_;
  std::unique_ptr<bft::BftEngine> engine_;
  BlockRef applied_;                  // the ledger tip, as the node has applied it
  std::optional<BlockRef> applying_;  // committed in the Ready being carried out
  std::string contract_violation_;
};

// The BFT engine over the harness, with Byzantine replicas as SimConfig::byzantine says
// (byzantine.h's Behaviour bits).
EngineDriver BftDriver();

// The CI mix: 1, 4 or 7 replicas, up to f of them Byzantine with random behaviours, and the
// fault schedules of ConfigForSeed.
SimConfig BftConfigForSeed(uint64_t seed);

}  // namespace cairn::consensus::sim
