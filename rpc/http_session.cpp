// One server-side HTTP/1.1 connection. Every step runs on the session's strand, and each step
// starts exactly one asynchronous operation, so the session's members need no locks.
//
// Life of a connection:
//   WaitForRequest (idle_timeout) -> ReadHeader (read_timeout covers header and body)
//   -> route: 404/405/415/413/431/400 answered at once | POST / -> [100 Continue] -> ReadBody
//   -> Handle (the dispatcher, on this thread) -> Write (write_timeout)
//   -> WaitForRequest again, or LingerClose when the connection must end.
#include "rpc/http_session.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "rpc/ws_session.h"

namespace cairn::rpc::detail {
namespace {

namespace net = boost::asio;

constexpr size_t kReadChunk = 4096;
// How long a closing connection is drained; its slot is held meanwhile.
constexpr std::chrono::milliseconds kMaxLinger{2000};

std::string_view View(beast::string_view s) { return std::string_view(s.data(), s.size()); }

bool IEquals(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()),
                        beast::string_view(b.data(), b.size()));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// application/json, with parameters such as charset; also the two aliases some JSON-RPC
// clients send (geth accepts the same set).
bool IsJsonContentType(std::string_view value) {
  std::string_view media = Trim(value.substr(0, value.find(';')));
  return IEquals(media, "application/json") || IEquals(media, "application/json-rpc") ||
         IEquals(media, "application/jsonrequest");
}

bool IsHttpSyntaxError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

ServerShared::Admission ServerShared::Admit(const std::shared_ptr<HttpSession>& session,
                                            const AddressKey& client) {
  MutexLock lock(&mu_);
  if (stopping.load()) return Admission::kDrop;
  const bool client_full = per_client_[client] >= options.max_connections_per_ip;
  bool full = client_full && !EvictLongestIdle(&client);
  if (!full && active_ >= options.max_connections) full = !EvictLongestIdle(nullptr);
  if (per_client_[client] == 0) per_client_.erase(client);
  if (full && rejecting_ >= kMaxRejecting) return Admission::kDrop;
  session->id_ = next_id_++;
  Entry& e = sessions_[session->id_];
  e.session = session;
  e.client = client;
  if (full) {
    e.rejecting = true;
    ++rejecting_;
    return Admission::kReject;
  }
  e.admitted = true;
  ++active_;
  ++per_client_[client];
  // Waiting for its first request: as evictable as any idle connection, and the newest.
  e.idle_seq = next_idle_seq_++;
  idle_.emplace(e.idle_seq, session->id_);
  return Admission::kServe;
}

bool ServerShared::EvictLongestIdle(const AddressKey* client) {
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    auto entry = sessions_.find(it->second);
    if (entry == sessions_.end()) continue;
    Entry& e = entry->second;
    if (client != nullptr && e.client != *client) continue;
    Release(e);
    evicted.fetch_add(1);
    // Its slot is the newcomer's from now on; the session closes on its own strand, or, if a
    // request arrived meanwhile, after answering it.
    if (auto victim = e.session.lock()) victim->RequestStop();
    return true;
  }
  return false;
}

void ServerShared::Release(Entry& e) {
  if (e.idle_seq != 0) idle_.erase(e.idle_seq);
  e.idle_seq = 0;
  if (e.admitted) {
    --active_;
    if (auto it = per_client_.find(e.client); it != per_client_.end() && --it->second == 0) {
      per_client_.erase(it);
    }
  }
  if (e.rejecting) --rejecting_;
  if (e.ws) {
    --ws_;
    if (auto it = ws_per_client_.find(e.client); it != ws_per_client_.end() && --it->second == 0) {
      ws_per_client_.erase(it);
    }
  }
  e.ws = false;
  e.admitted = false;
  e.rejecting = false;
}

