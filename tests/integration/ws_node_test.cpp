// WebSocket subscriptions on a real cairnd with Cairn's own client (rpc::WsClient), and the
// cairn CLI's follow and send --wait over them (and follow's fallback to polling when its
// WebSocket is cut). The independent client's test is ws_subscriptions_test.py.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "base/mutex.h"
#include "crypto/hex.h"
#include "rpc/subscription.h"
#include "rpc/ws_client.h"
#include "tests/integration/dev_node.h"
#include "tests/kit/eventually.h"
#include "tests/kit/keys.h"
#include "tests/kit/process.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::testing;
using namespace cairn::testkit;
using nlohmann::json;

namespace {

constexpr auto kWait = std::chrono::seconds(20);

// Notifications arrive in commit order across subscriptions (one block's events for the
// account topic may precede its tx event): keep each subscription's in its own queue.
std::map<uint64_t, std::deque<json>> pending;

// The next notification of `sub`; fails the test after kWait.
json NextOf(rpc::WsClient& ws, uint64_t sub) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (pending[sub].empty() && std::chrono::steady_clock::now() < deadline) {
    auto n = ws.Next(std::chrono::milliseconds(500));
    INFO(n.status().message());
    REQUIRE(n.ok());
    if (n->has_value()) pending[(*n)->subscription].push_back((*n)->result);
  }
  if (pending[sub].empty()) FAIL("no notification for subscription " << sub);
  json out = pending[sub].front();
  pending[sub].pop_front();
  return out;
}

int ConnectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET http://127.0.0.1:port/path with Connection: close; the body, or "" on failure.
std::string HttpGetBody(uint16_t port, const std::string& path) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string out;
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char buf[8192];
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 10'000) > 0) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  size_t body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

// A TCP relay on loopback in front of a node, so a test can end the node's WebSocket
// connections from the server's side (as a slow-consumer drop or a restart does) while HTTP
// through the same address keeps working. One thread per relayed connection.
class CutProxy {
 public:
  explicit CutProxy(uint16_t target) : target_(target) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd_, 64) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~CutProxy() {
    stop_ = true;
    accept_thread_.join();
    ::close(listen_fd_);
    std::vector<std::shared_ptr<Link>> links;
    {
      MutexLock lock(&mu_);
      links = links_;
    }
    for (auto& l : links) {
      ::shutdown(l->client, SHUT_RDWR);
      if (l->server >= 0) ::shutdown(l->server, SHUT_RDWR);
      l->thread.join();
      ::close(l->client);
      if (l->server >= 0) ::close(l->server);
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Connections accepted from now on go to `port` (a node restarted on a new port).
  void Retarget(uint16_t port) { target_ = port; }

  // WebSocket upgrades relayed so far.
  int websockets() const {
    MutexLock lock(&mu_);
    int n = 0;
    for (const auto& l : links_) n += l->websocket ? 1 : 0;
    return n;
  }
  // Ends every relayed WebSocket: both sockets shut down, so the client reads the end of the
  // stream. Returns how many it cut.
  int CutWebSockets() {
    MutexLock lock(&mu_);
    int n = 0;
    for (const auto& l : links_) {
      if (!l->websocket) continue;
      ::shutdown(l->client, SHUT_RDWR);
      if (l->server >= 0) ::shutdown(l->server, SHUT_RDWR);
      ++n;
    }
    return n;
  }

 private:
  struct Link {
    int client = -1, server = -1;
    std::atomic<bool> websocket{false};
    std::thread thread;
  };

  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      auto link = std::make_shared<Link>();
      link->client = c;
      link->server = ConnectLoopback(target_.load());
      MutexLock lock(&mu_);
      link->thread = std::thread([link] { Relay(*link); });
      links_.push_back(link);
    }
  }

  static void Relay(Link& l) {
    std::string head;  // the start of the client's bytes, to spot an upgrade
    char buf[16384];
    while (l.server >= 0) {
      pollfd p[2] = {{l.client, POLLIN, 0}, {l.server, POLLIN, 0}};
      if (::poll(p, 2, 1000) < 0) break;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (p[i].revents == 0) continue;
        ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
        if (n <= 0) {
          done = true;
          break;
        }
        if (i == 0 && head.size() < 4096) {
          head.append(buf, static_cast<size_t>(n));
          std::string lower = head;
          for (char& ch : lower)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          if (lower.find("upgrade: websocket") != std::string::npos) l.websocket = true;
        }
        if (::send(p[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) done = true;
      }
      if (done) break;
    }
    // Closed by the destructor only, so a shutdown never reaches a reused descriptor.
    ::shutdown(l.client, SHUT_RDWR);
    if (l.server >= 0) ::shutdown(l.server, SHUT_RDWR);
  }

  std::atomic<uint16_t> target_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  mutable Mutex mu_;
  std::vector<std::shared_ptr<Link>> links_ GUARDED_BY(mu_);
};

