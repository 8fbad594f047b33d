#include "p2p/connection.h"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>

namespace cairn::p2p {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Frames are sealed into one buffer per socket write; this bounds that buffer (beyond
// one frame) and the latency of a message queued behind a batch.
constexpr size_t kWriteBatchBytes = 256 * 1024;
// Buffers that grew for one large frame are given back above this size.
constexpr size_t kKeepBufferBytes = 1 << 20;
constexpr size_t kFrameCost = kFrameHeaderSize + kMessageOverhead + kTagSize;

std::string EndpointString(const asio::ip::tcp::endpoint& ep) {
  const auto addr = ep.address();
  std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}

spdlog::level::level_enum LevelFor(CloseReason r) {
  switch (r) {
    case CloseReason::kLocalShutdown:
    case CloseReason::kDuplicate:
    case CloseReason::kConnectFailed:  // the host reports dial failures, once per streak
      return spdlog::level::debug;
    case CloseReason::kRemoteClosed:
    case CloseReason::kIoError:
      return spdlog::level::info;
    default:
      return spdlog::level::warn;
  }
}

Bytes EncodeU64(uint64_t v) {
  Bytes b(8);
  for (size_t i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return b;
}

uint64_t DecodeU64(ByteView b) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v |= uint64_t{b[i]} << (8 * i);
  return v;
}

}  // namespace

Connection::Connection(asio::io_context& io, const ConnectionContext& ctx, Direction direction,
                       std::optional<NodeId> expected)
    : io_(io),
      ctx_(ctx),
      direction_(direction),
      expected_(expected),
      socket_(io),
      resolver_(io),
      handshake_timer_(io),
      ping_timer_(io) {}

Connection::~Connection() = default;

std::string Connection::Describe() const {
  std::string who = remote_id_  ? crypto::ShortHex(*remote_id_, 8)
                    : expected_ ? crypto::ShortHex(*expected_, 8) + "?"
                                : "?";
  return std::string(DirectionName(direction_)) + " " + remote_address_ + " " + who;
}

void Connection::RecordEndpoints() {
  error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) remote_address_ = EndpointString(remote);
  auto local = socket_.local_endpoint(ec);
  if (!ec) local_address_ = EndpointString(local);
}

void Connection::StartInbound() {
  RecordEndpoints();
  state_ = State::kHandshaking;
  ArmHandshakeTimer();
  asio::async_read(socket_, asio::buffer(hello_buf_),
                   [self = shared_from_this()](const error_code& ec, size_t n) {
                     if (self->closed()) return;
                     self->bytes_in_ += n;
                     if (ec) return self->OnIoError(ec, "reading hello");
                     self->OnInboundHello();
                   });
}

void Connection::StartOutbound(const std::string& host, uint16_t port) {
  remote_address_ = host + ":" + std::to_string(port);
  handshake_timer_.expires_after(ctx_.options->handshake_timeout);
  handshake_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->state_ != State::kConnecting) return;
    self->Close(CloseReason::kConnectFailed, "connect timed out");
  });
  resolver_.async_resolve(
      host, std::to_string(port),
      [self = shared_from_this(), host](const error_code& ec,
                                        const tcp::resolver::results_type& results) {
        if (self->closed()) return;
        if (ec) {
          self->Close(CloseReason::kConnectFailed, "resolve " + host + ": " + ec.message());
          return;
        }
        asio::async_connect(
            self->socket_, results, [self](const error_code& ec, const tcp::endpoint&) {
              if (self->closed()) return;
              if (ec) {
                self->Close(CloseReason::kConnectFailed, "connect: " + ec.message());
                return;
              }
              self->RecordEndpoints();
              self->BeginHandshake();
            });
      });
}

void Connection::ArmHandshakeTimer() {
  handshake_timer_.expires_after(ctx_.options->handshake_timeout);
  handshake_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->state_ != State::kHandshaking) return;
    self->Close(CloseReason::kHandshakeTimeout,
                "no authenticated handshake within " +
                    std::to_string(self->ctx_.options->handshake_timeout.count()) + " ms");
  });
}

