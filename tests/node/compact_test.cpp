// Compact blocks: the codec that carries an engine message's blocks as transaction hashes,
// the relay that rebuilds them from the mempool or fetches what is missing, and whole
// in-process networks that commit through it, with and without the transactions at hand.
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "base/codec.h"
#include "consensus/bft/messages.h"
#include "consensus/raft/messages.h"
#include "ledger/block.h"
#include "node/compact_blocks.h"
#include "node/compact_relay.h"
#include "tests/node/node_harness.h"

namespace cairn::node {
namespace {

using testing::FakeHub;
using testing::TestNetwork;

// A signed ledger block of `txs` transfers (sender keys from `seed`).
Bytes MakeBlock(uint64_t height, size_t txs, uint32_t seed, std::vector<Bytes>* tx_bytes) {
  ledger::Block b;
  b.header.chain_id = "compact";
  b.header.height = height;
  b.header.timestamp_ms = 1000 + height;
  const crypto::KeyPair from = testkit::TestKey(seed, 0x5c);
  for (size_t i = 0; i < txs; ++i) {
    b.txs.push_back(testkit::MakeTx(from, "compact", height * 1000 + i,
                                    ledger::Transfer{from.public_key(), 1}));
    if (tx_bytes) tx_bytes->push_back(b.txs.back().Encode());
  }
  b.header.tx_count = static_cast<uint32_t>(txs);
  b.header.tx_root = b.ComputeTxRoot();
  b.Sign(testkit::TestKey(seed, 0xb0));
  return b.Encode();
}

Bytes Proposal(const Bytes& block, uint64_t height) {
  consensus::bft::Proposal p;
  p.height = height;
  p.round = 2;
  p.proposer = 1;
  p.block.height = height;
  p.block.hash = crypto::Sha256Of(compact::ParseBlock(block)->prefix.subspan(4));
  p.block.data = block;
  return consensus::bft::EncodeMessage(p);
}

// A network endpoint that records what it sends.
class Recorder final : public Network {
 public:
  struct Sent {
    p2p::NodeId to;
    p2p::MessageType type;
    Bytes payload;
  };
  std::vector<Sent> sent;
  std::vector<std::string> dropped;
  Status Send(const p2p::NodeId& to, p2p::MessageType type, Bytes payload) override {
    sent.push_back({to, type, std::move(payload)});
    return Status::Ok();
  }
  void Broadcast(p2p::MessageType, Bytes) override {}
  void Disconnect(const p2p::NodeId&, const std::string& why) override { dropped.push_back(why); }
  bool IsConnected(const p2p::NodeId&) const override { return true; }
  std::vector<p2p::PeerInfo> Peers() const override { return {}; }
};

// A mempool of transactions by hash.
struct Pool {
  std::map<crypto::Hash256, Bytes> txs;
  void Add(const Bytes& tx) { txs[crypto::Sha256Of(tx)] = tx; }
  CompactRelay::TxLookup Lookup() {
    return [this](std::span<const crypto::Hash256> hashes, std::vector<Bytes>& out) {
      for (size_t i = 0; i < hashes.size(); ++i) {
        auto it = txs.find(hashes[i]);
        if (out[i].empty() && it != txs.end()) out[i] = it->second;
      }
    };
  }
};

TEST_CASE("compact codec: a BFT proposal and a Raft append split and join back byte for byte",
          "[node][compact]") {
  std::vector<Bytes> txs;
  const Bytes block = MakeBlock(7, 20, 1, &txs);
  const Bytes proposal = Proposal(block, 7);
  auto split = compact::Split(genesis::ConsensusKind::kBft, proposal);
  REQUIRE(split);
  REQUIRE(split->blocks.size() == 1);
  CHECK(split->blocks[0] == block);
  CHECK(split->skeleton.size() < 200);
  auto joined = compact::Join(genesis::ConsensusKind::kBft, split->skeleton, split->blocks);
  REQUIRE(joined.ok());
  CHECK(*joined == proposal);

  consensus::raft::Message app;
  app.type = consensus::raft::MsgType::kApp;
  app.term = 3;
  app.index = 10;
  app.log_term = 3;
  app.commit = 9;
  const Bytes block2 = MakeBlock(8, 5, 2, nullptr);
  app.entries.push_back(
      {11, 3, consensus::raft::EntryType::kBlock, 7, crypto::Hash256{}, block, 0});
  app.entries.push_back({12, 3, consensus::raft::EntryType::kNoop, 7, crypto::Hash256{}, {}, 0});
  app.entries.push_back(
      {13, 3, consensus::raft::EntryType::kBlock, 8, crypto::Hash256{}, block2, 0});
  const Bytes raft = consensus::raft::EncodeMessage(app);
  auto rs = compact::Split(genesis::ConsensusKind::kRaft, raft);
  REQUIRE(rs);
  REQUIRE(rs->blocks.size() == 2);
  auto rj = compact::Join(genesis::ConsensusKind::kRaft, rs->skeleton, rs->blocks);
  REQUIRE(rj.ok());
  CHECK(*rj == raft);
  // The wrong number of blocks, or blocks for a skeleton that holds none, is refused.
  CHECK_FALSE(compact::Join(genesis::ConsensusKind::kRaft, rs->skeleton, {block}).ok());
  CHECK_FALSE(compact::Join(genesis::ConsensusKind::kBft, raft, {block}).ok());

  // Messages without a block with transactions go whole.
  consensus::raft::Message hb;
  CHECK_FALSE(compact::Split(genesis::ConsensusKind::kRaft, consensus::raft::EncodeMessage(hb)));
  const Bytes empty_block = MakeBlock(9, 0, 3, nullptr);
  CHECK_FALSE(compact::Split(genesis::ConsensusKind::kBft, Proposal(empty_block, 9)));
  CHECK_FALSE(compact::Split(genesis::ConsensusKind::kSolo, proposal));
}

TEST_CASE("compact codec: every message refuses truncation, trailing bytes and forged counts",
          "[node][compact]") {
  std::vector<Bytes> txs;
  const Bytes block = MakeBlock(3, 4, 1, &txs);
  compact::CompactMessage m;
  m.skeleton = {1, 2, 3};
  compact::CompactBlock cb;
  auto layout = compact::ParseBlock(block);
  REQUIRE(layout.ok());
  REQUIRE(layout->txs.size() == 4);
  cb.prefix.assign(layout->prefix.begin(), layout->prefix.end());
  for (const Bytes& tx : txs) cb.hashes.push_back(crypto::Sha256Of(tx));
  m.blocks.push_back(cb);
  const Bytes enc = compact::EncodeCompact(m);
  auto dec = compact::DecodeCompact(enc);
  REQUIRE(dec.ok());
  CHECK(dec->skeleton == m.skeleton);
  REQUIRE(dec->blocks.size() == 1);
  CHECK(dec->blocks[0].prefix == cb.prefix);
  CHECK(dec->blocks[0].hashes == cb.hashes);
  // The wire form of a 200-byte transaction is its 32-byte hash.
  CHECK(enc.size() < block.size());

  const Bytes get = compact::EncodeGetBlockTxs({crypto::Sha256Of(block), {0, 2, 3}});
  REQUIRE(compact::DecodeGetBlockTxs(get).ok());
  const Bytes ans = compact::EncodeBlockTxs(crypto::Sha256Of(block), {{1, txs[1]}, {3, txs[3]}});
  auto a = compact::DecodeBlockTxs(ans);
  REQUIRE(a.ok());
  REQUIRE(a->txs.size() == 2);
  CHECK(Bytes(a->txs[1].second.begin(), a->txs[1].second.end()) == txs[3]);

  for (size_t cut = 0; cut < enc.size(); ++cut) {
    CHECK_FALSE(compact::DecodeCompact(ByteView(enc.data(), cut)).ok());
  }
  for (size_t cut = 0; cut < get.size(); ++cut) {
    CHECK_FALSE(compact::DecodeGetBlockTxs(ByteView(get.data(), cut)).ok());
  }
  for (size_t cut = 0; cut < ans.size(); ++cut) {
    CHECK_FALSE(compact::DecodeBlockTxs(ByteView(ans.data(), cut)).ok());
  }
  for (size_t cut = 0; cut < block.size(); ++cut) {
    CHECK_FALSE(compact::ParseBlock(ByteView(block.data(), cut)).ok());
  }
  for (Bytes longer : {enc, get, ans}) {
    longer.push_back(0);
    CHECK_FALSE(compact::DecodeCompact(longer).ok());
    CHECK_FALSE(compact::DecodeGetBlockTxs(longer).ok());
    CHECK_FALSE(compact::DecodeBlockTxs(longer).ok());
  }
  // Counts that the input cannot hold are refused before anything is allocated.
  codec::Writer w;
  w.Var(Bytes{1}).U32(0xffffffff);
  CHECK_FALSE(compact::DecodeCompact(w.bytes()).ok());
  Bytes forged = enc;
  const size_t count_at = 4 + m.skeleton.size() + 4 + cb.prefix.size() - 4;
  forged[count_at] = 0xff;
  forged[count_at + 1] = 0xff;
  CHECK_FALSE(compact::DecodeCompact(forged).ok());
  CHECK_FALSE(compact::DecodeGetBlockTxs(compact::EncodeGetBlockTxs({{}, {}})).ok());
  CHECK_FALSE(compact::DecodeGetBlockTxs(compact::EncodeGetBlockTxs({{}, {2, 2}})).ok());
  CHECK_FALSE(compact::DecodeGetBlockTxs(compact::EncodeGetBlockTxs({{}, {3, 1}})).ok());
}

struct Pair {
  ManualClock clock{1000, 0};
  Pool sender_pool, receiver_pool;
  Recorder a_net, b_net;  // what the sender, the receiver sent
  p2p::NodeId a = testkit::TestKey(1, 0x01).public_key();
  p2p::NodeId b = testkit::TestKey(2, 0x01).public_key();
  CompactRelay sender;
  CompactRelay receiver;
  explicit Pair(CompactRelay::Options o = {.fetch_delay_ms = 0})
      : sender(genesis::ConsensusKind::kBft, sender_pool.Lookup(), clock, o),
        receiver(genesis::ConsensusKind::kBft, receiver_pool.Lookup(), clock, o) {}

