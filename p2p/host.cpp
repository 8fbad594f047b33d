#include "p2p/host.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <cassert>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "base/mutex.h"
#include "base/rate_limit.h"
#include "base/thread.h"
#include "p2p/admission.h"
#include "p2p/connection.h"

namespace cairn::p2p {
namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

namespace {

// Log lines about unauthenticated inbound connections (refusals, evictions, timeouts,
// failed accepts): enough to see an attack and its kind, never a line per attempt.
constexpr uint64_t kOutsiderLogPerSecond = 2;
constexpr uint64_t kOutsiderLogBurst = 20;

InboundAdmission::Limits AdmissionLimits(const HostOptions& o) {
  InboundAdmission::Limits l;
  l.max_pending = o.max_pending_inbound;
  l.max_pending_per_address = o.max_pending_per_ip;
  l.handshakes_per_second = o.handshakes_per_ip_per_second;
  l.handshake_burst = o.handshake_burst_per_ip;
  return l;
}

uint64_t AdmissionId(const Connection* c) { return reinterpret_cast<uintptr_t>(c); }

Status ValidateOptions(const HostOptions& o) {
  if (!o.allowlist) return Status::Error("p2p: options.allowlist is required");
  if (o.node_key.public_key().IsZero()) return Status::Error("p2p: options.node_key is unset");
  if (o.max_frame_bytes < kAuthFrameLength || o.max_frame_bytes > kMaxFrameLengthLimit) {
    return Status::Error("p2p: max_frame_bytes must be in [" + std::to_string(kAuthFrameLength) +
                         ", " + std::to_string(kMaxFrameLengthLimit) + "]");
  }
  if (o.max_send_queue_bytes < 2ull * o.max_frame_bytes || o.max_send_queue_messages < 2) {
    return Status::Error("p2p: send queue must hold at least two largest frames");
  }
  const milliseconds zero{0};
  if (o.handshake_timeout <= zero || o.ping_interval <= zero || o.pong_timeout <= zero ||
      o.reconnect_initial <= zero || o.reconnect_max < o.reconnect_initial) {
    return Status::Error("p2p: timeouts must be positive and reconnect_max >= reconnect_initial");
  }
  if (o.max_pending_inbound == 0 || o.max_pending_per_ip == 0 ||
      o.max_pending_per_ip > o.max_pending_inbound) {
    return Status::Error("p2p: need 1 <= max_pending_per_ip <= max_pending_inbound");
  }
  if (o.handshakes_per_ip_per_second == 0 || o.handshake_burst_per_ip == 0) {
    return Status::Error(
        "p2p: handshakes_per_ip_per_second and handshake_burst_per_ip must be >= 1");
  }
  return Status::Ok();
}

}  // namespace

// A persistent peer: redialled with exponential backoff whenever no connection to it exists.
struct Slot {
  Slot(asio::io_context& io, PeerAddress a, milliseconds initial)
      : addr(std::move(a)), timer(io), backoff(initial) {}
  PeerAddress addr;
  asio::steady_timer timer;
  milliseconds backoff;
  uint64_t timer_gen = 0;  // invalidates a wait that already fired when we re-arm or cancel
  bool timer_armed = false;
  bool dialing = false;
  bool failing = false;  // in a streak of failed dials: report the first one only
};

struct Host::Impl final : ConnectionHooks {
  explicit Impl(HostOptions o)
      : opts(std::move(o)),
        outsider_log(kOutsiderLogPerSecond, kOutsiderLogBurst, opts.clock),
        admission(AdmissionLimits(opts), opts.clock) {
    ctx.options = &opts;
    ctx.hooks = this;
    ctx.log_prefix = "p2p[" + crypto::ShortHex(opts.node_key.public_key(), 8) + "]";
    ctx.outsider_log = &outsider_log;
  }

  void Run();
  void Accept();
  void Admit(tcp::socket socket);
  size_t InboundPeersOtherThan(const NodeId& id) const;
  Status AddSlot(const PeerAddress& p);
  void Dial(const NodeId& id);
  void ScheduleRedial(const NodeId& id);
  void CancelRedial(Slot& s);
  bool KeepNew(const Connection& old_conn, const Connection& new_conn) const;
  void CallPeerHandler(const PeerHandler& h, const NodeId& id);
  void ShutdownOnIoThread();