// The port in a URL's authority (http://127.0.0.1:PORT).
uint16_t PortOf(const std::string& url) {
  return static_cast<uint16_t>(std::stoul(url.substr(url.rfind(':') + 1)));
}

// The value of `series` (a full name with labels) in Prometheus text, or -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace

TEST_CASE("WsClient: calls, newBlocks, tx, account, records and resume on a real node",
          "[integration][ws]") {
  TempDir dir("it-ws");
  DevNode node(dir.path() + "/home");
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  const std::string chain = node.ChainId();
  const crypto::KeyPair admin = node.AdminKey(), alice = TestKey(1, 0x57);

  auto ws = rpc::WsClient::Connect(node.url());
  REQUIRE(ws.ok());
  auto status = ws->Call("getStatus");
  REQUIRE(status.ok());
  CHECK(status.value()["chain_id"] == chain);

  auto blocks = ws->Subscribe(json::array({"newBlocks"}));
  auto acct = ws->Subscribe(json::array({"account", {{"address", alice.public_key().ToHex()}}}));
  auto recs = ws->Subscribe(json::array(
      {"records",
       {{"namespace", admin.public_key().ToHex()}, {"prefix", crypto::ToHex(Bytes{'k'})}}}));
  REQUIRE(blocks.ok());
  REQUIRE(acct.ok());
  REQUIRE(recs.ok());

  auto reg =
      MakeTx(admin, chain, 0, ledger::RegisterAccount{alice.public_key(), ledger::Role::kMember});
  auto tx = ws->Subscribe(json::array({"tx", {{"hash", reg.Hash().ToHex()}}}));
  REQUIRE(tx.ok());
  // Sent over the same socket: every method works over it.
  REQUIRE(ws->Call("sendTransaction", {{"tx", Hex(reg)}}).ok());
  json receipt = NextOf(*ws, *tx);
  CHECK(receipt["hash"] == reg.Hash().ToHex());
  CHECK(receipt["receipt"]["result"] == "ok");
  json change = NextOf(*ws, *acct);
  CHECK(change["kind"] == "register");
  json first = NextOf(*ws, *blocks);

  auto put = MakeTx(admin, chain, 1, ledger::Put{Bytes{'k', '1'}, Bytes{7}});
  REQUIRE(ws->Call("sendTransaction", {{"tx", Hex(put)}}).ok());
  json record = NextOf(*ws, *recs);
  CHECK(record["key"] == "6b31");
  CHECK(record["value"] == "07");
  json second = NextOf(*ws, *blocks);
  CHECK(second["height"] == first["height"].get<uint64_t>() + 1);

  // Resume on a new connection: the same headers again, from the first one.
  auto again = rpc::WsClient::Connect(node.url());
  REQUIRE(again.ok());
  auto resumed = again->Subscribe(json::array({"newBlocks", {{"from_height", first["height"]}}}));
  REQUIRE(resumed.ok());
  CHECK(NextOf(*again, *resumed) == first);
  CHECK(NextOf(*again, *resumed) == second);

  CHECK(ws->Call("unsubscribe", json::array({rpc::SubscriptionIdString(*blocks)})).value() == true);
}

