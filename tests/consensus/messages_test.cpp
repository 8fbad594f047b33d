#include <catch2/catch.hpp>

#include "consensus/raft/messages.h"
#include "consensus/rng.h"
#include "crypto/hex.h"

using namespace cairn;
using namespace cairn::consensus;
using namespace cairn::consensus::raft;

namespace {

Entry BlockEntry(uint64_t index, uint64_t term, uint64_t height, const std::string& data) {
  Entry e;
  e.index = index;
  e.term = term;
  e.type = EntryType::kBlock;
  e.height = height;
  e.data = Bytes(data.begin(), data.end());
  e.hash = crypto::Sha256Of(e.data);
  return e;
}

// One valid message of every type.
std::vector<Message> Samples() {
  std::vector<Message> out;
  Message app;
  app.type = MsgType::kApp;
  app.term = 7;
  app.index = 10;
  app.log_term = 6;
  app.commit = 9;
  Entry noop;
  noop.index = 11;
  noop.term = 7;
  noop.height = 4;
  app.entries = {noop, BlockEntry(12, 7, 5, "block five")};
  out.push_back(app);
  Message resp;
  resp.type = MsgType::kAppResp;
  resp.term = 7;
  resp.index = 12;
  out.push_back(resp);
  resp.reject = true;
  resp.reject_hint = 8;
  resp.hint_term = 3;
  out.push_back(resp);
  for (MsgType t : {MsgType::kVote, MsgType::kPreVote}) {
    Message v;
    v.type = t;
    v.term = 8;
    v.index = 12;
    v.log_term = 7;
    out.push_back(v);
  }
  for (MsgType t : {MsgType::kVoteResp, MsgType::kPreVoteResp}) {
    Message v;
    v.type = t;
    v.term = 8;
    v.reject = true;
    out.push_back(v);
  }
  Message hb;
  hb.type = MsgType::kHeartbeat;
  hb.term = 7;
  hb.commit = 12;
  out.push_back(hb);
  Message hbr;
  hbr.type = MsgType::kHeartbeatResp;
  hbr.term = 7;
  out.push_back(hbr);
  Message snap;
  snap.type = MsgType::kSnapshot;
  snap.term = 7;
  snap.snapshot = LogBase{40, 6, BlockRef{30, crypto::Sha256Of(AsBytes("b30"))}};
  out.push_back(snap);
  return out;
}

}  // namespace

TEST_CASE("every raft message type round-trips through its encoding", "[consensus][raft][codec]") {
  for (const Message& m : Samples()) {
    Result<Message> back = DecodeMessage(EncodeMessage(m));
    INFO(MsgTypeName(m.type));
    REQUIRE(back.ok());
    REQUIRE(*back == m);
  }
}

TEST_CASE("raft message encoding is pinned byte for byte", "[consensus][raft][codec]") {
  Message hb;
  hb.type = MsgType::kHeartbeat;
  hb.term = 5;
  hb.commit = 0x0102;
  // version 1, type 7, term 5 (u64 LE), commit 0x0102 (u64 LE)
  REQUIRE(crypto::ToHex(EncodeMessage(hb)) == "010705000000000000000201000000000000");
  Entry noop;
  noop.term = 3;
  noop.height = 2;
  // term 3, type 0 (no-op), height 2; a no-op carries no hash or data
  REQUIRE(crypto::ToHex(EncodeEntry(noop)) ==
          "030000000000000000"
          "0200000000000000");
}

TEST_CASE("entries and hard state round-trip", "[consensus][raft][codec]") {
  Entry e = BlockEntry(5, 2, 3, "payload");
  Result<Entry> back = DecodeEntry(EncodeEntry(e), 5);
  REQUIRE(back.ok());
  REQUIRE(*back == e);

  HardState hs{9, 2, 44, LogBase{40, 8, BlockRef{31, e.hash}}, {}};
  Result<HardState> hs_back = DecodeHardState(EncodeHardState(hs));
  REQUIRE(hs_back.ok());
  REQUIRE(*hs_back == hs);
  HardState fresh;  // vote kNoReplica survives the round trip
  REQUIRE(DecodeHardState(EncodeHardState(fresh))->vote == kNoReplica);
}

