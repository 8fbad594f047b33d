// The node layer's p2p messages (docs/P2P.md, "Node messages"): transaction gossip, chain
// status and block sync. Encoders and strict decoders; pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"
#include "p2p/message.h"

namespace cairn::node::wire {

inline constexpr p2p::MessageType kTxs = 0x10;        // gossip: TxBatch
inline constexpr p2p::MessageType kStatus = 0x30;     // Status
inline constexpr p2p::MessageType kGetBlocks = 0x31;  // GetBlocks
inline constexpr p2p::MessageType kBlocks = 0x32;     // Blocks (answer to GetBlocks)
inline constexpr p2p::MessageType kNewBlock = 0x33;   // NewBlock (a freshly committed block)
inline constexpr p2p::MessageType kConsensus = 0x50;  // an engine's own message bytes
// An engine message whose blocks travel as transaction hashes, and the fetch of what the
// receiver lacks (node/compact_blocks.h).
inline constexpr p2p::MessageType kCompactConsensus = 0x51;
inline constexpr p2p::MessageType kGetBlockTxs = 0x52;
inline constexpr p2p::MessageType kBlockTxs = 0x53;

inline constexpr uint32_t kMaxTxsPerBatch = 4096;
inline constexpr uint32_t kMaxBlocksPerRequest = 256;
inline constexpr size_t kMaxBlocksBytes = 4u << 20;  // a Blocks answer stops growing here
inline constexpr size_t kMaxBlockBytes = 6u << 20;

// TxBatch   := count:u32 (tx:bytes[..8192])^count
Bytes EncodeTxs(const std::vector<Bytes>& txs);
Result<std::vector<ByteView>> DecodeTxs(ByteView b);

// Status    := height:u64 head_hash:fixed[32]
struct Status {
  uint64_t height = 0;
  crypto::Hash256 head;
};
Bytes EncodeStatus(const Status& s);
Result<Status> DecodeStatus(ByteView b);

// GetBlocks := from:u64 count:u32 (1..256)
struct GetBlocks {
  uint64_t from = 0;
  uint32_t count = 0;
};
Bytes EncodeGetBlocks(const GetBlocks& g);
Result<GetBlocks> DecodeGetBlocks(ByteView b);

// Blocks    := count:u32 (block:bytes certificate:bytes)^count
//              consecutive heights, possibly fewer than asked; certificate is the block's
//              proof of finality (BFT commit certificate), empty on solo and Raft chains
// NewBlock  := the same encoding with one block
inline constexpr size_t kMaxCertificateBytes = 256u << 10;
struct CertifiedBlock {
  Bytes block;
  Bytes certificate;
};
struct CertifiedBlockView {
  ByteView block;
  ByteView certificate;
};
Bytes EncodeBlocks(const std::vector<CertifiedBlock>& blocks);
Result<std::vector<CertifiedBlockView>> DecodeBlocks(ByteView b);

}  // namespace cairn::node::wire
