// Transactions: what an account asks the ledger to do, signed by that account.
// Value type; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "base/bytes.h"
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

using Payload = std::variant<Transfer, Put, RegisterAccount, SetRole>;

enum class PayloadKind : uint8_t { kTransfer = 1, kPut = 2, kRegisterAccount = 3, kSetRole = 4 };
PayloadKind KindOf(const Payload& p);
std::string_view PayloadKindName(PayloadKind k);  // "transfer", "put", "register", "set_role"
bool IsAdminOnly(const Payload& p);

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