TEST_CASE("decoders reject every truncation and any trailing byte", "[consensus][raft][codec]") {
  for (const Message& m : Samples()) {
    Bytes enc = EncodeMessage(m);
    for (size_t n = 0; n < enc.size(); ++n) {
      Result<Message> r = DecodeMessage(ByteView(enc.data(), n));
      INFO(MsgTypeName(m.type) << " truncated to " << n);
      REQUIRE_FALSE(r.ok());
      // "truncated", or for a count, "more than fit in N remaining bytes"
      REQUIRE(r.error().find(" at offset ") != std::string::npos);
    }
    enc.push_back(0);
    Result<Message> r = DecodeMessage(enc);
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.error() ==
            "raft message: end: 1 trailing bytes at offset " + std::to_string(enc.size() - 1));
  }
  Bytes hs = EncodeHardState(HardState{});
  for (size_t n = 0; n < hs.size(); ++n)
    REQUIRE_FALSE(DecodeHardState(ByteView(hs.data(), n)).ok());
}

TEST_CASE("decode errors name the field and the offset", "[consensus][raft][codec]") {
  Bytes bad_type = {1, 42, 1, 0, 0, 0, 0, 0, 0, 0};
  REQUIRE(DecodeMessage(bad_type).error() == "raft message: type: unknown value 42 at offset 1");

  Bytes bad_version = {2, 7};
  REQUIRE(DecodeMessage(bad_version).error() ==
          "raft message: version: unsupported value 2 at offset 0");

  Message resp;
  resp.type = MsgType::kVoteResp;
  resp.term = 1;
  Bytes enc = EncodeMessage(resp);
  enc.back() = 2;  // a boolean that is neither 0 nor 1
  REQUIRE(DecodeMessage(enc).error() == "raft message: reject: is 2, not 0 or 1 at offset 10");

  // A forged entry count cannot drive an allocation.
  Message app = Samples()[0];
  app.entries.clear();
  enc = EncodeMessage(app);
  enc[34] = 0xff;
  enc[35] = 0xff;  // count 65535 entries with no bytes behind it
  REQUIRE(DecodeMessage(enc).error() ==
          "raft message: entry count: is 65535, more than fit in 0 remaining bytes at offset 34");

  // An oversized block length is rejected before reading the data.
  Entry big = BlockEntry(1, 1, 1, "x");
  Bytes e = EncodeEntry(big);
  size_t len_at = 8 + 1 + 8 + 32;
  e[len_at + 3] = 0x02;  // length 0x02000078 > 16 MiB
  REQUIRE(DecodeEntry(e, 1).error() ==
          "raft entry 1: entry block data: length 33554433 exceeds 16777216 at offset " +
              std::to_string(len_at));

  // An accepting response must not carry a hint (one encoding per value).
  Message ok_resp;
  ok_resp.type = MsgType::kAppResp;
  ok_resp.term = 1;
  enc = EncodeMessage(ok_resp);
  enc[19] = 1;
  REQUIRE(DecodeMessage(enc).error() ==
          "raft message: hint: is set on an accepting response at offset 19");
}

TEST_CASE("random and mutated input never crashes the decoder, and what decodes is canonical",
          "[consensus][raft][codec]") {
  Rng rng(20240601);
  auto check = [](ByteView in) {
    Result<Message> m = DecodeMessage(in);
    if (m.ok()) REQUIRE(EncodeMessage(*m) == Bytes(in.begin(), in.end()));
    Result<HardState> hs = DecodeHardState(in);
    if (hs.ok()) REQUIRE(EncodeHardState(*hs) == Bytes(in.begin(), in.end()));
    Result<Entry> e = DecodeEntry(in, 1);
    if (e.ok()) REQUIRE(EncodeEntry(*e) == Bytes(in.begin(), in.end()));
  };
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng.Uniform(120));
    for (uint8_t& x : b) x = static_cast<uint8_t>(rng.Next());
    // Bias towards plausible headers so the fuzzing reaches the bodies.
    if (b.size() > 2 && rng.Chance(3, 4)) {
      b[0] = 1;
      b[1] = static_cast<uint8_t>(rng.Range(1, 9));
    }
    check(b);
  }
  for (const Message& m : Samples()) {
    Bytes enc = EncodeMessage(m);
    for (size_t pos = 0; pos < enc.size(); ++pos) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes mutated = enc;
        mutated[pos] ^= static_cast<uint8_t>(1u << bit);
        check(mutated);
      }
    }
  }
}
