// Private to rpc/ (pulls in Beast): one server-side WebSocket connection, upgraded from an
// HttpSession on GET / (docs/RPC.md "WebSocket"). Reads run on the session's strand; the
// outbound queue (PushChannel) takes pushes from any thread under its own mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "base/mutex.h"
#include "rpc/http_session.h"
#include "rpc/subscription.h"

namespace cairn::rpc::detail {

namespace websocket = boost::beast::websocket;

class WsSession : public Session,
                  public PushChannel,
                  public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket socket, std::shared_ptr<ServerShared> shared);
  ~WsSession() override;

  // Answers the upgrade request (101) and serves messages until either side closes.
  void Run(http::request<http::string_body> upgrade);
  // Closes with 1001 (going away) after the write in progress.
  void RequestStop() override;
  void ForceClose() override;

  // PushChannel.
  bool Notify(uint64_t subscription, std::shared_ptr<const std::string> result) override;
  bool Send(std::string message) override;
  bool open() const override { return open_.load(); }

 private:
  // One queued message: an answer (`text`) or a notification (`result` for `subscription`),
  // whose text is built only when it is written.
  struct Out {
    uint64_t subscription = 0;
    std::shared_ptr<const std::string> result;
    std::string text;
  };

  bool Push(Out out, size_t bytes);
  // Bytes an answer may take so that queueing it cannot overflow ws_queue_bytes now.
  size_t AnswerRoom() EXCLUDES(mu_);
  void OnAccept(beast::error_code ec);
  void Read();
  void OnRead(beast::error_code ec, size_t n);
  // Runs one request message on a handler thread (parsed on the light lane, never on the I/O
  // thread); the next is read once it is answered, so
  // one connection runs one request at a time.
  void Handle(std::string text);
  // Answers a subscribe/unsubscribe; returns the error code it answered, 0 for a result.
  int RunSubscriptionCall(const Json& request);
  void WriteNext();
  void OnWrite(beast::error_code ec);
  // Starts the close handshake with `code` and `reason` after the write in progress; the
  // socket is closed outright when that does not finish within write_timeout.
  void CloseWith(websocket::close_code code, std::string reason);
  void DoClose();
  // Idempotent: the connection is over; its subscriptions go.
  void Finish();

  std::shared_ptr<ServerShared> shared_;
  websocket::stream<beast::tcp_stream> ws_;
  net::steady_timer close_timer_;

  Mutex mu_;
  std::deque<Out> queue_ GUARDED_BY(mu_);
  size_t queued_bytes_ GUARDED_BY(mu_) = 0;
  bool write_scheduled_ GUARDED_BY(mu_) = false;  // WriteNext is posted or a write runs
  bool closed_ GUARDED_BY(mu_) = false;           // no more pushes are taken
  std::atomic<bool> open_{true};

  // Strand only.
  beast::flat_buffer read_buffer_;
  std::string writing_;  // the message being written
  bool write_in_flight_ = false;
  bool closing_ = false;
  bool finished_ = false;
  std::optional<websocket::close_reason> pending_close_;
};

}  // namespace cairn::rpc::detail