void Connection::BeginHandshake() {
  state_ = State::kHandshaking;
  // The deadline restarts once TCP is up, so a slow connect does not eat the handshake's
  // time. Either way one timer bounds every stage before authentication.
  ArmHandshakeTimer();
  handshake_ = std::make_unique<Handshake>(ctx_.options->node_key, ctx_.options->network_id);
  asio::async_write(socket_, asio::buffer(handshake_->hello()),
                    [self = shared_from_this()](const error_code& ec, size_t n) {
                      if (self->closed()) return;
                      if (ec) return self->OnIoError(ec, "sending hello");
                      self->bytes_out_ += n;
                      asio::async_read(self->socket_, asio::buffer(self->hello_buf_),
                                       [self](const error_code& ec, size_t n) {
                                         if (self->closed()) return;
                                         self->bytes_in_ += n;
                                         if (ec) return self->OnIoError(ec, "reading hello");
                                         self->OnHelloRead();
                                       });
                    });
}

void Connection::OnInboundHello() {
  // Cheap checks first: a byte comparison, then the address's handshake budget, and only
  // then the ephemeral key and the key exchange.
  if (Status s = CheckHello(hello_buf_); !s.ok()) return Close(CloseReason::kBadHello, s.message());
  hello_received_ = true;
  if (!ctx_.hooks->AllowHandshake(*this)) {
    return Close(CloseReason::kRateLimited,
                 "more than " + std::to_string(ctx_.options->handshakes_per_ip_per_second) +
                     " handshakes per second from this address");
  }
  handshake_ = std::make_unique<Handshake>(ctx_.options->node_key, ctx_.options->network_id);
  if (Status s = handshake_->OnRemoteHello(hello_buf_); !s.ok()) {
    return Close(CloseReason::kBadHello, s.message());
  }
  asio::async_write(socket_, asio::buffer(handshake_->hello()),
                    [self = shared_from_this()](const error_code& ec, size_t n) {
                      if (self->closed()) return;
                      if (ec) return self->OnIoError(ec, "sending hello");
                      self->bytes_out_ += n;
                      self->ReadAuthHeader();
                    });
}

void Connection::OnHelloRead() {
  Status s = handshake_->OnRemoteHello(hello_buf_);
  if (!s.ok()) return Close(CloseReason::kBadHello, s.message());
  write_buf_ = handshake_->AuthFrame();
  asio::async_write(socket_, asio::buffer(write_buf_),
                    [self = shared_from_this()](const error_code& ec, size_t n) {
                      if (self->closed()) return;
                      if (ec) return self->OnIoError(ec, "sending auth");
                      self->bytes_out_ += n;
                      self->ReadAuthHeader();
                    });
}

void Connection::ReadAuthHeader() {
  asio::async_read(socket_, asio::buffer(header_buf_),
                   [self = shared_from_this()](const error_code& ec, size_t n) {
                     if (self->closed()) return;
                     self->bytes_in_ += n;
                     if (ec) return self->OnIoError(ec, "reading auth");
                     const uint32_t len = DecodeFrameLength(self->header_buf_);
                     if (len != kAuthFrameLength) {
                       return self->Close(CloseReason::kBadAuth,
                                          "auth frame length " + std::to_string(len) + ", want " +
                                              std::to_string(kAuthFrameLength));
                     }
                     self->read_buf_.resize(len);
                     asio::async_read(self->socket_, asio::buffer(self->read_buf_),
                                      [self](const error_code& ec, size_t n) {
                                        if (self->closed()) return;
                                        self->bytes_in_ += n;
                                        if (ec) return self->OnIoError(ec, "reading auth");
                                        self->OnAuthFrame();
                                      });
                   });
}

