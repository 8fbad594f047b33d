// The acceptor, the thread pool and shutdown; each connection is an HttpSession.
#include "rpc/server.h"

#include <cerrno>
#include <exception>
#include <latch>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "base/mutex.h"
#include "base/net_address.h"
#include "base/thread.h"
#include "rpc/http_session.h"

namespace cairn::rpc {

namespace net = boost::asio;
using detail::HttpSession;
using detail::ServerShared;
using detail::tcp;

namespace {

// Out of descriptors or memory: accepting again at once would spin, so wait a little.
bool IsResourceExhaustion(const boost::system::error_code& ec) {
  return ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
         ec == net::error::no_memory || ec.value() == ENFILE;
}

std::string EndpointString(const net::ip::address& address, uint16_t port) {
  std::string host = address.to_string();
  if (address.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

Status ValidateOptions(const ServerOptions& o, size_t max_response_bytes) {
  if (o.threads == 0) return Status::Error("rpc: threads must be at least 1");
  if (o.light_threads == 0) return Status::Error("rpc: light_threads must be at least 1");
  if (o.io_threads == 0) return Status::Error("rpc: io_threads must be at least 1");
  if (o.thread_nice < 0 || o.thread_nice > 19)
    return Status::Error("rpc: thread_nice must be 0 to 19");
  if (o.max_connections == 0) return Status::Error("rpc: max_connections must be at least 1");
  if (o.max_connections_per_ip == 0) {
    return Status::Error("rpc: max_connections_per_ip must be at least 1");
  }
  if (o.max_body_bytes == 0) return Status::Error("rpc: max_body_bytes must be at least 1");
  // Below either, a lone request could never be served whole, however idle the server.
  if (o.max_inflight_bytes < o.max_body_bytes) {
    return Status::Error("rpc: max_inflight_bytes " + std::to_string(o.max_inflight_bytes) +
                         " is below max_body_bytes " + std::to_string(o.max_body_bytes));
  }
  if (o.max_inflight_bytes < max_response_bytes) {
    return Status::Error("rpc: max_inflight_bytes " + std::to_string(o.max_inflight_bytes) +
                         " is below the dispatcher's max_response_bytes " +
                         std::to_string(max_response_bytes));
  }
  if (o.max_header_bytes < 256) return Status::Error("rpc: max_header_bytes must be >= 256");
  if (o.idle_timeout.count() <= 0 || o.read_timeout.count() <= 0 || o.write_timeout.count() <= 0 ||
      o.first_request_timeout.count() <= 0) {
    return Status::Error("rpc: timeouts must be positive");
  }
  if (o.max_ws_message_bytes == 0 || o.ws_queue_messages == 0 || o.ws_queue_bytes == 0) {
    return Status::Error(
        "rpc: max_ws_message_bytes, ws_queue_messages, ws_queue_bytes must be >= 1");
  }
  if (o.shutdown_grace.count() < 0) return Status::Error("rpc: shutdown_grace must be >= 0");
  return Status::Ok();
}

}  // namespace

class Server::Impl {
 public:
  Impl(const Dispatcher& dispatcher, ServerOptions options, SubscriptionService* subscriptions)
      : shared_(std::make_shared<ServerShared>(dispatcher, options, subscriptions)),
        ioc_(static_cast<int>(options.io_threads == 0 ? 1 : options.io_threads)),
        acceptor_(net::make_strand(ioc_)),
        retry_timer_(acceptor_.get_executor()) {}

  ~Impl() { Stop(); }

  Status Start(const std::string& address, uint16_t port) {
    MutexLock lock(&lifecycle_mu_);
    if (started_) return Status::Error("rpc: server already started");
    if (Status s =
            ValidateOptions(shared_->options, shared_->dispatcher.options().max_response_bytes);
        !s.ok()) {
      return s;
    }
    boost::system::error_code ec;
    net::ip::address ip = net::ip::make_address(address, ec);
    if (ec) return Status::Error("rpc: invalid listen address '" + address + "'");
    const std::string where = EndpointString(ip, port);
    tcp::endpoint endpoint(ip, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (!ec) port_ = acceptor_.local_endpoint(ec).port();
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      return Status::Error("rpc: listen on " + where + ": " + ec.message());
    }
    started_ = true;
    light_pool_.emplace(shared_->options.light_threads);
    heavy_pool_.emplace(shared_->options.threads);
    shared_->light_pool = &*light_pool_;
    shared_->heavy_pool = &*heavy_pool_;
    const int nice = shared_->options.thread_nice;
    SetUpPool(*light_pool_, shared_->options.light_threads, "rpc-light", nice);
    SetUpPool(*heavy_pool_, shared_->options.threads, "rpc-heavy", nice);
    net::post(acceptor_.get_executor(), [this] { Accept(); });
    threads_.reserve(shared_->options.io_threads);
    // Named and de-prioritised before Start returns, like the pools' threads.
    auto ready =
        std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(shared_->options.io_threads));
    for (size_t i = 0; i < shared_->options.io_threads; ++i) {
      threads_.emplace_back([this, nice, ready] {
        SetUpThread("rpc-io", nice);
        ready->count_down();
        RunLoop();
      });
    }
    ready->wait();
    return Status::Ok();
  }

  void Stop() {
    MutexLock lock(&lifecycle_mu_);
    if (!started_ || stopped_) return;
    stopped_ = true;
    shared_->stopping = true;
    net::post(acceptor_.get_executor(), [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      retry_timer_.cancel();
    });
    for (auto& session : shared_->Snapshot()) session->RequestStop();
    if (!shared_->WaitUntilEmpty(shared_->options.shutdown_grace)) {
      for (auto& session : shared_->Snapshot()) session->ForceClose();
      // Closed sockets complete their operations at once; only a handler still running user
      // code can hold a session now, and the joins below wait for it.
      shared_->WaitUntilEmpty(std::chrono::seconds(1));
    }
    // Handlers still running finish and post their answers to the I/O threads, which still
    // run, so the sessions they hold are released.
    light_pool_->join();
    heavy_pool_->join();
    ioc_.stop();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
    // Sessions whose (aborted) completions were still queued when the loop stopped are
    // released here, on this thread, so Stats() is exact once Stop() returns.
    ioc_.restart();
    for (int i = 0; i < 100 && !shared_->WaitUntilEmpty(std::chrono::milliseconds(0)); ++i) {
      if (ioc_.poll() == 0) break;
    }
    // The posted close may not have run before ioc_.stop(); a listening socket left open would
    // let the kernel complete connections that nobody serves.
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }

  uint16_t port() const { return port_.load(); }

  ServerStats Stats() const {
    ServerStats stats;
    stats.active_connections = shared_->active();
    stats.accepted = shared_->accepted.load();
    stats.rejected_busy = shared_->rejected_busy.load();
    stats.evicted = shared_->evicted.load();
    stats.requests = shared_->requests.load();
    stats.rejected_inflight = shared_->rejected_inflight.load();
    stats.inflight_bytes = shared_->inflight.used();
    stats.ws_connections = shared_->ws_connections();
    stats.ws_slow_dropped = shared_->ws_slow_dropped.load();
    return stats;
  }

  size_t InflightBytes() const { return shared_->inflight.used(); }

 private:
  static void SetUpThread(const char* name, int nice) {
    NameThisThread(name);
    // Raising a thread's own nice value cannot fail on Linux; if it somehow did, the thread
    // would only keep the pipeline's priority.
    if (nice > 0) (void)LowerThisThreadPriority(nice);
  }

  // Runs SetUpThread once on each of the pool's `threads` threads: every task waits until
  // all have started, so no thread can take two.
  static void SetUpPool(net::thread_pool& pool, size_t threads, const char* name, int nice) {
    // Shared: a task may still be inside arrive_and_wait when this returns.
    auto started = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(threads) + 1);
    for (size_t i = 0; i < threads; ++i) {
      net::post(pool, [started, name, nice] {
        SetUpThread(name, nice);
        started->arrive_and_wait();
      });
    }
    started->arrive_and_wait();
  }