  // The sender sends `message`; returns the compact payload it put on the wire.
  Bytes SendCompact(const Bytes& message) {
    a_net.sent.clear();
    REQUIRE(sender.Send(a_net, b, message).ok());
    REQUIRE(a_net.sent.size() == 1);
    REQUIRE(a_net.sent[0].type == wire::kCompactConsensus);
    return a_net.sent[0].payload;
  }
};

TEST_CASE("compact relay: all transactions at hand rebuild the exact message at once",
          "[node][compact]") {
  Pair p;
  std::vector<Bytes> txs;
  const Bytes msg = Proposal(MakeBlock(5, 50, 1, &txs), 5);
  for (const Bytes& tx : txs) p.receiver_pool.Add(tx);
  const Bytes wire = p.SendCompact(msg);
  CHECK(wire.size() * 3 < msg.size());
  auto rebuilt = p.receiver.OnCompact(p.b_net, p.a, wire);
  REQUIRE(rebuilt);
  CHECK(*rebuilt == msg);
  CHECK(p.b_net.sent.empty());  // no fetch
  CHECK(p.receiver.stats().rebuilt_local == 1);
  CHECK(p.sender.stats().compact_sent == 1);
  CHECK(p.sender.stats().whole_bytes == msg.size());

  // The mempool dropped them at commit: a retransmission still rebuilds from recent blocks.
  p.receiver_pool.txs.clear();
  auto again = p.receiver.OnCompact(p.b_net, p.a, wire);
  REQUIRE(again);
  CHECK(*again == msg);

  // Messages without blocks, and every message when compaction is off, go whole.
  consensus::bft::Vote v;
  v.height = 5;
  REQUIRE(p.sender.Send(p.a_net, p.b, consensus::bft::EncodeMessage(v)).ok());
  CHECK(p.a_net.sent.back().type == wire::kConsensus);
  Pair off(CompactRelay::Options{.enabled = false, .fetch_delay_ms = 0});
  REQUIRE(off.sender.Send(off.a_net, off.b, msg).ok());
  CHECK(off.a_net.sent.back().type == wire::kConsensus);
  CHECK(off.a_net.sent.back().payload == msg);
}

TEST_CASE("compact relay: missing transactions are fetched from the sender, then it completes",
          "[node][compact]") {
  const uint64_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  Pair p;
  std::vector<Bytes> txs;
  const Bytes msg = Proposal(MakeBlock(5, 40, 1, &txs), 5);
  std::vector<uint32_t> missing;
  for (uint32_t i = 0; i < txs.size(); ++i) {
    if (rng() % 4 == 0 || i == 7) {
      missing.push_back(i);
    } else {
      p.receiver_pool.Add(txs[i]);
    }
  }
  CHECK_FALSE(p.receiver.OnCompact(p.b_net, p.a, p.SendCompact(msg)));
  CHECK(p.receiver.parked() == 1);
  REQUIRE(p.b_net.sent.size() == 1);
  REQUIRE(p.b_net.sent[0].type == wire::kGetBlockTxs);
  auto get = compact::DecodeGetBlockTxs(p.b_net.sent[0].payload);
  REQUIRE(get.ok());
  CHECK(get->indices == missing);

  // The sender answers from the block it sent.
  p.sender.OnGetBlockTxs(p.a_net, p.b, p.b_net.sent[0].payload);
  REQUIRE(p.a_net.sent.back().type == wire::kBlockTxs);
  std::vector<Bytes> done = p.receiver.OnBlockTxs(p.b_net, p.a, p.a_net.sent.back().payload);
  REQUIRE(done.size() == 1);
  CHECK(done[0] == msg);
  CHECK(p.receiver.parked() == 0);
  const CompactRelay::Stats s = p.receiver.stats();
  CHECK(s.fetches == 1);
  CHECK(s.fetched_txs == missing.size());
  CHECK(s.completed == 1);
  CHECK(p.sender.stats().served == 1);
  CHECK(p.b_net.dropped.empty());
}

TEST_CASE("compact relay: a wrong answer costs the sender its message and its connection",
          "[node][compact]") {
  Pair p;
  std::vector<Bytes> txs;
  const Bytes msg = Proposal(MakeBlock(5, 10, 1, &txs), 5);
  for (size_t i = 1; i < txs.size(); ++i) p.receiver_pool.Add(txs[i]);
  CHECK_FALSE(p.receiver.OnCompact(p.b_net, p.a, p.SendCompact(msg)));
  const crypto::Hash256 block = compact::DecodeGetBlockTxs(p.b_net.sent[0].payload)->block;
  // Another transaction at index 0: its hash is not the one the block lists.
  CHECK(p.receiver.OnBlockTxs(p.b_net, p.a, compact::EncodeBlockTxs(block, {{0, txs[1]}})).empty());
  CHECK(p.receiver.parked() == 0);
  CHECK(p.receiver.stats().bad_answers == 1);
  REQUIRE(p.b_net.dropped.size() == 1);
  CHECK(p.b_net.dropped[0].find("does not match") != std::string::npos);

  // An answer without them (the sender lost the block) gives up at once, without blame.
  Pair q;
  for (size_t i = 1; i < txs.size(); ++i) q.receiver_pool.Add(txs[i]);
  CHECK_FALSE(q.receiver.OnCompact(q.b_net, q.a, q.SendCompact(msg)));
  CHECK(q.receiver.OnBlockTxs(q.b_net, q.a, compact::EncodeBlockTxs(block, {})).empty());
  CHECK(q.receiver.parked() == 0);
  CHECK(q.receiver.stats().dropped == 1);
  CHECK(q.b_net.dropped.empty());

  // Malformed compact input drops the peer before any lookup.
  CHECK_FALSE(q.receiver.OnCompact(q.b_net, q.a, Bytes{0, 0, 0}));
  CHECK(q.b_net.dropped.size() == 1);
}

TEST_CASE("compact relay: parked messages expire, complete from a later mempool, and are bounded",
          "[node][compact]") {
  Pair p(CompactRelay::Options{
      .max_parked_per_peer = 2, .fetch_delay_ms = 0, .fetch_timeout_ms = 1000});
  std::vector<Bytes> txs;
  const Bytes msg = Proposal(MakeBlock(5, 10, 1, &txs), 5);
  const Bytes wire = p.SendCompact(msg);
  CHECK_FALSE(p.receiver.OnCompact(p.b_net, p.a, wire));
  p.clock.Advance(999);
  CHECK(p.receiver.Tick(p.b_net).empty());
  CHECK(p.receiver.parked() == 1);
  p.clock.Advance(1);
  CHECK(p.receiver.Tick(p.b_net).empty());
  CHECK(p.receiver.parked() == 0);
  CHECK(p.receiver.stats().dropped == 1);

  // Gossip that lands within the fetch delay completes it without a fetch.
  Pair g(CompactRelay::Options{.fetch_delay_ms = 50});
  CHECK_FALSE(g.receiver.OnCompact(g.b_net, g.a, g.SendCompact(msg)));
  for (const Bytes& tx : txs) g.receiver_pool.Add(tx);
  CHECK(g.receiver.Tick(g.b_net).empty());  // the delay is not over
  g.clock.Advance(50);
  auto done = g.receiver.Tick(g.b_net);
  REQUIRE(done.size() == 1);
  CHECK(done[0].from == g.a);
  CHECK(done[0].message == msg);
  CHECK(g.b_net.sent.empty());
  CHECK(g.receiver.stats().fetches == 0);

  // At most two parked per peer: a third is dropped at once (the engine retransmits).
  Pair b(CompactRelay::Options{.max_parked_per_peer = 2, .fetch_delay_ms = 0});
  for (uint64_t h = 1; h <= 3; ++h) {
    CHECK_FALSE(b.receiver.OnCompact(b.b_net, b.a,
                                     b.SendCompact(Proposal(MakeBlock(h, 3, 1, nullptr), h))));
  }
  CHECK(b.receiver.parked() == 2);
  CHECK(b.receiver.stats().dropped == 1);
  CHECK(b.receiver.stats().fetches == 2);
}

// Steps the network, dropping what `drop` says before delivery.
template <typename Drop>
bool RunFiltered(TestNetwork& net, Drop drop, const std::function<bool()>& done,
                 int max_steps = 3000) {
  for (int i = 0; i < max_steps && !done(); ++i) {
    net.clock().Advance(50);
    for (size_t n = 0; n < net.size(); ++n) (void)net.node(n).core->Tick();
    size_t budget = 1'000'000;
    while (!net.hub().queue.empty() && budget-- > 0) {
      FakeHub::Envelope e = std::move(net.hub().queue.front());
      net.hub().queue.pop_front();
      if (!net.hub().Linked(e.from, e.to) || drop(e)) continue;
      for (size_t n = 0; n < net.size(); ++n) {
        if (net.id(n) == e.to) (void)net.node(n).core->OnMessage(e.from, e.type, e.payload);
      }
    }
  }
  return done();
}

TEST_CASE("in-process bft4 and raft4 commit through compact messages", "[node][compact][inproc]") {
  for (auto kind : {genesis::ConsensusKind::kBft, genesis::ConsensusKind::kRaft}) {
    INFO("kind " << static_cast<int>(kind));
    TestNetwork net(kind, 4);
    net.Start();
    REQUIRE(net.RunUntil([&] {
      for (size_t i = 0; i < net.size(); ++i) {
        const std::string role = net.node(i).core->api().GetStatus().role;
        if (role == "leader" || kind == genesis::ConsensusKind::kBft) return true;
      }
      return false;
    }));
    SendTransfers(net, 1, 0, 60);
    REQUIRE(net.RunUntil([&] {
      for (size_t i = 0; i < net.size(); ++i) {
        if (BalanceOf(net, i, net.bob().public_key()) != 60) return false;
      }
      return true;
    }));
    uint64_t sent = 0, rebuilt = 0;
    for (size_t i = 0; i < net.size(); ++i) {
      CHECK(net.node(i).halted.ok());
      sent += net.node(i).core->compact_stats().compact_sent;
      rebuilt += net.node(i).core->compact_stats().rebuilt_local;
    }
    CHECK(sent > 0);
    CHECK(rebuilt > 0);
  }
}

TEST_CASE(
    "in-process bft4: a validator that missed the gossip fetches, and a failed fetch "
    "does not halt consensus",
    "[node][compact][inproc]") {
  for (bool answer : {true, false}) {
    INFO("fetch answered: " << answer);
    TestNetwork net(genesis::ConsensusKind::kBft, 4);
    net.Start();
    const p2p::NodeId deaf = net.id(3);
    auto drop = [&](const FakeHub::Envelope& e) {
      return e.to == deaf && (e.type == wire::kTxs || (!answer && e.type == wire::kBlockTxs));
    };
    // Answered: validator 2 is down, so no quorum forms without validator 3, which holds none
    // of the transactions and must fetch every proposal's. Unanswered: the other three commit
    // and validator 3 follows by block sync.
    std::vector<size_t> live = {0, 1, 2, 3};
    if (answer) {
      for (size_t j = 0; j < net.size(); ++j) {
        if (j != 2) net.hub().Cut(net.id(2), net.id(j));
      }
      live = {0, 1, 3};
    }
    SendTransfers(net, 1, 0, 60);
    REQUIRE(RunFiltered(net, drop, [&] {
      for (size_t i : live) {
        if (BalanceOf(net, i, net.bob().public_key()) != 60) return false;
      }
      return true;
    }));
    RunFiltered(
        net, drop, [] { return false; }, 60);  // what is parked completes or expires
    const CompactRelay::Stats s = net.node(3).core->compact_stats();
    INFO("node 3: received " << s.compact_received << ", rebuilt " << s.rebuilt_local
                             << ", fetches " << s.fetches << ", completed " << s.completed
                             << ", dropped " << s.dropped);
    CHECK(s.fetches > 0);
    if (answer) {
      CHECK(s.completed > 0);
    } else {
      CHECK(s.completed == 0);
      CHECK(s.dropped > 0);
    }
    CHECK(net.node(3).core->api().GetStatus().mempool_size == 0);
    for (size_t i : live) CHECK(net.node(i).halted.ok());
  }
}

}  // namespace
}  // namespace cairn::node