  bool AllowHandshake(const Connection& conn) override;
  void OnAuthenticated(const std::shared_ptr<Connection>& conn) override;
  bool OnMessage(Connection& conn, MessageType type, ByteView payload) override;
  void OnClosed(const std::shared_ptr<Connection>& conn, CloseReason reason) override;

  HostOptions opts;
  RateLimiter outsider_log;
  ConnectionContext ctx;
  std::map<MessageType, MessageHandler> handlers;  // frozen at Start()
  PeerHandler on_connected, on_disconnected;

  // Declared before everything that holds sockets or timers, so it is destroyed last.
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  std::atomic<uint16_t> port{0};

  mutable Mutex api_mu;  // serialises Start and Stop
  std::thread thread GUARDED_BY(api_mu);
  bool started GUARDED_BY(api_mu) = false;
  bool stopped GUARDED_BY(api_mu) = false;
  bool Started() const EXCLUDES(api_mu) {
    MutexLock lock(&api_mu);
    return started;
  }

  // Network thread only.
  bool stopping = false;
  std::set<std::shared_ptr<Connection>> conns;  // every live connection, any state
  // Unauthenticated inbound connections, by AdmissionId; `admission` decides who stays.
  InboundAdmission admission;
  std::map<uint64_t, std::shared_ptr<Connection>> pending;
  std::atomic<uint64_t> pending_count{0};  // pending.size(), for GetStats
  std::map<NodeId, std::unique_ptr<Slot>> slots;
  std::map<const Connection*, NodeId> dial_slot;  // outbound connection -> its slot
  std::mt19937_64 rng;

  // Written on the network thread under peers_mu; read there without it (NetPeers()),
  // elsewhere with it.
  mutable Mutex peers_mu;
  std::map<NodeId, std::shared_ptr<Connection>> peers GUARDED_BY(peers_mu);
  // The network thread's view of `peers`: it is the only writer, so its reads need no lock.
  // The analysis has no notion of "the writing thread", hence the opt-out.
  // REQUIRES: called on the network thread.
  const std::map<NodeId, std::shared_ptr<Connection>>& NetPeers() const NO_THREAD_SAFETY_ANALYSIS {
    return peers;
  }

  std::atomic<uint64_t> handshakes{0};
  std::array<std::atomic<uint64_t>, kCloseReasonCount> closes{};
};

void Host::Impl::Run() {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      // Only our own bugs or OS failures get here (handlers use error codes); keep serving.
      spdlog::error("{}: network thread: {}", ctx.log_prefix, e.what());
    } catch (...) {
      spdlog::error("{}: network thread: unknown exception", ctx.log_prefix);
    }
  }
}

void Host::Impl::Accept() {
  acceptor.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (stopping) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // E.g. EMFILE: retry shortly instead of spinning. A flood can cause it, so the line
      // is paced like the other outsider-triggered ones.
      uint64_t suppressed = 0;
      if (outsider_log.Allow(&suppressed)) {
        spdlog::warn("{}: accept failed: {}{}", ctx.log_prefix, ec.message(),
                     suppressed == 0 ? std::string()
                                     : " (" + std::to_string(suppressed) + " similar suppressed)");
      }
      accept_retry.expires_after(milliseconds(100));
      accept_retry.async_wait([this](const error_code& ec) {
        if (!ec && !stopping) Accept();
      });
      return;
    }
    Admit(std::move(socket));
    Accept();
  });
}

