// Leases with fencing tokens (docs/LEASES.md, docs/PROTOCOL.md §3 and §7): exclusive,
// expiring ownership of a named resource, kept as system records "lease/<name>", and the
// lease_acquire / lease_renew / lease_release rules. Expiry is by block height only.
// Pure functions of their inputs (no clock, no I/O); value types are thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "ledger/receipt.h"
#include "ledger/state.h"
#include "ledger/transaction.h"

namespace cairn::ledger {

// Rule constants; changing any is a protocol change.
inline constexpr uint64_t kMaxLeaseTtl = 100000;  // ttl_blocks in [1, kMaxLeaseTtl]
inline constexpr std::string_view kLeasePrefix = "lease/";

// A lease name: 1..kMaxLeaseName bytes (transaction.h), each one of A-Z a-z 0-9 . _ - / :
// (so a name prints as itself in JSON, logs and shells, and never needs escaping).
bool IsValidLeaseName(std::string_view name);
// The system record name of a lease: "lease/" followed by its name (SystemKey := 0x03 name).
std::string LeaseRecordName(std::string_view name);

// Lease := holder:fixed[32] token:u64 expires_at:u64 ttl_blocks:u64
// The record of a name ever acquired; it is never deleted, so `token` (the fencing token of
// the latest acquisition) only grows, across every holder. `holder` is 32 zero bytes once
// released: a key no transaction can be signed by (a small-order point, refused by every
// signature check). The lease is held at height h while holder is set and h < expires_at.
struct Lease {
  crypto::PublicKey holder;
  uint64_t token = 0;
  uint64_t expires_at = 0;
  uint64_t ttl_blocks = 0;  // of the acquisition; every renewal extends by it

  bool released() const { return holder.IsZero(); }
  // Whether the holder holds it in block `height` (a tx of block `height` sees it held).
  bool HeldAt(uint64_t height) const { return !released() && height < expires_at; }

  Bytes Encode() const;
  static Result<Lease> Decode(ByteView b);
  friend bool operator==(const Lease&, const Lease&) = default;
};

// The lease record of `name`, nullopt when the name was never acquired. A record that does
// not decode is read as absent (state is written only by this code, so that is corruption the
// state root catches).
std::optional<Lease> ReadLease(const StateReader& state, std::string_view name);

// Executes a lease_acquire, lease_renew or lease_release of block `height` (REQUIRES: the
// payload is one of them; the caller bumps the nonce). Returns kOk or the first failure of
// PROTOCOL §3's lease table; writes the lease record on success only.
TxCode ExecuteLease(StateOverlay& state, const Transaction& tx, uint64_t height);

}  // namespace cairn::ledger
