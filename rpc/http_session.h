// Private to rpc/ (pulls in Beast): one server-side HTTP connection and the state it shares
// with the acceptor. Each session runs on its own strand; ServerShared is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "base/mutex.h"
#include "rpc/dispatcher.h"
#include "rpc/server.h"

namespace cairn::rpc::detail {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

class HttpSession;

// Outlives every session (each holds a shared_ptr), so teardown order never matters.
class ServerShared {
 public:
  ServerShared(const Dispatcher& dispatcher, const ServerOptions& options)
      : dispatcher(dispatcher), options(options) {}

  enum class Admission { kServe, kReject, kDrop };
  // Registers a new session (it must then be Run, RunRejected or dropped, as told): kReject at
  // max_connections, kDrop once stopping.
  Admission Admit(const std::shared_ptr<HttpSession>& session) EXCLUDES(mu_);
  void Remove(uint64_t id, bool admitted) EXCLUDES(mu_);
  std::vector<std::shared_ptr<HttpSession>> Snapshot() EXCLUDES(mu_);
  // Waits until no session is left or `timeout` passes; true when none is left. A relative
  // timeout keeps clock reads out of rpc/ (the condition variable reads its own).
  bool WaitUntilEmpty(std::chrono::milliseconds timeout) EXCLUDES(mu_);
  uint64_t active() const EXCLUDES(mu_);

  const Dispatcher& dispatcher;
  const ServerOptions options;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> rejected_busy{0};
  std::atomic<uint64_t> requests{0};

 private:
  mutable Mutex mu_;
  CondVar empty_cv_;  // signalled when sessions_ becomes empty
  std::map<uint64_t, std::weak_ptr<HttpSession>> sessions_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  uint64_t active_ GUARDED_BY(mu_) = 0;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  friend class ServerShared;  // sets id_ and admitted_ when it registers the session

  HttpSession(tcp::socket socket, std::shared_ptr<ServerShared> shared);
  ~HttpSession();

  // Serves requests until the peer closes, a timeout, or Stop().
  void Run();
  // Over max_connections: answers 503 and closes.
  void RunRejected();
  // Stop(): an idle connection closes now, a busy one after its current response.
  void RequestStop();
  // Stop() after the grace period: closes the socket whatever is in progress.
  void ForceClose();

 private:
  enum class Phase { kIdle, kReading, kHandling, kWriting, kClosing, kClosed };

  void WaitForRequest();
  void OnIdleRead(beast::error_code ec, size_t n);
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void SendContinue();
  void ReadBody();
  void OnBody(beast::error_code ec);
  void Handle();
  // Sends an error with a JSON-RPC body; closes afterwards when the request body was not read.
  void SendError(http::status status, const RpcError& error, const char* allow = nullptr);
  void SendHealth();
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
  Phase phase_ = Phase::kIdle;
  bool stop_requested_ = false;
  uint64_t id_ = 0;  // 0 until ServerShared::Admit registers the session
  bool admitted_ = false;
};

}  // namespace cairn::rpc::detail
