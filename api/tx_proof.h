// Transaction inclusion proofs as getTxProof serves them (docs/PROTOCOL.md section 6.1):
// the encoding of an RFC 6962 / 9162 audit path, and the whole check a client runs against a
// header it trusts. Pure functions over bytes; thread-safe.
#pragma once

#include <cstdint>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "ledger/block.h"

namespace cairn::api {

// A path holds one hash per tree level: 17 for the largest block (100,000 transactions), so
// a count that fits a u8 bounds the decoder's allocation before it reads a hash.
inline constexpr size_t kMaxTxProofPath = 64;

// TxProof := index:u32 tree_size:u32 n:u8 path:fixed[32]^n
// REQUIRES: proof.tree_size <= 2^32 - 1 and proof.path.size() <= kMaxTxProofPath (true of
// every proof of a valid block).
Bytes EncodeTxProof(const crypto::MerkleProof& proof);
// Refuses truncation, trailing bytes, n above kMaxTxProofPath and index >= tree_size.
Result<crypto::MerkleProof> DecodeTxProof(ByteView b);

// What a verified proof establishes: the transaction `tx_hash` is at `index` of the block
// whose header was given.
struct TxInclusion {
  uint64_t height = 0;
  uint32_t index = 0;
  crypto::Hash256 block_hash;
};

// The check of docs/PROTOCOL.md section 6.1, in its order: the header decodes, the proof
// decodes, its tree_size is the header's tx_count, and the audit path leads from `tx_hash`
// to the header's tx_root. Whether the header itself is final (its certificate, or the hash
// chain to a trusted header) is the caller's separate check.
Result<TxInclusion> VerifyTxProof(ByteView header, const crypto::Hash256& tx_hash, ByteView proof);

}  // namespace cairn::api
