// Byzantine BFT replicas for the simulation: an honest engine inside, whose outgoing
// messages a wrapper rewrites (equivocation, double votes, invalid blocks, replays, forgeries,
// silence). Colluding replicas of one run share a Collusion board. Single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "consensus/bft/messages.h"
#include "consensus/rng.h"
#include "tests/consensus/sim/bft_driver.h"

namespace cairn::consensus::sim {

// Bits of SimConfig::byzantine for the BFT driver; a replica may combine them (except
// kSilent, which overrides the rest).
enum Behaviour : uint32_t {
  // As proposer: block A (the engine's) to some validators, a different signed block B to
  // the others; then votes A towards the first group and B towards the second.
  kEquivocate = 1u << 0,
  // Every own vote also exists in a conflicting version (nil vs a block), sent to some
  // peers; with an equivocating colluder, votes per side of the split instead.
  kDoubleVote = 1u << 1,
  // As proposer: blocks on a wrong parent, garbage, a wrong height field, a hash that does
  // not match the data (the simulation's "bad state root"), or a height that is not the
  // proposal's. Or the real block to some validators and, to the others, the same signed
  // proposal (hash) with another body. Decisions it sends laggards may also carry their
  // real certificate with another body.
  kInvalidBlocks = 1u << 2,
  // Re-sends messages it received or sent earlier (stale heights and rounds), to anyone.
  kReplay = 1u << 3,
  // Sends nothing at all.
  kSilent = 1u << 4,
  // Sends votes claiming another validator, corrupted signatures and truncated messages.
  kForge = 1u << 5,
  // Once removed from the validator set, keeps voting: prevotes and precommits for the
  // height it follows, under its old index or another, for a colluder's split blocks or nil,
  // to every validator of that height. None may count (membership runs only).
  kZombie = 1u << 6,
};
inline constexpr uint32_t kAllBehaviours =
    kEquivocate | kDoubleVote | kInvalidBlocks | kReplay | kSilent | kForge | kZombie;

// "equivocate+double-vote"; "honest" for 0.
std::string BehaviourNames(uint32_t mask);

// What colluding Byzantine replicas of one run know about each other's equivocations.
struct Collusion {
  struct Split {
    crypto::Hash256 a, b;
    std::vector<bool> gets_b;  // per replica: sent block B (else A)
  };
  std::vector<bool> members;                              // per replica: colluding
  std::map<std::pair<uint64_t, uint32_t>, Split> splits;  // (height, round) -> split
};

class ByzantineReplica final : public BftReplica {
 public:
  // `collusion` may be null (no colluders) and must outlive the replica.
  static Result<std::unique_ptr<BftReplica>> Open(const OpenArgs& args, Collusion* collusion,
                                                  std::optional<MembershipPlan> plan = {});

  Status Step(ReplicaId from, ByteView message) override;
  Ready TakeReady() override;

 private:
  ByzantineReplica(const OpenArgs& args, Collusion* collusion, std::optional<MembershipPlan> plan);
  // kZombie: votes of a validator no longer in set(height) (see Behaviour).
  void AddZombieVotes(std::vector<OutboundMessage>& out);
  // Signs `v` as this replica, keeping v.voter (an index, which the signature does not cover).
  bft::Vote SignAs(bft::Vote v) const;

  using Key = std::pair<uint64_t, uint32_t>;  // (height, round)

  // Appends what goes to `to` instead of the engine's `m` (possibly nothing, or several).
  void Rewrite(ReplicaId to, const bft::Message& m, Bytes payload,
               std::vector<OutboundMessage>& out);
  void RewriteProposal(ReplicaId to, const bft::Proposal& p, Bytes payload,
                       std::vector<OutboundMessage>& out);
  void RewriteVote(ReplicaId to, const bft::Vote& v, Bytes payload,
                   std::vector<OutboundMessage>& out);
  const Collusion::Split& SplitFor(const bft::Proposal& p);
  crypto::Hash256 RandomHash();
  const bft::Proposal& InvalidFor(const bft::Proposal& p);
  // Whether `to` gets the real proposal `p` with another body (decided once per round).
  bool PoisonFor(const bft::Proposal& p, ReplicaId to);
  // A body that is not the block `b`'s hash names: garbage, or another well-formed block.
  Bytes OtherBody(const Block& b);
  void AddForgery(std::vector<OutboundMessage>& out);
  void AddReplays(std::vector<OutboundMessage>& out);
  void Remember(ByteView message);
  bft::Proposal Signed(bft::Proposal p) const;
  ReplicaId RandomPeer();

  uint32_t behaviour_;
  Rng rng_;
  Collusion* collusion_;
  Collusion own_;  // when there is no shared board
  std::map<Key, std::pair<bft::Proposal, bft::Proposal>> equivocations_;  // A, B
  std::map<Key, bft::Proposal> invalid_;
  std::map<Key, std::vector<bool>> poisoned_;  // per replica: gets the other body
  struct DoubleVote {
    bft::Vote other;
    int mode = 0;  // 0: split peers, 1: both to everyone, 2: both to one peer
    ReplicaId target = 0;
  };
  std::map<std::pair<Key, uint8_t>, DoubleVote> double_votes_;
  // Messages to replay: the latest ones, and a uniform sample of everything since start
  // (so some are many heights old). Both bounded.
  std::deque<Bytes> recent_;
  std::vector<Bytes> sample_;
  uint64_t heard_count_ = 0;
  std::optional<crypto::Hash256> last_block_seen_;
};

}  // namespace cairn::consensus::sim
