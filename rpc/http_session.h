// Private to rpc/ (pulls in Beast): one server-side HTTP connection and the state it shares
// with the acceptor; a connection upgraded to WebSocket continues as a WsSession
// (rpc/ws_session.h). Each session runs on its own strand; ServerShared is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "base/mutex.h"
#include "base/net_address.h"
#include "rpc/byte_budget.h"
#include "rpc/dispatcher.h"
#include "rpc/server.h"

namespace cairn::rpc::detail {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

class HttpSession;

// What ServerShared tracks of a connection, HTTP or WebSocket.
class Session {
 public:
  virtual ~Session() = default;
  // Stop() or eviction: an idle connection closes now, a busy one after its current work.
  virtual void RequestStop() = 0;
  // Stop() after the grace period: closes the socket whatever is in progress.
  virtual void ForceClose() = 0;

 protected:
  friend class ServerShared;  // sets id_ when it registers the session
  uint64_t id_ = 0;           // 0 until ServerShared::Admit registers the session
};

// Outlives every session (each holds a shared_ptr), so teardown order never matters.
class ServerShared {
 public:
  ServerShared(const Dispatcher& dispatcher, const ServerOptions& options,
               SubscriptionService* subscriptions = nullptr)
      : dispatcher(dispatcher),
        options(options),
        subscriptions(subscriptions),
        inflight(options.max_inflight_bytes) {}

  enum class Admission { kServe, kReject, kDrop };
  // Registers a new session from `client` (it must then be Run, RunRejected or dropped, as
  // told). At max_connections_per_ip or max_connections it evicts the longest-idle connection
  // of the client or of the server; kReject when none is idle (at most kMaxRejecting such
  // sessions answer at once, beyond them kDrop), kDrop once stopping.
  Admission Admit(const std::shared_ptr<HttpSession>& session, const AddressKey& client)
      EXCLUDES(mu_);
  // An admitted session waits for a request (evictable, the oldest first) or has one. False
  // when the session may not serve a request: it was evicted, and the refusing connections
  // (kMaxRejecting) are full.
  bool SetIdle(uint64_t id, bool idle) EXCLUDES(mu_);
  void Remove(uint64_t id) EXCLUDES(mu_);
  // Session `id` becomes the WebSocket connection `make()` returns (called under the lock,
  // so it must be quick and take no lock of ours): never idle again, so never evicted.
  // Nullptr (make is not called) at max_ws_connections, at max_ws_connections_per_ip for the
  // session's address, or once stopping; *refused_by then names the limit.
  std::shared_ptr<Session> Upgrade(uint64_t id,
                                   const std::function<std::shared_ptr<Session>()>& make,
                                   const char** refused_by) EXCLUDES(mu_);
  std::vector<std::shared_ptr<Session>> Snapshot() EXCLUDES(mu_);
  // Waits until no session is left or `timeout` passes; true when none is left. A relative
  // timeout keeps clock reads out of rpc/ (the condition variable reads its own).
  bool WaitUntilEmpty(std::chrono::milliseconds timeout) EXCLUDES(mu_);
  uint64_t active() const EXCLUDES(mu_);

