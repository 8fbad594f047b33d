// The node's use of the p2p layer: who may connect (validators and observers of the
// genesis), transaction gossip, chain status and block sync.
//
// Threads: p2p handlers run on the host's network thread and never block it: blocks and
// status go to the loop thread (which alone commits), gossip admission and serving block
// requests go to the worker thread.
#include <boost/asio/post.hpp>
#include <chrono>

#include "node/logging.h"
#include "node/node.h"
#include "node/node_loop.h"
#include "node/wire.h"

namespace cairn::node {
namespace {

constexpr size_t kSeenCapacity = 200000;          // gossip dedup window, in tx hashes
constexpr size_t kGossipBatchTxs = 2000;          // per TxBatch message
constexpr uint64_t kSyncRequestTimeoutMs = 5000;  // re-ask (maybe another peer) after this
constexpr uint32_t kSyncBatchBlocks = 128;
constexpr size_t kMaxPendingOnConnect = 20000;

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

std::string Short(const p2p::NodeId& id) { return id.ToHex().substr(0, 12); }

}  // namespace

Status Node::StartNetwork(Loop& loop) {
  auto listen = SplitHostPort(config_.p2p_listen, "p2p.listen");
  if (!listen.ok()) return listen.status();
  std::vector<p2p::NodeId> allowed;
  for (const genesis::Node& n : genesis_.validators) allowed.push_back(n.public_key);
  for (const genesis::Node& n : genesis_.observers) allowed.push_back(n.public_key);

  p2p::HostOptions opts;
  opts.node_key = key_;
  opts.network_id = genesis_hash_;
  opts.allowlist = std::make_shared<p2p::StaticAllowlist>(allowed);
  opts.listen_host = listen->first;
  opts.listen_port = listen->second;
  for (const PeerConfig& pc : config_.peers) {
    auto addr = p2p::ParsePeerAddress(pc.node_id + "@" + pc.address);
    if (!addr.ok()) return addr.status().Wrap("p2p.peers");
    opts.persistent_peers.push_back(*addr);
  }
  host_ = std::make_unique<p2p::Host>(std::move(opts));

  host_->SetHandler(
      wire::kTxs, [this, &loop](const p2p::NodeId& from, p2p::MessageType, ByteView payload) {
        boost::asio::post(loop.worker, [this, from, data = Bytes(payload.begin(), payload.end())] {
          OnGossip(from, data);
        });
      });
  host_->SetHandler(
      wire::kGetBlocks, [this, &loop](const p2p::NodeId& from, p2p::MessageType, ByteView payload) {
        boost::asio::post(loop.worker, [this, from, data = Bytes(payload.begin(), payload.end())] {
          OnGetBlocks(from, data);
        });
      });
  for (p2p::MessageType t : {wire::kBlocks, wire::kNewBlock}) {
    host_->SetHandler(
        t, [this, &loop](const p2p::NodeId& from, p2p::MessageType type, ByteView payload) {
          boost::asio::post(
              loop.io, [this, &loop, from, type, data = Bytes(payload.begin(), payload.end())] {
                OnBlocks(loop, from, data, type == wire::kNewBlock);
              });
        });
  }
  host_->SetHandler(wire::kConsensus, [this, &loop](const p2p::NodeId& from, p2p::MessageType,
                                                    ByteView payload) {
    boost::asio::post(loop.io, [this, &loop, from, data = Bytes(payload.begin(), payload.end())] {
      OnConsensusMessage(loop, from, data);
    });
  });
  host_->SetHandler(wire::kStatus, [this, &loop](const p2p::NodeId& from, p2p::MessageType,
                                                 ByteView payload) {
    boost::asio::post(loop.io, [this, &loop, from, data = Bytes(payload.begin(), payload.end())] {
      OnPeerStatus(loop, from, data);
    });
  });
  host_->SetPeerHandlers(
      [this, &loop](const p2p::NodeId& peer) {
        ledger::Head head = store_->head();
        (void)host_->Send(peer, wire::kStatus, wire::EncodeStatus({head.height, head.hash}));
        // A peer that was away missed our gossip: hand it what is still pending (the next
        // leader may be that peer).
        boost::asio::post(loop.worker, [this, peer] { SendPendingTo(peer); });
      },
      [this, &loop](const p2p::NodeId& peer) {
        boost::asio::post(loop.io, [this, peer] {
          peer_heads_.erase(peer);
          if (sync_peer_ == peer) sync_peer_.reset();
        });
      });
  if (Status s = host_->Start(); !s.ok()) {
    host_.reset();
    return s.Wrap("p2p listen " + config_.p2p_listen);
  }
  Log("p2p")->info("p2p listening on {}:{} as node {}, {} persistent peers", listen->first,
                   host_->listen_port(), key_.public_key().ToHex(), config_.peers.size());
  std::printf("p2p: %s:%u\n", listen->first.c_str(), host_->listen_port());
  std::fflush(stdout);
  return Status::Ok();
}

void Node::StopNetwork() {
  if (host_) host_->Stop();
}

std::vector<rpc::PeerInfo> Node::GetPeers() const {
  std::vector<rpc::PeerInfo> out;
  if (!host_) return out;
  for (const p2p::PeerInfo& p : host_->GetPeers()) {
    rpc::PeerInfo r;
    r.node_id = p.id.ToHex();
    for (const auto* list : {&genesis_.validators, &genesis_.observers}) {
      for (const genesis::Node& n : *list) {
        if (n.public_key == p.id) r.name = n.name;
      }
    }
    r.address = p.remote_address;
    r.direction = p2p::DirectionName(p.direction);
    r.connected_since_ms = static_cast<uint64_t>(p.connected_since_unix_ms);
    r.bytes_in = p.bytes_in;
    r.bytes_out = p.bytes_out;
    r.messages_in = p.messages_in;
    r.messages_out = p.messages_out;
    out.push_back(std::move(r));
  }
  return out;
}

void Node::OnGossip(const p2p::NodeId& from, Bytes payload) {
  auto items = wire::DecodeTxs(payload);
  if (!items.ok()) {
    Log("p2p")->warn("peer {} sent a malformed tx batch: {}", Short(from), items.error());
    host_->Disconnect(from, "malformed tx batch");
    return;
  }
  std::vector<ledger::Transaction> fresh;
  {
    // Only admitted transactions enter the seen-set (Admit adds them): one refused now (a
    // nonce gap, a full pool) may be admissible when a peer offers it again.
    std::lock_guard<std::mutex> lock(gossip_mu_);
    for (ByteView b : *items) {
      crypto::Hash256 h = crypto::Sha256Of(b);
      if (seen_.count(h)) continue;
      auto tx = ledger::Transaction::Decode(b);
      if (!tx.ok()) {
        Log("p2p")->warn("peer {} gossiped a malformed tx: {}", Short(from), tx.error());
        continue;
      }
      fresh.push_back(std::move(tx.value()));
    }
  }
  if (!fresh.empty()) {
    Admit(std::move(fresh),
          genesis_.ValidatorIndex(from) >= 0 ? TxSource::kValidatorPeer : TxSource::kOtherPeer);
  }
}

void Node::TrimSeenLocked() {
  while (seen_order_.size() > kSeenCapacity) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
}

void Node::SendPendingTo(const p2p::NodeId& peer) {
  std::vector<ledger::Transaction> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending = mempool_.Oldest(kMaxPendingOnConnect);
  }
  for (size_t i = 0; i < pending.size(); i += kGossipBatchTxs) {
    std::vector<Bytes> batch;
    for (size_t j = i; j < std::min(pending.size(), i + kGossipBatchTxs); ++j) {
      batch.push_back(pending[j].Encode());
    }
    (void)host_->Send(peer, wire::kTxs, wire::EncodeTxs(batch));
  }
}

