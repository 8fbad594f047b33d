#include "node/metrics_server.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <list>
#include <optional>
#include <thread>

#include "base/thread.h"

namespace cairn::node {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

}  // namespace

// Handlers hold a plain Impl*: the io_context is a member, so when Impl goes it destroys the
// pending handlers (and their sessions) first; `connections` and `reading` are declared before
// it so a session's destructor can still count itself out. One thread runs `io`, so every
// handler (and everything below that is not atomic) runs on it, one at a time.
struct MetricsServer::Impl {
  struct Session;

  explicit Impl(std::function<std::string()> r) : render(std::move(r)) {}

  std::function<std::string()> render;
  std::atomic<size_t> connections{0};
  // Sessions still reading their request, oldest first: the ones a newcomer may evict.
  std::list<Session*> reading;
  std::atomic<uint16_t> port{0};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;

  void Accept() {
    acceptor.async_accept(io.get_executor(), [self = this](beast::error_code ec,
                                                           tcp::socket socket) {
      if (!self->acceptor.is_open()) return;
      if (ec) {
        // Out of descriptors or memory: wait instead of spinning on accept.
        auto timer = std::make_shared<asio::steady_timer>(self->io, std::chrono::milliseconds(100));
        timer->async_wait([self, timer](beast::error_code) { self->Accept(); });
        return;
      }
      // Full: the oldest connection that has not finished sending its request makes room, so
      // idle connections cannot lock out a scraper that sends its request at once. One that is
      // being answered stays; with every slot being answered, the newcomer is closed.
      if (self->connections.load() >= kMaxConnections) {
        // A request whose read completed but whose handler has not run yet is kept.
        for (Session* s : self->reading) {
          if (!s->parser.is_done()) {
            s->Evict();  // leaves `reading`: stop iterating
            break;
          }
        }
      }
      if (self->connections.load() >= kMaxConnections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        self->connections.fetch_add(1);
        std::make_shared<Session>(self, std::move(socket))->Read();
      }
      self->Accept();
    });
  }

  // One connection: one request, one answer, then closed.
  struct Session : std::enable_shared_from_this<Session> {
    Session(Impl* s, tcp::socket socket) : server(s), stream(std::move(socket)) {
      parser.header_limit(kMaxHeaderBytes);
      parser.body_limit(0);
    }
    ~Session() {
      StopReading();
      Release();
    }

    // Gives up the slot and the descriptor now; the pending read then ends (aborted) and
    // drops the session.
    void Evict() {
      StopReading();
      Release();
      evicted = true;
      stream.close();
    }

    void Read() {
      in_reading = server->reading.insert(server->reading.end(), this);
      stream.expires_after(std::chrono::milliseconds(kReadTimeoutMs));
      http::async_read(stream, buffer, parser,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         self->StopReading();
                         if (self->evicted) return;
                         if (ec) {
                           // Too large, a body, a timeout, garbage: close without an answer,
                           // unless it is one a client can act on.
                           if (ec == http::error::header_limit) {
                             self->Answer(http::status::request_header_fields_too_large,
                                          "request head too large\n", "text/plain");
                           } else if (ec == http::error::body_limit) {
                             self->Answer(http::status::payload_too_large,
                                          "GET /metrics takes no body\n", "text/plain");
                           }
                           return;
                         }
                         self->Handle();
                       });
    }

    void Handle() {
      const auto& req = parser.get();
      if (req.target() != "/metrics") {
        Answer(http::status::not_found, "only /metrics is served here\n", "text/plain");
      } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
        Answer(http::status::method_not_allowed, "GET /metrics\n", "text/plain");
      } else {
        std::string body;
        try {
          body = server->render();
        } catch (const std::exception& e) {
          Answer(http::status::internal_server_error, std::string(e.what()) + "\n", "text/plain");
          return;
        }
        Answer(http::status::ok, std::move(body), "text/plain; version=0.0.4; charset=utf-8",
               req.method() == http::verb::head);
      }
    }

    void Answer(http::status status, std::string body, const char* type, bool head = false) {
      auto res = std::make_shared<http::response<http::string_body>>(status, 11);
      res->set(http::field::content_type, type);
      res->set(http::field::connection, "close");
      res->body() = std::move(body);
      res->prepare_payload();
      if (head) res->body().clear();
      res->keep_alive(false);
      stream.expires_after(std::chrono::milliseconds(kWriteTimeoutMs));
      http::async_write(stream, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
        beast::error_code ignored;
        self->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      });
    }

    void StopReading() {
      if (in_reading) {
        server->reading.erase(*in_reading);
        in_reading.reset();
      }
    }
    void Release() {
      if (counted) {
        counted = false;
        server->connections.fetch_sub(1);
      }
    }

    Impl* server;
    std::optional<std::list<Session*>::iterator> in_reading;  // while in server->reading
    bool counted = true;                                      // holds one of kMaxConnections
    bool evicted = false;  // closed to make room: its read ends with no answer
    beast::tcp_stream stream;
    beast::flat_buffer buffer{kMaxHeaderBytes};
    http::request_parser<http::empty_body> parser;
  };
};

MetricsServer::MetricsServer(std::function<std::string()> render)
    : impl_(std::make_unique<Impl>(std::move(render))) {}

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Start(const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return Status::Error("metrics.listen: bad address " + host + ": " + ec.message());
  tcp::endpoint ep(addr, port);
  Impl& s = *impl_;
  s.acceptor.open(ep.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(ep, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::Error("metrics.listen " + host + ":" + std::to_string(port) + ": " +
                         ec.message());
  s.port = s.acceptor.local_endpoint().port();
  s.Accept();
  s.thread = std::thread([impl = impl_.get()] {
    NameThisThread("metrics");
    impl->io.run();
  });
  return Status::Ok();
}

void MetricsServer::Stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  asio::post(s.io, [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    s.io.stop();
  });
  s.thread.join();
}

uint16_t MetricsServer::port() const { return impl_->port.load(); }

}  // namespace cairn::node