  void RunLoop() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception&) {
        // Handlers catch their own errors; only allocation failure lands here. Keep serving.
      }
    }
  }

  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           [this](boost::system::error_code ec, tcp::socket socket) {
                             OnAccept(ec, std::move(socket));
                           });
  }

  void OnAccept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || shared_->stopping) return;
    if (ec) {
      if (IsResourceExhaustion(ec)) {
        retry_timer_.expires_after(std::chrono::milliseconds(100));
        retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
          if (!wait_ec && !shared_->stopping) Accept();
        });
        return;
      }
      return Accept();  // the peer gave up before we accepted (ECONNABORTED); go on
    }
    shared_->accepted.fetch_add(1);
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    tcp::endpoint remote = socket.remote_endpoint(ec);
    if (ec) return Accept();  // already reset by the peer
    const net::ip::address ip = remote.address();
    // One client, whichever family the listening socket speaks (IPv4-mapped IPv6 is its IPv4
    // address), and one IPv6 host is its /64.
    const AddressKey client =
        ip.is_v4() ? AddressKeyOf(ip.to_v4().to_bytes()) : AddressKeyOf(ip.to_v6().to_bytes());
    auto session = std::make_shared<HttpSession>(std::move(socket), shared_);
    switch (shared_->Admit(session, client)) {
      case ServerShared::Admission::kServe:
        session->Run();
        break;
      case ServerShared::Admission::kReject:
        session->RunRejected();
        break;
      case ServerShared::Admission::kDrop:
        if (!shared_->stopping) shared_->rejected_busy.fetch_add(1);
        break;  // stopping or flooded: the socket closes with the session
    }
    Accept();
  }

  std::shared_ptr<ServerShared> shared_;
  // Declared before the acceptor and timer, which must be destroyed first.
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  // The handler pools (ServerShared points at them); started by Start, joined by Stop.
  std::optional<net::thread_pool> light_pool_;
  std::optional<net::thread_pool> heavy_pool_;
  std::atomic<uint16_t> port_{0};
  // Serialises Start and Stop.
  Mutex lifecycle_mu_;
  std::vector<std::thread> threads_ GUARDED_BY(lifecycle_mu_);
  bool started_ GUARDED_BY(lifecycle_mu_) = false;
  bool stopped_ GUARDED_BY(lifecycle_mu_) = false;
};

Server::Server(const Dispatcher& dispatcher, ServerOptions options,
               SubscriptionService* subscriptions)
    : impl_(std::make_unique<Impl>(dispatcher, std::move(options), subscriptions)) {}

Server::~Server() = default;

Status Server::Start(const std::string& address, uint16_t port) {
  return impl_->Start(address, port);
}

uint16_t Server::port() const { return impl_->port(); }

void Server::Stop() { impl_->Stop(); }

ServerStats Server::Stats() const { return impl_->Stats(); }

size_t Server::InflightBytes() const { return impl_->InflightBytes(); }

}  // namespace cairn::rpc