void Node::FlushGossip() {
  if (!host_) return;
  std::vector<Bytes> out;
  {
    std::lock_guard<std::mutex> lock(gossip_mu_);
    out.swap(gossip_out_);
  }
  for (size_t i = 0; i < out.size(); i += kGossipBatchTxs) {
    size_t end = std::min(out.size(), i + kGossipBatchTxs);
    std::vector<Bytes> batch(std::make_move_iterator(out.begin() + i),
                             std::make_move_iterator(out.begin() + end));
    (void)host_->Broadcast(wire::kTxs, wire::EncodeTxs(batch));
  }
}

void Node::OnGetBlocks(const p2p::NodeId& from, Bytes payload) {
  if (!host_->IsConnected(from)) return;  // gone while the request waited in the queue
  auto req = wire::DecodeGetBlocks(payload);
  if (!req.ok()) {
    host_->Disconnect(from, "malformed block request: " + req.error());
    return;
  }
  std::vector<wire::CertifiedBlock> blocks;
  size_t bytes = 0;
  uint64_t head = store_->head().height;
  for (uint64_t h = req->from; h < req->from + req->count && h <= head; ++h) {
    auto b = store_->BlockAt(h);
    if (!b.ok() || !b->has_value()) break;
    auto cert = store_->CertificateAt(h);
    if (!cert.ok()) break;
    Bytes enc = (*b)->Encode();
    size_t size = enc.size() + (cert->has_value() ? (*cert)->size() : 0);
    if (!blocks.empty() && bytes + size > wire::kMaxBlocksBytes) break;
    bytes += size;
    blocks.push_back({std::move(enc), cert->has_value() ? std::move(**cert) : Bytes()});
  }
  (void)host_->Send(from, wire::kBlocks, wire::EncodeBlocks(blocks));
}

