// Connection: one TCP connection of a Host, from dial/accept through the handshake to
// encrypted message exchange. Internal to p2p (it pulls in Asio; only .cpp files include it).
// Thread-safety: everything runs on the host's io_context thread, except Info(), which
// any thread may call once the connection is registered as a peer.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "base/rate_limit.h"
#include "p2p/host.h"
#include "p2p/secure_channel.h"

namespace cairn::p2p {

class Connection;

// What a connection needs from its host. Calls arrive on the io thread.
class ConnectionHooks {
 public:
  virtual ~ConnectionHooks() = default;
  // An inbound connection sent a well-formed hello; false refuses it (handshake rate limit)
  // before any key exchange work is spent on it.
  virtual bool AllowHandshake(const Connection& conn) = 0;
  // The remote proved its key and passed every permission check. The host either
  // registers the connection and calls Activate(), or closes it (duplicate, shutdown).
  virtual void OnAuthenticated(const std::shared_ptr<Connection>& conn) = 0;
  // An application message. False means no handler for the type: the connection closes.
  virtual bool OnMessage(Connection& conn, MessageType type, ByteView payload) = 0;
  // Posted (never re-entrant) after the connection closed, exactly once.
  virtual void OnClosed(const std::shared_ptr<Connection>& conn, CloseReason reason) = 0;
};

// Shared, immutable-after-Start state of the host that every connection reads.
struct ConnectionContext {
  const HostOptions* options = nullptr;
  ConnectionHooks* hooks = nullptr;
  std::string log_prefix;  // "p2p[ab12cd34]"
  // Paces log lines about inbound connections that never authenticated: anyone who can
  // reach the port can trigger them at will.
  RateLimiter* outsider_log = nullptr;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using tcp = boost::asio::ip::tcp;

  // expected: the configured id of the peer we dial (outbound only).
  Connection(boost::asio::io_context& io, const ConnectionContext& ctx, Direction direction,
             std::optional<NodeId> expected);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  tcp::socket& socket() { return socket_; }
  // Starts the handshake on an accepted socket. The listener waits for the remote's hello
  // before its own key exchange work, and sends its auth frame only after verifying the
  // remote's, so an outsider costs it nothing until it sends a well-formed hello, and never a
  // signature unless it proves an allowlisted key.
  void StartInbound();
  // Resolves, connects, then handshakes; the handshake deadline covers all three.
  void StartOutbound(const std::string& host, uint16_t port);
  // The host registered us: start reading messages and pinging.
  void Activate();

  enum class EnqueueResult { kQueued, kDropped, kClosed };
  EnqueueResult Enqueue(MessageType type, std::shared_ptr<const Bytes> payload);
  // Idempotent; the first reason wins, is logged once and is reported via OnClosed.
  void Close(CloseReason reason, const std::string& detail);

  bool closed() const { return state_ == State::kClosed; }
  // A well-formed hello arrived (a real peer sends its hello as soon as TCP is up).
  bool hello_received() const { return hello_received_; }
  bool authenticated() const { return remote_id_.has_value(); }
  // REQUIRES: authenticated()
  const NodeId& remote_id() const { return *remote_id_; }
  const std::optional<NodeId>& expected_id() const { return expected_; }
  Direction direction() const { return direction_; }
  // Clock::SteadyMs() when the handshake completed.
  uint64_t authenticated_at_ms() const { return authenticated_at_ms_; }
  std::string Describe() const;  // "outbound 1.2.3.4:5 ab12cd34" for logs
  // REQUIRES: authenticated()
  PeerInfo Info() const;

 private:
  enum class State { kConnecting, kHandshaking, kAuthenticated, kActive, kClosed };
  struct Outgoing {
    MessageType type;
    std::shared_ptr<const Bytes> payload;
  };

  void ArmHandshakeTimer();
  void BeginHandshake();
  void OnHelloRead();
  void OnInboundHello();
  void ReadAuthHeader();
  void OnAuthFrame();
  void OnAuthenticated(const NodeId& id);
  std::optional<CloseReason> CheckPermission(const NodeId& id, std::string* detail) const;
  void ReadHeader();
  void ReadBody(uint32_t length);
  void HandlePlaintext(std::span<const uint8_t> pt);
  void HandleTransport(MessageType type, ByteView payload);
  void MaybeWrite();
  void SchedulePing();
  void SendPing();
  void OnIoError(const boost::system::error_code& ec, const char* what);
  void PostClosed(CloseReason reason);
  void RecordEndpoints();
  bool CanQueue(size_t cost, size_t byte_limit, size_t msg_limit) const;

  boost::asio::io_context& io_;
  const ConnectionContext& ctx_;
  const Direction direction_;
  const std::optional<NodeId> expected_;
  State state_ = State::kConnecting;

  tcp::socket socket_;
  tcp::resolver resolver_;
  boost::asio::steady_timer handshake_timer_;
  boost::asio::steady_timer ping_timer_;
  uint64_t ping_generation_ = 0;  // invalidates a ping-timer wait that already fired
  uint64_t ping_nonce_ = 0;
  bool awaiting_pong_ = false;
  bool hello_received_ = false;

  std::unique_ptr<Handshake> handshake_;
  FrameSealer sealer_;
  FrameOpener opener_;
  std::array<uint8_t, kHelloSize> hello_buf_{};
  std::array<uint8_t, kFrameHeaderSize> header_buf_{};
  Bytes read_buf_;
  Bytes write_buf_;
  bool writing_ = false;
  std::deque<Outgoing> queue_;
  size_t queued_bytes_ = 0;

  // Written before the host registers the connection, read-only afterwards.
  std::optional<NodeId> remote_id_;
  std::string remote_address_ = "?";
  std::string local_address_ = "?";
  int64_t connected_since_unix_ms_ = 0;
  uint64_t authenticated_at_ms_ = 0;

  // Read by Info() from other threads.
  std::atomic<uint64_t> bytes_in_{0}, bytes_out_{0}, messages_in_{0}, messages_out_{0};
  std::atomic<uint64_t> messages_dropped_{0}, queue_bytes_{0}, queue_messages_{0};
};

}  // namespace cairn::p2p