bool ServerShared::SetIdle(uint64_t id, bool idle) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  Entry& e = it->second;
  if (!e.admitted) {
    // Evicted while its next request was arriving: it gave its slot away, so it may answer
    // that request only as one of the refusing connections the descriptor budget counts
    // (node/fd_limits.h); past those it closes unanswered, as a refused connection would.
    if (idle || e.rejecting) return e.rejecting;
    if (rejecting_ >= kMaxRejecting) return false;
    e.rejecting = true;
    ++rejecting_;
    return true;
  }
  if (e.idle_seq != 0) idle_.erase(e.idle_seq);
  e.idle_seq = 0;
  if (idle) {
    e.idle_seq = next_idle_seq_++;
    idle_.emplace(e.idle_seq, id);
  }
  return true;
}

void ServerShared::Remove(uint64_t id) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) {
    Release(it->second);
    sessions_.erase(it);
  }
  if (sessions_.empty()) empty_cv_.NotifyAll();
}

std::shared_ptr<Session> ServerShared::Upgrade(
    uint64_t id, const std::function<std::shared_ptr<Session>()>& make, const char** refused_by) {
  MutexLock lock(&mu_);
  *refused_by = "max_ws_connections";
  if (stopping.load() || ws_ >= options.max_ws_connections) return nullptr;
  auto it = sessions_.find(id);
  if (it == sessions_.end() || !it->second.admitted) return nullptr;
  Entry& e = it->second;
  // WebSockets are never evicted: without a bound per address, a few clients could hold them
  // all.
  size_t& mine = ws_per_client_[e.client];
  if (mine >= options.max_ws_connections_per_ip) {
    if (mine == 0) ws_per_client_.erase(e.client);
    *refused_by = "max_ws_connections_per_ip";
    return nullptr;
  }
  ++mine;
  std::shared_ptr<Session> ws = make();
  if (e.idle_seq != 0) idle_.erase(e.idle_seq);
  e.idle_seq = 0;
  e.session = ws;
  e.ws = true;
  ++ws_;
  ws->id_ = id;
  return ws;
}

uint64_t ServerShared::ws_connections() const {
  MutexLock lock(&mu_);
  return ws_;
}

std::vector<std::shared_ptr<Session>> ServerShared::Snapshot() {
  std::vector<std::shared_ptr<Session>> out;
  MutexLock lock(&mu_);
  out.reserve(sessions_.size());
  for (auto& [id, e] : sessions_) {
    if (auto session = e.session.lock()) out.push_back(std::move(session));
  }
  return out;
}

bool ServerShared::WaitUntilEmpty(std::chrono::milliseconds timeout) {
  MutexLock lock(&mu_);
  return empty_cv_.WaitFor(&mu_, timeout, [this] {
    mu_.AssertHeld();  // the predicate runs inside WaitFor, under mu_
    return sessions_.empty();
  });
}

uint64_t ServerShared::active() const {
  MutexLock lock(&mu_);
  return active_;
}

HttpSession::HttpSession(tcp::socket socket, std::shared_ptr<ServerShared> shared)
    : shared_(std::move(shared)), stream_(std::move(socket)) {
  // Beast checks header_limit on the headers only: a chunked body's trailer is buffered until
  // its end is found. Bytes not yet parsed are a header, a chunk-size line or a trailer, so
  // bounding the buffer bounds the trailer (buffer_overflow, answered 431).
  buffer_.max_size(shared_->options.max_header_bytes + kReadChunk);
}

HttpSession::~HttpSession() {
  if (id_ != 0) shared_->Remove(id_);
}

void HttpSession::Run() {
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&HttpSession::WaitForRequest, shared_from_this()));
}

void HttpSession::RunRejected() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    self->shared_->rejected_busy.fetch_add(1);
    const ServerOptions& o = self->shared_->options;
    self->SendError(
        http::status::service_unavailable,
        StandardError(kResourceUnavailable,
                      "server busy: every connection has a request in progress "
                      "(max_connections " +
                          std::to_string(o.max_connections) + ", max_connections_per_ip " +
                          std::to_string(o.max_connections_per_ip) + ")"));
  });
}

void HttpSession::RequestStop() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    self->stop_requested_ = true;
    // Only a connection waiting for its next request is interrupted; one that is reading,
    // handling or writing a request finishes it and then closes.
    if (self->phase_ == Phase::kIdle) self->stream_.cancel();
  });
}

