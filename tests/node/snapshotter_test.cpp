// Snapshotter: what it keeps on disk and offers. Builds run through a `post` the test
// controls, so "a build still running" is a state the test holds, not a race.
#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <vector>

#include "node/snapshotter.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/temp_dir.h"
#include "tests/node/node_harness.h"

using namespace cairn;
using namespace cairn::node;

TEST_CASE(
    "snapshotter keeps the newest K, skips a height while one is written, and drops "
    "unfinished ones at startup",
    "[node][snapshot]") {
  testkit::TempDir dir;
  testkit::ChainFixture fx(50);
  auto store =
      ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), fx.genesis, fx.genesis_state);
  REQUIRE(store.ok());
  ManualClock clock;
  Snapshotter::Options o;
  o.dir = dir.path() + "/snapshots";
  o.interval = 2;
  o.keep = 2;
  o.target_chunk_bytes = 4096;
  Snapshotter snap(o, **store, clock);
  REQUIRE(snap.Open().ok());
  std::vector<std::function<void()>> queued;
  snap.set_post([&](std::function<void()> job) { queued.push_back(std::move(job)); });

  ledger::BlockHeader parent = fx.genesis.header;
  auto commit = [&](uint64_t h) {
    auto built = fx.NextBlock(**store, parent, 5, static_cast<size_t>(h));
    REQUIRE((*store)->Commit(built.block, built.exec).ok());
    parent = built.block.header;
    snap.OnCommitted(parent);
  };
  commit(1);  // not a multiple of the interval
  CHECK(queued.empty());
  commit(2);
  REQUIRE(queued.size() == 1);
  CHECK(snap.busy());
  CHECK(snap.List().empty());  // not offered while being written
  commit(3);
  commit(4);  // skipped: height 2 is still being written
  CHECK(queued.size() == 1);
  CHECK(snap.skipped() == 1);
  queued[0]();
  queued.clear();
  REQUIRE(snap.List().size() == 1);
  CHECK(snap.List()[0].offer.height == 2);
  for (uint64_t h = 5; h <= 8; ++h) {
    commit(h);
    for (auto& job : queued) job();
    queued.clear();
  }
  // Heights 6 and 8 taken after 2; only the newest two are kept, on disk too.
  auto list = snap.List();
  REQUIRE(list.size() == 2);
  CHECK(list[0].offer.height == 8);
  CHECK(list[1].offer.height == 6);
  CHECK_FALSE(std::filesystem::exists(o.dir + "/2"));
  CHECK(std::filesystem::exists(o.dir + "/8/manifest"));

  // A build a crash interrupted leaves a .tmp directory: a restart deletes it and offers the
  // finished ones it finds.
  std::filesystem::create_directories(o.dir + "/10.tmp");
  Snapshotter again(o, **store, clock);
  REQUIRE(again.Open().ok());
  CHECK_FALSE(std::filesystem::exists(o.dir + "/10.tmp"));
  REQUIRE(again.List().size() == 2);
  CHECK(again.List()[0].offer == list[0].offer);
}

TEST_CASE("snapshotter answers a part over the peer's budget busy, with when to ask again",
          "[node][snapshot]") {
  testkit::TempDir dir;
  testkit::ChainFixture fx(50);
  auto store =
      ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), fx.genesis, fx.genesis_state);
  REQUIRE(store.ok());
  ManualClock clock;
  Snapshotter::Options o;
  o.dir = dir.path() + "/snapshots";
  o.interval = 1;
  o.serve_parts_per_sec = 4;  // burst 4, then one every 250 ms
  Snapshotter snap(o, **store, clock);
  REQUIRE(snap.Open().ok());
  auto built = fx.NextBlock(**store, fx.genesis.header, 5, 1);
  REQUIRE((*store)->Commit(built.block, built.exec).ok());
  snap.OnCommitted(built.block.header);  // no post: built inline
  REQUIRE(snap.List().size() == 1);
  const wire::SnapshotOffer offer = snap.List()[0].offer;

  testing::FakeHub hub;
  const p2p::NodeId server = testkit::TestKey(1, 0x5e).public_key();
  const p2p::NodeId asker = testkit::TestKey(2, 0x5e).public_key();
  testing::FakeNetwork net(hub, server);
  hub.Link(server, asker);
  auto ask = [&] {
    const wire::PartRef ref{offer.height, offer.manifest_hash, wire::kPartManifest};
    snap.Serve(net, asker, wire::kGetSnapshotPart, wire::EncodeGetSnapshotPart(ref));
    REQUIRE(hub.queue.size() == 1);
    auto part = wire::DecodeSnapshotPart(hub.queue.back().payload);
    REQUIRE(part.ok());
    wire::SnapshotPartView v = *part;
    hub.queue.clear();
    return std::make_pair(v.found, v.busy ? v.retry_after_ms : 0u);
  };
  for (int i = 0; i < 4; ++i) CHECK(ask().first);  // the burst
  auto [found, retry] = ask();
  CHECK_FALSE(found);
  CHECK(retry >= 1);
  CHECK(retry <= 1000);
  CHECK(snap.dropped() == 1);
  clock.Advance(retry);
  CHECK(ask().first);  // within budget again after that long
}
