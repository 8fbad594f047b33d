// The node layer's p2p messages (docs/P2P.md, "Node messages"): transaction gossip, chain
// status and block sync. Encoders and strict decoders; pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "p2p/message.h"

namespace cairn::node::wire {

inline constexpr p2p::MessageType kTxs = 0x10;        // gossip: TxBatch
inline constexpr p2p::MessageType kStatus = 0x30;     // Status
inline constexpr p2p::MessageType kGetBlocks = 0x31;  // GetBlocks
inline constexpr p2p::MessageType kBlocks = 0x32;     // Blocks (answer to GetBlocks)
inline constexpr p2p::MessageType kNewBlock = 0x33;   // NewBlock (a freshly committed block)
// Snapshots and state sync (docs/P2P.md "Snapshots and state sync").
inline constexpr p2p::MessageType kGetSnapshots = 0x34;
inline constexpr p2p::MessageType kSnapshots = 0x35;
inline constexpr p2p::MessageType kGetSnapshotPart = 0x36;
inline constexpr p2p::MessageType kSnapshotPart = 0x37;
inline constexpr p2p::MessageType kGetHeaders = 0x38;
inline constexpr p2p::MessageType kHeaders = 0x39;
// A validator set of a past height, for a BFT light client following set changes.
inline constexpr p2p::MessageType kGetValidators = 0x3a;
inline constexpr p2p::MessageType kValidators = 0x3b;
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

// GetSnapshots := (empty)
// Snapshots    := count:u8 (<= 16) (height:u64 manifest_hash:fixed[32] bits:u8 chunks:u32
//                 bytes:u64)^count
inline constexpr size_t kMaxSnapshotsOffered = 16;
struct SnapshotOffer {
  uint64_t height = 0;
  crypto::Hash256 manifest_hash;
  uint8_t bits = 0;
  uint32_t chunks = 0;  // slots with a chunk to fetch (count > 0)
  uint64_t bytes = 0;   // sum of the chunks' sizes
  bool operator==(const SnapshotOffer&) const = default;
};
::cairn::Status DecodeGetSnapshots(ByteView b);
Bytes EncodeSnapshots(const std::vector<SnapshotOffer>& offers);
Result<std::vector<SnapshotOffer>> DecodeSnapshots(ByteView b);

// GetSnapshotPart := height:u64 manifest_hash:fixed[32] part:u32
// SnapshotPart    := height:u64 manifest_hash:fixed[32] part:u32 found:u8 data:bytes
// part: a chunk index, kPartManifest, or kPartHeader (data := header:bytes certificate:bytes).
// found 0: the server no longer has it (data empty). found 2: busy, the asker is over its
// budget (data := retry_after_ms:u32, 1..60000): ask this server again after that long.
inline constexpr uint32_t kPartManifest = 0xffffffff;
inline constexpr uint32_t kPartHeader = 0xfffffffe;
inline constexpr uint32_t kMaxChunkIndex = (1u << 16) - 1;  // bits <= 16
// The largest part: a manifest of 2^16 slots (4.7 MB) or a chunk (<= 4 MiB); under the frame.
inline constexpr size_t kMaxSnapshotPartBytes = 5u << 20;
struct PartRef {
  uint64_t height = 0;
  crypto::Hash256 manifest_hash;
  uint32_t part = 0;
  bool operator==(const PartRef&) const = default;
  auto operator<=>(const PartRef&) const = default;
};
Bytes EncodeGetSnapshotPart(const PartRef& ref);
Result<PartRef> DecodeGetSnapshotPart(ByteView b);
struct SnapshotPartView {
  PartRef ref;
  bool found = false;
  bool busy = false;
  uint32_t retry_after_ms = 0;  // busy only
  ByteView data;
};
inline constexpr uint32_t kMaxRetryAfterMs = 60'000;
Bytes EncodeSnapshotPart(const PartRef& ref, bool found, ByteView data);
Bytes EncodeSnapshotBusy(const PartRef& ref, uint32_t retry_after_ms);
Result<SnapshotPartView> DecodeSnapshotPart(ByteView b);
// The data of part kPartHeader.
Bytes EncodeHeaderPart(ByteView header, ByteView certificate);
Result<CertifiedBlockView> DecodeHeaderPart(ByteView b);

// GetHeaders := from:u64 count:u32 (1..1000)     heights from, from-1, ... (descending)
// Headers    := count:u32 (header:bytes certificate:bytes)^count
inline constexpr uint32_t kMaxHeadersPerRequest = 1000;
inline constexpr size_t kMaxHeaderBytes = (64u << 10) + 1024;  // consensus_data <= 64 KiB
// A Headers answer stops growing here (fewer headers than asked; the asker continues below).
struct GetHeaders {
  uint64_t from = 0;
  uint32_t count = 0;
};
Bytes EncodeGetHeaders(const GetHeaders& g);
Result<GetHeaders> DecodeGetHeaders(ByteView b);
inline constexpr size_t kMaxHeadersBytes = 4u << 20;
// Each item's `block` field carries a header encoding.
Bytes EncodeHeaders(const std::vector<CertifiedBlock>& headers);
Result<std::vector<CertifiedBlockView>> DecodeHeaders(ByteView b);

// GetValidators := height:u64                    set(height), the validators by id
// Validators    := height:u64 found:u8 count:u32 (<= 1024) (id:u32 consensus_key:fixed[32])^count
//                  ids strictly increasing; found 0 (count 0): the server does not hold set(height)
//                  (a pruned or state-synced node keeps no set history below its oldest state)
inline constexpr uint32_t kMaxValidators = 1024;  // ledger::kMaxMembers
struct SetMember {
  uint32_t id = 0;
  crypto::PublicKey consensus_key;
  bool operator==(const SetMember&) const = default;
};
struct ValidatorsAnswer {
  uint64_t height = 0;
  bool found = false;
  std::vector<SetMember> set;
};
Bytes EncodeGetValidators(uint64_t height);
Result<uint64_t> DecodeGetValidators(ByteView b);
Bytes EncodeValidators(const ValidatorsAnswer& a);
Result<ValidatorsAnswer> DecodeValidators(ByteView b);

}  // namespace cairn::node::wire
