// The BFT engine plugged into the simulation: a fast test-only signer, the sim block
// validator, honest and Byzantine replicas (byzantine.h), and the BFT checker. Single-threaded,
// like the harness.
#pragma once

#include <map>
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
  // For sets given with keys: the key is TestKeyOf(run_seed, id) for one of the replicas.
  bool VerifyKey(const crypto::PublicKey& key, ByteView message,
                 const crypto::Signature& sig) const override;

 private:
  std::vector<crypto::Hash256> secrets_;
  std::vector<crypto::PublicKey> keys_;
};

// The "public key" of replica `id`'s TestSigner, as validator sets carry it.
crypto::PublicKey TestKeyOf(uint64_t run_seed, ReplicaId id);

// A run's validator-set history, the simulation's stand-in for governance: a change carried
// by the block at height h governs heights >= h + 2 (docs/design/membership.md), and every
// block at h carries it whatever else it holds, so set(H) is a pure function of H that every
// replica (its "node") and the checker compute alike. Replicas outside set(H) run their
// engine too: they follow height H without voting (a validator waiting to join, or removed).
struct MembershipPlan {
  std::string name;
  // Effective height -> member ids (sorted); the entry at 1 is the genesis set.
  std::map<uint64_t, std::vector<ReplicaId>> sets;
  std::vector<ReplicaId> MembersAt(uint64_t height) const;
  // set(height) with keys, as the node hands it to Engine::SetValidators.
  std::vector<ValidatorInfo> ValidatorsAt(uint64_t run_seed, uint64_t height) const;
  bft::ValidatorSet SetAt(uint64_t run_seed, uint64_t height) const;
  // Every replica that is ever a validator.
  uint32_t Universe() const;
};

// The membership scenario of `seed`: grow 4 -> 5 -> 7, shrink 7 -> 6 -> 4, or replace one of 4
// validators, at heights derived from the seed.
MembershipPlan MembershipPlanForSeed(uint64_t seed);

// The engine parameters of replica `id` in a run (timeouts derive from the run seed).
bft::BftConfig BftConfigFor(uint64_t run_seed, ReplicaId id, uint32_t replicas);

// One simulated BFT replica: owns the signer, verifier, validator and engine, and forwards
// every Engine call. It also watches the ProposalValidator contract (validation happens on
// top of the applied tip only). Byzantine replicas derive from it and rewrite what it sends.
class BftReplica : public Engine {
 public:
  // An honest replica; with `plan`, its node feeds the engine the plan's validator sets.
  static Result<std::unique_ptr<BftReplica>> Open(const OpenArgs& args,
                                                  std::optional<MembershipPlan> plan = {});
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
  const std::optional<MembershipPlan>& plan() const { return plan_; }
  // The first breach of the ProposalValidator contract, or "".
  const std::string& contract_violation() const { return contract_violation_; }

 protected:
  explicit BftReplica(const OpenArgs& args, std::optional<MembershipPlan> plan = {});
  Status OpenEngine(const OpenArgs& args);
  // This replica's index in set(height) (nullopt: not a validator there).
  std::optional<uint32_t> IndexAt(uint64_t height) const;
  // |set(height)| and the member id at an index of it.
  uint32_t SetSize(uint64_t height) const;
  ReplicaId MemberAt(uint64_t height, uint32_t index) const;

  ReplicaId id() const { return id_; }
  uint32_t replicas() const { return replicas_; }
  const crypto::Hash256& chain() const { return chain_; }
  const Signer& signer() const { return signer_; }
  void Count(const std::string& what, uint64_t n = 1);
  uint64_t run_seed() const { return run_seed_; }

 private:
  class Validator;
  // Hands the engine set(height) (the node's SetValidators call); a refusal is a violation.
  void FeedSet(uint64_t height);

  ReplicaId id_;
  uint32_t replicas_;
  uint64_t run_seed_;
  std::optional<MembershipPlan> plan_;
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

// The BFT engine with the validator set changing as MembershipPlanForSeed(run seed) says.
EngineDriver BftMembershipDriver();
// The membership mix: MembershipPlanForSeed's scenario over ConfigForSeed's fault schedules,
// with Byzantine validators that respect f of every set(H): a removed one that keeps voting
// (kZombie), an added one, or one that stays.
SimConfig BftMembershipConfigForSeed(uint64_t seed);

}  // namespace cairn::consensus::sim
