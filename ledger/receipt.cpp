#include "ledger/receipt.h"

#include "base/codec.h"

namespace cairn::ledger {

using codec::Reader;
using codec::Writer;

std::string_view TxCodeName(TxCode c) {
  switch (c) {
    case TxCode::kOk:
      return "ok";
    case TxCode::kInsufficientBalance:
      return "insufficient_balance";
    case TxCode::kNotPermitted:
      return "not_permitted";
    case TxCode::kUnknownRecipient:
      return "unknown_recipient";
    case TxCode::kBalanceOverflow:
      return "balance_overflow";
    case TxCode::kAccountExists:
      return "account_exists";
    case TxCode::kUnknownAccount:
      return "unknown_account";
    case TxCode::kSelfTransfer:
      return "self_transfer";
    case TxCode::kZeroAmount:
      return "zero_amount";
    case TxCode::kNotGovernanceAdmin:
      return "not_governance_admin";
    case TxCode::kBadExpiry:
      return "bad_expiry";
    case TxCode::kTooManyProposals:
      return "too_many_proposals";
    case TxCode::kInvalidAction:
      return "invalid_action";
    case TxCode::kUnknownProposal:
      return "unknown_proposal";
    case TxCode::kProposalClosed:
      return "proposal_closed";
    case TxCode::kProposalExpired:
      return "proposal_expired";
    case TxCode::kAlreadyApproved:
      return "already_approved";
    case TxCode::kLeaseHeld:
      return "lease_held";
    case TxCode::kBadTtl:
      return "bad_ttl";
    case TxCode::kLeaseExpired:
      return "lease_expired";
    case TxCode::kWrongToken:
      return "wrong_token";
    case TxCode::kNotHolder:
      return "not_holder";
    case TxCode::kMalformed:
      return "malformed";
    case TxCode::kWrongChain:
      return "wrong_chain";
    case TxCode::kBadSignature:
      return "bad_signature";
    case TxCode::kUnknownSender:
      return "unknown_sender";
    case TxCode::kNonceTooLow:
      return "nonce_too_low";
    case TxCode::kNonceTooHigh:
      return "nonce_too_high";
    case TxCode::kMempoolFull:
      return "mempool_full";
    case TxCode::kAlreadyKnown:
      return "already_known";
    case TxCode::kSenderQueueFull:
      return "sender_queue_full";
    case TxCode::kSyncing:
      return "syncing";
  }
  return "unknown";
}

bool IsExecutionFailure(TxCode c) {
  auto v = static_cast<uint8_t>(c);
  return v >= 1 && v < 32;
}

namespace {
bool IsKnownReceiptCode(uint8_t v) { return v <= 21; }
}  // namespace

Bytes EncodeReceipts(const std::vector<Receipt>& receipts) {
  Writer w;
  w.Reserve(4 + receipts.size() * 13);
  w.U32(static_cast<uint32_t>(receipts.size()));
  for (const Receipt& r : receipts) {
    w.U8(static_cast<uint8_t>(r.code)).U64(r.height).U32(r.index);
  }
  return w.Take();
}

Result<std::vector<Receipt>> DecodeReceipts(ByteView b) {
  Reader r(b, "receipts");
  uint32_t count = 0;
  std::vector<Receipt> out;
  if (r.U32(&count, "count") && count > r.remaining() / 13) {
    r.Fail("count", std::to_string(count) + " receipts cannot fit in " +
                        std::to_string(r.remaining()) + " bytes");
  }
  for (uint32_t i = 0; r.ok() && i < count; ++i) {
    Receipt rc;
    uint8_t code = 0;
    if (r.U8(&code, "code") && !IsKnownReceiptCode(code)) {
      r.Fail("code", "unknown receipt code " + std::to_string(code));
    }
    rc.code = static_cast<TxCode>(code);
    r.U64(&rc.height, "height");
    r.U32(&rc.index, "index");
    out.push_back(rc);
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return out;
}

}  // namespace cairn::ledger