TEST_CASE("cairn follow and send --wait go over subscriptions", "[integration][ws]") {
  TempDir dir("it-ws-cli");
  DevNode node(dir.path() + "/home");
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  const std::string admin_key = dir.path() + "/home/admin_key.json";
  const crypto::KeyPair alice = TestKey(2, 0x57);
  Process follow(
      CairnPath(),
      {"--rpc", node.url(), "--json", "follow", "--from", "1", "--count", "2", "--timeout", "30"},
      dir.path() + "/follow.err");
  auto reg = RunCommand(CairnPath(), {"--rpc", node.url(), "--json", "send", "register", "--key",
                                      admin_key, "--pubkey", alice.public_key().ToHex(), "--wait"});
  INFO(reg.err);
  REQUIRE(reg.exit_code == 0);
  CHECK(json::parse(reg.out)["status"] == "committed");
  auto fund = RunCommand(
      CairnPath(), {"--rpc", node.url(), "--json", "send", "transfer", "--key", admin_key, "--to",
                    alice.public_key().ToHex(), "--amount", "9", "--wait"});
  INFO(fund.err);
  REQUIRE(fund.exit_code == 0);
  CHECK(json::parse(fund.out)["receipt"]["result"] == "ok");
  std::vector<uint64_t> heights;
  for (int i = 0; i < 2; ++i) {
    auto line = follow.WaitForLine("{", kWait);
    REQUIRE(line.has_value());
    heights.push_back(json::parse(*line)["height"]);
  }
  CHECK(heights == std::vector<uint64_t>{1, 2});
  CHECK(follow.Wait(kWait) == 0);
}

TEST_CASE("subscribe and unsubscribe over a WebSocket count in cairn_rpc_requests_total",
          "[integration][ws][metrics]") {
  TempDir dir("it-ws-metrics");
  DevNode node(dir.path() + "/home");
  std::string why;
  REQUIRE(node.Start({"--metrics-listen", "127.0.0.1:0"}, &why));
  INFO(why);
  std::smatch m;
  const std::string log = ReadFile(node.home() + ".cairnd.log");
  static const std::regex re(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)");
  REQUIRE(std::regex_search(log, m, re));
  const uint16_t metrics_port = static_cast<uint16_t>(std::stoul(m[1]));

  auto ws = rpc::WsClient::Connect(node.url());
  REQUIRE(ws.ok());
  auto a = ws->Subscribe(json::array({"newBlocks"}));
  auto b = ws->Subscribe(json::array({"newBlocks"}));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(!ws->Subscribe(json::array({"noSuchTopic"})).ok());
  REQUIRE(ws->Call("unsubscribe", json::array({rpc::SubscriptionIdString(*a)})).ok());
  REQUIRE(ws->Call("getStatus").ok());
  const std::string subscribe = R"(cairn_rpc_requests_total{method="subscribe"})";
  const std::string unsubscribe = R"(cairn_rpc_requests_total{method="unsubscribe"})";
  const std::string subscribe_errors = R"(cairn_rpc_errors_total{method="subscribe"})";
  std::string text;
  // A call is counted once it has run, which may be just after its answer was read.
  CHECK(Eventually([&] {
    text = HttpGetBody(metrics_port, "/metrics");
    return Sample(text, subscribe) == 3 && Sample(text, unsubscribe) == 1;
  }));
  INFO(text);
  CHECK(Sample(text, subscribe) == 3);
  CHECK(Sample(text, subscribe_errors) == 1);
  CHECK(Sample(text, unsubscribe) == 1);
  CHECK(Sample(text, R"(cairn_rpc_requests_total{method="other"})") == 0);
  CHECK(Sample(text, R"(cairn_rpc_request_duration_seconds_count{method="subscribe"})") == 3);
}