void Connection::OnAuthFrame() {
  Result<NodeId> id = handshake_->OpenRemoteAuth(header_buf_, read_buf_);
  if (!id.ok()) return Close(CloseReason::kBadAuth, id.error());
  // Permission before the signature: a key we would refuse anyway costs no verification.
  std::string detail;
  if (auto refusal = CheckPermission(*id, &detail)) return Close(*refusal, detail);
  if (Status s = handshake_->VerifyRemoteAuth(); !s.ok()) {
    return Close(CloseReason::kBadAuth, s.message());
  }
  if (direction_ == Direction::kOutbound) return OnAuthenticated(*id);
  // The listener signs only for a remote that proved an allowlisted key.
  write_buf_ = handshake_->AuthFrame();
  asio::async_write(socket_, asio::buffer(write_buf_),
                    [self = shared_from_this(), id = *id](const error_code& ec, size_t n) {
                      if (self->closed()) return;
                      if (ec) return self->OnIoError(ec, "sending auth");
                      self->bytes_out_ += n;
                      self->OnAuthenticated(id);
                    });
}

void Connection::OnAuthenticated(const NodeId& id) {
  remote_id_ = id;
  sealer_ = handshake_->TakeSealer();
  opener_ = handshake_->TakeOpener();
  handshake_.reset();
  state_ = State::kAuthenticated;
  handshake_timer_.cancel();
  authenticated_at_ms_ = ctx_.options->clock->SteadyMs();
  connected_since_unix_ms_ = static_cast<int64_t>(ctx_.options->clock->UnixMs());
  ctx_.hooks->OnAuthenticated(shared_from_this());
}

std::optional<CloseReason> Connection::CheckPermission(const NodeId& id,
                                                       std::string* detail) const {
  const HostOptions& o = *ctx_.options;
  if (id == o.node_key.public_key()) {
    *detail = "remote presented our own key";
    return CloseReason::kSelfConnection;
  }
  if (expected_ && id != *expected_) {
    *detail = "dialled " + expected_->ToHex() + " but " + id.ToHex() + " answered";
    return CloseReason::kWrongPeerKey;
  }
  if (!o.allowlist->IsAllowed(id)) {
    *detail = "key " + id.ToHex() + " is not on the allowlist";
    return CloseReason::kNotAllowed;
  }
  return std::nullopt;
}

void Connection::Activate() {
  state_ = State::kActive;
  ReadHeader();
  SchedulePing();
  MaybeWrite();
}

void Connection::ReadHeader() {
  asio::async_read(socket_, asio::buffer(header_buf_),
                   [self = shared_from_this()](const error_code& ec, size_t n) {
                     if (self->closed()) return;
                     self->bytes_in_ += n;
                     if (ec) return self->OnIoError(ec, "read");
                     const uint32_t len = DecodeFrameLength(self->header_buf_);
                     const uint32_t max = self->ctx_.options->max_frame_bytes;
                     if (len > max) {
                       return self->Close(CloseReason::kFrameTooLarge,
                                          "frame length " + std::to_string(len) + " exceeds " +
                                              std::to_string(max));
                     }
                     if (len < kTagSize + kMessageOverhead) {
                       return self->Close(CloseReason::kBadMessage,
                                          "frame length " + std::to_string(len) + " below minimum");
                     }
                     self->ReadBody(len);
                   });
}

void Connection::ReadBody(uint32_t length) {
  if (read_buf_.capacity() > kKeepBufferBytes && length <= kKeepBufferBytes) {
    Bytes().swap(read_buf_);
  }
  read_buf_.resize(length);
  asio::async_read(socket_, asio::buffer(read_buf_),
                   [self = shared_from_this()](const error_code& ec, size_t n) {
                     if (self->closed()) return;
                     self->bytes_in_ += n;
                     if (ec) return self->OnIoError(ec, "read");
                     const uint64_t frame = self->opener_.counter();
                     auto pt = self->opener_.Open(self->header_buf_, self->read_buf_);
                     if (!pt) {
                       return self->Close(
                           CloseReason::kDecryptFailed,
                           "frame " + std::to_string(frame) +
                               " failed authentication (modified, replayed, reordered or "
                               "after a dropped frame)");
                     }
                     ++self->messages_in_;
                     self->HandlePlaintext(*pt);
                     if (!self->closed()) self->ReadHeader();
                   });
}

