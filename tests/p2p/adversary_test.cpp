// Everything a remote may do wrong: each is refused, counted under its reason, and leaves
// the host serving everyone else.
#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "tests/p2p/frame_relay.h"
#include "tests/p2p/p2p_test_util.h"

using namespace cairn;
using namespace cairn::p2p;
using namespace cairn::p2p::test;

namespace {

uint64_t Closes(const Host& h, CloseReason r) { return h.GetStats().Closes(r); }

// A listening host plus a dialler that reaches it through `relay_rewriter` if given.
struct Link {
  crypto::KeyPair ka = KeyFor(1), kb = KeyFor(2);
  std::shared_ptr<const Allowlist> allow = Allow({ka, kb});
  std::unique_ptr<Host> a, b;
  std::unique_ptr<FrameRelay> relay;
  Inbox b_inbox;

  explicit Link(FrameRelay::Rewriter rewriter = nullptr) {
    b = std::make_unique<Host>(LoopbackOptions(kb, allow));
    b_inbox.Register(*b, {kSync});
    REQUIRE(b->Start().ok());
    PeerAddress target = AddressOf(*b);
    if (rewriter) {
      relay = std::make_unique<FrameRelay>(b->listen_port(), std::move(rewriter));
      target.port = relay->port();
    }
    HostOptions oa = LoopbackOptions(ka, allow);
    oa.listen = false;
    oa.persistent_peers = {target};
    oa.reconnect_initial = 5s;  // one connection at a time: the test inspects the first
    oa.reconnect_max = 5s;
    a = std::make_unique<Host>(oa);
  }
  ~Link() {
    // Hosts first: the relay's threads end once both hosts have closed their sockets.
    a.reset();
    b.reset();
  }
  bool Connected() { return a->IsConnected(kb.public_key()) && b->IsConnected(ka.public_key()); }
};

std::vector<std::string> Texts(const Inbox& inbox) {
  std::vector<std::string> out;
  for (const auto& r : inbox.Items()) out.push_back(AsString(r.payload));
  return out;
}

}  // namespace

TEST_CASE("a peer presenting another key than configured for its address is refused", "[p2p]") {
  auto ka = KeyFor(1), kb = KeyFor(2), kc = KeyFor(3);
  auto allow = Allow({ka, kb, kc});  // B is allowed: only the configured identity is wrong
  Host b(LoopbackOptions(kb, allow));
  REQUIRE(b.Start().ok());
  HostOptions oa = LoopbackOptions(ka, allow);
  oa.persistent_peers = {{"127.0.0.1", b.listen_port(), kc.public_key()}};  // C, at B's address
  Host a(oa);
  REQUIRE(a.Start().ok());
  REQUIRE(WaitFor([&] { return Closes(a, CloseReason::kWrongPeerKey) >= 1; }));
  CHECK(a.GetPeers().empty());
  CHECK(a.GetStats().handshakes_completed == 0);
}

TEST_CASE("a key not on the allowlist is refused in both directions", "[p2p]") {
  auto ka = KeyFor(1), kb = KeyFor(2);
  const bool listener_refuses = GENERATE(true, false);
  INFO((listener_refuses ? "listener refuses the dialler" : "dialler refuses the listener"));
  // The refusing side allows only itself; the other side allows both.
  auto refusing = Allow({listener_refuses ? kb : ka});
  auto open = Allow({ka, kb});
  Host b(LoopbackOptions(kb, listener_refuses ? refusing : open));
  REQUIRE(b.Start().ok());
  HostOptions oa = LoopbackOptions(ka, listener_refuses ? open : refusing);
  oa.persistent_peers = {AddressOf(b)};
  Host a(oa);
  REQUIRE(a.Start().ok());
  Host& refuser = listener_refuses ? b : a;
  REQUIRE(WaitFor([&] { return Closes(refuser, CloseReason::kNotAllowed) >= 1; }));
  CHECK(refuser.GetPeers().empty());
  CHECK(refuser.GetStats().handshakes_completed == 0);
}