  const Dispatcher& dispatcher;
  const ServerOptions options;
  SubscriptionService* const subscriptions;  // may be null
  // The handler pools, one per Lane; set by Server::Start before the first session.
  net::thread_pool* light_pool = nullptr;
  net::thread_pool* heavy_pool = nullptr;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> rejected_busy{0};
  std::atomic<uint64_t> evicted{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> rejected_inflight{0};
  std::atomic<uint64_t> ws_slow_dropped{0};
  // max_inflight_bytes: bodies being read or parsed and answers being built or written.
  ByteBudget inflight;

 private:
  static constexpr size_t kMaxRejecting = kMaxRefusingConnections;

  struct Entry {
    std::weak_ptr<Session> session;
    AddressKey client;
    bool admitted = false;   // holds a slot (of max_connections and of its address)
    bool rejecting = false;  // being answered 503
    uint64_t idle_seq = 0;   // its key in idle_ while idle; 0 when busy
    bool ws = false;         // upgraded: counted in ws_
  };
  // Frees the slot of the admitted session idle the longest (of `client` when given) and tells
  // it to close; false when no admitted session is idle.
  bool EvictLongestIdle(const AddressKey* client) REQUIRES(mu_);
  void Release(Entry& e) REQUIRES(mu_);

  mutable Mutex mu_;
  CondVar empty_cv_;  // signalled when sessions_ becomes empty
  std::map<uint64_t, Entry> sessions_ GUARDED_BY(mu_);
  // Idle admitted sessions by when they became idle (a counter, not a clock): begin() is the
  // one idle the longest.
  std::map<uint64_t, uint64_t> idle_ GUARDED_BY(mu_);
  std::map<AddressKey, size_t> per_client_ GUARDED_BY(mu_);
  std::map<AddressKey, size_t> ws_per_client_ GUARDED_BY(mu_);  // upgraded sessions only
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  uint64_t next_idle_seq_ GUARDED_BY(mu_) = 1;
  uint64_t active_ GUARDED_BY(mu_) = 0;
  size_t rejecting_ GUARDED_BY(mu_) = 0;
  size_t ws_ GUARDED_BY(mu_) = 0;

 public:
  uint64_t ws_connections() const EXCLUDES(mu_);
};

class HttpSession : public Session, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, std::shared_ptr<ServerShared> shared);
  ~HttpSession();

  // Serves requests until the peer closes, a timeout, or Stop().
  void Run();
  // Over max_connections: answers 503 and closes.
  void RunRejected();
  void RequestStop() override;
  void ForceClose() override;

 private:
  enum class Phase { kIdle, kReading, kHandling, kWriting, kClosing, kClosed };

  void WaitForRequest();
  void OnIdleRead(beast::error_code ec, size_t n);
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void SendContinue();
  // Reserves a body of known length in ServerShared::inflight before any of it is read; false
  // when the budget has not got it.
  bool ReserveBody();
  void ReadBody();
  // A chunked body, a read at a time: its buffer is grown, and charged, before each read.
  void ReadChunkedBody();
  bool ReserveChunkRoom();
  void OnBody(beast::error_code ec);
  // 503, -32002, close: the body could not be reserved in max_inflight_bytes.
  void RefuseForInflight();
  void Handle();
  // On the strand, with the dispatcher's answer to the request Handle() passed on.
  void Respond(std::string body, ByteBudget::Reservation charge, unsigned version, bool keep_alive);
  // Sends an error with a JSON-RPC body; closes afterwards when the request body was not read.
  void SendError(http::status status, const RpcError& error, const char* allow = nullptr);
  // 503, -32002: the parsed document did not fit max_inflight_bytes; nothing was run.
  void RespondBusy(unsigned version, bool keep_alive);
  void SendHealth();
  // GET /ready: 200 or 503 with a JSON body, from ServerOptions::readiness.
  void SendReady();
  // GET / with Upgrade: websocket: hands the socket to a WsSession (or answers 503).
  void UpgradeToWebSocket();
  void Write(bool close);
  void OnWrite(bool close, beast::error_code ec);
  // Closes after draining what the peer still sends, so it reads our response instead of a
  // reset (a client that was refused mid-body is still writing it).
  void LingerClose();
  void Drain();
  void Close();

  std::shared_ptr<ServerShared> shared_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  http::response<http::empty_body> continue_;
  // What the request body being read holds of ServerShared::inflight; handed on with the body
  // and kept while its parsed document waits for a handler.
  ByteBudget::Reservation body_charge_;
  // What response_ holds of ServerShared::inflight, until it is written or the session closes.
  ByteBudget::Reservation answer_charge_;
  Phase phase_ = Phase::kIdle;
  bool stop_requested_ = false;
  bool first_request_ = true;
};

}  // namespace cairn::rpc::detail
