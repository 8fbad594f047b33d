// StateSync against in-process peers: real Snapshotters serving snapshots of a real chain
// (ChainFixture on MemoryKv), a FakeHub carrying the messages, a ManualClock. A peer can serve
// corrupted chunk files, or keep silent on parts, and the joiner must still finish with the
// source's state.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "chain/block_rules.h"
#include "node/set_history.h"
#include "node/snapshotter.h"
#include "node/state_sync.h"
#include "tests/kit/bft_changing_chain.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/temp_dir.h"
#include "tests/node/node_harness.h"

using namespace cairn;
using namespace cairn::node;
using cairn::node::testing::FakeHub;
using cairn::node::testing::FakeNetwork;

namespace {

constexpr uint64_t kSnapshotHeight = 4;
constexpr uint64_t kHead = 6;

// A chain of kHead blocks over many accounts; three servers snapshot it at kSnapshotHeight.
// Or (Chain::kBft) testkit::ChangingChain, a BFT chain of 7 blocks whose validator set changes
// at 3 and 6, snapshotted at its head, whose servers answer GetValidators from its sets.
struct World {
  enum class Chain { kSolo, kBft };
  enum class Mode {
    kHonest,
    kMute,       // answers everything but snapshot parts
    kFakeOffer,  // also offers a snapshot at kHead it does not have
    kLyingSets,  // answers GetValidators with another set than asked
    kNoSets,     // keeps no set history: every GetValidators is "not found"
    kBusy,       // answers every part request "busy, ask again in 1 ms"
  };
  struct Server {
    p2p::NodeId id;
    std::unique_ptr<FakeNetwork> net;
    std::unique_ptr<Snapshotter> snap;
    Mode mode = Mode::kHonest;
  };

