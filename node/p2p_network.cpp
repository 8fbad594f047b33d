#include "node/p2p_network.h"

#include <algorithm>

namespace cairn::node {

Result<std::unique_ptr<P2pNetwork>> P2pNetwork::Create(const config::NodeConfig& config,
                                                       const genesis::Genesis& genesis,
                                                       const crypto::KeyPair& key) {
  auto listen = config::SplitHostPort(config.p2p_listen, "p2p.listen");
  if (!listen.ok()) return listen.status();
  std::vector<p2p::NodeId> allowed;
  for (const genesis::Node& n : genesis.validators) allowed.push_back(n.public_key);
  for (const genesis::Node& n : genesis.observers) allowed.push_back(n.public_key);

  p2p::HostOptions opts;
  opts.node_key = key;
  opts.network_id = genesis.Block0().Hash();
  opts.listen_host = listen->first;
  opts.listen_port = listen->second;
  opts.max_inbound = config.p2p_max_inbound;
  opts.max_pending_inbound = config.p2p_max_pending;
  // One address can never hold more than all pending slots; the host refuses the options
  // otherwise, and each key is range-checked on its own (docs/CONFIG.md).
  opts.max_pending_per_ip = std::min(config.p2p_max_pending_per_ip, config.p2p_max_pending);
  opts.handshake_timeout = std::chrono::milliseconds(config.p2p_handshake_timeout_ms);
  std::set<p2p::NodeId> configured;
  for (const config::PeerConfig& pc : config.peers) {
    auto addr = p2p::ParsePeerAddress(pc.node_id + "@" + pc.address);
    if (!addr.ok()) return addr.status().Wrap("p2p.peers");
    opts.persistent_peers.push_back(*addr);
    configured.insert(addr->id);
  }
  // Until the node knows the member set of its state (FollowMembers, once its core starts),
  // the operator's p2p.peers are allowed too: a node joining by state sync years after genesis
  // may know no genesis member still running.
  for (const p2p::NodeId& id : configured) {
    if (std::find(allowed.begin(), allowed.end(), id) == allowed.end()) allowed.push_back(id);
  }
  auto allowlist = std::make_shared<p2p::MutableAllowlist>(allowed);
  opts.allowlist = allowlist;
  return std::unique_ptr<P2pNetwork>(new P2pNetwork(std::make_unique<p2p::Host>(std::move(opts)),
                                                    std::move(allowlist), std::move(configured)));
}

void P2pNetwork::FollowMembers(const std::vector<p2p::NodeId>& allowed,
                               const std::vector<p2p::PeerAddress>& dial) {
  allowlist_->Replace(allowed);
  host_->RecheckAllowlist();
  std::set<p2p::NodeId> want;
  for (const p2p::PeerAddress& a : dial) {
    if (configured_.count(a.id)) continue;
    want.insert(a.id);
    if (dialled_.insert(a.id).second) host_->AddPersistentPeer(a);
  }
  for (auto it = dialled_.begin(); it != dialled_.end();) {
    if (want.count(*it)) {
      ++it;
      continue;
    }
    host_->RemovePersistentPeer(*it);
    it = dialled_.erase(it);
  }
}

}  // namespace cairn::node