void HttpSession::ForceClose() {
  net::post(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
}

void HttpSession::WaitForRequest() {
  phase_ = Phase::kIdle;
  if (stop_requested_) return Close();
  if (buffer_.size() > 0) return ReadHeader();  // the next request was pipelined
  // The first byte is awaited apart from the rest so that an idle kept-alive connection may
  // wait idle_timeout while a started request must finish within read_timeout. A new
  // connection's first request must have its headers in first_request_timeout, all told.
  if (!first_request_) shared_->SetIdle(id_, true);
  stream_.expires_after(first_request_ ? shared_->options.first_request_timeout
                                       : shared_->options.idle_timeout);
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          beast::bind_front_handler(&HttpSession::OnIdleRead, shared_from_this()));
}

void HttpSession::OnIdleRead(beast::error_code ec, size_t n) {
  // Peer closed, idle timeout, Stop() or eviction. A request that raced an eviction or Stop()
  // is served, with Connection: close, while the refusing connections have room.
  if (ec) return Close();
  buffer_.commit(n);
  if (!shared_->SetIdle(id_, false)) return Close();
  ReadHeader();
}

void HttpSession::ReadHeader() {
  phase_ = Phase::kReading;
  parser_.emplace();
  parser_->header_limit(
      static_cast<std::uint32_t>(std::min<size_t>(shared_->options.max_header_bytes, UINT32_MAX)));
  parser_->body_limit(shared_->options.max_body_bytes);
  // The first request's header is still under first_request_timeout (set on accept).
  if (!first_request_) stream_.expires_after(shared_->options.read_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void HttpSession::OnHeader(beast::error_code ec) {
  const size_t max_body = shared_->options.max_body_bytes;
  if (ec == http::error::body_limit) {
    return SendError(
        http::status::payload_too_large,
        StandardError(kLimitExceeded, "request body exceeds " + std::to_string(max_body) +
                                          " bytes (max_body_bytes)"));
  }
  if (ec == http::error::header_limit) {
    return SendError(
        http::status::request_header_fields_too_large,
        StandardError(kLimitExceeded, "request headers exceed " +
                                          std::to_string(shared_->options.max_header_bytes) +
                                          " bytes (max_header_bytes)"));
  }
  if (IsHttpSyntaxError(ec)) {
    return SendError(http::status::bad_request,
                     StandardError(kInvalidRequest, "malformed HTTP request: " + ec.message()));
  }
  if (ec) return Close();  // read timeout, reset, or the peer gave up half-way
  if (first_request_) {
    first_request_ = false;
    stream_.expires_after(shared_->options.read_timeout);  // for the body
  }

  const auto& request = parser_->get();
  const std::string_view target = View(request.target());
  if (target == "/" && request.method() == http::verb::get && websocket::is_upgrade(request)) {
    return UpgradeToWebSocket();
  }
  if (target == "/") {
    if (request.method() != http::verb::post) {
      return SendError(http::status::method_not_allowed,
                       StandardError(kInvalidRequest, "use POST for JSON-RPC requests"), "POST");
    }
    if (shared_->options.require_json_content_type &&
        !IsJsonContentType(View(request[http::field::content_type]))) {
      return SendError(http::status::unsupported_media_type,
                       StandardError(kInvalidRequest, "Content-Type must be application/json"));
    }
    // Before 100 Continue, so a refused client need not send the body at all.
    if (!ReserveBody()) return RefuseForInflight();
    if (IEquals(View(request[http::field::expect]), "100-continue")) return SendContinue();
    return ReadBody();
  }
  if (target == "/health") {
    if (request.method() != http::verb::get) {
      return SendError(http::status::method_not_allowed,
                       StandardError(kInvalidRequest, "use GET for /health"), "GET");
    }
    return SendHealth();
  }
  if (target == "/ready") {
    if (request.method() != http::verb::get) {
      return SendError(http::status::method_not_allowed,
                       StandardError(kInvalidRequest, "use GET for /ready"), "GET");
    }
    return SendReady();
  }
  SendError(http::status::not_found,
            StandardError(kInvalidRequest, "no such path; POST JSON-RPC requests to /"));
}

void HttpSession::SendContinue() {
  // curl and others wait (curl: 1 s) for this before sending a body larger than 1 KiB.
  continue_ = {};
  continue_.result(http::status::continue_);
  continue_.version(parser_->get().version());
  stream_.expires_after(shared_->options.write_timeout);
  http::async_write(stream_, continue_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) return self->Close();
    self->stream_.expires_after(self->shared_->options.read_timeout);
    self->ReadBody();
  });
}

