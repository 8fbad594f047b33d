// The BFT engine's signed votes, proposals, commit certificates, evidence and messages,
// with their canonical binary encodings (grammar in messages.cpp and docs/CONSENSUS.md).
// Plain value types, thread-compatible.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "consensus/bft/validator_set.h"
#include "consensus/signer.h"
#include "consensus/types.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"

namespace cairn::consensus::bft {

inline constexpr uint32_t kNoRound = std::numeric_limits<uint32_t>::max();
// Decoders refuse larger blocks and signature lists before allocating.
inline constexpr size_t kMaxBlockBytes = 16u << 20;
inline constexpr uint32_t kMaxValidators = 1024;

// Votes needed for a quorum of n validators tolerating f = (n - 1) / 3 faults: any two
// quorums intersect in at least f + 1 validators, so in at least one honest one.
// n = 4 -> 3, n = 7 -> 5, n = 1 -> 1.
inline uint32_t Quorum(uint32_t n) { return n - (n - 1) / 3; }
inline uint32_t MaxFaulty(uint32_t n) { return (n - 1) / 3; }

// Rotating proposer: validator (height + round) mod n.
inline ReplicaId ProposerOf(uint64_t height, uint32_t round, uint32_t n) {
  return static_cast<ReplicaId>((height + round) % n);
}

enum class VoteType : uint8_t { kPrevote = 1, kPrecommit = 2 };

// A validator's signed vote for a block (or for nil: no block this round).
struct Vote {
  VoteType type = VoteType::kPrevote;
  uint64_t height = 0;
  uint32_t round = 0;
  std::optional<crypto::Hash256> block;  // nullopt: nil
  ReplicaId voter = kNoReplica;
  crypto::Signature sig;

  friend bool operator==(const Vote&, const Vote&) = default;
};

// The bytes a vote's signature covers:
//   "cairn/bft/vote/v1" chain:Hash256 type:u8 height:u64 round:u32 has_block:u8 block:Hash256
// `chain` is the genesis block hash, so a vote can never be replayed on another chain.
// A nil vote has has_block 0 and 32 zero bytes. Commit certificates are checked against
// precommit sign bytes, so an auditor needs only the genesis and the validator keys.
Bytes VoteSignBytes(const crypto::Hash256& chain, const Vote& v);
Vote SignVote(const crypto::Hash256& chain, Vote v, const Signer& signer);  // sets voter, sig

// A proposer's signed proposal: `block` for (height, round); valid_round is the round in
// which the block got a prevote quorum when it is re-proposed (Tendermint's validRound),
// else kNoRound.
struct Proposal {
  uint64_t height = 0;
  uint32_t round = 0;
  uint32_t valid_round = kNoRound;
  Block block;  // block.certificate is empty on the wire
  ReplicaId proposer = kNoReplica;
  crypto::Signature sig;

  friend bool operator==(const Proposal&, const Proposal&) = default;
};
//   "cairn/bft/proposal/v1" chain:Hash256 height:u64 round:u32 valid_round:u32 block:Hash256
Bytes ProposalSignBytes(const crypto::Hash256& chain, const Proposal& p);

// Proof that a block is final: precommits for `block` at (height, round) from a quorum of
// distinct validators, sorted by validator index.
struct Certificate {
  uint64_t height = 0;
  uint32_t round = 0;
  crypto::Hash256 block;
  struct Sig {
    ReplicaId validator = kNoReplica;
    crypto::Signature sig;
    friend bool operator==(const Sig&, const Sig&) = default;
  };
  std::vector<Sig> sigs;

  Bytes Encode() const;
  static Result<Certificate> Decode(ByteView in);
  friend bool operator==(const Certificate&, const Certificate&) = default;
};

// Checks that `cert` proves block `block` final at `height` for a chain of `validators`
// validators (keys behind `verifier`): the height and block match, signers are distinct,
// sorted, known validators, at least Quorum(validators) of them, every signature valid over
// the precommit sign bytes. The error names the first problem ("signature of validator 2
// is invalid").
Status VerifyCertificate(const Certificate& cert, const crypto::Hash256& chain, uint64_t height,
                         const crypto::Hash256& block, uint32_t validators,
                         const Verifier& verifier);
// The same against `set`, the validator set of `height` (set(height)): signer indices are
// indices in `set`, Quorum(set.size()) of them, each signature checked with that member's key.
// The engine, the audit and the light client all verify a certificate this way; a member of an
// earlier or later set (a removed validator) never counts.
Status VerifyCertificate(const Certificate& cert, const crypto::Hash256& chain, uint64_t height,
                         const crypto::Hash256& block, const ValidatorSet& set,
                         const Verifier& verifier);
// For a set given with Ed25519 keys, sorted by member id (what the audit and the light client
// hold): as above with crypto::Verify. Errors for a malformed set too.
Status VerifyCertificate(const Certificate& cert, const crypto::Hash256& chain, uint64_t height,
                         const crypto::Hash256& block, const std::vector<ValidatorInfo>& set);

// Two conflicting votes of one validator: same type, height and round, different blocks
// (nil counts as a block), both validly signed. `a` sorts before `b` (by encoding), so the
// same misbehaviour always encodes the same way.
struct Evidence {
  Vote a, b;

  Bytes Encode() const;
  static Result<Evidence> Decode(ByteView in);
  // Checks both signatures and that the votes really conflict.
  Status Verify(const crypto::Hash256& chain, uint32_t validators, const Verifier& v) const;
  // The same with the voter's index read in `set`, the validator set of the votes' height.
  Status Verify(const crypto::Hash256& chain, const ValidatorSet& set, const Verifier& v) const;
  friend bool operator==(const Evidence&, const Evidence&) = default;
};

// The evidence for two votes of one validator, in canonical order (either argument order
// gives the same Evidence). Does not check that they conflict; Evidence::Verify does.
Evidence MakeEvidence(Vote x, Vote y);

// A decided block and its certificate, sent to a replica that is still voting on a height
// this replica has decided, so laggards catch up without waiting for block sync.
struct Decision {
  Block block;  // block.certificate is empty; the certificate travels in `cert`
  Certificate cert;
  friend bool operator==(const Decision&, const Decision&) = default;
};

using Message = std::variant<Proposal, Vote, Decision, Evidence>;

Bytes EncodeMessage(const Message& m);
// Refuses malformed input with an error naming the field and offset; never allocates more
// than the input can hold.
Result<Message> DecodeMessage(ByteView in);
// One line for logs and simulation traces.
std::string Describe(const Message& m);

}  // namespace cairn::consensus::bft
