// The handshake and frame layer in memory: no sockets, every byte under the test's control.
#include <catch2/catch.hpp>
#include <cstring>

#include "crypto/hex.h"
#include "p2p/secure_channel.h"
#include "tests/p2p/p2p_test_util.h"

using namespace cairn;
using namespace cairn::p2p;
using cairn::p2p::test::KeyFor;
using cairn::p2p::test::TestNetwork;

namespace {

Bytes Hex(std::string_view h) { return *crypto::FromHex(h); }

EphemeralSecret Eph(uint8_t fill) {
  EphemeralSecret s;
  s.fill(fill);
  return s;
}

struct Frame {
  Bytes header;
  Bytes body;
};

Frame Split(const Bytes& wire) {
  REQUIRE(wire.size() >= kFrameHeaderSize);
  Frame f{Bytes(wire.begin(), wire.begin() + kFrameHeaderSize),
          Bytes(wire.begin() + kFrameHeaderSize, wire.end())};
  REQUIRE(DecodeFrameLength(f.header) == f.body.size());
  return f;
}

// Runs both halves of the handshake against each other; returns the remote ids.
struct Pair {
  crypto::KeyPair ka = KeyFor(1), kb = KeyFor(2);
  Handshake a{ka, TestNetwork()};
  Handshake b{kb, TestNetwork()};
  FrameSealer a_send, b_send;
  FrameOpener a_recv, b_recv;

  void Run() {
    REQUIRE(a.OnRemoteHello(b.hello()).ok());
    REQUIRE(b.OnRemoteHello(a.hello()).ok());
    Frame fa = Split(a.AuthFrame()), fb = Split(b.AuthFrame());
    auto id_b = a.OnRemoteAuth(fb.header, fb.body);
    auto id_a = b.OnRemoteAuth(fa.header, fa.body);
    REQUIRE(id_a.ok());
    REQUIRE(id_b.ok());
    REQUIRE(*id_a == ka.public_key());
    REQUIRE(*id_b == kb.public_key());
    a_send = a.TakeSealer();
    b_send = b.TakeSealer();
    a_recv = a.TakeOpener();
    b_recv = b.TakeOpener();
  }
};

Bytes SealOne(FrameSealer& s, MessageType type, std::string_view text) {
  Bytes wire;
  REQUIRE(s.SealMessage(type, AsBytes(text), &wire));
  return wire;
}

std::optional<std::string> OpenOne(FrameOpener& o, const Bytes& wire) {
  Frame f = Split(wire);
  auto pt = o.Open(f.header, f.body);
  if (!pt) return std::nullopt;
  REQUIRE(pt->size() >= kMessageOverhead);
  REQUIRE((*pt)[0] == kEnvelopeVersion);
  return AsString(pt->subspan(kMessageOverhead));
}

}  // namespace

