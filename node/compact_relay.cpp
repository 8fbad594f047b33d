#include "node/compact_relay.h"

#include <algorithm>

#include "ledger/transaction.h"
#include "node/wire.h"

namespace cairn::node {

CompactRelay::CompactRelay(genesis::ConsensusKind kind, TxLookup lookup, const Clock& clock,
                           Options options)
    : kind_(kind), lookup_(std::move(lookup)), clock_(clock), o_(options) {}

CompactRelay::Stats CompactRelay::stats() const {
  auto g = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return Stats{g(s_.compact_sent),  g(s_.whole_bytes), g(s_.compact_bytes), g(s_.compact_received),
               g(s_.rebuilt_local), g(s_.fetches),     g(s_.fetched_txs),   g(s_.completed),
               g(s_.dropped),       g(s_.bad_answers), g(s_.served)};
}

const CompactRelay::RecentBlock* CompactRelay::Remember(const crypto::Hash256& hash, Bytes data) {
  if (auto it = recent_.find(hash); it != recent_.end()) return &it->second;
  auto layout = compact::ParseBlock(data);
  if (!layout.ok()) return nullptr;
  RecentBlock rb;
  rb.txs.reserve(layout->txs.size());
  rb.hashes.reserve(layout->txs.size());
  for (ByteView tx : layout->txs) {
    rb.txs.emplace_back(static_cast<uint32_t>(tx.data() - data.data()),
                        static_cast<uint32_t>(tx.size()));
    rb.hashes.push_back(crypto::Sha256Of(tx));
  }
  // Views into `data` stay valid: moving a vector keeps its buffer.
  rb.data = std::move(data);
  const size_t size = rb.data.size();
  while (!recent_order_.empty() &&
         (recent_order_.size() >= o_.recent_blocks || recent_bytes_ + size > o_.recent_bytes)) {
    auto old = recent_.find(recent_order_.front());
    recent_order_.pop_front();
    if (old == recent_.end()) continue;
    for (const crypto::Hash256& h : old->second.hashes) {
      auto t = recent_txs_.find(h);
      if (t != recent_txs_.end() && t->second.first == old->first) recent_txs_.erase(t);
    }
    recent_bytes_ -= old->second.data.size();
    recent_.erase(old);
  }
  auto [it, inserted] = recent_.emplace(hash, std::move(rb));
  recent_order_.push_back(hash);
  recent_bytes_ += size;
  for (uint32_t i = 0; i < it->second.hashes.size(); ++i) {
    recent_txs_[it->second.hashes[i]] = {hash, i};
  }
  return &it->second;
}

void CompactRelay::Find(std::span<const crypto::Hash256> hashes, std::vector<Bytes>& out) const {
  bool missing = false;
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (!out[i].empty()) continue;
    if (auto t = recent_txs_.find(hashes[i]); t != recent_txs_.end()) {
      const RecentBlock& rb = recent_.at(t->second.first);
      const auto [offset, size] = rb.txs[t->second.second];
      out[i].assign(rb.data.begin() + offset, rb.data.begin() + offset + size);
    } else {
      missing = true;
    }
  }
  if (missing) lookup_(hashes, out);
}

Status CompactRelay::Send(Network& net, const p2p::NodeId& to, Bytes engine_message) {
  if (!o_.enabled) return net.Send(to, wire::kConsensus, std::move(engine_message));
  std::optional<compact::SplitMessage> split = compact::Split(kind_, engine_message);
  if (!split) return net.Send(to, wire::kConsensus, std::move(engine_message));
  compact::CompactMessage m;
  m.skeleton = std::move(split->skeleton);
  for (Bytes& data : split->blocks) {
    auto layout = compact::ParseBlock(data);
    if (!layout.ok()) return net.Send(to, wire::kConsensus, std::move(engine_message));
    const ByteView prefix = layout->prefix;
    compact::CompactBlock cb;
    cb.prefix.assign(prefix.begin(), prefix.end());
    const RecentBlock* rb = Remember(compact::BlockHashOfPrefix(prefix), std::move(data));
    if (!rb) return net.Send(to, wire::kConsensus, std::move(engine_message));
    cb.hashes = rb->hashes;
    m.blocks.push_back(std::move(cb));
  }
  Bytes out = compact::EncodeCompact(m);
  Count(s_.compact_sent);
  Count(s_.whole_bytes, engine_message.size());
  Count(s_.compact_bytes, out.size());
  return net.Send(to, wire::kCompactConsensus, std::move(out));
}

bool CompactRelay::Fill(Parked& p) const {
  p.missing = 0;
  for (PendingBlock& b : p.blocks) {
    Find(b.hashes, b.txs);
    b.missing = static_cast<size_t>(
        std::count_if(b.txs.begin(), b.txs.end(), [](const Bytes& tx) { return tx.empty(); }));
    p.missing += b.missing;
  }
  return p.missing == 0;
}

