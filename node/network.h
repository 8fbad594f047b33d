// Network: what the node's components need of the peer-to-peer layer (send, broadcast, drop a
// peer), so each can be tested in-process with a fake. P2pNetwork implements it over
// p2p::Host. Thread-safety: implementations are callable from any thread.
#pragma once

#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "p2p/host.h"

namespace cairn::node {

class Network {
 public:
  virtual ~Network() = default;
  // Queues `payload` for one connected peer; an error when it is not connected.
  virtual Status Send(const p2p::NodeId& to, p2p::MessageType type, Bytes payload) = 0;
  virtual void Broadcast(p2p::MessageType type, Bytes payload) = 0;
  // Closes the connection to a peer that sent something invalid.
  virtual void Disconnect(const p2p::NodeId& peer, const std::string& why) = 0;
  virtual bool IsConnected(const p2p::NodeId& peer) const = 0;
  virtual std::vector<p2p::PeerInfo> Peers() const = 0;  // ordered by id
  // The members changed (docs/design/membership.md §5): from now on admit exactly `allowed`
  // (connections of others are cut), and keep `dial` connected at their on-chain addresses.
  // Fakes may ignore it.
  virtual void FollowMembers(const std::vector<p2p::NodeId>& allowed,
                             const std::vector<p2p::PeerAddress>& dial) {
    (void)allowed;
    (void)dial;
  }
};

}  // namespace cairn::node