void Connection::HandlePlaintext(std::span<const uint8_t> pt) {
  if (pt[0] != kEnvelopeVersion) {
    return Close(CloseReason::kBadMessage, "envelope version " + std::to_string(pt[0]));
  }
  const MessageType type = pt[1];
  const ByteView payload = pt.subspan(kMessageOverhead);
  if (IsTransport(type)) return HandleTransport(type, payload);
  if (!ctx_.hooks->OnMessage(*this, type, payload)) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0x%02x", type);
    Close(CloseReason::kBadMessage, std::string("unknown message type ") + hex);
  }
}

void Connection::HandleTransport(MessageType type, ByteView payload) {
  if ((type == kPing || type == kPong) && payload.size() != 8) {
    return Close(CloseReason::kBadMessage,
                 "ping/pong payload of " + std::to_string(payload.size()) + " bytes");
  }
  if (type == kPing) {
    Enqueue(kPong, std::make_shared<const Bytes>(payload.begin(), payload.end()));
  } else if (type == kPong) {
    // A stale pong (its ping timed out on a previous round) is harmless; ignore it.
    if (awaiting_pong_ && DecodeU64(payload) == ping_nonce_) {
      awaiting_pong_ = false;
      SchedulePing();
    }
  } else {
    Close(CloseReason::kBadMessage, "unknown transport message type " + std::to_string(type));
  }
}

void Connection::SchedulePing() {
  const uint64_t gen = ++ping_generation_;
  ping_timer_.expires_after(ctx_.options->ping_interval);
  ping_timer_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
    if (ec || self->closed() || gen != self->ping_generation_) return;
    self->SendPing();
  });
}

void Connection::SendPing() {
  awaiting_pong_ = true;
  ++ping_nonce_;
  if (Enqueue(kPing, std::make_shared<const Bytes>(EncodeU64(ping_nonce_))) !=
      EnqueueResult::kQueued) {
    return;
  }
  const uint64_t gen = ++ping_generation_;
  ping_timer_.expires_after(ctx_.options->pong_timeout);
  ping_timer_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
    if (ec || self->closed() || gen != self->ping_generation_ || !self->awaiting_pong_) return;
    self->Close(
        CloseReason::kPingTimeout,
        "no pong within " + std::to_string(self->ctx_.options->pong_timeout.count()) + " ms");
  });
}

bool Connection::CanQueue(size_t cost, size_t byte_limit, size_t msg_limit) const {
  if (queue_.empty()) return true;  // one message always fits (Start() checks the limits)
  return queue_.size() + 1 <= msg_limit && queued_bytes_ + cost <= byte_limit;
}

Connection::EnqueueResult Connection::Enqueue(MessageType type,
                                              std::shared_ptr<const Bytes> payload) {
  if (state_ != State::kActive) return EnqueueResult::kClosed;
  const HostOptions& o = *ctx_.options;
  const size_t cost = payload->size() + kFrameCost;
  if (PolicyFor(type) == SendPolicy::kDropWhenFull) {
    if (!CanQueue(cost, o.max_send_queue_bytes / 2, o.max_send_queue_messages / 2)) {
      ++messages_dropped_;
      return EnqueueResult::kDropped;
    }
  } else if (!CanQueue(cost, o.max_send_queue_bytes, o.max_send_queue_messages)) {
    Close(CloseReason::kSendQueueFull, std::to_string(queue_.size()) + " messages / " +
                                           std::to_string(queued_bytes_) +
                                           " bytes queued; the peer does not read fast enough");
    return EnqueueResult::kClosed;
  }
  queue_.push_back({type, std::move(payload)});
  queued_bytes_ += cost;
  queue_bytes_ = queued_bytes_;
  queue_messages_ = queue_.size();
  MaybeWrite();
  return EnqueueResult::kQueued;
}