  // `bytes_per_sec`: each server's snapshot.serve_bytes_per_sec.
  explicit World(uint64_t seed, uint64_t bytes_per_sec = 32u << 20, Chain chain = Chain::kSolo)
      : fx(400), rng(seed) {
    if (chain == Chain::kBft) {
      bft.emplace();
      genesis = bft->genesis.Block0();
      rules = std::make_unique<chain::BlockRules>(bft->genesis);
      snap_height = head = 7;
    }
    auto store = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), genesis,
                                          bft ? bft->genesis.InitialState() : fx.genesis_state);
    REQUIRE(store.ok());
    source = std::move(store.value());
    for (size_t i = 0; i < 3; ++i) {
      Server s;
      s.id = testkit::TestKey(static_cast<uint32_t>(i), 0x77).public_key();
      s.net = std::make_unique<FakeNetwork>(hub, s.id);
      Snapshotter::Options o;
      o.dir = dir.path() + "/s" + std::to_string(i);
      o.interval = snap_height;
      o.serve_parts_per_sec = 1000;
      o.serve_bytes_per_sec = bytes_per_sec;
      o.target_chunk_bytes = 4096;
      s.snap = std::make_unique<Snapshotter>(o, *source, clock);
      REQUIRE(s.snap->Open().ok());
      if (bft) {
        s.snap->set_validators_of([this, i](uint64_t h) -> std::vector<ledger::Member> {
          if (h < 1 || h > head) return {};
          if (servers[i].mode == Mode::kNoSets) return {};
          if (servers[i].mode == Mode::kLyingSets) return bft->SetAt(1);
          return bft->SetAt(h);
        });
      }
      servers.push_back(std::move(s));
    }
    if (bft) {
      bft->Build(*source);
      for (Server& s : servers) s.snap->OnCommitted(bft->blocks.back().header);
      REQUIRE(servers[0].snap->List().size() == 1);
      offer = servers[0].snap->List()[0].offer;
      return;
    }
    // Blocks of transfers to fresh-looking accounts; the snapshot is taken right after its
    // height commits (the Snapshotter pins the store then), as the node does.
    ledger::BlockHeader parent = fx.genesis.header;
    for (uint64_t h = 1; h <= kHead; ++h) {
      auto built = fx.NextBlock(*source, parent, 20, static_cast<size_t>(h));
      REQUIRE(source->Commit(built.block, built.exec).ok());
      parent = built.block.header;
      if (h == snap_height) {
        for (Server& s : servers) s.snap->OnCommitted(parent);
      }
    }
    REQUIRE(servers[0].snap->List().size() == 1);
    offer = servers[0].snap->List()[0].offer;
    INFO("chunks " << offer.chunks);
    REQUIRE(offer.chunks >= 6);  // enough that several peers share the work
  }

  std::unique_ptr<StateSync> Joiner(std::unique_ptr<ledger::KvStore> kv, bool trust = true) {
    StateSync::Options o;
    if (trust) {
      o.trust_height = head;
      o.trust_hash = source->head().hash;
    }
    o.rules = rules.get();  // BFT: without a trust point, the light client proves the header
    auto sync = std::make_unique<StateSync>(genesis, o, std::move(kv), joiner_net, clock);
    REQUIRE(sync->Start().ok());
    for (Server& s : servers) {
      hub.Link(joiner, s.id);
      sync->OnPeerConnected(s.id);
    }
    return sync;
  }

  // Delivers every queued message; answers in a shuffled order (seeded), as a network may.
  void Pump(StateSync& sync) {
    size_t budget = 100'000;
    while (!hub.queue.empty() && budget-- > 0) {
      std::uniform_int_distribution<size_t> pick(0, std::min<size_t>(hub.queue.size(), 4) - 1);
      const size_t at = pick(rng);
      FakeHub::Envelope e = std::move(hub.queue[at]);
      hub.queue.erase(hub.queue.begin() + static_cast<std::ptrdiff_t>(at));
      if (!hub.Linked(e.from, e.to)) continue;
      if (e.to == joiner) {
        REQUIRE(sync.OnMessage(e.from, e.type, e.payload).ok());
        continue;
      }
      for (Server& s : servers) {
        if (s.id != e.to) continue;
        if (s.mode == Mode::kMute && e.type == wire::kGetSnapshotPart) break;
        if (s.mode == Mode::kBusy && e.type == wire::kGetSnapshotPart) {
          auto ref = wire::DecodeGetSnapshotPart(e.payload);
          REQUIRE(ref.ok());
          REQUIRE(s.net->Send(e.from, wire::kSnapshotPart, wire::EncodeSnapshotBusy(*ref, 1)).ok());
          break;
        }
        if (drop_backfill && e.type == wire::kGetHeaders &&
            wire::DecodeGetHeaders(e.payload)->from < snap_height) {
          break;
        }
        if (s.mode == Mode::kFakeOffer && e.type == wire::kGetSnapshots) {
          std::vector<wire::SnapshotOffer> offers{offer};
          offers.insert(offers.begin(), offer);
          offers.front().height = fake_height ? fake_height : head;
          offers.front().manifest_hash = crypto::Sha256Of(AsBytes("no such snapshot"));
          REQUIRE(s.net->Send(e.from, wire::kSnapshots, wire::EncodeSnapshots(offers)).ok());
          break;
        }
        s.snap->Serve(*s.net, e.from, e.type, e.payload);
      }
    }
  }

  // Ticks (50 ms each) until `done` or `max_ms` of manual time pass.
  template <typename Pred>
  bool Run(StateSync& sync, Pred done, uint64_t max_ms = 120'000) {
    for (uint64_t t = 0; t < max_ms; t += 50) {
      if (done()) return true;
      clock.Advance(50);
      REQUIRE(sync.Tick().ok());
      Pump(sync);
    }
    return done();
  }

  void CorruptChunks(size_t server) {
    const std::string dir_of =
        dir.path() + "/s" + std::to_string(server) + "/" + std::to_string(snap_height);
    size_t n = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir_of)) {
      if (f.path().filename().string().rfind("chunk-", 0) != 0) continue;
      std::fstream io(f.path(), std::ios::in | std::ios::out | std::ios::binary);
      io.seekg(-1, std::ios::end);
      char last = 0;
      io.read(&last, 1);
      io.seekp(-1, std::ios::end);
      last = static_cast<char>(last ^ 0x5a);
      io.write(&last, 1);
      ++n;
    }
    REQUIRE(n == offer.chunks);
  }

  // The joiner's store holds the source's state at the snapshot and every header below it.
  void CheckSame(ledger::ChainStore& got) {
    CHECK(got.head().height == snap_height);
    auto want = source->HeaderAt(snap_height);
    REQUIRE(want.ok());
    REQUIRE(want->has_value());
    CHECK(got.head().hash == (*want)->Hash());
    CHECK(got.head().state_root == (*want)->state_root);
    CHECK(got.HeadersFrom() == 1);
    for (uint64_t h = 1; h < snap_height; ++h) {
      auto a = got.HeaderAt(h);
      auto b = source->HeaderAt(h);
      REQUIRE(a.ok());
      REQUIRE(a->has_value());
      CHECK((*a)->Hash() == (**b).Hash());
    }
  }

  testkit::TempDir dir;
  testkit::ChainFixture fx;
  std::optional<testkit::ChangingChain> bft;
  ledger::Block genesis = fx.genesis;
  std::unique_ptr<chain::BlockRules> rules;  // BFT only
  uint64_t snap_height = kSnapshotHeight, head = kHead;
  bool drop_backfill = false;  // servers ignore GetHeaders below the snapshot
  uint64_t fake_height = 0;    // kFakeOffer's height (0: head)
  std::mt19937_64 rng;
  ManualClock clock{0, 1'700'000'000'000};
  FakeHub hub;
  std::unique_ptr<ledger::ChainStore> source;
  std::vector<Server> servers;
  wire::SnapshotOffer offer;
  p2p::NodeId joiner = testkit::TestKey(9, 0x77).public_key();
  FakeNetwork joiner_net{hub, joiner};
};

