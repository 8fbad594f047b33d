// Host: the p2p transport of one node. It listens, dials persistent peers, authenticates
// and encrypts every connection (secure_channel.h), and moves typed messages.
// Thread-safety: every public method may be called from any thread, except that Stop()
// and the destructor must not be called from a callback. All callbacks (message handlers,
// peer up/down) run on the host's own network thread, one at a time; a callback that
// blocks stalls all p2p traffic of this node, so hand heavy work to another thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "p2p/allowlist.h"
#include "p2p/message.h"
#include "p2p/secure_channel.h"

namespace cairn::p2p {

// A peer to keep connected: where to dial and which key must answer there.
struct PeerAddress {
  std::string host;  // name or IP literal (IPv6 without brackets)
  uint16_t port = 0;
  NodeId id;
  // "<64 hex digits>@host:port", IPv6 hosts in brackets.
  std::string ToString() const;
};
// Parses "<64 hex node id>@<host>:<port>"; an IPv6 host is written "[::1]".
Result<PeerAddress> ParsePeerAddress(std::string_view text);

enum class Direction { kInbound, kOutbound };
const char* DirectionName(Direction d);

// Why a connection ended. Each is logged once, with a detail, when it happens.
enum class CloseReason : uint8_t {
  kLocalShutdown,
  kRemoteClosed,
  kIoError,
  kConnectFailed,     // resolve or TCP connect failed or timed out (outbound only)
  kHandshakeTimeout,  // no authenticated peer within Options::handshake_timeout
  kBadHello,          // not our magic/version, reflected or low-order ephemeral key
  kBadAuth,           // auth frame failed to open (other network, tampering) or bad signature
  kSelfConnection,
  kWrongPeerKey,  // dialled a configured peer and a different key answered
  kNotAllowed,    // key not on the allowlist
  kInboundLimit,  // max_inbound authenticated inbound peers reached
  kDuplicate,     // lost the one-connection-per-peer tie-break
  kFrameTooLarge,
  kDecryptFailed,  // a frame was modified, replayed, reordered or dropped
  kBadMessage,     // bad envelope version, unknown type, malformed transport message
  kPingTimeout,
  kSendQueueFull,  // a non-droppable message did not fit the peer's send queue
  kAllowlistRevoked,
  kMisbehaved,   // the node layer judged what the peer sent invalid (Host::Disconnect)
  kEvicted,      // an unauthenticated inbound connection made room for a newer one
  kRateLimited,  // its address exceeded its handshake rate (before any key exchange work)
  kCount
};
inline constexpr size_t kCloseReasonCount = static_cast<size_t>(CloseReason::kCount);
const char* CloseReasonName(CloseReason r);

// One established peer, for the getPeers RPC. Bytes count what crossed the socket
// (headers, tags, pings included); messages count frames after the handshake.
struct PeerInfo {
  NodeId id;
  std::string remote_address;  // "ip:port"
  std::string local_address;
  Direction direction = Direction::kInbound;
  int64_t connected_since_unix_ms = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t messages_dropped = 0;  // gossip dropped because the send queue was full
  uint64_t send_queue_bytes = 0;  // waiting to be encrypted and written
  uint64_t send_queue_messages = 0;
};

struct HostStats {
  uint64_t handshakes_completed = 0;
  std::array<uint64_t, kCloseReasonCount> closes{};  // indexed by CloseReason
  uint64_t Closes(CloseReason r) const { return closes[static_cast<size_t>(r)]; }
  // Log lines about unauthenticated connections left out by the rate limit.
  uint64_t log_lines_suppressed = 0;
  uint64_t pending_inbound = 0;  // unauthenticated inbound connections right now
};

struct HostOptions {
  crypto::KeyPair node_key;  // NodeId = node_key.public_key()
  NetworkId network_id;      // the genesis hash: peers of other chains fail the handshake
  std::shared_ptr<const Allowlist> allowlist;  // required

  bool listen = true;
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 0;                   // 0: the OS picks; see Host::listen_port()
  std::vector<PeerAddress> persistent_peers;  // our own id is skipped if listed

  // Accept or dial start -> authenticated. Short, because an unauthenticated inbound
  // connection holds a pending slot (below) until then.
  std::chrono::milliseconds handshake_timeout{3000};
  std::chrono::milliseconds ping_interval{10000};
  std::chrono::milliseconds pong_timeout{15000};
  std::chrono::milliseconds reconnect_initial{500};
  std::chrono::milliseconds reconnect_max{30000};
  // A connection that lived this long resets the peer's backoff; a shorter one (a peer
  // that accepts and then refuses us) keeps it growing.
  std::chrono::milliseconds backoff_reset_after{10000};