void Connection::MaybeWrite() {
  if (writing_ || state_ != State::kActive || queue_.empty()) return;
  if (write_buf_.capacity() > kKeepBufferBytes) Bytes().swap(write_buf_);
  write_buf_.clear();
  uint64_t frames = 0;
  while (!queue_.empty() && write_buf_.size() < kWriteBatchBytes) {
    const Outgoing& m = queue_.front();
    if (!sealer_.SealMessage(m.type, *m.payload, &write_buf_)) {
      return Close(CloseReason::kIoError, "send frame counter exhausted");
    }
    queued_bytes_ -= m.payload->size() + kFrameCost;
    queue_.pop_front();
    ++frames;
  }
  queue_bytes_ = queued_bytes_;
  queue_messages_ = queue_.size();
  writing_ = true;
  asio::async_write(socket_, asio::buffer(write_buf_),
                    [self = shared_from_this(), frames](const error_code& ec, size_t n) {
                      self->writing_ = false;
                      if (self->closed()) return;
                      self->bytes_out_ += n;
                      if (ec) return self->OnIoError(ec, "write");
                      self->messages_out_ += frames;
                      self->MaybeWrite();
                    });
}

void Connection::OnIoError(const error_code& ec, const char* what) {
  if (ec == asio::error::operation_aborted) return;  // we closed the socket ourselves
  const bool remote = ec == asio::error::eof || ec == asio::error::connection_reset ||
                      ec == asio::error::broken_pipe;
  Close(remote ? CloseReason::kRemoteClosed : CloseReason::kIoError,
        std::string(what) + ": " + ec.message());
}

void Connection::Close(CloseReason reason, const std::string& detail) {
  if (state_ == State::kClosed) return;
  const bool was_up = state_ == State::kAuthenticated || state_ == State::kActive;
  state_ = State::kClosed;
  error_code ec;
  try {
    handshake_timer_.cancel();
    ping_timer_.cancel();
    resolver_.cancel();
  } catch (const std::exception&) {
    // cancel() only throws on an OS failure we could not act on; closing proceeds anyway.
  }
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  queue_.clear();
  queued_bytes_ = 0;
  queue_bytes_ = 0;
  queue_messages_ = 0;
  handshake_.reset();
  const spdlog::level::level_enum level = LevelFor(reason);
  if (!spdlog::should_log(level)) return PostClosed(reason);
  // Whoever can reach the port can make an unauthenticated inbound connection fail at will,
  // so those lines are paced; the counters (Host::GetStats) still see every one.
  uint64_t suppressed = 0;
  const bool outsider = !was_up && direction_ == Direction::kInbound;
  if (outsider && !ctx_.outsider_log->Allow(&suppressed)) return PostClosed(reason);
  spdlog::log(
      level, "{}: {} {}: {}: {}{}", ctx_.log_prefix,
      was_up                                  ? "closed"
      : reason == CloseReason::kConnectFailed ? "failed"
                                              : "refused",
      Describe(), CloseReasonName(reason), detail,
      suppressed == 0 ? std::string() : " (" + std::to_string(suppressed) + " similar suppressed)");
  PostClosed(reason);
}

void Connection::PostClosed(CloseReason reason) {
  asio::post(io_,
             [self = shared_from_this(), reason] { self->ctx_.hooks->OnClosed(self, reason); });
}

PeerInfo Connection::Info() const {
  PeerInfo info;
  info.id = *remote_id_;
  info.remote_address = remote_address_;
  info.local_address = local_address_;
  info.direction = direction_;
  info.connected_since_unix_ms = connected_since_unix_ms_;
  info.bytes_in = bytes_in_;
  info.bytes_out = bytes_out_;
  info.messages_in = messages_in_;
  info.messages_out = messages_out_;
  info.messages_dropped = messages_dropped_;
  info.send_queue_bytes = queue_bytes_;
  info.send_queue_messages = queue_messages_;
  return info;
}

}  // namespace cairn::p2p