bool HttpSession::ReserveBody() {
  body_charge_ = shared_->inflight.Open();
  // Beast reserves a Content-Length body whole before reading it (string_body), so that is what
  // the body holds; body_limit has already refused one over max_body_bytes. A chunked body is
  // charged as it grows (ReserveChunkRoom).
  const auto length = parser_->content_length();  // boost::optional
  if (!length || *length <= kUncountedBodyBytes) return true;
  return body_charge_.TryGrow(static_cast<size_t>(*length) - kUncountedBodyBytes);
}

void HttpSession::RefuseForInflight() {
  shared_->rejected_inflight.fetch_add(1);
  body_charge_.Reset();
  SendError(
      http::status::service_unavailable,
      StandardError(kResourceUnavailable,
                    "server busy: request bodies and answers in flight use the server's "
                    "budget (max_inflight_bytes " +
                        std::to_string(shared_->options.max_inflight_bytes) + "); retry later"));
}

void HttpSession::ReadBody() {
  if (parser_->chunked()) return ReadChunkedBody();
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
}

void HttpSession::ReadChunkedBody() {
  if (!ReserveChunkRoom()) return RefuseForInflight();
  http::async_read_some(stream_, buffer_, *parser_,
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec || self->parser_->is_done()) return self->OnBody(ec);
                          self->ReadChunkedBody();
                        });
}

bool HttpSession::ReserveChunkRoom() {
  std::string& body = parser_->get().body();
  // One read adds at most what buffer_ can hold to the body (Beast parses what one read
  // brought), so with that much spare capacity the string cannot reallocate behind our back.
  const size_t max_read = buffer_.max_size();
  if (body.capacity() - body.size() >= max_read) return true;
  // Geometric growth, as the string would grow itself, but charged before it happens; never
  // past max_body_bytes, where body_limit stops the read.
  const size_t max_body = shared_->options.max_body_bytes;
  const size_t want = std::min(std::max(body.size() + max_read, 2 * body.capacity()), max_body);
  if (want <= body.capacity()) return true;
  const size_t charge = want > kUncountedBodyBytes ? want - kUncountedBodyBytes : 0;
  if (charge > body_charge_.bytes() && !body_charge_.TryGrow(charge - body_charge_.bytes())) {
    return false;
  }
  body.reserve(want);
  return true;
}

void HttpSession::OnBody(beast::error_code ec) {
  if (ec == http::error::body_limit) {
    return SendError(
        http::status::payload_too_large,
        StandardError(kLimitExceeded, "request body exceeds " +
                                          std::to_string(shared_->options.max_body_bytes) +
                                          " bytes (max_body_bytes)"));
  }
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    // A chunked body's trailer counts against the header limit.
    return SendError(
        http::status::request_header_fields_too_large,
        StandardError(kLimitExceeded, "request headers and trailer exceed " +
                                          std::to_string(shared_->options.max_header_bytes) +
                                          " bytes (max_header_bytes)"));
  }
  if (IsHttpSyntaxError(ec)) {
    return SendError(http::status::bad_request,
                     StandardError(kInvalidRequest, "malformed HTTP request: " + ec.message()));
  }
  if (ec) return Close();
  Handle();
}