std::optional<Bytes> CompactRelay::Finish(Parked p) {
  std::vector<Bytes> blocks;
  blocks.reserve(p.blocks.size());
  for (PendingBlock& b : p.blocks) {
    size_t size = b.prefix.size();
    for (const Bytes& tx : b.txs) size += 4 + tx.size();
    Bytes data;
    data.reserve(size);
    data.insert(data.end(), b.prefix.begin(), b.prefix.end());
    for (const Bytes& tx : b.txs) {
      const uint32_t n = static_cast<uint32_t>(tx.size());
      for (int k = 0; k < 4; ++k) data.push_back(static_cast<uint8_t>(n >> (8 * k)));
      data.insert(data.end(), tx.begin(), tx.end());
    }
    // A retransmission, or a Decision after the Proposal, then rebuilds from here even when
    // the mempool dropped the transactions at commit.
    Remember(b.hash, data);
    blocks.push_back(std::move(data));
  }
  auto joined = compact::Join(kind_, p.skeleton, std::move(blocks));
  if (!joined.ok()) return std::nullopt;  // checked on arrival; cannot happen
  return std::move(joined.value());
}

std::optional<Bytes> CompactRelay::OnCompact(Network& net, const p2p::NodeId& from,
                                             ByteView payload) {
  Count(s_.compact_received);
  auto m = compact::DecodeCompact(payload);
  if (!m.ok()) {
    net.Disconnect(from, m.status().message());
    return std::nullopt;
  }
  // The skeleton must hold as many emptied blocks as were sent, before any lookup.
  if (auto check = compact::Join(kind_, m->skeleton, std::vector<Bytes>(m->blocks.size()));
      !check.ok()) {
    net.Disconnect(from, check.status().message());
    return std::nullopt;
  }
  Parked p;
  p.from = from;
  p.skeleton = std::move(m->skeleton);
  for (compact::CompactBlock& cb : m->blocks) {
    PendingBlock b;
    b.hash = compact::BlockHashOfPrefix(cb.prefix);
    b.prefix = std::move(cb.prefix);
    b.hashes = std::move(cb.hashes);
    b.txs.resize(b.hashes.size());
    p.blocks.push_back(std::move(b));
  }
  const bool behind = Holds(from);
  if (Fill(p)) {
    Count(s_.rebuilt_local);
    if (!behind) return Finish(std::move(p));
    // Raft needs a leader's appends in order: this one waits behind the parked ones.
    p.ready = Finish(std::move(p));
    if (!p.ready) return std::nullopt;
    p.bytes = p.ready->size();
    Admit(std::move(p));
    return std::nullopt;
  }
  // Park it within bounds, counted by what it holds plus what the missing transactions will
  // add at the size of those present (an answer's own size is bounded by the p2p frame);
  // past them the engine's own retransmission recovers.
  size_t held = 0, present = 0;
  for (const PendingBlock& b : p.blocks) {
    for (const Bytes& tx : b.txs) {
      held += tx.size();
      present += tx.empty() ? 0 : 1;
    }
  }
  const size_t each = present ? held / present : 256;
  p.bytes = p.skeleton.size() + held + p.missing * each;
  for (const PendingBlock& b : p.blocks) p.bytes += b.prefix.size() + 32 * b.hashes.size();
  const uint64_t now = clock_.SteadyMs();
  p.fetch_at_ms = now + o_.fetch_delay_ms;
  p.deadline_ms = now + o_.fetch_timeout_ms;
  if (Parked* parked = Admit(std::move(p)); parked && o_.fetch_delay_ms == 0) {
    SendFetches(net, *parked);
  }
  return std::nullopt;
}

bool CompactRelay::Holds(const p2p::NodeId& from) const {
  for (const auto& [id, q] : parked_) {
    if (q.from == from) return true;
  }
  return false;
}

void CompactRelay::QueueWhole(const p2p::NodeId& from, ByteView message) {
  Parked p;
  p.from = from;
  p.ready = Bytes(message.begin(), message.end());
  p.bytes = message.size();
  p.deadline_ms = clock_.SteadyMs() + o_.fetch_timeout_ms;
  Admit(std::move(p));
}

CompactRelay::Parked* CompactRelay::Admit(Parked p) {
  size_t peer_count = 0, peer_bytes = 0;
  for (const auto& [id, q] : parked_) {
    if (q.from == p.from) {
      ++peer_count;
      peer_bytes += q.bytes;
    }
  }
  if (peer_count >= o_.max_parked_per_peer || parked_.size() >= o_.max_parked ||
      peer_bytes + p.bytes > o_.max_parked_bytes_per_peer ||
      parked_bytes_ + p.bytes > o_.max_parked_bytes) {
    Count(s_.dropped);
    return nullptr;
  }
  parked_bytes_ += p.bytes;
  return &parked_.emplace(next_id_++, std::move(p)).first->second;
}

