#include "ledger/account.h"

#include "base/codec.h"

namespace cairn::ledger {

using codec::Reader;
using codec::Writer;

std::string_view RoleName(Role r) { return r == Role::kAdmin ? "admin" : "member"; }

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "member") return Role::kMember;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

bool IsValidRole(uint8_t v) { return v == 1 || v == 2; }

Bytes Account::Encode() const {
  Writer w;
  w.U64(balance).U64(nonce).U8(static_cast<uint8_t>(role));
  return w.Take();
}

Result<Account> Account::Decode(ByteView b) {
  Reader r(b, "account");
  Account a;
  uint8_t role = 0;
  r.U64(&a.balance, "balance");
  r.U64(&a.nonce, "nonce");
  if (r.U8(&role, "role") && !IsValidRole(role)) {
    r.Fail("role", "value " + std::to_string(role) + " is not a role");
  }
  a.role = static_cast<Role>(role);
  if (Status s = r.Finish(); !s.ok()) return s;
  return a;
}

}  // namespace cairn::ledger
