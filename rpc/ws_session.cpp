// One server-side WebSocket connection.
//
// Life of a connection:
//   Run (101 Switching Protocols) -> Read (one text message, max_ws_message_bytes)
//   -> Handle on a handler thread: subscribe/unsubscribe to the SubscriptionService, anything
//      else to the Dispatcher as over HTTP -> the answer is queued -> Read again.
// Outbound, independently: Push (any thread) queues under mu_ and posts WriteNext once;
// WriteNext writes one message at a time until the queue is empty. A push past
// ws_queue_messages or ws_queue_bytes drops the queue and closes with 1008: the producer (the
// node's commit path) never waits for a client.
#include "rpc/ws_session.h"

#include <chrono>
#include <string_view>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/error.hpp>

#include "base/json_depth.h"

namespace cairn::rpc::detail {
namespace {

// Per queued message beyond its text: the deque slot and the notification's envelope.
constexpr size_t kQueueOverhead = 96;

// Only messages this small are tried as subscribe/unsubscribe: a real one is a few hundred
// bytes (a topic, a 64-digit address, a prefix of at most 2 x kMaxRecordKey hex digits).
constexpr size_t kMaxSubscriptionCallBytes = 4 << 10;
// What such a message is charged to max_inflight_bytes while it waits and runs: a bound on its
// parsed document and the params copy (nlohmann's tree is at most ~16x the text).
constexpr size_t kSubscriptionCallCharge = 16 * kMaxSubscriptionCallBytes;

// Brackets nested deeper than this are not parsed here (they go to the dispatcher, which
// refuses them with its own limits): nlohmann's parse and destruction recurse per level.
constexpr size_t kMaxSubscriptionCallDepth = 8;

// Whether `text` may be a single subscribe/unsubscribe call worth parsing here: a cheap scan
// first, so ordinary calls never pay for a second parse.
bool MaybeSubscriptionCall(std::string_view text) {
  if (text.find("subscribe") == std::string_view::npos) return false;
  size_t i = text.find_first_not_of(" \t\r\n");
  if (i == std::string_view::npos || text[i] != '{') return false;
  return JsonNestingWithin(text, kMaxSubscriptionCallDepth);
}

}  // namespace

WsSession::WsSession(tcp::socket socket, std::shared_ptr<ServerShared> shared)
    : shared_(std::move(shared)), ws_(std::move(socket)), close_timer_(ws_.get_executor()) {
  if (shared_->options.ws_send_buffer_bytes > 0) {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(
        net::socket_base::send_buffer_size(
            static_cast<int>(std::min<size_t>(shared_->options.ws_send_buffer_bytes, 1u << 30))),
        ignored);
  }
}

WsSession::~WsSession() {
  if (id_ != 0) shared_->Remove(id_);
}

void WsSession::Run(http::request<http::string_body> upgrade) {
  const ServerOptions& o = shared_->options;
  // Beast's own timers from here on (tcp_stream's would cut a long-lived connection).
  beast::get_lowest_layer(ws_).expires_never();
  // idle_timeout with pings: a subscriber that only listens stays while it answers pings
  // (every WebSocket library does); a dead peer is found within idle_timeout.
  ws_.set_option(websocket::stream_base::timeout{o.write_timeout, o.idle_timeout,
                                                 /*keep_alive_pings=*/true});
  ws_.read_message_max(o.max_ws_message_bytes);
  ws_.text(true);
  ws_.async_accept(upgrade, beast::bind_front_handler(&WsSession::OnAccept, shared_from_this()));
}

void WsSession::OnAccept(beast::error_code ec) {
  if (ec) return Finish();
  Read();
}

void WsSession::RequestStop() {
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    self->CloseWith(websocket::close_code::going_away, "server shutting down");
  });
}

void WsSession::ForceClose() {
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    beast::get_lowest_layer(self->ws_).socket().close(ignored);
    self->Finish();
  });
}

void WsSession::Read() {
  if (closing_ || finished_) return;
  ws_.async_read(read_buffer_, beast::bind_front_handler(&WsSession::OnRead, shared_from_this()));
}

void WsSession::OnRead(beast::error_code ec, size_t) {
  // The peer closed (websocket::error::closed), a message over read_message_max (Beast
  // answers 1009 itself), a missed ping, a reset, or our own close finished.
  if (ec) {
    if (!closing_) {
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).socket().close(ignored);
    }
    return Finish();
  }
  if (!ws_.got_text()) {
    return CloseWith(websocket::close_code::unknown_data, "send JSON-RPC as text messages");
  }
  std::string text = beast::buffers_to_string(read_buffer_.data());
  read_buffer_.consume(read_buffer_.size());
  shared_->requests.fetch_add(1);
  Handle(std::move(text));
}