  // Largest frame length field accepted or sent: ciphertext incl. the 16-byte tag, so
  // the largest payload is max_frame_bytes - 18. Must be <= kMaxFrameLengthLimit.
  uint32_t max_frame_bytes = 8u << 20;
  // Per-peer send queue. Gossip is dropped above half of either limit; anything else
  // above the full limit disconnects the peer (message.h, SendPolicy).
  // Must be >= 2 * max_frame_bytes so one largest message always fits.
  uint64_t max_send_queue_bytes = 32u << 20;
  uint32_t max_send_queue_messages = 10000;

  // Admission of inbound connections (docs/P2P.md, section 6). Handshaking (unauthenticated)
  // connections are "pending" and never take the slots of authenticated peers:
  // - max_inbound bounds authenticated inbound peers (only allowlisted keys get there);
  // - max_pending_inbound bounds pending ones in total, max_pending_per_ip those of one
  //   address (an IPv6 address counts by its /64). When either is full, a newcomer evicts
  //   the oldest pending connection (of that address, or of all) among those that have not
  //   yet sent a valid hello, or else the oldest of all: a silent or slow flood can never
  //   keep a real peer, which sends its hello at once, from completing its handshake;
  // - each address may start at most handshakes_per_ip_per_second key exchanges (burst
  //   handshake_burst_per_ip); beyond that its valid hellos are refused before any
  //   cryptographic work.
  uint32_t max_inbound = 64;
  uint32_t max_pending_inbound = 32;
  uint32_t max_pending_per_ip = 8;
  uint32_t handshakes_per_ip_per_second = 20;
  uint32_t handshake_burst_per_ip = 40;

  uint64_t rng_seed = 0;  // reconnect jitter; 0 draws a seed from the OS
  // Stamps and rate limits ("connected since", backoff reset, log throttling) read this;
  // Asio's timers keep their own steady clock. Must outlive the Host.
  const Clock* clock = &SystemClock::Instance();
};

// The most sockets a Host with these options holds at once (listener, pending and
// authenticated inbound connections, outbound dials, one for name resolution), given the
// number of keys its allowlist admits. For the node's file-descriptor budget.
size_t MaxSockets(const HostOptions& options, size_t allowlist_size);

// from: the authenticated peer. payload is valid only during the call.
using MessageHandler = std::function<void(const NodeId& from, MessageType type, ByteView payload)>;
using PeerHandler = std::function<void(const NodeId& peer)>;

class Host {
 public:
  explicit Host(HostOptions options);
  ~Host();  // Stop()s
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // REQUIRES: before Start(); type is not a transport type (message.h). A received
  // message of a type without a handler closes that connection.
  void SetHandler(MessageType type, MessageHandler handler);
  // REQUIRES: before Start(). Every OnConnected is followed by exactly one OnDisconnected
  // for that peer (at the latest during Stop). When a duplicate connection replaces the
  // current one, both fire: messages in flight on the old connection may be lost.
  void SetPeerHandlers(PeerHandler on_connected, PeerHandler on_disconnected);

  // Binds the listener (if any), starts the network thread and dials persistent peers.
  Status Start();
  // Closes every connection (queued messages are discarded), fires OnDisconnected for
  // each peer, and joins the network thread. Idempotent.
  void Stop();

  const NodeId& id() const;
  // REQUIRES: Start() succeeded with listen = true.
  uint16_t listen_port() const;

  // Queues a message for one peer; delivery is in order per peer and best effort (a
  // disconnect loses what was queued). Errors: a transport type, a payload over
  // max_frame_bytes - 18, or a peer not connected at the time of the call.
  Status Send(const NodeId& to, MessageType type, Bytes payload);
  // Queues one message for every connected peer (one shared copy of the payload).
  Status Broadcast(MessageType type, Bytes payload);

  std::vector<PeerInfo> GetPeers() const;  // ordered by id
  bool IsConnected(const NodeId& id) const;
  HostStats GetStats() const;
  // Keeps `peer` connected from now on (dials at once, then redials with backoff). A peer
  // already listed is refused with a log line. Usable before or after Start().
  void AddPersistentPeer(const PeerAddress& peer);
  // Stops redialling `id`; an established connection stays until it drops (see
  // RecheckAllowlist to cut it).
  void RemovePersistentPeer(const NodeId& id);
  // Closes the connection to `id` (if any), e.g. after it sent an invalid block; logged
  // once with `why`. A persistent peer is redialled with its growing backoff.
  void Disconnect(const NodeId& id, const std::string& why);
  // Closes established connections whose key the allowlist no longer allows. Call after
  // changing what the allowlist answers (e.g. a validator-set change).
  void RecheckAllowlist();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::p2p