TEST_CASE("nodes of different networks never connect", "[p2p]") {
  auto ka = KeyFor(1), kb = KeyFor(2);
  auto allow = Allow({ka, kb});
  HostOptions ob = LoopbackOptions(kb, allow);
  ob.network_id = crypto::Sha256Of(AsBytes("some other chain"));
  Host b(ob);
  REQUIRE(b.Start().ok());
  HostOptions oa = LoopbackOptions(ka, allow);
  oa.persistent_peers = {AddressOf(b)};
  Host a(oa);
  REQUIRE(a.Start().ok());
  // The listener finds the dialler's auth frame unreadable and closes without sending its
  // own (it signs only for a peer it admits), so the dialler sees the connection closed.
  REQUIRE(WaitFor([&] {
    return Closes(b, CloseReason::kBadAuth) >= 2 && Closes(a, CloseReason::kRemoteClosed) >= 2;
  }));
  CHECK(Closes(a, CloseReason::kBadAuth) == 0);
  CHECK(a.GetPeers().empty());
  CHECK(b.GetPeers().empty());
}

TEST_CASE("a modified frame closes the connection and is never delivered", "[p2p]") {
  // Frame 0 is the auth frame; frames 1, 2, 3 are the test's messages on connection 0.
  Link link([](size_t conn, size_t index, Bytes frame) {
    if (conn == 0 && index == 2) frame[frame.size() / 2] ^= 0x04;
    return std::vector<Bytes>{std::move(frame)};
  });
  REQUIRE(link.a->Start().ok());
  REQUIRE(WaitFor([&] { return link.Connected(); }));
  for (const char* text : {"one", "two", "three"}) {
    REQUIRE(
        link.a->Send(link.kb.public_key(), kSync, Bytes(AsBytes(text).begin(), AsBytes(text).end()))
            .ok());
  }
  REQUIRE(WaitFor([&] { return Closes(*link.b, CloseReason::kDecryptFailed) == 1; }));
  REQUIRE(WaitFor([&] { return !link.a->IsConnected(link.kb.public_key()); }));
  CHECK(Texts(link.b_inbox) == std::vector<std::string>{"one"});
}

TEST_CASE("a replayed, dropped or reordered frame closes the connection", "[p2p]") {
  enum Attack { kReplay, kDrop, kReorder };
  const Attack attack = GENERATE(kReplay, kDrop, kReorder);
  INFO("attack " << int(attack));
  auto held = std::make_shared<Bytes>();
  Link link([attack, held](size_t conn, size_t index, Bytes frame) -> std::vector<Bytes> {
    if (conn != 0) return {std::move(frame)};
    switch (attack) {
      case kReplay:
        if (index == 1) return {frame, frame};
        break;
      case kDrop:
        if (index == 2) return {};
        break;
      case kReorder:
        if (index == 2) {
          *held = std::move(frame);
          return {};
        }
        if (index == 3) return {std::move(frame), *held};
        break;
    }
    return {std::move(frame)};
  });
  REQUIRE(link.a->Start().ok());
  REQUIRE(WaitFor([&] { return link.Connected(); }));
  // The attack may close the connection before the last Send is queued (B closes at the
  // second frame, and A can learn it between two Sends), so only the first must be taken.
  bool first = true;
  for (const char* text : {"one", "two", "three"}) {
    const bool queued =
        link.a->Send(link.kb.public_key(), kSync, Bytes(AsBytes(text).begin(), AsBytes(text).end()))
            .ok();
    if (first) REQUIRE(queued);
    first = false;
  }
  REQUIRE(WaitFor([&] { return Closes(*link.b, CloseReason::kDecryptFailed) == 1; }));
  // Only the frames before the attack get through, each exactly once.
  CHECK(Texts(link.b_inbox) == std::vector<std::string>{"one"});
}

TEST_CASE("an oversize frame closes that connection only", "[p2p]") {
  auto ka = KeyFor(1), kb = KeyFor(2), kc = KeyFor(3);
  auto allow = Allow({ka, kb, kc});
  HostOptions ob = LoopbackOptions(kb, allow);
  ob.max_frame_bytes = 64 << 10;
  ob.max_send_queue_bytes = 1 << 20;
  Host b(ob);
  Inbox b_inbox;
  b_inbox.Register(b, {kSync});
  REQUIRE(b.Start().ok());
  // A allows itself bigger frames than B accepts; C behaves.
  TwoDialers d(b, ka, kc, allow, /*a_redial=*/5s);
  d.StartAndJoin(b);
  Host &a = d.a, &c = d.c;

  REQUIRE(a.Send(kb.public_key(), kSync, Bytes(100 << 10, 0xab)).ok());
  REQUIRE(WaitFor([&] { return Closes(b, CloseReason::kFrameTooLarge) == 1; }));
  CHECK_FALSE(b.IsConnected(ka.public_key()));
  REQUIRE(c.Send(kb.public_key(), kSync, Bytes{7}).ok());
  REQUIRE(WaitFor([&] { return b_inbox.Count() == 1; }));
  CHECK(b_inbox.Items()[0].from == kc.public_key());
  CHECK(b.IsConnected(kc.public_key()));
}

