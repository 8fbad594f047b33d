#include "node/block_sync.h"

#include <algorithm>

#include "node/logging.h"
#include "node/wire.h"

namespace cairn::node {
namespace {

constexpr uint64_t kSyncRequestTimeoutMs = 5000;  // re-ask (maybe another peer) after this
constexpr uint32_t kSyncBatchBlocks = 128;
// A peer ahead of us that answered GetBlocks with nothing (it pruned those bodies, or cannot
// read them) is asked again only after this, or once our head has moved: asking it again at
// once would be a request loop between the two nodes.
constexpr uint64_t kLacksRetryMs = 30'000;

}  // namespace

void BlockSync::OnPeerStatus(const p2p::NodeId& from, ByteView payload) {
  auto st = wire::DecodeStatus(payload);
  if (!st.ok()) {
    net_.Disconnect(from, "malformed status: " + st.error());
    return;
  }
  peer_heads_[from] = {st->height, st->head};
  UpdateBestPeerHeight();
  MaybeSync();
}

void BlockSync::OnPeerGone(const p2p::NodeId& peer) {
  peer_heads_.erase(peer);
  lacks_.erase(peer);
  UpdateBestPeerHeight();
  if (sync_peer_ == peer) sync_peer_.reset();
}

void BlockSync::UpdateBestPeerHeight() {
  uint64_t best = 0;
  for (const auto& [id, h] : peer_heads_) best = std::max(best, h.first);
  best_peer_height_.store(best, std::memory_order_relaxed);
}

void BlockSync::SendStatus(const p2p::NodeId& peer) {
  const ledger::Head head = store_.head();
  (void)net_.Send(peer, wire::kStatus, wire::EncodeStatus({head.height, head.hash}));
}

void BlockSync::MaybeSync() {
  const uint64_t now = clock_.SteadyMs();
  if (sync_peer_ && now - sync_sent_ms_ < kSyncRequestTimeoutMs) return;
  const uint64_t head = store_.head().height;
  // The peer furthest ahead; ties go to the smallest id, so the choice is stable.
  std::optional<p2p::NodeId> best;
  uint64_t best_height = head;
  for (const auto& [id, h] : peer_heads_) {
    auto lacks = lacks_.find(id);
    if (lacks != lacks_.end() && lacks->second.first == head &&
        now - lacks->second.second < kLacksRetryMs) {
      continue;
    }
    if (h.first > best_height) {
      best = id;
      best_height = h.first;
    }
  }
  if (!best) {
    sync_peer_.reset();
    return;
  }
  const auto count =
      static_cast<uint32_t>(std::min<uint64_t>(best_height - head, kSyncBatchBlocks));
  if (net_.Send(*best, wire::kGetBlocks, wire::EncodeGetBlocks({head + 1, count})).ok()) {
    sync_peer_ = best;
    sync_sent_ms_ = now;
  }
}

Result<size_t> BlockSync::OnBlocks(const p2p::NodeId& from, ByteView payload, bool announced) {
  auto blocks = wire::DecodeBlocks(payload);
  if (!blocks.ok()) {
    net_.Disconnect(from, "malformed blocks: " + blocks.error());
    return size_t{0};
  }
  size_t applied = 0;
  for (const wire::CertifiedBlockView& item : *blocks) {
    auto block = ledger::Block::Decode(item.block);
    if (!block.ok()) {
      Log("p2p")->warn("peer {} sent an undecodable block: {}", crypto::ShortHex(from),
                       block.error());
      net_.Disconnect(from, "undecodable block");
      break;
    }
    const uint64_t head = store_.head().height;
    const uint64_t height = block->header.height;
    if (height <= head) continue;  // already have it
    if (height > head + 1) {
      // A NewBlock from further ahead: remember the peer's height and sync the gap.
      auto& known = peer_heads_[from];
      if (height > known.first) known = {height, block->Hash()};
      UpdateBestPeerHeight();
      break;
    }
    CommitResult r =
        acceptor_.Commit(std::move(block.value()), std::nullopt, /*built=*/false, item.certificate);
    if (r.kind == CommitResult::Kind::kDiskError) return r.status;  // our disk: halt loudly
    if (!r.ok()) {
      Log("p2p")->warn("rejected block {} from peer {}: {}; disconnecting it", height,
                       crypto::ShortHex(from), r.status.message());
      net_.Disconnect(from, "sent an invalid block");
      peer_heads_.erase(from);
      UpdateBestPeerHeight();
      break;
    }
    ++applied;
  }
  if (!announced && sync_peer_ == from) {
    sync_peer_.reset();
    if (blocks->empty()) {
      const uint64_t head = store_.head().height;
      if (!lacks_.count(from) || lacks_[from].first != head) {
        Log("p2p")->warn(
            "peer {} is ahead but sent no block from {} (pruned below its storage.retain_blocks, "
            "or unreadable); asking other peers. If every peer has pruned them, this node must "
            "join by state sync (docs/OPERATIONS.md)",
            crypto::ShortHex(from), head + 1);
      }
      lacks_[from] = {head, clock_.SteadyMs()};
    }
  }
  MaybeSync();
  return applied;
}

void BlockSync::Serve(const p2p::NodeId& from, ByteView payload) const {
  if (!net_.IsConnected(from)) return;  // gone while the request waited in the queue
  auto req = wire::DecodeGetBlocks(payload);
  if (!req.ok()) {
    net_.Disconnect(from, "malformed block request: " + req.error());
    return;
  }
  std::vector<wire::CertifiedBlock> blocks;
  size_t bytes = 0;
  const uint64_t head = store_.head().height;
  for (uint64_t h = req->from; h < req->from + req->count && h <= head; ++h) {
    auto b = store_.BlockAt(h);
    if (!b.ok() || !b->has_value()) break;
    auto cert = store_.CertificateAt(h);
    if (!cert.ok()) break;
    Bytes enc = (*b)->Encode();
    const size_t size = enc.size() + (cert->has_value() ? (*cert)->size() : 0);
    if (!blocks.empty() && bytes + size > wire::kMaxBlocksBytes) break;
    bytes += size;
    blocks.push_back({std::move(enc), cert->has_value() ? std::move(**cert) : Bytes()});
  }
  (void)net_.Send(from, wire::kBlocks, wire::EncodeBlocks(blocks));
}

}  // namespace cairn::node
