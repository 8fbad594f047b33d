// Grammar (all integers little endian; bytes := len:u32 data[len]):
//   Tx              := version:u8(=1) chain_id:bytes[1..64] sender:fixed[32] nonce:u64
//                      payload:Payload signature:fixed[64]
//   Payload         := kind:u8 body
//   Transfer  (1)   := to:fixed[32] amount:u64
//   Put       (2)   := key:bytes[1..128] value:bytes[0..4096]
//   RegisterAccount (3) := public_key:fixed[32] role:u8 (1 member, 2 admin)
//   SetRole   (4)   := account:fixed[32] role:u8
//   GovPropose (5)  := expires_at:u64 action:Action
//   GovApprove (6)  := proposal:fixed[32]
//   LeaseAcquire (7) := name:bytes[1..128] ttl_blocks:u64
//   LeaseRenew   (8) := name:bytes[1..128] token:u64
//   LeaseRelease (9) := name:bytes[1..128] token:u64
//                      (name: bytes of A-Z a-z 0-9 . _ - / : only, else the tx does not decode)
//   Action          := 1 AddValidator  name:bytes[1..64] consensus_key:fixed[32] p2p_key:fixed[32]
//                                      address:bytes[0..255]
//                    | 2 RemoveMember  id:u32
//                    | 3 AddObserver   name:bytes[1..64] p2p_key:fixed[32] address:bytes[0..255]
//                    | 4 RotateKeys    id:u32 consensus_key:fixed[32] p2p_key:fixed[32]
//                    | 5 SetGovernance threshold:u16 count:u16 admin:fixed[32]^count
//                      (count 1..64; threshold is checked against count at execution, not here)
//   SigningBytes    := "CAIRN/tx/v1" 0x00 || Tx without its signature field
#include "ledger/transaction.h"

#include <atomic>

#include "base/codec.h"
#include "ledger/lease.h"

namespace cairn::ledger {

using codec::Reader;
using codec::Writer;
namespace {

constexpr std::string_view kTxDomain("CAIRN/tx/v1\0", 12);

void EncodeUnsigned(const Transaction& tx, Writer& w) {
  w.U8(Transaction::kVersion).Str(tx.chain_id).Fixed(tx.sender).U64(tx.nonce);
  w.U8(static_cast<uint8_t>(KindOf(tx.payload)));
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Transfer>) {
          w.Fixed(p.to).U64(p.amount);
        } else if constexpr (std::is_same_v<T, Put>) {
          w.Var(p.key).Var(p.value);
        } else if constexpr (std::is_same_v<T, RegisterAccount>) {
          w.Fixed(p.public_key).U8(static_cast<uint8_t>(p.role));
        } else if constexpr (std::is_same_v<T, SetRole>) {
          w.Fixed(p.account).U8(static_cast<uint8_t>(p.role));
        } else if constexpr (std::is_same_v<T, GovPropose>) {
          w.U64(p.expires_at);
          EncodeAction(w, p.action);
        } else if constexpr (std::is_same_v<T, GovApprove>) {
          w.Fixed(p.proposal);
        } else if constexpr (std::is_same_v<T, LeaseAcquire>) {
          w.Str(p.name).U64(p.ttl_blocks);
        } else {
          w.Str(p.name).U64(p.token);
        }
      },
      tx.payload);
}

// A lease name: length first (the bound), then its bytes (PROTOCOL §3).
bool ReadLeaseName(Reader& r, std::string* name, std::string_view field) {
  const size_t at = r.offset();
  if (!r.Str(name, kMaxLeaseName, field, 1)) return false;
  if (!IsValidLeaseName(*name)) {
    return r.FailAt(at, field, "holds a byte other than A-Z a-z 0-9 . _ - / :");
  }
  return true;
}

bool ReadRole(Reader& r, Role* role) {
  uint8_t v = 0;
  if (!r.U8(&v, "role")) return false;
  if (!IsValidRole(v)) return r.Fail("role", "value " + std::to_string(v) + " is not a role");
  *role = static_cast<Role>(v);
  return true;
}

}  // namespace

ActionKind KindOf(const Action& a) { return static_cast<ActionKind>(a.index() + 1); }

std::string_view ActionKindName(ActionKind k) {
  switch (k) {
    case ActionKind::kAddValidator:
      return "add_validator";
    case ActionKind::kRemoveMember:
      return "remove_member";
    case ActionKind::kAddObserver:
      return "add_observer";
    case ActionKind::kRotateKeys:
      return "rotate_keys";
    case ActionKind::kSetGovernance:
      return "set_governance";
  }
  return "unknown";
}

bool ChangesMembers(const Action& a) { return !std::holds_alternative<SetGovernance>(a); }

