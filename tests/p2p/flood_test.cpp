// Floods an outsider can send at a p2p port: half-open connections (R5 of issue 12), valid
// hellos and garbage (R8). Each test shows what a user would see: allowlisted peers still
// connect, the listener does no key exchange or signing for those it refuses, and the log
// stays short while every refusal is counted.
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <mutex>

#include "tests/p2p/flood.h"
#include "tests/p2p/p2p_test_util.h"

using namespace cairn;
using namespace cairn::p2p;
using namespace cairn::p2p::test;

namespace {

uint64_t Closes(const Host& h, CloseReason r) { return h.GetStats().Closes(r); }

// Counts log lines (and keeps them) while installed as the default logger.
class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

class CaptureLog {
 public:
  CaptureLog() : sink_(std::make_shared<LineSink>()), previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~CaptureLog() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> Lines() { return sink_->Lines(); }

 private:
  std::shared_ptr<LineSink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

size_t CountContaining(const std::vector<std::string>& lines, const std::string& what) {
  size_t n = 0;
  for (const auto& l : lines) n += l.find(what) != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("a churning half-open flood from the peer's own address cannot keep it out",
          "[p2p][flood]") {
  const bool partial = GENERATE(false, true);
  INFO((partial ? "each connection sends part of a hello" : "silent connections"));
  auto ka = KeyFor(1), kb = KeyFor(2);
  auto allow = Allow({ka, kb});
  HostOptions ob = LoopbackOptions(kb, allow);
  ob.max_pending_inbound = 4;
  ob.max_pending_per_ip = 4;
  ob.handshake_timeout = 30s;  // only admission, not the deadline, can make room
  Host b(ob);
  REQUIRE(b.Start().ok());
  // The attacker shares the peer's address, so per-address limits alone cannot tell them
  // apart; it holds 16 connections for 4 slots and reopens each one the host closes.
  HalfOpenFlood flood({b.listen_port()}, 16, {"127.0.0.1"}, partial);
  REQUIRE(WaitFor([&] { return Closes(b, CloseReason::kEvicted) >= 12; }));

  HostOptions oa = LoopbackOptions(ka, allow);
  oa.listen = false;
  oa.persistent_peers = {AddressOf(b)};
  Host a(oa);
  REQUIRE(a.Start().ok());
  REQUIRE(
      WaitFor([&] { return b.IsConnected(ka.public_key()) && a.IsConnected(kb.public_key()); }));
  CHECK(b.GetStats().pending_inbound <= 4);
  CHECK(flood.opened() > 16);  // it kept reopening: the host evicted rather than refused
}

TEST_CASE("pending connections never take the slots of authenticated peers", "[p2p][flood]") {
  auto ka = KeyFor(1), kb = KeyFor(2), kc = KeyFor(3), kd = KeyFor(4);
  auto allow = Allow({ka, kb, kc, kd});
  HostOptions ob = LoopbackOptions(kb, allow);
  ob.max_inbound = 2;
  ob.max_pending_inbound = 2;
  ob.max_pending_per_ip = 2;
  Host b(ob);
  REQUIRE(b.Start().ok());
  auto dialler = [&](const crypto::KeyPair& k) {
    HostOptions o = LoopbackOptions(k, allow);
    o.listen = false;
    o.persistent_peers = {AddressOf(b)};
    return std::make_unique<Host>(o);
  };
  auto a = dialler(ka);
  REQUIRE(a->Start().ok());
  REQUIRE(WaitFor([&] { return b.IsConnected(ka.public_key()); }));

  HalfOpenFlood flood({b.listen_port()}, 8, {"127.0.0.2"});
  REQUIRE(WaitFor([&] { return Closes(b, CloseReason::kEvicted) >= 6; }));
  auto c = dialler(kc);
  REQUIRE(c->Start().ok());
  REQUIRE(WaitFor([&] { return b.IsConnected(kc.public_key()); }));
  CHECK(b.IsConnected(ka.public_key()));

  // max_inbound bounds authenticated inbound peers: a third is refused after its handshake.
  auto d = dialler(kd);
  REQUIRE(d->Start().ok());
  REQUIRE(WaitFor([&] { return Closes(b, CloseReason::kInboundLimit) >= 1; }));
  CHECK_FALSE(b.IsConnected(kd.public_key()));
  CHECK(b.GetPeers().size() == 2);
}

TEST_CASE("over its handshake budget, an address's hellos are refused before any key exchange",
          "[p2p][flood]") {
  auto ka = KeyFor(1), kb = KeyFor(2), outsider = KeyFor(66);
  auto allow = Allow({ka, kb});
  ManualClock clock(1'000'000, 1'700'000'000'000);  // frozen: the budget never refills
  HostOptions ob = LoopbackOptions(kb, allow);
  ob.handshakes_per_ip_per_second = 1;
  ob.handshake_burst_per_ip = 5;
  ob.clock = &clock;
  Host b(ob);
  REQUIRE(b.Start().ok());

  HelloFloodResult r = HelloFlood(b.listen_port(), "127.0.0.2", 20, outsider, TestNetwork());
  CHECK(r.connected == 20);
  CHECK(r.answered == 5);  // the burst: key exchange done, then refused at the allowlist
  CHECK(r.got_auth == 0);  // the listener never signs for a key it does not allow
  REQUIRE(WaitFor([&] {
    return Closes(b, CloseReason::kNotAllowed) == 5 && Closes(b, CloseReason::kRateLimited) == 15;
  }));
  CHECK(b.GetStats().handshakes_completed == 0);

  // Another address keeps its own budget: an allowlisted peer connects.
  HostOptions oa = LoopbackOptions(ka, allow);
  oa.listen = false;
  oa.persistent_peers = {AddressOf(b)};
  Host a(oa);
  REQUIRE(a.Start().ok());
  REQUIRE(WaitFor([&] { return b.IsConnected(ka.public_key()); }));
}

TEST_CASE("refusals of outsiders are counted each, but logged at a bounded rate", "[p2p][flood]") {
  auto kb = KeyFor(2);
  ManualClock clock(1'000'000, 1'700'000'000'000);
  HostOptions ob = LoopbackOptions(kb, Allow({kb}));
  ob.clock = &clock;
  CaptureLog log;
  Host b(ob);
  REQUIRE(b.Start().ok());
  const Bytes garbage(64, 0x5a);
  REQUIRE(ConnectFlood(b.listen_port(), "127.0.0.2", 300, garbage) == 300);
  REQUIRE(WaitFor([&] { return Closes(b, CloseReason::kBadHello) == 300; }));
  const size_t lines = CountContaining(log.Lines(), "bad hello");
  INFO("logged " << lines);
  CHECK(lines >= 1);
  CHECK(lines <= 20);  // the burst; the clock is frozen, so no refill
  CHECK(b.GetStats().log_lines_suppressed == 300 - lines);

  // A second later one more line, which says how many were left out.
  clock.Advance(1000);
  REQUIRE(ConnectFlood(b.listen_port(), "127.0.0.2", 1, garbage) == 1);
  REQUIRE(WaitFor([&] { return Closes(b, CloseReason::kBadHello) == 301; }));
  auto all = log.Lines();
  REQUIRE(CountContaining(all, "bad hello") == lines + 1);
  CHECK(all.back().find("(" + std::to_string(300 - lines) + " similar suppressed)") !=
        std::string::npos);
}

TEST_CASE("MaxSockets counts the listener, pending and authenticated inbound, and dials", "[p2p]") {
  HostOptions o;
  o.max_pending_inbound = 32;
  o.max_inbound = 64;
  o.persistent_peers.resize(3);
  // resolver 1 + listener 1 + pending 32 + the one an eviction briefly adds 1 + inbound
  // min(64, 4) + dials max(3, 4)
  CHECK(MaxSockets(o, 4) == 1 + 1 + 32 + 1 + 4 + 4);
  o.max_inbound = 2;
  CHECK(MaxSockets(o, 4) == 1 + 1 + 32 + 1 + 2 + 4);
  o.listen = false;
  CHECK(MaxSockets(o, 4) == 1 + 4);
  o.persistent_peers.resize(10);
  CHECK(MaxSockets(o, 4) == 1 + 10);
}
