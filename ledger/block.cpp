// Grammar (integers little endian; bytes := len:u32 data[len]):
//   BlockHeader := version:u8(=2) chain_id:bytes[1..64] height:u64 prev_hash:fixed[32]
//                  timestamp_ms:u64 proposer:fixed[32] tx_root:fixed[32] state_root:fixed[32]
//                  validators_hash:fixed[32] next_validators_hash:fixed[32] tx_count:u32
//                  consensus_data:bytes[0..65536]
//   Block       := header:bytes proposer_sig:fixed[64] tx_count:u32 txs:bytes[tx_count]
//   BlockHash   := SHA-256(BlockHeader)
//   ProposerSig := Ed25519(proposer, "CAIRN/block/v1" 0x00 || BlockHash)
#include "ledger/block.h"

#include "base/codec.h"
#include "crypto/merkle.h"

namespace cairn::ledger {

using codec::Reader;
using codec::Writer;
namespace {
constexpr std::string_view kBlockDomain("CAIRN/block/v1\0", 15);
constexpr size_t kMaxHeaderSize =
    1 + 4 + kMaxChainId + 8 + 32 + 8 + 32 + 32 + 32 + 32 + 32 + 4 + 4 + kMaxConsensusData;
}  // namespace

Bytes BlockHeader::Encode() const {
  Writer w;
  w.Reserve(200 + consensus_data.size());
  w.U8(kVersion).Str(chain_id).U64(height).Fixed(prev_hash).U64(timestamp_ms).Fixed(proposer);
  w.Fixed(tx_root).Fixed(state_root).Fixed(validators_hash).Fixed(next_validators_hash);
  w.U32(tx_count).Var(consensus_data);
  return w.Take();
}

Result<BlockHeader> BlockHeader::Decode(ByteView b) {
  Reader r(b, "block header");
  BlockHeader h;
  uint8_t version = 0;
  if (r.U8(&version, "version") && version != kVersion) {
    r.Fail("version", "unsupported version " + std::to_string(version) + " (this build reads " +
                          std::to_string(kVersion) + ", PROTOCOL v2)");
  }
  r.Str(&h.chain_id, kMaxChainId, "chain_id", 1);
  r.U64(&h.height, "height");
  r.Fixed(&h.prev_hash, "prev_hash");
  r.U64(&h.timestamp_ms, "timestamp_ms");
  r.Fixed(&h.proposer, "proposer");
  r.Fixed(&h.tx_root, "tx_root");
  r.Fixed(&h.state_root, "state_root");
  r.Fixed(&h.validators_hash, "validators_hash");
  r.Fixed(&h.next_validators_hash, "next_validators_hash");
  if (r.U32(&h.tx_count, "tx_count") && h.tx_count > kMaxBlockTxs) {
    r.Fail("tx_count", std::to_string(h.tx_count) + " exceeds " + std::to_string(kMaxBlockTxs));
  }
  r.Var(&h.consensus_data, kMaxConsensusData, "consensus_data");
  if (Status s = r.Finish(); !s.ok()) return s;
  return h;
}

crypto::Hash256 BlockHeader::Hash() const { return crypto::Sha256Of(Encode()); }

Bytes Block::Encode() const {
  Writer w;
  w.Reserve(300 + txs.size() * 200);
  w.Var(header.Encode()).Fixed(proposer_sig).U32(static_cast<uint32_t>(txs.size()));
  for (const Transaction& tx : txs) w.Var(tx.Encode());
  return w.Take();
}

Result<Block> Block::Decode(ByteView b) {
  Reader r(b, "block");
  Block block;
  ByteView header_bytes;
  if (r.VarView(&header_bytes, kMaxHeaderSize, "header")) {
    auto h = BlockHeader::Decode(header_bytes);
    if (!h.ok()) return h.status().Wrap("block");
    block.header = std::move(h.value());
  }
  r.Fixed(&block.proposer_sig, "proposer_sig");
  uint32_t count = 0;
  if (r.U32(&count, "tx_count") && count != block.header.tx_count) {
    r.Fail("tx_count", std::to_string(count) + " differs from header tx_count " +
                           std::to_string(block.header.tx_count));
  }
  // Reserve only what the remaining bytes could hold: the count comes from the input.
  if (r.ok()) block.txs.reserve(std::min<size_t>(count, r.remaining() / 148));
  for (uint32_t i = 0; r.ok() && i < count; ++i) {
    ByteView tx_bytes;
    size_t at = r.offset();
    if (!r.VarView(&tx_bytes, kMaxTxSize, "tx")) break;
    auto tx = Transaction::Decode(tx_bytes);
    if (!tx.ok()) {
      return Status::Error("block: tx " + std::to_string(i) + " at offset " + std::to_string(at) +
                           ": " + tx.error());
    }
    block.txs.push_back(std::move(tx.value()));
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return block;
}

void Block::Sign(const crypto::KeyPair& key) {
  header.proposer = key.public_key();
  proposer_sig = key.Sign(BlockSigningBytes(header.Hash()));
}

bool Block::VerifyProposerSignature() const {
  return crypto::Verify(header.proposer, BlockSigningBytes(header.Hash()), proposer_sig);
}

crypto::Hash256 Block::ComputeTxRoot() const {
  std::vector<crypto::Hash256> hashes;
  hashes.reserve(txs.size());
  for (const Transaction& tx : txs) hashes.push_back(tx.Hash());
  return crypto::MerkleRoot(hashes);
}

Bytes BlockSigningBytes(const crypto::Hash256& block_hash) {
  Writer w;
  w.Raw(AsBytes(kBlockDomain)).Fixed(block_hash);
  return w.Take();
}

}  // namespace cairn::ledger
