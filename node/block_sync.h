// BlockSync: follows peers' heads and fetches the blocks this node is missing (GetBlocks to
// the peer furthest ahead, re-asked after a timeout), applies Blocks answers and NewBlock
// pushes through the BlockAcceptor, and serves other nodes' GetBlocks from the store.
// Thread-safety: Serve runs on the worker thread and reads only the store; best_peer_height
// may be called from any thread; everything else runs on the loop thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include "base/clock.h"
#include "ledger/chain_store.h"
#include "node/block_acceptor.h"
#include "node/network.h"

namespace cairn::node {

class BlockSync {
 public:
  BlockSync(const ledger::ChainStore& store, BlockAcceptor& acceptor, Network& net,
            const Clock& clock)
      : store_(store), acceptor_(acceptor), net_(net), clock_(clock) {}

  // A peer's Status (its head). A malformed one disconnects it.
  void OnPeerStatus(const p2p::NodeId& from, ByteView payload);
  void OnPeerGone(const p2p::NodeId& peer);
  // Tells a newly connected peer our head.
  void SendStatus(const p2p::NodeId& peer);
  // Blocks (the answer to our GetBlocks) or NewBlock (`announced`). Blocks that break a rule
  // disconnect the sender. Returns the number of blocks applied, or an error when this node's
  // own store failed (the node must halt).
  Result<size_t> OnBlocks(const p2p::NodeId& from, ByteView payload, bool announced);
  // Asks the peer furthest ahead for the next blocks, unless a request is outstanding.
  void MaybeSync();
  // Answers a GetBlocks from the store (worker thread).
  void Serve(const p2p::NodeId& from, ByteView payload) const;

  // The highest head a connected peer reported (0 with no peer): above this node's head, the
  // node is catching up. A claim, not a proof: admission only uses it to say why it refused.
  // Any thread.
  uint64_t best_peer_height() const { return best_peer_height_.load(std::memory_order_relaxed); }

 private:
  void UpdateBestPeerHeight();

  const ledger::ChainStore& store_;
  BlockAcceptor& acceptor_;
  Network& net_;
  const Clock& clock_;
  std::map<p2p::NodeId, std::pair<uint64_t, crypto::Hash256>> peer_heads_;
  std::optional<p2p::NodeId> sync_peer_;
  // Peers that answered GetBlocks with nothing: our head then and when (see kLacksRetryMs).
  std::map<p2p::NodeId, std::pair<uint64_t, uint64_t>> lacks_;
  uint64_t sync_sent_ms_ = 0;
  std::atomic<uint64_t> best_peer_height_{0};  // max of peer_heads_, for other threads
};

}  // namespace cairn::node