TEST_CASE("HKDF-SHA256 matches RFC 5869 test cases 1 and 3", "[p2p]") {
  Bytes ikm(22, 0x0b);
  Bytes okm = HkdfSha256(Hex("000102030405060708090a0b0c"), ikm, Hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  REQUIRE(crypto::ToHex(okm) ==
          "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  okm = HkdfSha256({}, ikm, {}, 42);
  REQUIRE(crypto::ToHex(okm) ==
          "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST_CASE("handshake authenticates both node keys and both directions carry data", "[p2p]") {
  Pair p;
  p.Run();
  REQUIRE(p.a.transcript_hash() == p.b.transcript_hash());
  for (int i = 0; i < 3; ++i) {
    Bytes ab = SealOne(p.a_send, 0x10, "to b " + std::to_string(i));
    Bytes ba = SealOne(p.b_send, 0x30, "to a " + std::to_string(i));
    REQUIRE(OpenOne(p.b_recv, ab) == "to b " + std::to_string(i));
    REQUIRE(OpenOne(p.a_recv, ba) == "to a " + std::to_string(i));
  }
}

TEST_CASE("frames are encrypted: the payload does not appear on the wire", "[p2p]") {
  Pair p;
  p.Run();
  const std::string secret = "a recognisable plaintext payload";
  Bytes wire = SealOne(p.a_send, 0x10, secret);
  REQUIRE(wire.size() == kFrameHeaderSize + kMessageOverhead + secret.size() + kTagSize);
  std::string as_text = AsString(wire);
  REQUIRE(as_text.find(secret) == std::string::npos);
  REQUIRE(as_text.find("recognisable") == std::string::npos);
}

TEST_CASE("a modified, replayed, reordered or dropped frame fails authentication", "[p2p]") {
  Pair p;
  p.Run();
  Bytes f1 = SealOne(p.a_send, 0x10, "one");
  Bytes f2 = SealOne(p.a_send, 0x10, "two");

  SECTION("bit flip in the length prefix, the ciphertext or the tag") {
    for (size_t pos : {size_t{3}, kFrameHeaderSize, kFrameHeaderSize + 3, f1.size() - 1}) {
      INFO("flipped byte " << pos);
      Pair fresh;  // a fresh channel per try: a failed Open ends a channel
      fresh.Run();
      Bytes bad = SealOne(fresh.a_send, 0x10, "one");
      bad[pos] ^= 0x01;
      Frame f{Bytes(bad.begin(), bad.begin() + 4), Bytes(bad.begin() + 4, bad.end())};
      // A changed length no longer matches the body; even a matching one would fail, as
      // the prefix is the AAD.
      REQUIRE_FALSE(fresh.b_recv.Open(f.header, f.body));
    }
    REQUIRE(OpenOne(p.b_recv, f1) == "one");
  }
  SECTION("replay") {
    REQUIRE(OpenOne(p.b_recv, f1) == "one");
    REQUIRE_FALSE(OpenOne(p.b_recv, f1));
  }
  SECTION("reorder") { REQUIRE_FALSE(OpenOne(p.b_recv, f2)); }
  SECTION("drop") {
    Bytes f3 = SealOne(p.a_send, 0x10, "three");
    REQUIRE(OpenOne(p.b_recv, f1) == "one");
    REQUIRE_FALSE(OpenOne(p.b_recv, f3));
  }
  SECTION("reflection: a frame sent back to its sender") { REQUIRE_FALSE(OpenOne(p.a_recv, f1)); }
}

TEST_CASE("nodes of different networks fail the handshake", "[p2p]") {
  crypto::KeyPair ka = KeyFor(1), kb = KeyFor(2);
  Handshake a(ka, TestNetwork());
  Handshake b(kb, crypto::Sha256Of(AsBytes("another chain")));
  REQUIRE(a.OnRemoteHello(b.hello()).ok());
  REQUIRE(b.OnRemoteHello(a.hello()).ok());
  Frame fa = Split(a.AuthFrame()), fb = Split(b.AuthFrame());
  REQUIRE_FALSE(a.OnRemoteAuth(fb.header, fb.body).ok());
  REQUIRE_FALSE(b.OnRemoteAuth(fa.header, fa.body).ok());
}

TEST_CASE("hello: wrong magic, version, reflected or low-order keys are refused", "[p2p]") {
  crypto::KeyPair ka = KeyFor(1), kb = KeyFor(2);
  Handshake a(ka, TestNetwork());
  Handshake b(kb, TestNetwork());
  auto hello = [&] { return Bytes(b.hello().begin(), b.hello().end()); };

  Bytes bad = hello();
  bad[0] ^= 0x20;
  REQUIRE_FALSE(a.OnRemoteHello(bad).ok());
  bad = hello();
  bad[8] = 0x02;
  REQUIRE_FALSE(a.OnRemoteHello(bad).ok());
  REQUIRE_FALSE(a.OnRemoteHello(ByteView(hello()).first(40)).ok());
  Bytes reflected(a.hello().begin(), a.hello().end());
  REQUIRE_FALSE(a.OnRemoteHello(reflected).ok());
  for (uint8_t low_order : {0, 1}) {  // u = 0 and u = 1 give an all-zero shared secret
    bad = hello();
    std::memset(bad.data() + 9, 0, 32);
    bad[9] = low_order;
    Status s = a.OnRemoteHello(bad);
    REQUIRE_FALSE(s.ok());
    REQUIRE(s.message().find("low-order") != std::string::npos);
  }
}

TEST_CASE("auth: a man in the middle cannot splice in its own identity", "[p2p]") {
  // M relays A's hello to B but answers A with its own ephemeral key, then tries to pass
  // B's auth frame to A: A derives different keys, so the frame does not even open.
  crypto::KeyPair ka = KeyFor(1), kb = KeyFor(2), km = KeyFor(3);
  Handshake a(ka, TestNetwork()), b(kb, TestNetwork()), m(km, TestNetwork());
  REQUIRE(a.OnRemoteHello(m.hello()).ok());
  REQUIRE(b.OnRemoteHello(a.hello()).ok());
  Frame fb = Split(b.AuthFrame());
  REQUIRE_FALSE(a.OnRemoteAuth(fb.header, fb.body).ok());
}

TEST_CASE("auth: a signature by the wrong key is refused", "[p2p]") {
  // A forger who somehow holds the channel keys swaps C's public key into B's auth frame;
  // it cannot produce C's signature, so A refuses.
  crypto::KeyPair ka = KeyFor(1), kb = KeyFor(2), kc = KeyFor(3);
  Handshake a(ka, TestNetwork(), Eph(9)), b(kb, TestNetwork(), Eph(7));
  Handshake a_twin(ka, TestNetwork(), Eph(9)), b_forger(kb, TestNetwork(), Eph(7));
  REQUIRE(a.OnRemoteHello(b.hello()).ok());
  REQUIRE(b.OnRemoteHello(a.hello()).ok());
  REQUIRE(a_twin.OnRemoteHello(b.hello()).ok());
  REQUIRE(b_forger.OnRemoteHello(a.hello()).ok());
  Frame genuine = Split(b.AuthFrame());
  FrameOpener peek = a_twin.TakeOpener();
  auto pt = peek.Open(genuine.header, genuine.body);
  REQUIRE(pt);
  Bytes forged(pt->begin(), pt->end());
  std::memcpy(forged.data(), kc.public_key().data(), 32);
  FrameSealer forger_send = b_forger.TakeSealer();
  Bytes wire;
  REQUIRE(forger_send.Seal(forged, &wire));
  Frame ff = Split(wire);
  auto r = a.OnRemoteAuth(ff.header, ff.body);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.error().find("bad signature") != std::string::npos);
}

TEST_CASE("known-answer vector of docs/P2P.md", "[p2p]") {
  // Node keys from seeds 01..01 and 02..02, ephemeral secrets 11..11 and 22..22, network
  // id SHA-256("cairn-p2p-test-network"). The expected bytes were computed independently
  // (Python, pyca/cryptography) from docs/P2P.md, not by this implementation.
  crypto::KeyPair ka = KeyFor(1), kb = KeyFor(2);
  Handshake a(ka, TestNetwork(), Eph(0x11)), b(kb, TestNetwork(), Eph(0x22));
  REQUIRE(a.OnRemoteHello(b.hello()).ok());
  REQUIRE(b.OnRemoteHello(a.hello()).ok());
  Bytes auth_a = a.AuthFrame();
  FrameSealer a_send = a.TakeSealer();
  Bytes ping;
  const uint8_t nonce[8] = {1, 0, 0, 0, 0, 0, 0, 0};
  REQUIRE(a_send.SealMessage(kPing, ByteView(nonce, 8), &ping));
  CHECK(TestNetwork().ToHex() ==
        "99a05fd4170272a8ace557ed66ed8b6a417a207c286028eba4d79d9518ef1712");
  CHECK(crypto::ToHex(a.hello()) ==
        "434149524e503250017b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13");
  CHECK(crypto::ToHex(b.hello()) ==
        "434149524e503250010faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20");
  CHECK(a.transcript_hash().ToHex() ==
        "c21596cd306bd9944dcd1a55233a5087be88ed2f873b0d1e6ac47939395deda0");
  CHECK(crypto::ToHex(auth_a) ==
        "00000070ff353b6ddaaa66a83b67a48db1cae571253e51288aba238eb1a68ba5d63016b679d5"
        "59e544290641f429fec20a2ae2f12c5f5cd5948b52944994828182e64b6886e3df3a892d1286"
        "cdb5befcd820381ea9434f25047e9d12ea55826dfc969d9d801985577883438c792741fe288c"
        "4be6");
  CHECK(crypto::ToHex(ping) == "0000001a8af0f2aa7bd93e6f27d357234397f4114b4c0ef39375644eabe3");
  // B opens A's auth frame with the same keys and learns A's id.
  Frame fa = Split(auth_a);
  auto id = b.OnRemoteAuth(fa.header, fa.body);
  REQUIRE(id.ok());
  CHECK(*id == ka.public_key());
}
