// On-chain governance and membership (docs/design/membership.md §1-2, docs/PROTOCOL.md §2-§4):
// the system records under state key prefix 0x03, the gov_propose / gov_approve rules, and
// set(H), the validators that govern height H, computed from state alone.
// Pure functions of their inputs (no clock, no I/O, no unordered iteration); value types are
// thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "ledger/receipt.h"
#include "ledger/state.h"
#include "ledger/transaction.h"

namespace cairn::ledger {

// Rule constants; changing any is a protocol change.
inline constexpr uint64_t kMaxProposalLifetime = 100000;  // expires_at <= height + this
inline constexpr size_t kMaxOpenProposals = 16;           // per proposer, bounds gov/open
inline constexpr uint64_t kSetChangeDelay = 2;            // executed at h, governs h + 2 on
inline constexpr uint32_t kMaxMembers = 1024;             // bounds set/members

// System record names (SystemKey := 0x03 name).
inline constexpr std::string_view kGovConfigName = "gov/config";
inline constexpr std::string_view kGovOpenName = "gov/open";
inline constexpr std::string_view kGovQueueName = "gov/queue";
inline constexpr std::string_view kMembersName = "set/members";
inline constexpr std::string_view kPendingName = "set/pending";
// "gov/p/" followed by the proposal id's 32 raw bytes.
std::string ProposalName(const crypto::Hash256& id);

// GovConfig := threshold:u16 count:u16 admin:fixed[32]^count   (count 1..64)
// Who may propose and approve, and how many approvals run an action.
struct GovConfig {
  uint16_t threshold = 0;
  std::vector<crypto::PublicKey> admins;

  bool IsAdmin(const crypto::PublicKey& key) const;
  Bytes Encode() const;
  static Result<GovConfig> Decode(ByteView b);
  friend bool operator==(const GovConfig&, const GovConfig&) = default;
};

enum class MemberKind : uint8_t { kValidator = 1, kObserver = 2 };
std::string_view MemberKindName(MemberKind k);  // "validator" | "observer"

// Member := id:u32 kind:u8 name:bytes[1..64] consensus_key:fixed[32] p2p_key:fixed[32]
//           address:bytes[0..255]
// A validator or an observer; the id never changes and is never reused, the keys may.
struct Member {
  uint32_t id = 0;
  MemberKind kind = MemberKind::kValidator;
  std::string name;
  crypto::PublicKey consensus_key;  // an observer's equals its p2p_key
  crypto::PublicKey p2p_key;
  std::string address;
  friend bool operator==(const Member&, const Member&) = default;
};

// MemberSet := next_id:u32 count:u32 Member^count   (strictly increasing ids, all < next_id)
struct MemberSet {
  uint32_t next_id = 0;
  std::vector<Member> members;  // by id

  const Member* Find(uint32_t id) const;
  // The validators, by id: what SetHash hashes and consensus indexes.
  std::vector<Member> Validators() const;
  Bytes Encode() const;
  static Result<MemberSet> Decode(ByteView b);
  friend bool operator==(const MemberSet&, const MemberSet&) = default;
};

// Pending := effective_height:u64 MemberSet    (the record is absent when no change waits)
struct PendingSet {
  uint64_t effective_height = 0;
  MemberSet set;
  Bytes Encode() const;
  static Result<PendingSet> Decode(ByteView b);
  friend bool operator==(const PendingSet&, const PendingSet&) = default;
};

enum class ProposalStatus : uint8_t {
  kOpen = 1,
  kExecuted = 2,
  kFailed = 3,
  kExpired = 4,
  kQueued = 5,
};
std::string_view ProposalStatusName(ProposalStatus s);  // "open", "executed", ...

// Proposal := proposer:fixed[32] expires_at:u64 action:Action approvals:u16
//             approver:fixed[32]^approvals status:u8 result_height:u64 result_code:u16
struct Proposal {
  crypto::PublicKey proposer;
  uint64_t expires_at = 0;
  Action action;
  std::vector<crypto::PublicKey> approvals;  // in approval order; the proposer first
  ProposalStatus status = ProposalStatus::kOpen;
  uint64_t result_height = 0;  // the height it executed, failed or was found expired; else 0
  uint16_t result_code = 0;    // a TxCode: kOk when executed, the action's failure otherwise

  Bytes Encode() const;
  static Result<Proposal> Decode(ByteView b);
  friend bool operator==(const Proposal&, const Proposal&) = default;
};

// OpenList := count:u32 (id:fixed[32] proposer:fixed[32] expires_at:u64)^count, in proposal
// order. gov/open lists the open proposals (so too_many_proposals needs no state scan);
// entries past their expiry are dropped whenever the list is rewritten.
struct OpenEntry {
  crypto::Hash256 id;
  crypto::PublicKey proposer;
  uint64_t expires_at = 0;
  friend bool operator==(const OpenEntry&, const OpenEntry&) = default;
};
Bytes EncodeOpenList(const std::vector<OpenEntry>& list);
Result<std::vector<OpenEntry>> DecodeOpenList(ByteView b);
// IdQueue := count:u32 id:fixed[32]^count, head first (gov/queue).
Bytes EncodeIdQueue(const std::vector<crypto::Hash256>& ids);
Result<std::vector<crypto::Hash256>> DecodeIdQueue(ByteView b);

// Readers: nullopt when the record is absent. A record that does not decode is read as
// absent (state is written only by this code, so that is corruption the state root catches).
std::optional<GovConfig> ReadGovConfig(const StateReader& state);
std::optional<MemberSet> ReadMembers(const StateReader& state);
std::optional<PendingSet> ReadPending(const StateReader& state);
std::optional<Proposal> ReadProposal(const StateReader& state, const crypto::Hash256& id);
std::vector<OpenEntry> ReadOpenList(const StateReader& state);
std::vector<crypto::Hash256> ReadQueue(const StateReader& state);

// set(H) from the state after block H - 1 (or any later state whose pending set, if any, is
// not yet in force at H): set/members with set/pending applied when its effective height
// is <= H. nullopt when the state holds no set/members (a bare test state).
std::optional<MemberSet> MemberSetAt(const StateReader& state, uint64_t height);
// The validators of set(H), by id.
std::optional<std::vector<Member>> ValidatorSetAt(const StateReader& state, uint64_t height);
// SetHash(S) := SHA-256("CAIRN/set" 0x00 || count:u32 (id:u32 consensus_key:fixed[32])^count)
crypto::Hash256 SetHash(std::span<const Member> validators);

// Runs before a block's first transaction at `height`: a pending set whose effective height
// has come becomes set/members, then the head of gov/queue runs (expired entries are dropped
// with status expired; a failed action lets the next one run).
void BeginBlock(StateOverlay& state, uint64_t height);

// Executes a gov_propose or gov_approve from an account (REQUIRES: the payload is one of
// them; the caller bumps the nonce). Returns kOk or the first failure of PROTOCOL §6's
// table. Writes nothing on failure, except that an approval of an expired proposal marks it
// expired.
TxCode ExecuteGov(StateOverlay& state, const Transaction& tx, const crypto::Hash256& tx_hash,
                  uint64_t height);

// The system records of a chain's genesis: set/members, and gov/config when `config`.
StateDiff GenesisSystemRecords(const MemberSet& members, const std::optional<GovConfig>& config);

}  // namespace cairn::ledger
