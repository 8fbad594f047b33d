// The proof file of `cairn prove` and `cairn verify-proof` ("cairn-proof/1", docs/CLI.md "Proof
// files"): a statement about a chain with everything needed to check it offline against the
// chain's genesis file. Parsing bounds the file and every array before it builds anything.
// Value types and pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "genesis/genesis.h"

namespace cairn::cli {

inline constexpr const char* kProofFormat = "cairn-proof/1";
// The largest proof file read: a solo or Raft chain's file carries every header from genesis
// (about 510 bytes of JSON each), so this holds a chain of about 130,000 blocks.
inline constexpr size_t kMaxProofFileBytes = 64 << 20;
// Checked against the array's length before any element is decoded.
inline constexpr size_t kMaxProofHeaders = 200'000;
// Hex lengths: the longest encoded header (docs/PROTOCOL.md section 5), the longest
// certificate (1024 signers), the longest TxProof (64 hashes).
inline constexpr size_t kMaxHeaderHex = 2 * 65'821;
inline constexpr size_t kMaxCertificateHex = 2 * (1 + 8 + 4 + 32 + 4 + 1024 * (4 + 64));
inline constexpr size_t kMaxTxProofHex = 2 * (9 + 64 * 32);

// What the file claims: a transaction in a block, or an account's or a record's value (or
// absence) after a block (a state proof against the header's state_root, PROTOCOL §7.1).
enum class StatementKind { kTx, kAccount, kRecord };

// The longest StateProof (ledger::StateProof::kMaxEncodedSize), an Account encoding (17
// bytes) or a record value (ledger::kMaxRecordValue), in hex.
inline constexpr size_t kMaxStateProofHex = 2 * (4 + 32 + 64 + 256 * 32);
inline constexpr size_t kMaxStateValueHex = 2 * 4096;

struct StateStatement {
  crypto::PublicKey address;
  Bytes key;                   // kRecord: the record key (1..128 bytes)
  std::optional<Bytes> value;  // the Account encoding or the record's bytes; nullopt: absent
};

struct TxStatement {
  crypto::Hash256 tx_hash;
  uint32_t index = 0;
};

// One header of the chain that links the proven header to genesis (solo and Raft).
struct LinkedHeader {
  Bytes header;  // encoded BlockHeader
  crypto::Signature proposer_sig;
};

struct ProofFile {
  std::string chain_id;
  crypto::Hash256 genesis_hash;
  genesis::ConsensusKind consensus = genesis::ConsensusKind::kSolo;
  StatementKind kind = StatementKind::kTx;
  TxStatement tx;        // kind kTx
  StateStatement state;  // kinds kAccount, kRecord
  uint64_t height = 0;
  Bytes header;                                   // the encoded header the proof is against
  std::optional<Bytes> certificate;               // BFT: its commit certificate
  std::optional<crypto::Signature> proposer_sig;  // solo, Raft: its proposer signature
  // Solo, Raft: the headers of heights [headers_from, height), each signed. headers_from is 1
  // for a self-contained file; above 1, the verifier must already trust header headers_from - 1
  // (a light store).
  uint64_t headers_from = 1;
  std::vector<LinkedHeader> headers;
  // kind kTx: TxProof (docs/PROTOCOL.md section 6.1); kAccount, kRecord: StateProof (7.1)
  Bytes proof;

  nlohmann::json ToJson() const;
  // Every field's type and bound, in file order; errors name the field ("headers[12].header:
  // not hex"). Does not check any hash or signature: VerifyProof does.
  static Result<ProofFile> FromJson(const nlohmann::json& j);
};

std::string_view StatementKindName(StatementKind k);

// Reads `path` (a regular file of at most kMaxProofFileBytes), parses the JSON, then FromJson.
Result<ProofFile> ReadProofFile(const std::string& path);
// Writes the file whole (a temporary beside it, then rename), so a reader never sees half.
Status WriteProofFile(const std::string& path, const ProofFile& file);

}  // namespace cairn::cli
