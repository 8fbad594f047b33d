// Grammar (all integers little endian); the record of lease NAME is the system record
// SystemKey := 0x03 "lease/" NAME:
//   Lease := holder:fixed[32] token:u64 expires_at:u64 ttl_blocks:u64
// holder = 32 zero bytes: released. Held at height h iff holder != 0 and h < expires_at.
#include "ledger/lease.h"

#include "base/codec.h"

namespace cairn::ledger {

using codec::Reader;
using codec::Writer;

namespace {

bool IsNameByte(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/' || c == ':';
}

TxCode Acquire(StateOverlay& state, const Transaction& tx, const LeaseAcquire& a, uint64_t height) {
  if (a.ttl_blocks == 0 || a.ttl_blocks > kMaxLeaseTtl) return TxCode::kBadTtl;
  std::optional<Lease> cur = ReadLease(state, a.name);
  // The holder itself is refused too: a new token means a new acquisition, so a holder that
  // lost track of its token reads it (getLease) and renews instead.
  if (cur && cur->HeldAt(height)) return TxCode::kLeaseHeld;
  Lease next;
  next.holder = tx.sender;
  // 2^64 acquisitions would take as many transactions: the counter cannot wrap.
  next.token = cur ? cur->token + 1 : 1;
  next.expires_at = height + a.ttl_blocks;
  next.ttl_blocks = a.ttl_blocks;
  state.PutSystem(LeaseRecordName(a.name), next.Encode());
  return TxCode::kOk;
}

// The checks renew and release share, in PROTOCOL's order; the current record when they pass.
TxCode CheckHolder(const std::optional<Lease>& cur, const Transaction& tx, uint64_t token,
                   uint64_t height) {
  if (!cur || cur->holder != tx.sender) return TxCode::kNotHolder;
  if (token != cur->token) return TxCode::kWrongToken;
  if (height >= cur->expires_at) return TxCode::kLeaseExpired;
  return TxCode::kOk;
}

TxCode Renew(StateOverlay& state, const Transaction& tx, const LeaseRenew& r, uint64_t height) {
  std::optional<Lease> cur = ReadLease(state, r.name);
  if (TxCode c = CheckHolder(cur, tx, r.token, height); c != TxCode::kOk) return c;
  cur->expires_at = height + cur->ttl_blocks;
  state.PutSystem(LeaseRecordName(r.name), cur->Encode());
  return TxCode::kOk;
}

TxCode Release(StateOverlay& state, const Transaction& tx, const LeaseRelease& r, uint64_t height) {
  std::optional<Lease> cur = ReadLease(state, r.name);
  if (TxCode c = CheckHolder(cur, tx, r.token, height); c != TxCode::kOk) return c;
  // The record stays (its token is the counter); expires_at records when it was freed.
  cur->holder = crypto::PublicKey();
  cur->expires_at = height;
  state.PutSystem(LeaseRecordName(r.name), cur->Encode());
  return TxCode::kOk;
}

}  // namespace

bool IsValidLeaseName(std::string_view name) {
  if (name.empty() || name.size() > kMaxLeaseName) return false;
  for (char c : name) {
    if (!IsNameByte(c)) return false;
  }
  return true;
}

std::string LeaseRecordName(std::string_view name) {
  std::string out(kLeasePrefix);
  out.append(name);
  return out;
}

Bytes Lease::Encode() const {
  Writer w;
  w.Reserve(32 + 8 + 8 + 8);
  w.Fixed(holder).U64(token).U64(expires_at).U64(ttl_blocks);
  return w.Take();
}

Result<Lease> Lease::Decode(ByteView b) {
  Reader r(b, "lease");
  Lease l;
  r.Fixed(&l.holder, "holder");
  r.U64(&l.token, "token");
  r.U64(&l.expires_at, "expires_at");
  r.U64(&l.ttl_blocks, "ttl_blocks");
  if (Status s = r.Finish(); !s.ok()) return s;
  return l;
}

std::optional<Lease> ReadLease(const StateReader& state, std::string_view name) {
  auto raw = state.GetSystem(LeaseRecordName(name));
  if (!raw) return std::nullopt;
  auto l = Lease::Decode(*raw);
  if (!l.ok()) return std::nullopt;
  return l.value();
}

TxCode ExecuteLease(StateOverlay& state, const Transaction& tx, uint64_t height) {
  if (auto* a = std::get_if<LeaseAcquire>(&tx.payload)) return Acquire(state, tx, *a, height);
  if (auto* r = std::get_if<LeaseRenew>(&tx.payload)) return Renew(state, tx, *r, height);
  return Release(state, tx, std::get<LeaseRelease>(tx.payload), height);
}

}  // namespace cairn::ledger