void HttpSession::Handle() {
  phase_ = Phase::kHandling;
  shared_->requests.fetch_add(1);
  http::request<http::string_body> request = parser_->release();
  parser_.reset();
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  // Parsing runs on the light lane: its cost is bounded by the body, which the client had to
  // send, while a heavy method's cost is not. The body is freed once parsed; its charge then
  // becomes the parsed document's, until the answer is built.
  net::post(
      *shared_->light_pool, [self = shared_from_this(), body = std::move(request.body()),
                             body_charge = std::move(body_charge_), version, keep_alive]() mutable {
        Dispatcher::Prepared prepared = self->shared_->dispatcher.Prepare(body);
        body = std::string();
        // From here the charge stands for the parsed document, which may be larger than its
        // body (many small values) and may wait long for a heavy thread: charge its estimate,
        // or refuse it as a body that does not fit (nothing has run yet).
        const size_t doc = prepared.approx_bytes() > kUncountedBodyBytes
                               ? prepared.approx_bytes() - kUncountedBodyBytes
                               : 0;
        if (doc > body_charge.bytes() && !body_charge.TryGrow(doc - body_charge.bytes())) {
          body_charge.Reset();
          self->shared_->rejected_inflight.fetch_add(1);
          net::post(self->stream_.get_executor(),
                    [self, version, keep_alive] { self->RespondBusy(version, keep_alive); });
          return;
        }
        body_charge.ShrinkTo(doc);
        auto run = [self, version, keep_alive](Dispatcher::Prepared p,
                                               ByteBudget::Reservation doc_charge) {
          ByteBudget::Reservation charge = self->shared_->inflight.Open();
          std::string answer = self->shared_->dispatcher.Execute(std::move(p), &charge);
          doc_charge.Reset();
          net::post(self->stream_.get_executor(),
                    [self, answer = std::move(answer), charge = std::move(charge), version,
                     keep_alive]() mutable {
                      self->Respond(std::move(answer), std::move(charge), version, keep_alive);
                    });
        };
        if (prepared.lane() == Lane::kHeavy) {
          net::post(*self->shared_->heavy_pool, [run, prepared = std::move(prepared),
                                                 body_charge = std::move(body_charge)]() mutable {
            run(std::move(prepared), std::move(body_charge));
          });
        } else {
          run(std::move(prepared), std::move(body_charge));
        }
      });
}

void HttpSession::Respond(std::string body, ByteBudget::Reservation charge, unsigned version,
                          bool keep_alive) {
  const bool close = !keep_alive || stop_requested_ || shared_->stopping;
  response_ = {};
  answer_charge_ = std::move(charge);
  response_.version(version);
  if (body.empty()) {
    // Only notifications: nothing to return. 204 carries no Content-Length (RFC 9110 8.6).
    response_.result(http::status::no_content);
  } else {
    response_.result(http::status::ok);
    response_.set(http::field::content_type, "application/json");
    response_.body() = std::move(body);
    response_.prepare_payload();
  }
  response_.keep_alive(!close);
  Write(close);
}

void HttpSession::RespondBusy(unsigned version, bool keep_alive) {
  // The body was read whole, so the connection may carry another request.
  const bool close = !keep_alive || stop_requested_ || shared_->stopping;
  response_ = {};
  response_.version(version);
  response_.result(http::status::service_unavailable);
  response_.set(http::field::content_type, "application/json");
  response_.set(http::field::retry_after, "1");
  response_.body() = ErrorResponse(
      nullptr,
      StandardError(kResourceUnavailable,
                    "server busy: the parsed request does not fit the server's budget "
                    "of bytes in flight (max_inflight_bytes " +
                        std::to_string(shared_->options.max_inflight_bytes) + "); retry later"));
  response_.prepare_payload();
  response_.keep_alive(!close);
  Write(close);
}

void HttpSession::SendHealth() {
  const auto& request = parser_->get();
  // A body we did not read would be taken for the next request: close instead.
  const bool close =
      !request.keep_alive() || !parser_->is_done() || stop_requested_ || shared_->stopping;
  response_ = {};
  response_.version(request.version());
  response_.result(http::status::ok);
  response_.set(http::field::content_type, "text/plain");
  response_.body() = "ok\n";
  response_.prepare_payload();
  response_.keep_alive(!close);
  parser_.reset();
  Write(close);
}