void Host::Impl::Admit(tcp::socket socket) {
  error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  if (ec) return;  // already reset by the remote; nothing to admit
  const auto addr = remote.address();
  const AddressKey key =
      addr.is_v4() ? AddressKeyOf(addr.to_v4().to_bytes()) : AddressKeyOf(addr.to_v6().to_bytes());
  auto conn = std::make_shared<Connection>(io, ctx, Direction::kInbound, std::nullopt);
  conn->socket() = std::move(socket);
  const uint64_t id = AdmissionId(conn.get());
  const bool address_full = admission.pending_from(key) >= opts.max_pending_per_ip;
  if (std::optional<uint64_t> victim = admission.Admit(id, key)) {
    auto it = pending.find(*victim);
    assert(it != pending.end());
    std::shared_ptr<Connection> evicted = std::move(it->second);
    pending.erase(it);
    evicted->Close(CloseReason::kEvicted,
                   address_full
                       ? "made room for a newer connection from " + AddressKeyToString(key) +
                             " (max_pending_per_ip " + std::to_string(opts.max_pending_per_ip) + ")"
                       : "made room for a newer connection (max_pending_inbound " +
                             std::to_string(opts.max_pending_inbound) + ")");
  }
  pending.emplace(id, conn);
  pending_count = pending.size();
  conns.insert(conn);
  conn->StartInbound();
}

bool Host::Impl::AllowHandshake(const Connection& conn) {
  return admission.OnHello(AdmissionId(&conn));
}

size_t Host::Impl::InboundPeersOtherThan(const NodeId& id) const {
  size_t n = 0;
  for (const auto& [peer, conn] : NetPeers()) {
    if (peer != id && conn->direction() == Direction::kInbound) ++n;
  }
  return n;
}

Status Host::Impl::AddSlot(const PeerAddress& p) {
  if (p.id == opts.node_key.public_key()) return Status::Ok();  // a list that includes us
  if (p.host.empty() || p.port == 0) {
    return Status::Error("p2p: persistent peer " + p.ToString() + " has no host or port");
  }
  if (slots.count(p.id) != 0) {
    return Status::Error("p2p: persistent peer " + p.id.ToHex() + " listed twice");
  }
  slots.emplace(p.id, std::make_unique<Slot>(io, p, opts.reconnect_initial));
  return Status::Ok();
}

void Host::Impl::Dial(const NodeId& id) {
  auto it = slots.find(id);
  if (it == slots.end()) return;
  Slot& s = *it->second;
  if (stopping || s.dialing || NetPeers().count(id) != 0) return;
  s.dialing = true;
  auto conn = std::make_shared<Connection>(io, ctx, Direction::kOutbound, id);
  conns.insert(conn);
  dial_slot.emplace(conn.get(), id);
  conn->StartOutbound(s.addr.host, s.addr.port);
}

void Host::Impl::ScheduleRedial(const NodeId& id) {
  auto it = slots.find(id);
  if (it == slots.end()) return;
  Slot& s = *it->second;
  if (stopping || s.dialing || s.timer_armed || NetPeers().count(s.addr.id) != 0) return;
  // Equal jitter: uniform in [backoff/2, backoff], so peers that lost each other at the
  // same moment do not redial in lockstep forever.
  const int64_t b = s.backoff.count();
  const milliseconds delay(std::uniform_int_distribution<int64_t>(b / 2, b)(rng));
  s.backoff = std::min(s.backoff * 2, opts.reconnect_max);
  s.timer_armed = true;
  const uint64_t gen = ++s.timer_gen;
  s.timer.expires_after(delay);
  s.timer.async_wait([this, id, gen](const error_code& ec) {
    auto it = slots.find(id);  // the slot may have been removed meanwhile
    if (it == slots.end() || gen != it->second->timer_gen) return;
    it->second->timer_armed = false;
    if (ec || stopping) return;
    Dial(id);
  });
}

void Host::Impl::CancelRedial(Slot& s) {
  ++s.timer_gen;
  s.timer_armed = false;
  s.timer.cancel();
}

bool Host::Impl::KeepNew(const Connection& old_conn, const Connection& new_conn) const {
  // Both ends see the same two TCP connections and agree on who dialled each, so "keep
  // the one dialled by the lower node id" picks the same survivor on both sides.
  const NodeId& self = opts.node_key.public_key();
  auto dialler = [&](const Connection& c) -> const NodeId& {
    return c.direction() == Direction::kOutbound ? self : c.remote_id();
  };
  const NodeId& d_old = dialler(old_conn);
  const NodeId& d_new = dialler(new_conn);
  if (d_old != d_new) return d_new < d_old;
  // Same dialler: only the dialler can have opened both, which it does only after losing
  // the first (e.g. it restarted), so the older connection is the stale one.
  return true;
}