void Node::OnPeerStatus(Loop&, const p2p::NodeId& from, Bytes payload) {
  auto st = wire::DecodeStatus(payload);
  if (!st.ok()) {
    host_->Disconnect(from, "malformed status: " + st.error());
    return;
  }
  peer_heads_[from] = {st->height, st->head};
  MaybeSync();
}

void Node::BroadcastStatus() {
  ledger::Head head = store_->head();
  (void)host_->Broadcast(wire::kStatus, wire::EncodeStatus({head.height, head.hash}));
}

void Node::MaybeSync() {
  if (!host_) return;
  uint64_t now = NowMs();
  if (sync_peer_ && now - sync_sent_ms_ < kSyncRequestTimeoutMs) return;
  uint64_t head = store_->head().height;
  // The peer furthest ahead; ties go to the smallest id, so the choice is stable.
  std::optional<p2p::NodeId> best;
  uint64_t best_height = head;
  for (const auto& [id, h] : peer_heads_) {
    if (h.first > best_height) {
      best = id;
      best_height = h.first;
    }
  }
  if (!best) {
    sync_peer_.reset();
    return;
  }
  uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(best_height - head, kSyncBatchBlocks));
  if (host_->Send(*best, wire::kGetBlocks, wire::EncodeGetBlocks({head + 1, count})).ok()) {
    sync_peer_ = best;
    sync_sent_ms_ = now;
  }
}

void Node::OnBlocks(Loop& loop, const p2p::NodeId& from, Bytes payload, bool announced) {
  auto blocks = wire::DecodeBlocks(payload);
  if (!blocks.ok()) {
    host_->Disconnect(from, "malformed blocks: " + blocks.error());
    return;
  }
  bool applied = false;
  for (const wire::CertifiedBlockView& item : *blocks) {
    auto block = ledger::Block::Decode(item.block);
    if (!block.ok()) {
      Log("p2p")->warn("peer {} sent an undecodable block: {}", Short(from), block.error());
      host_->Disconnect(from, "undecodable block");
      break;
    }
    uint64_t head = store_->head().height;
    uint64_t height = block->header.height;
    if (height <= head) continue;  // already have it
    if (height > head + 1) {
      // A NewBlock from further ahead: remember the peer's height and sync the gap.
      auto& known = peer_heads_[from];
      if (height > known.first) known = {height, block->Hash()};
      break;
    }
    Status s =
        CommitBlock(std::move(block.value()), std::nullopt, /*built=*/false, item.certificate);
    if (s.ok()) applied = true;
    if (!s.ok()) {
      if (s.message().find("store commit") != std::string::npos) {
        loop.exit_status = s;  // our disk failed: halt loudly
        loop.io.stop();
        return;
      }
      Log("p2p")->warn("rejected block {} from peer {}: {}; disconnecting it", height, Short(from),
                       s.message());
      host_->Disconnect(from, "sent an invalid block");
      peer_heads_.erase(from);
      break;
    }
  }
  if (!announced && sync_peer_ == from) sync_peer_.reset();
  if (applied) CatchUpEngine(loop);
  MaybeSync();
}

void Node::CatchUpEngine(Loop& loop) {
  // Raft hands blocks out itself and asks for sync explicitly (Ready::sync_to). A BFT engine
  // instead accepts the certified blocks the node applied on its own and moves past them.
  if (!bft_engine_ || !engine_) return;
  ledger::Head head = store_->head();
  if (engine_->GetStatus().applied_height >= head.height) return;
  if (Status s = engine_->SyncCompleted({head.height, head.hash}); !s.ok()) {
    Log("consensus")->warn("engine refused the synced head {}: {}", head.height, s.message());
    return;
  }
  if (pending_sync_to_ && pending_sync_to_->height <= head.height) {
    // Settled, if the block there is the one the engine named; otherwise OnTick halts.
    auto at = store_->HeaderAt(pending_sync_to_->height);
    if (at.ok() && at->has_value() && (*at)->Hash() == pending_sync_to_->hash) {
      pending_sync_to_.reset();
    }
  }
  AfterEngineInput(loop);
}

}  // namespace cairn::node