void HttpSession::SendReady() {
  const auto& request = parser_->get();
  const bool close =
      !request.keep_alive() || !parser_->is_done() || stop_requested_ || shared_->stopping;
  Readiness readiness;
  if (shared_->stopping) {
    readiness = Readiness{.ready = false, .reason = "shutting down"};
  } else if (shared_->options.readiness) {
    readiness = shared_->options.readiness();
  }
  Json body = {{"ready", readiness.ready}};
  if (!readiness.ready) body["reason"] = readiness.reason;
  response_ = {};
  response_.version(request.version());
  response_.result(readiness.ready ? http::status::ok : http::status::service_unavailable);
  response_.set(http::field::content_type, "application/json");
  response_.set(http::field::cache_control, "no-store");
  response_.body() = body.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  response_.prepare_payload();
  response_.keep_alive(!close);
  parser_.reset();
  Write(close);
}

void HttpSession::UpgradeToWebSocket() {
  if (!parser_->is_done()) {
    return SendError(http::status::bad_request,
                     StandardError(kInvalidRequest, "a WebSocket upgrade carries no body"));
  }
  const char* refused_by = "";
  auto created = shared_->Upgrade(
      id_,
      [this]() -> std::shared_ptr<Session> {
        return std::make_shared<WsSession>(stream_.release_socket(), shared_);
      },
      &refused_by);
  if (!created) {
    const bool per_ip = std::string_view(refused_by) == "max_ws_connections_per_ip";
    const size_t limit =
        per_ip ? shared_->options.max_ws_connections_per_ip : shared_->options.max_ws_connections;
    return SendError(http::status::service_unavailable,
                     StandardError(kResourceUnavailable, std::string("server busy: ") + refused_by +
                                                             " " + std::to_string(limit) +
                                                             " WebSocket connections are open" +
                                                             (per_ip ? " from this address" : "")));
  }
  // The slot is the WebSocket's now; this session ends without giving it back.
  id_ = 0;
  phase_ = Phase::kClosed;
  auto ws = std::static_pointer_cast<WsSession>(created);
  ws->Run(parser_->release());
  parser_.reset();
}

void HttpSession::SendError(http::status status, const RpcError& error, const char* allow) {
  // The connection can carry another request only when this one was read to its end.
  const bool complete = parser_.has_value() && parser_->is_header_done() && parser_->is_done();
  const bool close =
      !complete || !parser_->get().keep_alive() || stop_requested_ || shared_->stopping;
  response_ = {};
  response_.version(parser_.has_value() && parser_->is_header_done() ? parser_->get().version()
                                                                     : 11);
  response_.result(status);
  response_.set(http::field::content_type, "application/json");
  if (allow != nullptr) response_.set(http::field::allow, allow);
  if (status == http::status::service_unavailable) response_.set(http::field::retry_after, "1");
  response_.body() = ErrorResponse(nullptr, error);
  response_.prepare_payload();
  response_.keep_alive(!close);
  parser_.reset();
  body_charge_.Reset();  // what was read of the body is dropped with the parser
  Write(close);
}

void HttpSession::Write(bool close) {
  phase_ = Phase::kWriting;
  stream_.expires_after(shared_->options.write_timeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this(), close](beast::error_code ec, size_t) {
                      self->OnWrite(close, ec);
                    });
}

void HttpSession::OnWrite(bool close, beast::error_code ec) {
  // Free the body before waiting, perhaps long, for the next request; and at once when the
  // write failed or timed out (a client that does not read), not when the session goes.
  response_ = {};
  answer_charge_.Reset();
  if (ec) return Close();
  if (close) return LingerClose();
  WaitForRequest();
}

void HttpSession::LingerClose() {
  phase_ = Phase::kClosing;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  buffer_.clear();
  stream_.expires_after(std::min(kMaxLinger, shared_->options.read_timeout));
  Drain();
}

void HttpSession::Drain() {
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) return self->Close();  // EOF: the peer has our response
                            self->Drain();
                          });
}

void HttpSession::Close() {
  phase_ = Phase::kClosed;
  stream_.close();
  // An operation still pending refers to parser_ and response_, so what they hold of the
  // budget goes back when its completion lets the session go (the reservations are members).
}

}  // namespace cairn::rpc::detail
