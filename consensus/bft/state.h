// The BFT engine's persisted state: the hard state (what this replica has signed at its
// current height, its lock and valid value) and the block records that hold the bodies
// the hard state refers to by hash. Plain value types, thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "consensus/bft/messages.h"
#include "crypto/sha256.h"

namespace cairn::consensus::bft {

enum class RoundStep : uint8_t { kPropose = 0, kPrevote = 1, kPrecommit = 2 };

const char* StepName(RoundStep s);

// Everything a restarted replica needs so that it never signs a vote or proposal that
// conflicts with one it may have sent: rounds only grow within a height, so it suffices
// to keep the current (height, round, step), the own proposal of that round, and the own
// votes of every round of the height the engine still holds (not only the current one).
struct HardState {
  uint64_t height = 1;
  uint32_t round = 0;
  RoundStep step = RoundStep::kPropose;
  uint32_t locked_round = kNoRound;  // kNoRound: not locked; locked_hash is then zero
  crypto::Hash256 locked_hash;
  uint32_t valid_round = kNoRound;  // kNoRound: no valid value; valid_hash is then zero
  crypto::Hash256 valid_hash;
  // Index of the next block record; records below it that are not for `height` are stale.
  uint64_t next_record = 1;
  // Own proposal of (height, round): its block lives in a record.
  struct OwnProposal {
    uint32_t valid_round = kNoRound;
    crypto::Hash256 block;
    crypto::Signature sig;
    friend bool operator==(const OwnProposal&, const OwnProposal&) = default;
  };
  std::optional<OwnProposal> proposal;
  // Own votes of this height, of every round still kept (rounds never go back, so older
  // ones cannot be signed again), sorted by (round, type); height and voter are implied.
  // Peers still in an older round need them re-sent to reach its quorums.
  struct OwnVote {
    uint32_t round = 0;
    VoteType type = VoteType::kPrevote;
    std::optional<crypto::Hash256> block;
    crypto::Signature sig;
    friend bool operator==(const OwnVote&, const OwnVote&) = default;
  };
  std::vector<OwnVote> votes;

  friend bool operator==(const HardState&, const HardState&) = default;
};

Bytes EncodeHardState(const HardState& hs);
Result<HardState> DecodeHardState(ByteView in);

inline constexpr uint32_t kMaxOwnVotes = 1024;

// Durable records, written once and referenced from the hard state by hash: the body of a
// block (lock, valid value, own proposal) and the proof of lock of the valid value (the
// prevote quorum of valid_round, encoded as a Certificate over prevotes), which goes out
// with a re-proposal so that replicas that missed the polka can accept it.
struct PolRecord {
  Certificate prevotes;
  friend bool operator==(const PolRecord&, const PolRecord&) = default;
};
using Record = std::variant<Block, PolRecord>;
Bytes EncodeBlockRecord(const Block& b);
Bytes EncodePolRecord(const PolRecord& p);
Result<Record> DecodeRecord(ByteView in, uint64_t index);

}  // namespace cairn::consensus::bft