void Host::Impl::CallPeerHandler(const PeerHandler& h, const NodeId& id) {
  if (!h) return;
  try {
    h(id);
  } catch (const std::exception& e) {
    spdlog::error("{}: peer callback for {} threw: {}", ctx.log_prefix, crypto::ShortHex(id, 8),
                  e.what());
  } catch (...) {
    spdlog::error("{}: peer callback for {} threw", ctx.log_prefix, crypto::ShortHex(id, 8));
  }
}

void Host::Impl::OnAuthenticated(const std::shared_ptr<Connection>& conn) {
  ++handshakes;
  if (pending.erase(AdmissionId(conn.get())) != 0) {
    admission.Remove(AdmissionId(conn.get()));
    pending_count = pending.size();
  }
  if (stopping) return conn->Close(CloseReason::kLocalShutdown, "host stopping");
  const NodeId id = conn->remote_id();
  // The handshake checked the allowlist, but it may have been replaced while the last frame
  // was in flight: RecheckAllowlist saw only registered peers, so check again here.
  if (!opts.allowlist->IsAllowed(id)) {
    return conn->Close(CloseReason::kAllowlistRevoked, "key " + id.ToHex() + " no longer allowed");
  }
  if (conn->direction() == Direction::kInbound && InboundPeersOtherThan(id) >= opts.max_inbound) {
    return conn->Close(CloseReason::kInboundLimit,
                       "max_inbound " + std::to_string(opts.max_inbound) + " peers reached");
  }
  auto it = NetPeers().find(id);
  if (it != NetPeers().end()) {
    std::shared_ptr<Connection> old_conn = it->second;
    if (!KeepNew(*old_conn, *conn)) {
      return conn->Close(CloseReason::kDuplicate, "keeping " + old_conn->Describe());
    }
    {
      MutexLock lock(&peers_mu);
      peers.insert_or_assign(id, conn);
    }
    old_conn->Close(CloseReason::kDuplicate, "replaced by " + conn->Describe());
    CallPeerHandler(on_disconnected, id);
  } else {
    MutexLock lock(&peers_mu);
    peers.emplace(id, conn);
  }
  spdlog::info("{}: connected {}", ctx.log_prefix, conn->Describe());
  if (auto s = slots.find(id); s != slots.end()) {
    CancelRedial(*s->second);
    s->second->failing = false;
  }
  CallPeerHandler(on_connected, id);
  if (!conn->closed()) conn->Activate();
}

bool Host::Impl::OnMessage(Connection& conn, MessageType type, ByteView payload) {
  auto it = handlers.find(type);
  if (it == handlers.end()) return false;
  try {
    it->second(conn.remote_id(), type, payload);
  } catch (const std::exception& e) {
    conn.Close(CloseReason::kBadMessage, std::string("message handler threw: ") + e.what());
  } catch (...) {
    conn.Close(CloseReason::kBadMessage, "message handler threw");
  }
  return true;
}

void Host::Impl::OnClosed(const std::shared_ptr<Connection>& conn, CloseReason reason) {
  ++closes[static_cast<size_t>(reason)];
  conns.erase(conn);
  if (pending.erase(AdmissionId(conn.get())) != 0) {
    admission.Remove(AdmissionId(conn.get()));
    pending_count = pending.size();
  }
  std::optional<NodeId> id = conn->authenticated() ? conn->remote_id() : conn->expected_id();
  if (conn->authenticated()) {
    auto it = NetPeers().find(*id);
    if (it != NetPeers().end() && it->second == conn) {
      {
        MutexLock lock(&peers_mu);
        peers.erase(it);
      }
      spdlog::info("{}: disconnected {} ({})", ctx.log_prefix, conn->Describe(),
                   CloseReasonName(reason));
      CallPeerHandler(on_disconnected, *id);
    }
  }
  if (auto d = dial_slot.find(conn.get()); d != dial_slot.end()) {
    if (auto s = slots.find(d->second); s != slots.end()) {
      Slot& slot = *s->second;
      slot.dialing = false;
      if (!conn->authenticated() && !slot.failing && !stopping) {
        slot.failing = true;
        spdlog::info(
            "{}: cannot reach persistent peer {}: {}; retrying with backoff (further "
            "failures at debug level)",
            ctx.log_prefix, slot.addr.ToString(), CloseReasonName(reason));
      }
    }
    dial_slot.erase(d);
  }
  if (!id) return;
  if (auto s = slots.find(*id); s != slots.end()) {
    if (conn->authenticated() && opts.clock->SteadyMs() - conn->authenticated_at_ms() >=
                                     static_cast<uint64_t>(opts.backoff_reset_after.count())) {
      s->second->backoff = opts.reconnect_initial;
    }
    ScheduleRedial(*id);
  }
}