void WsSession::Handle(std::string text) {
  auto self = shared_from_this();
  auto read_next = [self] { net::post(self->ws_.get_executor(), [self] { self->Read(); }); };
  // Nothing is parsed on the I/O thread (one thread serves every connection): every message
  // goes to the light lane first.
  net::post(*shared_->light_pool, [self, read_next, text = std::move(text)]() mutable {
    ServerShared& shared = *self->shared_;
    auto busy = [&shared](const std::string& what) {
      shared.rejected_inflight.fetch_add(1);
      return ErrorResponse(
          nullptr,
          StandardError(kResourceUnavailable,
                        "server busy: " + what + " does not fit max_inflight_bytes (" +
                            std::to_string(shared.options.max_inflight_bytes) + "); retry later"));
    };
    // subscribe/unsubscribe are small: only a message this small takes the subscription path,
    // charged a fixed bound on its parsed document (and the params copy) until it is answered.
    if (text.size() <= kMaxSubscriptionCallBytes && MaybeSubscriptionCall(text)) {
      ByteBudget::Reservation doc_charge = shared.inflight.Open();
      if (!doc_charge.TryGrow(kSubscriptionCallCharge)) {
        self->Send(busy("a subscription call"));
        return read_next();
      }
      Json request = Json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (request.is_object()) {
        auto method = request.find("method");
        if (method != request.end() && method->is_string() &&
            (*method == "subscribe" || *method == "unsubscribe")) {
          text = std::string();
          // Heavy: a resume reads up to max_resume_blocks blocks from the store.
          net::post(*shared.heavy_pool, [self, read_next, request = std::move(request),
                                         held = std::move(doc_charge)]() mutable {
            const auto start = std::chrono::steady_clock::now();
            int code = kInternalError;
            try {
              code = self->RunSubscriptionCall(request);
            } catch (const std::exception&) {
              self->Send(ErrorResponse(request.value("id", Json()), StandardError(kInternalError)));
            }
            // Counted like the dispatcher's methods (its on_call observer): the metrics of
            // an RPC port must not miss what its WebSocket clients call.
            if (const auto& on_call = self->shared_->dispatcher.options().on_call) {
              on_call(request["method"].get_ref<const std::string&>(), code,
                      std::chrono::steady_clock::now() - start);
            }
            request = Json();
            held.Reset();
            read_next();
          });
          return;
        }
      }
    }
    // As over HTTP (HttpSession::Handle): parsed on the light lane, the parsed document charged
    // to max_inflight_bytes, run on its method's lane.
    Dispatcher::Prepared prepared = shared.dispatcher.Prepare(text);
    text = std::string();
    ByteBudget::Reservation doc_charge = shared.inflight.Open();
    const size_t doc = prepared.approx_bytes() > kUncountedBodyBytes
                           ? prepared.approx_bytes() - kUncountedBodyBytes
                           : 0;
    if (doc > 0 && !doc_charge.TryGrow(doc)) {
      self->Send(busy("the parsed request"));
      return read_next();
    }
    auto run = [self, read_next](Dispatcher::Prepared p, ByteBudget::Reservation held) {
      // The answer goes to this connection's queue, which holds at most ws_queue_bytes: it is
      // built within the room the queue has now and cut past it as over max_response_bytes
      // (a getBlocks range ends early, a result too large becomes -32005), rather than
      // closing the connection as a slow consumer once it is queued.
      ByteBudget room(self->AnswerRoom());
      ByteBudget::Reservation charge = room.Open();
      std::string answer = self->shared_->dispatcher.Execute(std::move(p), &charge);
      held.Reset();
      if (!answer.empty()) self->Send(std::move(answer));
      read_next();
    };
    if (prepared.lane() == Lane::kHeavy) {
      net::post(*shared.heavy_pool,
                [run, prepared = std::move(prepared), held = std::move(doc_charge)]() mutable {
                  run(std::move(prepared), std::move(held));
                });
    } else {
      run(std::move(prepared), std::move(doc_charge));
    }
  });
}

size_t WsSession::AnswerRoom() {
  MutexLock lock(&mu_);
  // kUncountedAnswerBytes: what the dispatcher lets an answer take before charging it.
  const size_t taken = queued_bytes_ + kQueueOverhead + kUncountedAnswerBytes;
  const size_t cap = shared_->options.ws_queue_bytes;
  return cap > taken ? cap - taken : 0;
}

int WsSession::RunSubscriptionCall(const Json& request) {
  const Json id = request.contains("id") ? request["id"] : Json();
  if (!id.is_null() && !id.is_string() && !id.is_number()) {
    Send(ErrorResponse(nullptr, StandardError(kInvalidRequest, "id must be a string or number")));
    return kInvalidRequest;
  }
  const bool subscribe = request["method"] == "subscribe";
  SubscriptionService* service = shared_->subscriptions;
  if (service == nullptr) {
    Send(ErrorResponse(id, StandardError(kMethodNotFound)));
    return kMethodNotFound;
  }
  const Json params = request.contains("params") ? request["params"] : Json();
  if (!params.is_null() && !params.is_array() && !params.is_object()) {
    Send(ErrorResponse(id, InvalidParams("params must be an array or an object")));
    return kInvalidParams;
  }
  if (subscribe) {
    auto self = shared_from_this();
    std::shared_ptr<PushChannel> channel = self;
    auto error = service->Subscribe(params, channel, [self, &id](uint64_t sub) {
      std::string out;
      AppendResultResponse(id, SubscriptionIdString(sub), &out);
      self->Send(std::move(out));
    });
    if (!error) return 0;
    Send(ErrorResponse(id, *error));
    return error->code;
  }
  const Json* which = FindParam(params, 0, "subscription");
  std::optional<uint64_t> sub = which != nullptr ? ParseSubscriptionId(*which) : std::nullopt;
  if (!sub) {
    Send(ErrorResponse(id, InvalidParams("params[0]: expected a subscription id (\"0x...\")")));
    return kInvalidParams;
  }
  std::string out;
  AppendResultResponse(id, service->Unsubscribe(*sub, *this), &out);
  Send(std::move(out));
  return 0;
}

