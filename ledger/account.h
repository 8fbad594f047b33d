// Account state: who may send, how much they hold, and which nonce they use next.
// An account is named by its Ed25519 public key; its "address" is that key in hex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ed25519.h"

namespace cairn::ledger {

using Address = crypto::PublicKey;

enum class Role : uint8_t { kMember = 1, kAdmin = 2 };

std::string_view RoleName(Role r);
std::optional<Role> ParseRole(std::string_view name);  // "member" | "admin"
bool IsValidRole(uint8_t v);

// Account := balance:u64 nonce:u64 role:u8
struct Account {
  uint64_t balance = 0;
  uint64_t nonce = 0;  // the nonce the account's next transaction must carry
  Role role = Role::kMember;

  Bytes Encode() const;
  static Result<Account> Decode(ByteView b);
  friend bool operator==(const Account&, const Account&) = default;
};

// Limits on records (Put payloads), chosen for notarising document hashes and small metadata.
inline constexpr size_t kMaxRecordKey = 128;
inline constexpr size_t kMaxRecordValue = 4096;

}  // namespace cairn::ledger
