// Transactions: what an account asks the ledger to do, signed by that account.
// Value type; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/codec.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "ledger/account.h"

namespace cairn::ledger {

struct Transfer {
  Address to;
  uint64_t amount = 0;
  friend bool operator==(const Transfer&, const Transfer&) = default;
};
// A record in the sender's own namespace: (sender, key) -> value.
struct Put {
  Bytes key;    // 1..kMaxRecordKey bytes
  Bytes value;  // 0..kMaxRecordValue bytes
  friend bool operator==(const Put&, const Put&) = default;
};
// Admin only: creates an account with zero balance.
struct RegisterAccount {
  crypto::PublicKey public_key;
  Role role = Role::kMember;
  friend bool operator==(const RegisterAccount&, const RegisterAccount&) = default;
};
// Admin only: changes an existing account's role.
struct SetRole {
  Address account;
  Role role = Role::kMember;
  friend bool operator==(const SetRole&, const SetRole&) = default;
};

// Governance actions (docs/PROTOCOL.md §3, ledger/governance.h): what a gov_propose asks the
// governance admins to do. Names are 1..kMaxMemberName bytes, addresses 0..kMaxMemberAddress.
inline constexpr size_t kMaxMemberName = 64;
inline constexpr size_t kMaxMemberAddress = 255;
inline constexpr size_t kMaxGovAdmins = 64;  // bounds gov/config and a SetGovernance tx

struct AddValidator {
  std::string name;
  crypto::PublicKey consensus_key;
  crypto::PublicKey p2p_key;
  std::string address;
  friend bool operator==(const AddValidator&, const AddValidator&) = default;
};
// Removes a validator or an observer.
struct RemoveMember {
  uint32_t id = 0;
  friend bool operator==(const RemoveMember&, const RemoveMember&) = default;
};
struct AddObserver {
  std::string name;
  crypto::PublicKey p2p_key;
  std::string address;
  friend bool operator==(const AddObserver&, const AddObserver&) = default;
};
// Replaces a validator's keys; its member id stays.
struct RotateKeys {
  uint32_t id = 0;
  crypto::PublicKey consensus_key;
  crypto::PublicKey p2p_key;
  friend bool operator==(const RotateKeys&, const RotateKeys&) = default;
};
// Replaces the governance admin set and threshold.
struct SetGovernance {
  uint16_t threshold = 0;
  std::vector<crypto::PublicKey> admins;  // 1..kMaxGovAdmins
  friend bool operator==(const SetGovernance&, const SetGovernance&) = default;
};
using Action = std::variant<AddValidator, RemoveMember, AddObserver, RotateKeys, SetGovernance>;
enum class ActionKind : uint8_t {
  kAddValidator = 1,
  kRemoveMember = 2,
  kAddObserver = 3,
  kRotateKeys = 4,
  kSetGovernance = 5,
};
ActionKind KindOf(const Action& a);
// "add_validator", "remove_member", "add_observer", "rotate_keys", "set_governance"
std::string_view ActionKindName(ActionKind k);
// Actions 1-4 change the member set and are serialised through set/pending.
bool ChangesMembers(const Action& a);

// Action := kind:u8 body (transaction.cpp's grammar); shared by GovPropose and the stored
// Proposal. ReadAction records the failure in `r` and returns false.
void EncodeAction(codec::Writer& w, const Action& a);
bool ReadAction(codec::Reader& r, Action* a);
size_t ActionEncodedSize(const Action& a);

// Governance admin: opens a proposal (and approves it); its id is this tx's hash.
struct GovPropose {
  uint64_t expires_at = 0;  // last height at which it may be approved
  Action action;
  friend bool operator==(const GovPropose&, const GovPropose&) = default;
};
// Governance admin: approves an open proposal.
struct GovApprove {
  crypto::Hash256 proposal;
  friend bool operator==(const GovApprove&, const GovApprove&) = default;
};

// Leases (ledger/lease.h, docs/LEASES.md): any account. Names are 1..kMaxLeaseName bytes of
// A-Z a-z 0-9 . _ - / : (a transaction with another byte does not decode).
inline constexpr size_t kMaxLeaseName = 128;
// Takes the lease `name` for ttl_blocks blocks, with a new fencing token, if it is free.
struct LeaseAcquire {
  std::string name;
  uint64_t ttl_blocks = 0;  // checked at execution: 1..100,000 (bad_ttl)
  friend bool operator==(const LeaseAcquire&, const LeaseAcquire&) = default;
};
// The holder extends its lease by the acquisition's ttl_blocks from this block on.
struct LeaseRenew {
  std::string name;
  uint64_t token = 0;
  friend bool operator==(const LeaseRenew&, const LeaseRenew&) = default;
};
// The holder frees its lease at once.
struct LeaseRelease {
  std::string name;
  uint64_t token = 0;
  friend bool operator==(const LeaseRelease&, const LeaseRelease&) = default;
};

using Payload = std::variant<Transfer, Put, RegisterAccount, SetRole, GovPropose, GovApprove,
                             LeaseAcquire, LeaseRenew, LeaseRelease>;

enum class PayloadKind : uint8_t {
  kTransfer = 1,
  kPut = 2,
  kRegisterAccount = 3,
  kSetRole = 4,
  kGovPropose = 5,
  kGovApprove = 6,
  kLeaseAcquire = 7,
  kLeaseRenew = 8,
  kLeaseRelease = 9,
};
PayloadKind KindOf(const Payload& p);
// "transfer", "put", "register", "set_role", "gov_propose", "gov_approve", "lease_acquire",
// "lease_renew", "lease_release"
std::string_view PayloadKindName(PayloadKind k);
// Role-admin only (register, set_role); governance kinds check gov/config instead.
bool IsAdminOnly(const Payload& p);
// lease_acquire, lease_renew, lease_release.
bool IsLease(const Payload& p);

inline constexpr size_t kMaxChainId = 64;
inline constexpr size_t kMaxTxSize = 8192;  // bounds a decoded tx; Put is the largest

// Tx := version:u8(=1) chain_id:bytes[1..64] sender:fixed[32] nonce:u64 payload signature:fixed[64]
// Payload := kind:u8 body (see transaction.cpp)
struct Transaction {
  static constexpr uint8_t kVersion = 1;

  std::string chain_id;
  crypto::PublicKey sender;
  uint64_t nonce = 0;
  Payload payload;
  crypto::Signature signature;

  // "CAIRN/tx/v1" 0x00 || the encoding without the signature. The domain tag keeps a tx
  // signature from ever being valid as a block or vote signature, and the chain id inside
  // keeps it from being replayed on another chain.
  Bytes SigningBytes() const;
  Bytes Encode() const;
  size_t EncodedSize() const;  // Encode().size(), without encoding
  static Result<Transaction> Decode(ByteView b);
  // SHA-256 of Encode(), signature included (Ed25519 with canonical-S checks is not malleable,
  // so one signed transaction has exactly one hash).
  crypto::Hash256 Hash() const;

  void Sign(const crypto::KeyPair& key);  // also sets sender
  bool VerifySignature() const;

  friend bool operator==(const Transaction&, const Transaction&) = default;
};

// How many times VerifySignature has run in this process (thread-safe): lets tests prove that
// a refusal came before the expensive check.
uint64_t SignatureVerifications();

}  // namespace cairn::ledger