void EncodeAction(Writer& w, const Action& a) {
  w.U8(static_cast<uint8_t>(KindOf(a)));
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, AddValidator>) {
          w.Str(p.name).Fixed(p.consensus_key).Fixed(p.p2p_key).Str(p.address);
        } else if constexpr (std::is_same_v<T, RemoveMember>) {
          w.U32(p.id);
        } else if constexpr (std::is_same_v<T, AddObserver>) {
          w.Str(p.name).Fixed(p.p2p_key).Str(p.address);
        } else if constexpr (std::is_same_v<T, RotateKeys>) {
          w.U32(p.id).Fixed(p.consensus_key).Fixed(p.p2p_key);
        } else {
          w.U16(p.threshold).U16(static_cast<uint16_t>(p.admins.size()));
          for (const auto& k : p.admins) w.Fixed(k);
        }
      },
      a);
}

size_t ActionEncodedSize(const Action& a) {
  return 1 + std::visit(
                 [](const auto& p) -> size_t {
                   using T = std::decay_t<decltype(p)>;
                   if constexpr (std::is_same_v<T, AddValidator>) {
                     return 4 + p.name.size() + 32 + 32 + 4 + p.address.size();
                   } else if constexpr (std::is_same_v<T, RemoveMember>) {
                     return 4;
                   } else if constexpr (std::is_same_v<T, AddObserver>) {
                     return 4 + p.name.size() + 32 + 4 + p.address.size();
                   } else if constexpr (std::is_same_v<T, RotateKeys>) {
                     return 4 + 32 + 32;
                   } else {
                     return 2 + 2 + 32 * p.admins.size();
                   }
                 },
                 a);
}

bool ReadAction(Reader& r, Action* out) {
  uint8_t kind = 0;
  if (!r.U8(&kind, "action kind")) return false;
  switch (static_cast<ActionKind>(kind)) {
    case ActionKind::kAddValidator: {
      AddValidator a;
      r.Str(&a.name, kMaxMemberName, "add_validator.name", 1);
      r.Fixed(&a.consensus_key, "add_validator.consensus_key");
      r.Fixed(&a.p2p_key, "add_validator.p2p_key");
      r.Str(&a.address, kMaxMemberAddress, "add_validator.address");
      *out = std::move(a);
      break;
    }
    case ActionKind::kRemoveMember: {
      RemoveMember a;
      r.U32(&a.id, "remove_member.id");
      *out = a;
      break;
    }
    case ActionKind::kAddObserver: {
      AddObserver a;
      r.Str(&a.name, kMaxMemberName, "add_observer.name", 1);
      r.Fixed(&a.p2p_key, "add_observer.p2p_key");
      r.Str(&a.address, kMaxMemberAddress, "add_observer.address");
      *out = std::move(a);
      break;
    }
    case ActionKind::kRotateKeys: {
      RotateKeys a;
      r.U32(&a.id, "rotate_keys.id");
      r.Fixed(&a.consensus_key, "rotate_keys.consensus_key");
      r.Fixed(&a.p2p_key, "rotate_keys.p2p_key");
      *out = a;
      break;
    }
    case ActionKind::kSetGovernance: {
      SetGovernance a;
      uint16_t count = 0;
      r.U16(&a.threshold, "set_governance.threshold");
      if (r.U16(&count, "set_governance.count")) {
        if (count == 0 || count > kMaxGovAdmins) {
          r.Fail("set_governance.count",
                 std::to_string(count) + " is not in [1, " + std::to_string(kMaxGovAdmins) + "]");
        } else if (r.remaining() < size_t{count} * 32) {
          r.Fail("set_governance.admins", "truncated");
        } else {
          a.admins.resize(count);
          for (auto& k : a.admins) r.Fixed(&k, "set_governance.admin");
        }
      }
      *out = std::move(a);
      break;
    }
    default:
      return r.Fail("action kind", "unknown kind " + std::to_string(kind));
  }
  return r.ok();
}

PayloadKind KindOf(const Payload& p) { return static_cast<PayloadKind>(p.index() + 1); }

std::string_view PayloadKindName(PayloadKind k) {
  switch (k) {
    case PayloadKind::kTransfer:
      return "transfer";
    case PayloadKind::kPut:
      return "put";
    case PayloadKind::kRegisterAccount:
      return "register";
    case PayloadKind::kSetRole:
      return "set_role";
    case PayloadKind::kGovPropose:
      return "gov_propose";
    case PayloadKind::kGovApprove:
      return "gov_approve";
    case PayloadKind::kLeaseAcquire:
      return "lease_acquire";
    case PayloadKind::kLeaseRenew:
      return "lease_renew";
    case PayloadKind::kLeaseRelease:
      return "lease_release";
  }
  return "unknown";
}

bool IsAdminOnly(const Payload& p) {
  return std::holds_alternative<RegisterAccount>(p) || std::holds_alternative<SetRole>(p);
}

bool IsLease(const Payload& p) {
  return std::holds_alternative<LeaseAcquire>(p) || std::holds_alternative<LeaseRenew>(p) ||
         std::holds_alternative<LeaseRelease>(p);
}

Bytes Transaction::SigningBytes() const {
  Writer w;
  w.Reserve(256);
  w.Raw(AsBytes(kTxDomain));
  EncodeUnsigned(*this, w);
  return w.Take();
}

