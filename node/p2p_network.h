// P2pNetwork: the node's Network over the authenticated p2p::Host, admitting the genesis's
// validators and observers at first, then whom the node's state names (FollowMembers).
// Thread-safety: as p2p::Host (any thread); FollowMembers from one thread (the loop).
#pragma once

#include <memory>
#include <set>

#include "config/node_config.h"
#include "genesis/genesis.h"
#include "node/metrics.h"
#include "node/network.h"
#include "p2p/host.h"

namespace cairn::node {

class P2pNetwork final : public Network {
 public:
  // Configures (does not start) the host: this node's key, the genesis as network id, the
  // genesis members and `config`'s p2p.peers as allowlist (until FollowMembers), the listen
  // address and persistent peers of `config`.
  static Result<std::unique_ptr<P2pNetwork>> Create(const config::NodeConfig& config,
                                                    const genesis::Genesis& genesis,
                                                    const crypto::KeyPair& key);

  p2p::Host& host() { return *host_; }

  // Where sent messages are counted; null: nowhere. Set before the host starts.
  void set_metrics(NodeMetrics* m) { metrics_ = m; }

  Status Send(const p2p::NodeId& to, p2p::MessageType type, Bytes payload) override {
    if (metrics_) metrics_->OnP2pMessage(type, payload.size(), /*received=*/false);
    return host_->Send(to, type, std::move(payload));
  }
  void Broadcast(p2p::MessageType type, Bytes payload) override {
    if (metrics_) metrics_->OnP2pMessage(type, payload.size(), /*received=*/false);
    (void)host_->Broadcast(type, std::move(payload));
  }
  void Disconnect(const p2p::NodeId& peer, const std::string& why) override {
    host_->Disconnect(peer, why);
  }
  bool IsConnected(const p2p::NodeId& peer) const override { return host_->IsConnected(peer); }
  std::vector<p2p::PeerInfo> Peers() const override { return host_->GetPeers(); }
  void FollowMembers(const std::vector<p2p::NodeId>& allowed,
                     const std::vector<p2p::PeerAddress>& dial) override;

 private:
  P2pNetwork(std::unique_ptr<p2p::Host> host, std::shared_ptr<p2p::MutableAllowlist> allowlist,
             std::set<p2p::NodeId> configured)
      : host_(std::move(host)),
        allowlist_(std::move(allowlist)),
        configured_(std::move(configured)) {}
  std::unique_ptr<p2p::Host> host_;
  std::shared_ptr<p2p::MutableAllowlist> allowlist_;
  const std::set<p2p::NodeId> configured_;  // p2p.peers: dialled whatever the state says
  std::set<p2p::NodeId> dialled_;           // members dialled by FollowMembers (loop thread)
  NodeMetrics* metrics_ = nullptr;
};

}  // namespace cairn::node
