// The Blocks wire message that carries commit certificates through block sync.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "crypto/sha256.h"
#include "node/wire.h"
#include "tests/kit/keys.h"

using namespace cairn;
using namespace cairn::node;

TEST_CASE("Blocks messages carry each block with its certificate and refuse damage",
          "[node][wire]") {
  std::vector<wire::CertifiedBlock> in = {{Bytes{1, 2, 3}, Bytes{9, 9}}, {Bytes{4}, Bytes{}}};
  Bytes enc = wire::EncodeBlocks(in);
  auto out = wire::DecodeBlocks(enc);
  REQUIRE(out.ok());
  REQUIRE(out->size() == 2);
  CHECK(Bytes((*out)[0].block.begin(), (*out)[0].block.end()) == in[0].block);
  CHECK(Bytes((*out)[0].certificate.begin(), (*out)[0].certificate.end()) == in[0].certificate);
  CHECK((*out)[1].certificate.empty());
  for (size_t cut = 0; cut < enc.size(); ++cut) {
    INFO("cut at " << cut);
    CHECK_FALSE(wire::DecodeBlocks(ByteView(enc.data(), cut)).ok());
  }
  Bytes longer = enc;
  longer.push_back(0);
  CHECK_FALSE(wire::DecodeBlocks(longer).ok());
  Bytes huge_count = {0xff, 0xff, 0xff, 0xff};
  CHECK_FALSE(wire::DecodeBlocks(huge_count).ok());
}

// Issue 17: the snapshot and header messages. Each decoder refuses every truncation, a byte
// too many and a count over its bound, before it allocates for that count.
namespace {

template <typename Decode>
void CheckStrict(const Bytes& enc, Decode decode) {
  REQUIRE(decode(enc).ok());
  for (size_t cut = 0; cut < enc.size(); ++cut) {
    INFO("cut at " << cut);
    CHECK_FALSE(decode(ByteView(enc.data(), cut)).ok());
  }
  Bytes longer = enc;
  longer.push_back(0);
  CHECK_FALSE(decode(longer).ok());
}

crypto::Hash256 HashOf(uint8_t b) {
  std::array<uint8_t, 32> a;
  a.fill(b);
  return crypto::Hash256(a);
}

}  // namespace

TEST_CASE("GetSnapshots carries nothing and refuses anything", "[node][wire][snapshot]") {
  CHECK(wire::DecodeGetSnapshots({}).ok());
  Bytes one = {0};
  CHECK_FALSE(wire::DecodeGetSnapshots(one).ok());
}

TEST_CASE("Snapshots offers round-trip and refuse damage", "[node][wire][snapshot]") {
  std::vector<wire::SnapshotOffer> in = {{100, HashOf(1), 8, 200, 12345},
                                         {50, HashOf(2), 0, 1, 99}};
  Bytes enc = wire::EncodeSnapshots(in);
  auto out = wire::DecodeSnapshots(enc);
  REQUIRE(out.ok());
  CHECK(*out == in);
  CheckStrict(enc, [](ByteView b) { return wire::DecodeSnapshots(b); });
  Bytes too_many = {17};
  CHECK(wire::DecodeSnapshots(too_many).error().find("exceeds 16") != std::string::npos);
  // bits outside {0,4,8,12,16}, and more chunks than 2^bits.
  Bytes bad_bits = wire::EncodeSnapshots({{1, HashOf(3), 5, 1, 1}});
  CHECK(wire::DecodeSnapshots(bad_bits).error().find("bits") != std::string::npos);
  Bytes bad_chunks = wire::EncodeSnapshots({{1, HashOf(3), 4, 17, 1}});
  CHECK(wire::DecodeSnapshots(bad_chunks).error().find("chunks") != std::string::npos);
}

TEST_CASE("GetSnapshotPart and SnapshotPart round-trip and refuse damage",
          "[node][wire][snapshot]") {
  wire::PartRef ref{77, HashOf(4), 12};
  Bytes get = wire::EncodeGetSnapshotPart(ref);
  auto g = wire::DecodeGetSnapshotPart(get);
  REQUIRE(g.ok());
  CHECK(*g == ref);
  CheckStrict(get, [](ByteView b) { return wire::DecodeGetSnapshotPart(b); });
  for (uint32_t part : {wire::kPartManifest, wire::kPartHeader, wire::kMaxChunkIndex}) {
    CHECK(wire::DecodeGetSnapshotPart(wire::EncodeGetSnapshotPart({1, HashOf(1), part})).ok());
  }
  CHECK(wire::DecodeGetSnapshotPart(wire::EncodeGetSnapshotPart({1, HashOf(1), 1u << 16}))
            .error()
            .find("part") != std::string::npos);

  Bytes data = {5, 6, 7};
  Bytes part = wire::EncodeSnapshotPart(ref, /*found=*/true, data);
  auto p = wire::DecodeSnapshotPart(part);
  REQUIRE(p.ok());
  CHECK(p->ref == ref);
  CHECK(p->found);
  CHECK(Bytes(p->data.begin(), p->data.end()) == data);
  CheckStrict(part, [](ByteView b) { return wire::DecodeSnapshotPart(b); });
  CHECK_FALSE(wire::DecodeSnapshotPart(wire::EncodeSnapshotPart(ref, false, data)).ok());
  CHECK(wire::DecodeSnapshotPart(wire::EncodeSnapshotPart(ref, false, {})).ok());
  // A data length over the bound is refused from its prefix, before anything is read.
  Bytes oversize = wire::EncodeSnapshotPart(ref, true, {});
  const uint32_t len = static_cast<uint32_t>(wire::kMaxSnapshotPartBytes + 1);
  std::memcpy(oversize.data() + oversize.size() - 4, &len, 4);
  CHECK_FALSE(wire::DecodeSnapshotPart(oversize).ok());

  Bytes hp = wire::EncodeHeaderPart(Bytes{1, 2}, Bytes{3});
  CheckStrict(hp, [](ByteView b) { return wire::DecodeHeaderPart(b); });
}