void Host::Impl::ShutdownOnIoThread() {
  stopping = true;
  error_code ec;
  acceptor.close(ec);
  accept_retry.cancel();
  for (auto& [id, s] : slots) CancelRedial(*s);
  // Close() posts OnClosed, so iterating a copy is only for clarity, not safety.
  const auto live = conns;
  for (const auto& c : live) c->Close(CloseReason::kLocalShutdown, "host stopping");
}

size_t MaxSockets(const HostOptions& o, size_t allowlist_size) {
  size_t n = 1;  // Asio resolves names on one background thread: one DNS socket at a time
  if (o.listen) {
    // +1: a newcomer is accepted before the pending connection it evicts is closed.
    n += 1 + o.max_pending_inbound + 1 + std::min<size_t>(o.max_inbound, allowlist_size);
  }
  // One dial per persistent peer; AddPersistentPeer may add any allowlisted key later.
  n += std::max(o.persistent_peers.size(), allowlist_size);
  return n;
}

Host::Host(HostOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Host::~Host() { Stop(); }

void Host::SetHandler(MessageType type, MessageHandler handler) {
  assert(!impl_->Started() && !IsTransport(type));
  impl_->handlers[type] = std::move(handler);
}

void Host::SetPeerHandlers(PeerHandler on_connected, PeerHandler on_disconnected) {
  assert(!impl_->Started());
  impl_->on_connected = std::move(on_connected);
  impl_->on_disconnected = std::move(on_disconnected);
}

Status Host::Start() {
  Impl& m = *impl_;
  MutexLock lock(&m.api_mu);
  if (m.started) return Status::Error("p2p: host already started");
  if (Status s = ValidateOptions(m.opts); !s.ok()) return s;
  crypto::Init();
  const NodeId& self = m.opts.node_key.public_key();
  for (const PeerAddress& p : m.opts.persistent_peers) {
    if (Status s = m.AddSlot(p); !s.ok()) {
      m.slots.clear();
      return s;
    }
  }
  m.rng.seed(m.opts.rng_seed != 0 ? m.opts.rng_seed : std::random_device{}());
  if (m.opts.listen) {
    error_code ec;
    const auto addr = asio::ip::make_address(m.opts.listen_host, ec);
    if (ec) return Status::Error("p2p: bad listen address " + m.opts.listen_host);
    const tcp::endpoint ep(addr, m.opts.listen_port);
    const std::string where = m.opts.listen_host + ":" + std::to_string(m.opts.listen_port);
    m.acceptor.open(ep.protocol(), ec);
    if (!ec) m.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) m.acceptor.bind(ep, ec);
    if (!ec) m.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) m.port = m.acceptor.local_endpoint(ec).port();
    if (ec) {
      error_code ignored;
      m.acceptor.close(ignored);
      m.slots.clear();
      return Status::Error("p2p: listen on " + where + ": " + ec.message());
    }
    spdlog::info("{}: listening on {}:{} as {}", m.ctx.log_prefix, m.opts.listen_host,
                 m.port.load(), self.ToHex());
  }
  m.work.emplace(asio::make_work_guard(m.io));
  asio::post(m.io, [&m] {
    if (m.opts.listen) m.Accept();
    for (auto& [id, slot] : m.slots) m.Dial(id);
  });
  m.thread = std::thread([&m] {
    NameThisThread("p2p");
    m.Run();
  });
  m.started = true;
  return Status::Ok();
}

void Host::Stop() {
  Impl& m = *impl_;
  MutexLock lock(&m.api_mu);
  if (!m.started || m.stopped) return;
  m.stopped = true;
  assert(std::this_thread::get_id() != m.thread.get_id() && "Stop() called from a callback");
  asio::post(m.io, [&m] { m.ShutdownOnIoThread(); });
  // Without the guard, run() returns once the closes and their OnClosed posts are done.
  m.work.reset();
  m.thread.join();
}