TEST_CASE("a message type without a handler closes that connection only", "[p2p]") {
  auto ka = KeyFor(1), kb = KeyFor(2), kc = KeyFor(3);
  auto allow = Allow({ka, kb, kc});
  Host b(LoopbackOptions(kb, allow));
  Inbox b_inbox;
  b_inbox.Register(b, {kSync});
  REQUIRE(b.Start().ok());
  TwoDialers d(b, ka, kc, allow, /*a_redial=*/5s);
  d.StartAndJoin(b);
  Host &a = d.a, &c = d.c;
  REQUIRE(a.Send(kb.public_key(), 0x45, Bytes{1}).ok());
  REQUIRE(WaitFor([&] { return Closes(b, CloseReason::kBadMessage) == 1; }));
  REQUIRE(c.Send(kb.public_key(), kSync, Bytes{2}).ok());
  REQUIRE(WaitFor([&] { return b_inbox.Count() == 1; }));
  CHECK(b.IsConnected(kc.public_key()));
  CHECK_FALSE(b.IsConnected(ka.public_key()));
}

TEST_CASE("garbage instead of a handshake is closed and the listener keeps serving", "[p2p]") {
  const uint64_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  auto ka = KeyFor(1), kb = KeyFor(2);
  auto allow = Allow({ka, kb});
  Host b(LoopbackOptions(kb, allow));
  REQUIRE(b.Start().ok());
  for (int i = 0; i < 3; ++i) {
    RawClient raw(b.listen_port());
    REQUIRE(raw.connected());
    Bytes garbage(64 + rng() % 512);
    for (auto& x : garbage) x = static_cast<uint8_t>(rng());
    raw.Send(garbage);
    CHECK(raw.WaitClosed(5s));
  }
  REQUIRE(WaitFor([&] { return Closes(b, CloseReason::kBadHello) == 3; }));
  HostOptions oa = LoopbackOptions(ka, allow);
  oa.persistent_peers = {AddressOf(b)};
  Host a(oa);
  REQUIRE(a.Start().ok());
  REQUIRE(WaitFor([&] { return b.IsConnected(ka.public_key()); }));
}

TEST_CASE("a stalled handshake is dropped at the deadline", "[p2p]") {
  auto kb = KeyFor(2);
  HostOptions ob = LoopbackOptions(kb, Allow({kb}));
  ob.handshake_timeout = 300ms;
  Host b(ob);
  REQUIRE(b.Start().ok());
  SECTION("silent from the start") {
    RawClient raw(b.listen_port());
    REQUIRE(raw.connected());
    CHECK(raw.WaitClosed(10s));
  }
  SECTION("a valid-looking hello, then silence") {
    RawClient raw(b.listen_port());
    REQUIRE(raw.connected());
    Bytes hello(41, 0x09);
    std::memcpy(hello.data(), "CAIRNP2P\x01", 9);
    REQUIRE(raw.Send(hello));
    CHECK(raw.WaitClosed(10s));
  }
  REQUIRE(WaitFor([&] { return Closes(b, CloseReason::kHandshakeTimeout) == 1; }));
}

TEST_CASE("an unauthenticated squatter makes room for a peer instead of keeping it out", "[p2p]") {
  auto ka = KeyFor(1), kb = KeyFor(2);
  auto allow = Allow({ka, kb});
  HostOptions ob = LoopbackOptions(kb, allow);
  ob.max_inbound = 1;
  ob.max_pending_inbound = 1;
  ob.max_pending_per_ip = 1;
  ob.handshake_timeout = 30s;  // the squatter would hold its slot this long
  Host b(ob);
  REQUIRE(b.Start().ok());
  RawClient squatter(b.listen_port());  // takes the only pending slot and says nothing
  REQUIRE(squatter.connected());
  REQUIRE(WaitFor([&] { return b.GetStats().pending_inbound == 1; }));
  HostOptions oa = LoopbackOptions(ka, allow);
  oa.persistent_peers = {AddressOf(b)};
  Host a(oa);
  REQUIRE(a.Start().ok());
  REQUIRE(WaitFor([&] { return b.IsConnected(ka.public_key()); }));
  CHECK(squatter.WaitClosed(5s));
  CHECK(Closes(b, CloseReason::kEvicted) == 1);
}