Bytes Transaction::Encode() const {
  Writer w;
  w.Reserve(256);
  EncodeUnsigned(*this, w);
  w.Fixed(signature);
  return w.Take();
}

size_t Transaction::EncodedSize() const {
  size_t body = 0;
  if (auto* p = std::get_if<Put>(&payload)) {
    body = 4 + p->key.size() + 4 + p->value.size();
  } else if (std::holds_alternative<Transfer>(payload)) {
    body = 32 + 8;
  } else if (auto* g = std::get_if<GovPropose>(&payload)) {
    body = 8 + ActionEncodedSize(g->action);
  } else if (std::holds_alternative<GovApprove>(payload)) {
    body = 32;
  } else if (auto* a = std::get_if<LeaseAcquire>(&payload)) {
    body = 4 + a->name.size() + 8;
  } else if (auto* r = std::get_if<LeaseRenew>(&payload)) {
    body = 4 + r->name.size() + 8;
  } else if (auto* l = std::get_if<LeaseRelease>(&payload)) {
    body = 4 + l->name.size() + 8;
  } else {
    body = 32 + 1;
  }
  return 1 + 4 + chain_id.size() + 32 + 8 + 1 + body + 64;
}

Result<Transaction> Transaction::Decode(ByteView b) {
  Reader r(b, "tx");
  if (b.size() > kMaxTxSize) {
    r.Fail("size", std::to_string(b.size()) + " bytes exceeds " + std::to_string(kMaxTxSize));
    return r.status();
  }
  Transaction tx;
  uint8_t version = 0, kind = 0;
  if (r.U8(&version, "version") && version != kVersion) {
    r.Fail("version", "unsupported version " + std::to_string(version));
  }
  r.Str(&tx.chain_id, kMaxChainId, "chain_id", 1);
  r.Fixed(&tx.sender, "sender");
  r.U64(&tx.nonce, "nonce");
  if (r.U8(&kind, "payload kind")) {
    switch (static_cast<PayloadKind>(kind)) {
      case PayloadKind::kTransfer: {
        Transfer p;
        r.Fixed(&p.to, "transfer.to");
        r.U64(&p.amount, "transfer.amount");
        tx.payload = p;
        break;
      }
      case PayloadKind::kPut: {
        Put p;
        r.Var(&p.key, kMaxRecordKey, "put.key", 1);
        r.Var(&p.value, kMaxRecordValue, "put.value");
        tx.payload = std::move(p);
        break;
      }
      case PayloadKind::kRegisterAccount: {
        RegisterAccount p;
        r.Fixed(&p.public_key, "register.public_key");
        ReadRole(r, &p.role);
        tx.payload = p;
        break;
      }
      case PayloadKind::kSetRole: {
        SetRole p;
        r.Fixed(&p.account, "set_role.account");
        ReadRole(r, &p.role);
        tx.payload = p;
        break;
      }
      case PayloadKind::kGovPropose: {
        GovPropose p;
        r.U64(&p.expires_at, "gov_propose.expires_at");
        if (r.ok()) ReadAction(r, &p.action);
        tx.payload = std::move(p);
        break;
      }
      case PayloadKind::kGovApprove: {
        GovApprove p;
        r.Fixed(&p.proposal, "gov_approve.proposal");
        tx.payload = p;
        break;
      }
      case PayloadKind::kLeaseAcquire: {
        LeaseAcquire p;
        if (ReadLeaseName(r, &p.name, "lease_acquire.name")) {
          r.U64(&p.ttl_blocks, "lease_acquire.ttl_blocks");
        }
        tx.payload = std::move(p);
        break;
      }
      case PayloadKind::kLeaseRenew: {
        LeaseRenew p;
        if (ReadLeaseName(r, &p.name, "lease_renew.name")) r.U64(&p.token, "lease_renew.token");
        tx.payload = std::move(p);
        break;
      }
      case PayloadKind::kLeaseRelease: {
        LeaseRelease p;
        if (ReadLeaseName(r, &p.name, "lease_release.name")) {
          r.U64(&p.token, "lease_release.token");
        }
        tx.payload = std::move(p);
        break;
      }
      default:
        r.Fail("payload kind", "unknown kind " + std::to_string(kind));
    }
  }
  r.Fixed(&tx.signature, "signature");
  if (Status s = r.Finish(); !s.ok()) return s;
  return tx;
}

crypto::Hash256 Transaction::Hash() const { return crypto::Sha256Of(Encode()); }

void Transaction::Sign(const crypto::KeyPair& key) {
  sender = key.public_key();
  signature = key.Sign(SigningBytes());
}

namespace {
std::atomic<uint64_t> g_signature_verifications{0};
}  // namespace

uint64_t SignatureVerifications() {
  return g_signature_verifications.load(std::memory_order_relaxed);
}

bool Transaction::VerifySignature() const {
  g_signature_verifications.fetch_add(1, std::memory_order_relaxed);
  return crypto::Verify(sender, SigningBytes(), signature);
}

}  // namespace cairn::ledger