bool WsSession::Notify(uint64_t subscription, std::shared_ptr<const std::string> result) {
  const size_t bytes = result->size() + kQueueOverhead;
  return Push(Out{.subscription = subscription, .result = std::move(result), .text = {}}, bytes);
}

bool WsSession::Send(std::string message) {
  const size_t bytes = message.size() + kQueueOverhead;
  return Push(Out{.subscription = 0, .result = nullptr, .text = std::move(message)}, bytes);
}

bool WsSession::Push(Out out, size_t bytes) {
  const ServerOptions& o = shared_->options;
  bool post_write = false;
  std::string drop_reason;
  {
    MutexLock lock(&mu_);
    if (closed_) return false;
    if (queue_.size() + 1 > o.ws_queue_messages || queued_bytes_ + bytes > o.ws_queue_bytes) {
      closed_ = true;
      queue_.clear();
      queued_bytes_ = 0;
      drop_reason = "slow consumer: more than " + std::to_string(o.ws_queue_messages) +
                    " messages or " + std::to_string(o.ws_queue_bytes) + " bytes queued (ws_queue)";
    } else {
      queue_.push_back(std::move(out));
      queued_bytes_ += bytes;
      post_write = !write_scheduled_;
      write_scheduled_ = true;
    }
  }
  if (!drop_reason.empty()) {
    open_ = false;
    shared_->ws_slow_dropped.fetch_add(1);
    net::post(ws_.get_executor(), [self = shared_from_this(), reason = std::move(drop_reason)] {
      self->CloseWith(websocket::close_code::policy_error, reason);
    });
    return false;
  }
  if (post_write) {
    net::post(ws_.get_executor(), [self = shared_from_this()] { self->WriteNext(); });
  }
  return true;
}

void WsSession::WriteNext() {
  if (finished_ || write_in_flight_) return;
  if (pending_close_) return DoClose();
  Out out;
  {
    MutexLock lock(&mu_);
    if (queue_.empty()) {
      write_scheduled_ = false;
      return;
    }
    out = std::move(queue_.front());
    queue_.pop_front();
    const size_t bytes = (out.result ? out.result->size() : out.text.size()) + kQueueOverhead;
    queued_bytes_ -= std::min(queued_bytes_, bytes);
  }
  writing_ = out.result ? NotificationMessage(out.subscription, *out.result) : std::move(out.text);
  write_in_flight_ = true;
  ws_.async_write(net::buffer(writing_),
                  [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
}

void WsSession::OnWrite(beast::error_code ec) {
  write_in_flight_ = false;
  writing_ = std::string();
  if (ec) {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    return Finish();
  }
  if (pending_close_) return DoClose();
  WriteNext();
}

void WsSession::CloseWith(websocket::close_code code, std::string reason) {
  if (closing_ || finished_) return;
  closing_ = true;
  open_ = false;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    queue_.clear();
    queued_bytes_ = 0;
  }
  // Our subscriptions stop producing now, not when the peer finishes the handshake.
  if (shared_->subscriptions != nullptr) shared_->subscriptions->Disconnected(*this);
  // A close reason is at most 123 bytes (RFC 6455 5.5: 125-byte control frames).
  if (reason.size() > 123) reason.resize(123);
  pending_close_ = websocket::close_reason(code, reason);
  // A peer that does not read never lets the write in progress, or the close frame, finish.
  close_timer_.expires_after(shared_->options.write_timeout);
  close_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;  // cancelled: the close finished
    beast::error_code ignored;
    beast::get_lowest_layer(self->ws_).socket().close(ignored);
    self->Finish();
  });
  if (!write_in_flight_) DoClose();
}

void WsSession::DoClose() {
  if (!pending_close_ || finished_) return;
  websocket::close_reason reason = *pending_close_;
  pending_close_.reset();
  ws_.async_close(reason, [self = shared_from_this()](beast::error_code) {
    // The read in progress completes (closed) too; the socket is closed by Beast.
    self->Finish();
  });
}

void WsSession::Finish() {
  if (finished_) return;
  finished_ = true;
  open_ = false;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    queue_.clear();
    queued_bytes_ = 0;
  }
  close_timer_.cancel();
  if (shared_->subscriptions != nullptr) shared_->subscriptions->Disconnected(*this);
}

}  // namespace cairn::rpc::detail