const NodeId& Host::id() const { return impl_->opts.node_key.public_key(); }

uint16_t Host::listen_port() const { return impl_->port; }

Status Host::Send(const NodeId& to, MessageType type, Bytes payload) {
  Impl& m = *impl_;
  if (IsTransport(type)) return Status::Error("p2p: message type is reserved for transport");
  if (payload.size() + kMessageOverhead + kTagSize > m.opts.max_frame_bytes) {
    return Status::Error("p2p: payload of " + std::to_string(payload.size()) +
                         " bytes exceeds max_frame_bytes");
  }
  if (!IsConnected(to)) {
    return Status::Unavailable("p2p: peer " + crypto::ShortHex(to, 8) + " is not connected");
  }
  auto shared = std::make_shared<const Bytes>(std::move(payload));
  asio::post(m.io, [&m, to, type, shared] {
    auto it = m.NetPeers().find(to);
    if (it != m.NetPeers().end()) it->second->Enqueue(type, shared);
  });
  return Status::Ok();
}

Status Host::Broadcast(MessageType type, Bytes payload) {
  Impl& m = *impl_;
  if (IsTransport(type)) return Status::Error("p2p: message type is reserved for transport");
  if (payload.size() + kMessageOverhead + kTagSize > m.opts.max_frame_bytes) {
    return Status::Error("p2p: payload of " + std::to_string(payload.size()) +
                         " bytes exceeds max_frame_bytes");
  }
  auto shared = std::make_shared<const Bytes>(std::move(payload));
  asio::post(m.io, [&m, type, shared] {
    // Enqueue may close a peer; the removal is posted, so the map stays intact here.
    for (auto& [id, conn] : m.NetPeers()) conn->Enqueue(type, shared);
  });
  return Status::Ok();
}

std::vector<PeerInfo> Host::GetPeers() const {
  MutexLock lock(&impl_->peers_mu);
  std::vector<PeerInfo> out;
  out.reserve(impl_->peers.size());
  for (const auto& [id, conn] : impl_->peers) out.push_back(conn->Info());
  return out;
}

bool Host::IsConnected(const NodeId& id) const {
  MutexLock lock(&impl_->peers_mu);
  return impl_->peers.count(id) != 0;
}

HostStats Host::GetStats() const {
  HostStats s;
  s.handshakes_completed = impl_->handshakes;
  for (size_t i = 0; i < kCloseReasonCount; ++i) s.closes[i] = impl_->closes[i];
  s.log_lines_suppressed = impl_->outsider_log.total_suppressed();
  s.pending_inbound = impl_->pending_count;
  return s;
}

void Host::AddPersistentPeer(const PeerAddress& peer) {
  Impl& m = *impl_;
  asio::post(m.io, [&m, peer] {
    if (m.stopping) return;
    if (Status s = m.AddSlot(peer); !s.ok()) {
      spdlog::warn("{}: {}", m.ctx.log_prefix, s.message());
      return;
    }
    m.Dial(peer.id);
  });
}

void Host::RemovePersistentPeer(const NodeId& id) {
  Impl& m = *impl_;
  asio::post(m.io, [&m, id] {
    auto it = m.slots.find(id);
    if (it == m.slots.end()) return;
    m.CancelRedial(*it->second);
    m.slots.erase(it);
  });
}

void Host::Disconnect(const NodeId& id, const std::string& why) {
  Impl& m = *impl_;
  asio::post(m.io, [&m, id, why] {
    auto it = m.NetPeers().find(id);
    if (it != m.NetPeers().end()) it->second->Close(CloseReason::kMisbehaved, why);
  });
}

void Host::RecheckAllowlist() {
  Impl& m = *impl_;
  asio::post(m.io, [&m] {
    for (auto& [id, conn] : m.NetPeers()) {
      if (!m.opts.allowlist->IsAllowed(id)) {
        conn->Close(CloseReason::kAllowlistRevoked, "key " + id.ToHex() + " no longer allowed");
      }
    }
  });
}

}  // namespace cairn::p2p