TEST_CASE("GetHeaders and Headers round-trip and refuse damage", "[node][wire][snapshot]") {
  Bytes get = wire::EncodeGetHeaders({500, 1000});
  auto g = wire::DecodeGetHeaders(get);
  REQUIRE(g.ok());
  CHECK(g->from == 500);
  CHECK(g->count == 1000);
  CheckStrict(get, [](ByteView b) { return wire::DecodeGetHeaders(b); });
  CHECK_FALSE(wire::DecodeGetHeaders(wire::EncodeGetHeaders({500, 0})).ok());
  CHECK_FALSE(wire::DecodeGetHeaders(wire::EncodeGetHeaders({500, 1001})).ok());

  Bytes headers = wire::EncodeHeaders({{Bytes{1, 2, 3}, Bytes{}}, {Bytes{4}, Bytes{9}}});
  auto h = wire::DecodeHeaders(headers);
  REQUIRE(h.ok());
  REQUIRE(h->size() == 2);
  CHECK(Bytes((*h)[1].certificate.begin(), (*h)[1].certificate.end()) == Bytes{9});
  CheckStrict(headers, [](ByteView b) { return wire::DecodeHeaders(b); });
  Bytes huge_count = {0xe8, 0x03, 0, 0};  // 1000 headers claimed, none present
  CHECK(wire::DecodeHeaders(huge_count).error().find("count") != std::string::npos);
  Bytes over = {0xe9, 0x03, 0, 0};
  CHECK_FALSE(wire::DecodeHeaders(over).ok());
}

TEST_CASE("GetValidators and Validators round-trip and refuse damage", "[node][wire][snapshot]") {
  Bytes get = wire::EncodeGetValidators(812);
  auto g = wire::DecodeGetValidators(get);
  REQUIRE(g.ok());
  CHECK(*g == 812);
  CheckStrict(get, [](ByteView b) { return wire::DecodeGetValidators(b); });

  wire::ValidatorsAnswer a{812, true, {}};
  for (uint32_t id : {0u, 2u, 7u}) {
    a.set.push_back({id, testkit::TestKey(id, 0x3b).public_key()});
  }
  Bytes enc = wire::EncodeValidators(a);
  auto d = wire::DecodeValidators(enc);
  REQUIRE(d.ok());
  CHECK(d->height == 812);
  CHECK(d->found);
  CHECK(d->set == a.set);
  CheckStrict(enc, [](ByteView b) { return wire::DecodeValidators(b); });

  auto none = wire::DecodeValidators(wire::EncodeValidators({5, false, {}}));
  REQUIRE(none.ok());
  CHECK_FALSE(none->found);
  // Members with "not found", no members with "found", ids out of order: refused.
  CHECK_FALSE(wire::DecodeValidators(wire::EncodeValidators({5, false, a.set})).ok());
  CHECK_FALSE(wire::DecodeValidators(wire::EncodeValidators({5, true, {}})).ok());
  wire::ValidatorsAnswer swapped = a;
  std::swap(swapped.set[0], swapped.set[1]);
  CHECK(wire::DecodeValidators(wire::EncodeValidators(swapped)).error().find("increasing") !=
        std::string::npos);
  // A count the payload cannot hold is refused before anything is allocated.
  Bytes huge = {5, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0x03, 0, 0};  // 1023 members, none present
  CHECK(wire::DecodeValidators(huge).error().find("count") != std::string::npos);
  Bytes over = {5, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x04, 0, 0};  // 1025
  CHECK_FALSE(wire::DecodeValidators(over).ok());
}

TEST_CASE("SnapshotPart busy answers carry when to ask again", "[node][wire][snapshot]") {
  wire::PartRef ref{812, crypto::Sha256Of(AsBytes("m")), 7};
  Bytes busy = wire::EncodeSnapshotBusy(ref, 1250);
  auto d = wire::DecodeSnapshotPart(busy);
  REQUIRE(d.ok());
  CHECK(d->busy);
  CHECK_FALSE(d->found);
  CHECK(d->retry_after_ms == 1250);
  CHECK(d->ref == ref);
  CheckStrict(busy, [](ByteView b) { return wire::DecodeSnapshotPart(b); });
  CHECK_FALSE(wire::DecodeSnapshotPart(wire::EncodeSnapshotBusy(ref, 0)).ok());
  CHECK_FALSE(wire::DecodeSnapshotPart(wire::EncodeSnapshotBusy(ref, 60'001)).ok());
  Bytes three = wire::EncodeSnapshotPart(ref, true, Bytes{1, 2});
  three[44] = 3;  // found: past the ref (8 + 32 + 4 bytes)
  CHECK_FALSE(wire::DecodeSnapshotPart(three).ok());
}
