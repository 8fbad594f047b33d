// Grammar (docs/P2P.md, "Compact consensus messages"):
//   Block            := header:bytes proposer_sig:fixed[64] tx_count:u32 tx:bytes^tx_count
//   CompactBlock     := header:bytes[..70000] proposer_sig:fixed[64] tx_count:u32
//                       tx_hash:fixed[32]^tx_count
//   CompactConsensus := message:bytes[..1 MiB] block_count:u32 (1..1024) CompactBlock^block_count
//   GetBlockTxs      := block_hash:fixed[32] count:u32 (1..100000) index:u32^count
//   BlockTxs         := block_hash:fixed[32] count:u32 (index:u32 tx:bytes[..8192])^count
// Counts are checked against what the input can still hold before anything is allocated.
#include "node/compact_blocks.h"

#include <variant>

#include "base/codec.h"
#include "consensus/bft/messages.h"
#include "consensus/raft/messages.h"
#include "ledger/transaction.h"

namespace cairn::node::compact {
namespace {

constexpr size_t kSigBytes = 64;

// Reads header:bytes proposer_sig:fixed[64] tx_count:u32; the prefix ends at r.offset().
bool ReadPrefix(codec::Reader& r, uint32_t* tx_count) {
  ByteView header, sig;
  return r.VarView(&header, kMaxHeaderBytes, "header", 1) &&
         r.Raw(kSigBytes, &sig, "proposer_sig") && r.U32(tx_count, "tx_count");
}

}  // namespace

Result<BlockLayout> ParseBlock(ByteView block) {
  codec::Reader r(block, "block");
  uint32_t count = 0;
  BlockLayout out;
  if (ReadPrefix(r, &count)) {
    out.prefix = block.subspan(0, r.offset());
    if (count > kMaxBlockTxs || count > r.remaining() / 4) {
      r.Fail("tx_count", std::to_string(count) + " cannot fit");
    }
  }
  if (r.ok()) out.txs.reserve(count);
  for (uint32_t i = 0; r.ok() && i < count; ++i) {
    ByteView tx;
    if (r.VarView(&tx, ledger::kMaxTxSize, "tx")) out.txs.push_back(tx);
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return out;
}

crypto::Hash256 BlockHashOfPrefix(ByteView prefix) {
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len |= uint32_t{prefix[i]} << (8 * i);
  return crypto::Sha256Of(prefix.subspan(4, len));
}

Bytes EncodeCompact(const CompactMessage& m) {
  codec::Writer w;
  size_t total = 8 + m.skeleton.size();
  for (const CompactBlock& b : m.blocks) total += b.prefix.size() + 32 * b.hashes.size();
  w.Reserve(total);
  w.Var(m.skeleton).U32(static_cast<uint32_t>(m.blocks.size()));
  for (const CompactBlock& b : m.blocks) {
    w.Raw(b.prefix);
    for (const crypto::Hash256& h : b.hashes) w.Fixed(h);
  }
  return w.Take();
}

Result<CompactMessage> DecodeCompact(ByteView b) {
  codec::Reader r(b, "compact consensus");
  CompactMessage m;
  uint32_t blocks = 0;
  r.Var(&m.skeleton, kMaxSkeletonBytes, "message", 1);
  // The smallest CompactBlock: a 1-byte header with its length, a signature and a count.
  r.Count(&blocks, "block_count", 4 + 1 + kSigBytes + 4, kMaxBlocksPerMessage);
  if (r.ok() && blocks == 0) r.Fail("block_count", "is 0");
  for (uint32_t i = 0; r.ok() && i < blocks; ++i) {
    const size_t begin = r.offset();
    uint32_t count = 0;
    if (!ReadPrefix(r, &count)) break;
    CompactBlock cb;
    cb.prefix.assign(b.begin() + static_cast<std::ptrdiff_t>(begin),
                     b.begin() + static_cast<std::ptrdiff_t>(r.offset()));
    if (count > kMaxBlockTxs || count > r.remaining() / 32) {
      r.Fail("tx_count", std::to_string(count) + " hashes cannot fit");
      break;
    }
    cb.hashes.resize(count);
    for (uint32_t t = 0; t < count; ++t) r.Fixed(&cb.hashes[t], "tx_hash");
    m.blocks.push_back(std::move(cb));
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return m;
}

std::optional<SplitMessage> Split(genesis::ConsensusKind kind, ByteView engine_message) {
  SplitMessage out;
  // A body worth replacing holds at least one transaction; a parse failure (not a ledger
  // block) sends the message whole.
  auto worth = [](const Bytes& data) {
    auto layout = ParseBlock(data);
    return layout.ok() && !layout->txs.empty();
  };
  if (kind == genesis::ConsensusKind::kBft) {
    auto m = consensus::bft::DecodeMessage(engine_message);
    if (!m.ok()) return std::nullopt;
    consensus::Block* block = nullptr;
    if (auto* p = std::get_if<consensus::bft::Proposal>(&*m)) block = &p->block;
    if (auto* d = std::get_if<consensus::bft::Decision>(&*m)) block = &d->block;
    if (!block || !worth(block->data)) return std::nullopt;
    out.blocks.push_back(std::move(block->data));
    block->data.clear();
    out.skeleton = consensus::bft::EncodeMessage(*m);
    return out;
  }
  if (kind == genesis::ConsensusKind::kRaft) {
    auto m = consensus::raft::DecodeMessage(engine_message);
    if (!m.ok() || m->type != consensus::raft::MsgType::kApp) return std::nullopt;
    bool any = false;
    size_t blocks = 0;
    for (const consensus::raft::Entry& e : m->entries) {
      if (!e.is_block()) continue;
      ++blocks;
      any = any || worth(e.data);
      // Every block body goes compact (Join refills them all); one that is not a ledger
      // block sends the message whole.
      if (!ParseBlock(e.data).ok()) return std::nullopt;
    }
    if (!any || blocks > kMaxBlocksPerMessage) return std::nullopt;
    for (consensus::raft::Entry& e : m->entries) {
      if (!e.is_block()) continue;
      out.blocks.push_back(std::move(e.data));
      e.data.clear();
    }
    out.skeleton = consensus::raft::EncodeMessage(*m);
    return out;
  }
  return std::nullopt;
}

Result<Bytes> Join(genesis::ConsensusKind kind, ByteView skeleton, std::vector<Bytes> blocks) {
  auto mismatch = [&](size_t has) {
    return Status::InvalidArgument("compact consensus: the message holds " + std::to_string(has) +
                                   " blocks, " + std::to_string(blocks.size()) + " were sent");
  };
  if (kind == genesis::ConsensusKind::kBft) {
    auto m = consensus::bft::DecodeMessage(skeleton);
    if (!m.ok()) return m.status().Wrap("compact consensus");
    consensus::Block* block = nullptr;
    if (auto* p = std::get_if<consensus::bft::Proposal>(&*m)) block = &p->block;
    if (auto* d = std::get_if<consensus::bft::Decision>(&*m)) block = &d->block;
    if (!block) return mismatch(0);
    if (blocks.size() != 1 || !block->data.empty()) return mismatch(1);
    block->data = std::move(blocks[0]);
    return consensus::bft::EncodeMessage(*m);
  }
  if (kind == genesis::ConsensusKind::kRaft) {
    auto m = consensus::raft::DecodeMessage(skeleton);
    if (!m.ok()) return m.status().Wrap("compact consensus");
    size_t has = 0;
    for (const consensus::raft::Entry& e : m->entries) {
      if (e.is_block()) ++has;
      if (e.is_block() && !e.data.empty()) return mismatch(has);
    }
    if (m->type != consensus::raft::MsgType::kApp || has != blocks.size()) return mismatch(has);
    size_t i = 0;
    for (consensus::raft::Entry& e : m->entries) {
      if (e.is_block()) e.data = std::move(blocks[i++]);
    }
    return consensus::raft::EncodeMessage(*m);
  }
  return Status::InvalidArgument("compact consensus: this chain's engine sends none");
}

Bytes EncodeGetBlockTxs(const GetBlockTxs& g) {
  codec::Writer w;
  w.Reserve(36 + 4 * g.indices.size());
  w.Fixed(g.block).U32(static_cast<uint32_t>(g.indices.size()));
  for (uint32_t i : g.indices) w.U32(i);
  return w.Take();
}

Result<GetBlockTxs> DecodeGetBlockTxs(ByteView b) {
  codec::Reader r(b, "get block txs");
  GetBlockTxs g;
  uint32_t count = 0;
  r.Fixed(&g.block, "block_hash");
  if (r.Count(&count, "count", 4, kMaxFetchTxs) && count == 0) r.Fail("count", "is 0");
  if (r.ok()) g.indices.reserve(count);
  for (uint32_t i = 0; r.ok() && i < count; ++i) {
    uint32_t index = 0;
    if (!r.U32(&index, "index")) break;
    if (!g.indices.empty() && index <= g.indices.back()) {
      r.Fail("index", "indices must increase");
      break;
    }
    g.indices.push_back(index);
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return g;
}

Bytes EncodeBlockTxs(const crypto::Hash256& block,
                     const std::vector<std::pair<uint32_t, ByteView>>& txs) {
  codec::Writer w;
  size_t total = 36;
  for (const auto& t : txs) total += 8 + t.second.size();
  w.Reserve(total);
  w.Fixed(block).U32(static_cast<uint32_t>(txs.size()));
  for (const auto& [index, tx] : txs) w.U32(index).Var(tx);
  return w.Take();
}

Result<BlockTxs> DecodeBlockTxs(ByteView b) {
  codec::Reader r(b, "block txs");
  BlockTxs out;
  uint32_t count = 0;
  r.Fixed(&out.block, "block_hash");
  r.Count(&count, "count", 8, kMaxFetchTxs);
  if (r.ok()) out.txs.reserve(count);
  for (uint32_t i = 0; r.ok() && i < count; ++i) {
    uint32_t index = 0;
    ByteView tx;
    if (r.U32(&index, "index") && r.VarView(&tx, ledger::kMaxTxSize, "tx", 1)) {
      out.txs.emplace_back(index, tx);
    }
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return out;
}

}  // namespace cairn::node::compact
