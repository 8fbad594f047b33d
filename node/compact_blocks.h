// Compact blocks (docs/P2P.md, "Compact consensus messages"): the codec that carries an
// engine message's blocks as transaction hashes, and the fetch of missing transactions.
// Pure functions over bytes; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"
#include "genesis/genesis.h"

namespace cairn::node::compact {

// Bounds a decoder enforces before it allocates.
inline constexpr uint32_t kMaxBlocksPerMessage = 1024;  // Raft App entries holding blocks
inline constexpr uint32_t kMaxBlockTxs = 100000;        // ledger::kMaxBlockTxs
inline constexpr size_t kMaxHeaderBytes = 70000;        // a header's consensus_data is <= 64 KiB
inline constexpr size_t kMaxSkeletonBytes = 1u << 20;   // an engine message without block bodies
inline constexpr uint32_t kMaxFetchTxs = 100000;

// A block body split at its transaction list, without decoding a transaction: `prefix` is
// header:bytes proposer_sig:fixed[64] tx_count:u32 exactly as in the block, `txs` views of
// each transaction's bytes.
struct BlockLayout {
  ByteView prefix;
  std::vector<ByteView> txs;
};
Result<BlockLayout> ParseBlock(ByteView block);
// The block hash: SHA-256 of the header bytes at the start of a parsed prefix.
crypto::Hash256 BlockHashOfPrefix(ByteView prefix);

// CompactBlock := header:bytes[..70000] proposer_sig:fixed[64] tx_count:u32
//                 tx_hash:fixed[32]^tx_count
// (the block's own encoding with each transaction replaced by its hash)
struct CompactBlock {
  Bytes prefix;
  std::vector<crypto::Hash256> hashes;
};
// CompactConsensus := message:bytes[..1 MiB] block_count:u32 (1..1024) CompactBlock^block_count
// `message` is the engine message with each block's data emptied, blocks in encoding order.
struct CompactMessage {
  Bytes skeleton;
  std::vector<CompactBlock> blocks;
};
Bytes EncodeCompact(const CompactMessage& m);
Result<CompactMessage> DecodeCompact(ByteView b);

// An engine message taken apart: the skeleton (block data emptied) and the block bodies, in
// the order JoinMessage puts them back. nullopt: the message carries no block with a
// transaction, or is not one this codec knows; it goes whole.
struct SplitMessage {
  Bytes skeleton;
  std::vector<Bytes> blocks;
};
std::optional<SplitMessage> Split(genesis::ConsensusKind kind, ByteView engine_message);
// The engine message with `blocks` put back, re-encoded by the engine's own codec. An error
// when the skeleton does not decode or has another number of blocks.
Result<Bytes> Join(genesis::ConsensusKind kind, ByteView skeleton, std::vector<Bytes> blocks);

// GetBlockTxs := block_hash:fixed[32] count:u32 (1..100000) index:u32^count (increasing)
struct GetBlockTxs {
  crypto::Hash256 block;
  std::vector<uint32_t> indices;
};
Bytes EncodeGetBlockTxs(const GetBlockTxs& g);
Result<GetBlockTxs> DecodeGetBlockTxs(ByteView b);

// BlockTxs := block_hash:fixed[32] count:u32 (index:u32 tx:bytes[..8192])^count
// count 0: the sender no longer holds the block.
struct BlockTxs {
  crypto::Hash256 block;
  std::vector<std::pair<uint32_t, ByteView>> txs;
};
Bytes EncodeBlockTxs(const crypto::Hash256& block,
                     const std::vector<std::pair<uint32_t, ByteView>>& txs);
Result<BlockTxs> DecodeBlockTxs(ByteView b);

}  // namespace cairn::node::compact