std::vector<Bytes> CompactRelay::Release(const p2p::NodeId& from) {
  std::vector<Bytes> out;
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (it->second.from != from) {
      ++it;
      continue;
    }
    if (!it->second.ready) break;
    out.push_back(std::move(*it->second.ready));
    parked_bytes_ -= it->second.bytes;
    it = parked_.erase(it);
  }
  return out;
}

void CompactRelay::SendFetches(Network& net, Parked& p) {
  p.fetched = true;
  for (const PendingBlock& b : p.blocks) {
    if (b.missing == 0) continue;
    compact::GetBlockTxs g;
    g.block = b.hash;
    g.indices.reserve(b.missing);
    for (uint32_t i = 0; i < b.txs.size(); ++i) {
      if (b.txs[i].empty()) g.indices.push_back(i);
    }
    Count(s_.fetches);
    Count(s_.fetched_txs, g.indices.size());
    (void)net.Send(p.from, wire::kGetBlockTxs, compact::EncodeGetBlockTxs(g));
  }
}

void CompactRelay::OnGetBlockTxs(Network& net, const p2p::NodeId& from, ByteView payload) {
  auto g = compact::DecodeGetBlockTxs(payload);
  if (!g.ok()) {
    net.Disconnect(from, g.status().message());
    return;
  }
  std::vector<std::pair<uint32_t, ByteView>> txs;
  auto it = recent_.find(g->block);
  if (it != recent_.end()) {
    const RecentBlock& rb = it->second;
    // The answer is bounded by the block itself: each index names one of its transactions.
    for (uint32_t i : g->indices) {
      if (i >= rb.txs.size()) break;
      txs.emplace_back(i, ByteView(rb.data).subspan(rb.txs[i].first, rb.txs[i].second));
    }
  }
  Count(s_.served);
  (void)net.Send(from, wire::kBlockTxs, compact::EncodeBlockTxs(g->block, txs));
}

std::vector<Bytes> CompactRelay::OnBlockTxs(Network& net, const p2p::NodeId& from,
                                            ByteView payload) {
  auto a = compact::DecodeBlockTxs(payload);
  if (!a.ok()) {
    net.Disconnect(from, a.status().message());
    return {};
  }
  // The answer fills the first parked message from this peer still missing that block; a
  // late answer (the message completed or was dropped) is ignored.
  for (auto it = parked_.begin(); it != parked_.end(); ++it) {
    Parked& p = it->second;
    if (p.from != from || p.ready) continue;
    auto b = std::find_if(p.blocks.begin(), p.blocks.end(), [&](const PendingBlock& pb) {
      return pb.hash == a->block && pb.missing > 0;
    });
    if (b == p.blocks.end()) continue;
    bool bad = false;
    for (const auto& [index, tx] : a->txs) {
      if (index >= b->hashes.size() || crypto::Sha256Of(tx) != b->hashes[index]) {
        bad = true;
        break;
      }
      if (b->txs[index].empty()) b->txs[index].assign(tx.begin(), tx.end());
    }
    if (bad) {
      Count(s_.bad_answers);
      Count(s_.dropped);
      Drop(it->first);
      net.Disconnect(from, "block txs: a transaction does not match the block's hash list");
      return {};
    }
    if (Fill(p)) {
      Count(s_.completed);
      p.ready = Finish(std::move(p));
      if (!p.ready) Drop(it->first);
    } else if (b->missing > 0) {
      // The sender answered without them (it no longer holds the block): give up now.
      Count(s_.dropped);
      Drop(it->first);
    }  // else another block of the message still waits for its own answer
    return Release(from);
  }
  return {};
}

void CompactRelay::Drop(uint64_t id) {
  auto it = parked_.find(id);
  if (it == parked_.end()) return;
  parked_bytes_ -= it->second.bytes;
  parked_.erase(it);
}

std::vector<CompactRelay::Completed> CompactRelay::Tick(Network& net) {
  const uint64_t now = clock_.SteadyMs();
  std::vector<uint64_t> expired;
  std::vector<p2p::NodeId> peers;
  for (auto& [id, p] : parked_) {
    if (std::find(peers.begin(), peers.end(), p.from) == peers.end()) peers.push_back(p.from);
    if (p.ready) continue;
    if (now >= p.deadline_ms) {
      Count(s_.dropped);
      expired.push_back(id);
    } else if (!p.fetched && now >= p.fetch_at_ms) {
      // One more look at the mempool, once: looking every tick would let a peer that parks
      // large hash lists cost this thread a lookup per hash per tick.
      if (Fill(p)) {
        Count(s_.completed);
        p.ready = Finish(std::move(p));
        if (!p.ready) expired.push_back(id);
      } else {
        SendFetches(net, p);
      }
    }
  }
  for (uint64_t id : expired) Drop(id);
  std::vector<Completed> done;
  for (const p2p::NodeId& from : peers) {
    for (Bytes& m : Release(from)) done.push_back({from, std::move(m)});
  }
  return done;
}

}  // namespace cairn::node
