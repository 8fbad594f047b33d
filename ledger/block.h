// Blocks: a signed header that commits to an ordered list of transactions and to the
// state after them. Value types; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "ledger/transaction.h"

namespace cairn::ledger {

inline constexpr size_t kMaxConsensusData = 65536;
inline constexpr uint32_t kMaxBlockTxs = 100000;

// BlockHeader := version:u8(=2) chain_id:bytes[1..64] height:u64 prev_hash:fixed[32]
//                timestamp_ms:u64 proposer:fixed[32] tx_root:fixed[32] state_root:fixed[32]
//                validators_hash:fixed[32] next_validators_hash:fixed[32]
//                tx_count:u32 consensus_data:bytes[0..65536]
struct BlockHeader {
  static constexpr uint8_t kVersion = 2;  // PROTOCOL v2: the state tree's root

  std::string chain_id;
  uint64_t height = 0;
  crypto::Hash256 prev_hash;   // zero for the genesis block
  uint64_t timestamp_ms = 0;   // proposer's clock, unix ms; never read by execution
  crypto::PublicKey proposer;  // zero for the genesis block
  crypto::Hash256 tx_root;     // crypto::MerkleRoot of the transaction hashes
  crypto::Hash256 state_root;  // the state tree's root after executing this block
  // SetHash of the validator set of this height and of the next (docs/PROTOCOL.md §4):
  // fixed at genesis until membership changes exist, so both equal the genesis set's.
  crypto::Hash256 validators_hash;
  crypto::Hash256 next_validators_hash;
  uint32_t tx_count = 0;
  Bytes consensus_data;  // engine-defined (e.g. Raft term); the genesis block: config hash

  Bytes Encode() const;
  static Result<BlockHeader> Decode(ByteView b);
  crypto::Hash256 Hash() const;  // the block hash: SHA-256 of Encode()
  friend bool operator==(const BlockHeader&, const BlockHeader&) = default;
};

// Block := header:bytes proposer_sig:fixed[64] tx_count:u32 tx:bytes[..8192] x tx_count
// where the second tx_count must equal header.tx_count.
struct Block {
  BlockHeader header;
  crypto::Signature proposer_sig;  // over BlockSigningBytes(hash); zero for genesis
  std::vector<Transaction> txs;

  Bytes Encode() const;
  static Result<Block> Decode(ByteView b);
  crypto::Hash256 Hash() const { return header.Hash(); }

  // Sets header.proposer and proposer_sig. REQUIRES: header complete.
  void Sign(const crypto::KeyPair& key);
  bool VerifyProposerSignature() const;
  // Merkle root over txs' hashes (what header.tx_root must equal).
  crypto::Hash256 ComputeTxRoot() const;

  friend bool operator==(const Block&, const Block&) = default;
};

// "CAIRN/block/v1" 0x00 || block hash.
Bytes BlockSigningBytes(const crypto::Hash256& block_hash);

}  // namespace cairn::ledger