uint64_t Seed() {
  const uint64_t seed = std::random_device{}();
  UNSCOPED_INFO("seed " << seed);
  std::printf("state_sync_test seed %llu\n", static_cast<unsigned long long>(seed));
  return seed;
}

}  // namespace

TEST_CASE("state sync: a peer serving corrupted chunks is dropped and the others complete it",
          "[node][statesync]") {
  World w(Seed());
  w.CorruptChunks(0);
  auto sync = w.Joiner(std::make_unique<ledger::MemoryKv>());
  REQUIRE(w.Run(*sync, [&] { return sync->done(); }));
  CHECK(sync->banned() == std::set<p2p::NodeId>{w.servers[0].id});
  CHECK(sync->counts().bad_parts == 1);
  bool disconnected = false;
  for (const auto& [peer, why] : w.hub.disconnects) {
    disconnected =
        disconnected || (peer == w.servers[0].id && why.find("chunk") != std::string::npos);
  }
  CHECK(disconnected);
  auto store = sync->TakeStore();
  REQUIRE(store);
  w.CheckSame(*store);
}

TEST_CASE("state sync: a part a peer never answers times out and is asked of another",
          "[node][statesync]") {
  World w(Seed());
  w.servers[1].mode = World::Mode::kMute;
  auto sync = w.Joiner(std::make_unique<ledger::MemoryKv>());
  REQUIRE(w.Run(*sync, [&] { return sync->done(); }));
  CHECK(sync->counts().timeouts >= 1);
  CHECK(sync->banned().empty());  // slow is not bad
  auto store = sync->TakeStore();
  REQUIRE(store);
  w.CheckSame(*store);
}

