// Receipts: the outcome of one included transaction, and the typed reasons a transaction
// can be refused (admission) or fail (execution). Codes are stable: RPC and storage use them.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace cairn::ledger {

// Why a transaction was refused or failed. Values are persisted in receipts; never renumber.
enum class TxCode : uint8_t {
  kOk = 0,
  // Execution failures: the tx is included, its nonce is used, nothing else changes.
  kInsufficientBalance = 1,
  kNotPermitted = 2,      // admin-only payload from a member
  kUnknownRecipient = 3,  // transfer to an unregistered account
  kBalanceOverflow = 4,   // recipient balance would exceed 2^64-1
  kAccountExists = 5,     // register of a key that is already an account
  kUnknownAccount = 6,    // set_role of an unregistered account
  kSelfTransfer = 7,      // transfer to oneself
  kZeroAmount = 8,
  // Governance (gov_propose / gov_approve; PROTOCOL §6, checked in this order).
  kNotGovernanceAdmin = 9,  // sender not in gov/config (or the chain has no governance)
  kBadExpiry = 10,          // expires_at <= height or > height + 100,000
  kTooManyProposals = 11,   // the sender already has 16 open proposals
  kInvalidAction = 12,      // the action does not fit the current set or config
  kUnknownProposal = 13,
  kProposalClosed = 14,   // executed, failed, expired or queued
  kProposalExpired = 15,  // height > expires_at (the proposal is marked expired)
  kAlreadyApproved = 16,
  // Leases (lease_acquire / lease_renew / lease_release; PROTOCOL §3, checked in this order).
  kLeaseHeld = 17,     // acquire: another holder (or the sender) holds it at this height
  kBadTtl = 18,        // acquire: ttl_blocks not in [1, 100,000]
  kLeaseExpired = 19,  // renew, release: the holder's lease ran out (height >= expires_at)
  kWrongToken = 20,    // renew, release: the token is not the lease's current one
  kNotHolder = 21,     // renew, release: the sender does not hold it (or it was never acquired)
  // Validity failures: such a tx never enters a block (a block holding one is invalid).
  kMalformed = 32,
  kWrongChain = 33,
  kBadSignature = 34,
  kUnknownSender = 35,
  kNonceTooLow = 36,
  kNonceTooHigh = 37,
  // Mempool-only refusals.
  kMempoolFull = 64,
  kAlreadyKnown = 65,
  kSenderQueueFull = 66,
  kSyncing = 67,  // refused for a reason stale state can explain while the node catches up
};

std::string_view TxCodeName(TxCode c);  // snake_case, e.g. "nonce_too_low"
bool IsExecutionFailure(TxCode c);      // included in a block with a failed receipt

// Receipt := code:u8 height:u64 index:u32
struct Receipt {
  TxCode code = TxCode::kOk;
  uint64_t height = 0;
  uint32_t index = 0;
  friend bool operator==(const Receipt&, const Receipt&) = default;
};

// Receipts := count:u32 Receipt[count]; stored once per block.
Bytes EncodeReceipts(const std::vector<Receipt>& receipts);
Result<std::vector<Receipt>> DecodeReceipts(ByteView b);

}  // namespace cairn::ledger