TEST_CASE("cairn follow falls back to polling when its WebSocket is cut, missing no block",
          "[integration][ws]") {
  TempDir dir("it-ws-follow-cut");
  DevNode node(dir.path() + "/home");
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  const std::string chain = node.ChainId();
  const crypto::KeyPair admin = node.AdminKey();
  rpc::Client http = node.Client();
  // follow talks to the node only through the relay, over both its WebSocket and HTTP.
  CutProxy proxy(PortOf(node.url()));
  Process follow(CairnPath(),
                 {"--rpc", proxy.url(), "--json", "follow", "--from", "1", "--count", "3",
                  "--timeout", "60", "--interval-ms", "50"},
                 dir.path() + "/follow.err");
  REQUIRE(Eventually([&] { return proxy.websockets() == 1; }, kWait));
  auto heights = std::vector<uint64_t>{};
  auto commit = [&](uint64_t nonce) {
    auto tx = MakeTx(admin, chain, nonce,
                     ledger::Put{Bytes{'f', static_cast<uint8_t>('0' + nonce)}, Bytes{1}});
    REQUIRE(http.Call("sendTransaction", {{"tx", Hex(tx)}}).ok());
    REQUIRE(WaitCommitted(http, tx.Hash().ToHex()).has_value());
  };
  commit(0);
  auto line = follow.WaitForLine("{", kWait);
  REQUIRE(line.has_value());
  heights.push_back(json::parse(*line)["height"]);
  // The node's side of the subscription ends; blocks 2 and 3 commit after it.
  REQUIRE(proxy.CutWebSockets() == 1);
  commit(1);
  commit(2);
  for (int i = 0; i < 2; ++i) {
    line = follow.WaitForLine("{", kWait);
    INFO(TailOf(dir.path() + "/follow.err"));
    REQUIRE(line.has_value());
    heights.push_back(json::parse(*line)["height"]);
  }
  CHECK(heights == std::vector<uint64_t>{1, 2, 3});
  CHECK(follow.Wait(kWait) == 0);
  // Blocks 2 and 3 came over HTTP: follow did not open another WebSocket.
  CHECK(proxy.websockets() == 1);
}

// `cairn follow`'s polling fallback retries a node that is not answering yet (a restart)
// until --timeout instead of exiting.
TEST_CASE("cairn follow rides out a node restart, polling until the node is back",
          "[integration][ws]") {
  TempDir dir("it-ws-follow-restart");
  DevNode node(dir.path() + "/home");
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  const std::string chain = node.ChainId();
  const crypto::KeyPair admin = node.AdminKey();
  CutProxy proxy(PortOf(node.url()));
  Process follow(CairnPath(),
                 {"--rpc", proxy.url(), "--json", "follow", "--from", "1", "--count", "2",
                  "--timeout", "60", "--interval-ms", "50"},
                 dir.path() + "/follow.err");
  REQUIRE(Eventually([&] { return proxy.websockets() == 1; }, kWait));
  auto commit = [&](uint64_t nonce) {
    rpc::Client http = node.Client();
    auto tx = MakeTx(admin, chain, nonce,
                     ledger::Put{Bytes{'r', static_cast<uint8_t>('0' + nonce)}, Bytes{1}});
    REQUIRE(http.Call("sendTransaction", {{"tx", Hex(tx)}}).ok());
    REQUIRE(WaitCommitted(http, tx.Hash().ToHex()).has_value());
  };
  commit(0);
  auto line = follow.WaitForLine("{", kWait);
  REQUIRE(line.has_value());
  CHECK(json::parse(*line)["height"] == 1);
  // SIGTERM: the node closes follow's WebSocket with 1001 (going away), then comes back.
  REQUIRE(node.Stop() == 0);
  REQUIRE(node.Start({}, &why));
  proxy.Retarget(PortOf(node.url()));
  commit(1);
  line = follow.WaitForLine("{", kWait);
  INFO(TailOf(dir.path() + "/follow.err"));
  REQUIRE(line.has_value());
  CHECK(json::parse(*line)["height"] == 2);
  CHECK(follow.Wait(kWait) == 0);
}