TEST_CASE("state sync: a joiner stopped mid-way resumes from the chunks it wrote",
          "[node][statesync]") {
  // 1 KiB/s per server: a chunk each, then a wait, so the first run stops part-way.
  World w(Seed(), /*bytes_per_sec=*/1024);
  ledger::MemoryKv disk;
  uint64_t first_run = 0;
  {
    auto sync = w.Joiner(std::make_unique<ledger::MemoryKv>(disk));
    REQUIRE(w.Run(*sync, [&] { return sync->counts().chunks >= 3; }));
    first_run = sync->counts().chunks;
    REQUIRE_FALSE(sync->done());
  }
  // The crash: what was not synced is gone, and answers still on the way are lost.
  disk.DropUnsynced();
  w.hub.queue.clear();
  for (auto& s : w.servers) w.hub.Cut(w.joiner, s.id);
  // No trust point this time: the import in progress names its snapshot and header.
  auto sync = w.Joiner(std::make_unique<ledger::MemoryKv>(disk), /*trust=*/false);
  REQUIRE(w.Run(
      *sync, [&] { return sync->done(); }, /*max_ms=*/900'000));
  CHECK(sync->counts().chunks + first_run == w.offer.chunks);
  auto store = sync->TakeStore();
  REQUIRE(store);
  w.CheckSame(*store);
}

TEST_CASE("state sync: an offer of a snapshot nobody serves is given up and another is chosen",
          "[node][statesync]") {
  World w(Seed());
  w.servers[2].mode = World::Mode::kFakeOffer;  // the newest offer, and only its own
  auto sync = w.Joiner(std::make_unique<ledger::MemoryKv>());
  REQUIRE(w.Run(*sync, [&] { return sync->done(); }));
  CHECK(sync->height() == kSnapshotHeight);
  auto store = sync->TakeStore();
  REQUIRE(store);
  w.CheckSame(*store);
}

TEST_CASE("state sync: a BFT joiner without a trust point proves the header across set changes",
          "[node][statesync]") {
  World w(Seed(), 32u << 20, World::Chain::kBft);
  auto sync = w.Joiner(std::make_unique<ledger::MemoryKv>(), /*trust=*/false);
  REQUIRE(w.Run(*sync, [&] { return sync->done(); }));
  CHECK(sync->banned().empty());
  auto store = sync->TakeStore();
  REQUIRE(store);
  w.CheckSame(*store);
  // The sets it proved stay in its set history, so it can answer the next joiner's walk.
  for (uint64_t h : {3, 6}) {
    auto set = FindSet(store->kv(), ledger::SetHash(w.bft->SetAt(h)));
    REQUIRE(set);
    CHECK(ledger::SetHash(*set) == ledger::SetHash(w.bft->SetAt(h)));
  }
}

TEST_CASE("state sync: a peer lying about a validator set is dropped, one without history is not",
          "[node][statesync]") {
  World w(Seed(), 32u << 20, World::Chain::kBft);
  w.servers[0].mode = World::Mode::kLyingSets;
  w.servers[1].mode = World::Mode::kNoSets;
  w.servers[2].mode = World::Mode::kNoSets;
  auto sync = w.Joiner(std::make_unique<ledger::MemoryKv>(), /*trust=*/false);
  // Every peer is asked for set(3): the liar is dropped, the others lack it.
  REQUIRE(w.Run(
      *sync, [&] { return sync->banned().count(w.servers[0].id) > 0; }, /*max_ms=*/30'000));
  CHECK_FALSE(sync->done());
  w.servers[2].mode = World::Mode::kHonest;
  REQUIRE(w.Run(*sync, [&] { return sync->done(); }));
  CHECK(sync->banned() == std::set<p2p::NodeId>{w.servers[0].id});
  bool said = false;
  for (const auto& [peer, why] : w.hub.disconnects) {
    said = said || (peer == w.servers[0].id && why.find("set(3)") != std::string::npos);
  }
  CHECK(said);
  auto store = sync->TakeStore();
  REQUIRE(store);
  w.CheckSame(*store);
}

TEST_CASE("state sync: a BFT joiner waits while no peer holds a set it needs, then completes",
          "[node][statesync]") {
  World w(Seed(), 32u << 20, World::Chain::kBft);
  for (auto& s : w.servers) s.mode = World::Mode::kNoSets;
  auto sync = w.Joiner(std::make_unique<ledger::MemoryKv>(), /*trust=*/false);
  CHECK_FALSE(w.Run(
      *sync, [&] { return sync->done(); }, /*max_ms=*/30'000));
  CHECK(sync->banned().empty());
  w.servers[2].mode = World::Mode::kHonest;  // one peer with the history (restarted, say)
  REQUIRE(w.Run(*sync, [&] { return sync->done(); }));
  auto store = sync->TakeStore();
  REQUIRE(store);
  w.CheckSame(*store);
}

TEST_CASE("state sync: a joiner stopped during the header backfill resumes it at the next start",
          "[node][statesync]") {
  World w(Seed());
  w.drop_backfill = true;
  auto sync = w.Joiner(std::make_unique<ledger::MemoryKv>());
  REQUIRE(w.Run(*sync, [&] { return sync->counts().chunks == w.offer.chunks; }));
  CHECK_FALSE(w.Run(
      *sync, [&] { return sync->done(); }, /*max_ms=*/5'000));
  // Stopped here: the state is restored, the headers below the snapshot are not.
  std::unique_ptr<ledger::ChainStore> store = sync->TakeStore();
  REQUIRE(store);
  CHECK(store->HeadersFrom() == kSnapshotHeight);
  w.hub.queue.clear();
  w.drop_backfill = false;
  StateSync again(w.genesis, StateSync::Options{}, std::move(store), w.joiner_net, w.clock);
  REQUIRE(again.Start().ok());
  for (auto& s : w.servers) again.OnPeerConnected(s.id);
  REQUIRE(w.Run(again, [&] { return again.done(); }));
  store = again.TakeStore();
  REQUIRE(store);
  w.CheckSame(*store);
}

TEST_CASE("state sync: a BFT joiner drops an offer above every header its offerer has",
          "[node][statesync]") {
  World w(Seed(), 32u << 20, World::Chain::kBft);
  w.servers[1].mode = World::Mode::kFakeOffer;
  w.fake_height = 1'000'000;  // the newest offer: the light client asks for that header first
  auto sync = w.Joiner(std::make_unique<ledger::MemoryKv>(), /*trust=*/false);
  REQUIRE(w.Run(*sync, [&] { return sync->done(); }));
  CHECK(sync->height() == w.snap_height);
  CHECK(sync->banned().empty());  // it lost its offer, not its connection
  auto store = sync->TakeStore();
  REQUIRE(store);
  w.CheckSame(*store);
}

TEST_CASE("state sync: a height without a hash is refused, on BFT too", "[node][statesync]") {
  World w(Seed(), 32u << 20, World::Chain::kBft);
  StateSync::Options o;
  o.trust_height = 5;
  o.rules = w.rules.get();
  StateSync sync(w.genesis, o, std::make_unique<ledger::MemoryKv>(), w.joiner_net, w.clock);
  Status s = sync.Start();
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("trust_hash") != std::string::npos);
}

TEST_CASE("state sync: a server that is always busy does not hold the sync up",
          "[node][statesync]") {
  World w(Seed());
  w.servers[0].mode = World::Mode::kBusy;  // the manifest and every chunk: "ask again in 1 ms"
  auto sync = w.Joiner(std::make_unique<ledger::MemoryKv>());
  REQUIRE(w.Run(*sync, [&] { return sync->done(); }));
  CHECK(sync->counts().busy >= 1);
  CHECK(sync->counts().timeouts == 0);
  CHECK(sync->banned().empty());  // busy is not bad
  auto store = sync->TakeStore();
  REQUIRE(store);
  w.CheckSame(*store);
}
