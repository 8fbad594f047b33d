// Power loss, not only process death: four validators (NodeCore, as tests/node runs it) on
// real LevelDB stores whose file system is a FaultEnv, under a steady client load. At seeded
// random points the power of one node, or of all four, fails: between two ticks, or in the
// middle of a write (the n-th file operation from now). Everything not yet synced is then
// dropped, as a real power cut would drop the page cache, and the node reopens its store.
//
// What a user relies on, checked after every cut:
//   - the store reopens at a whole committed block (ChainStore::Open checks the head, the
//     audit replays every block from genesis and compares the stored state);
//   - no block the node had committed (sync_writes, the default) is lost;
//   - BFT: no validator ever sends a vote or proposal that conflicts with one it sent before
//     (its engine state is synced before the message leaves);
//   - the network commits again, every transaction the client saw committed is on every
//     node at the height it was reported, and every node holds the same chain.
//
// CAIRN_POWER_LOSS_SEED picks the first seed (else one is drawn and printed);
// CAIRN_POWER_LOSS_ITERS the number of networks run (each with several cuts). CI runs a few;
// scripts/chaos.sh --power-loss runs many. CAIRN_POWER_LOSS_STRICT_DIRS=1 takes the strict
// directory model (see FaultEnv::Options).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <tuple>

#include "audit/audit.h"
#include "consensus/bft/messages.h"
#include "node/compact_blocks.h"
#include "node/logging.h"
#include "tests/kit/fault_env.h"
#include "tests/kit/temp_dir.h"
#include "tests/node/node_harness.h"

namespace cairn::node {
namespace {

using testing::FakeHub;
using testkit::FaultEnv;
using testkit::TempDir;
using testkit::TestKey;

uint64_t EnvU64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// Every consensus message a validator let out, to prove it never contradicted itself.
class SentLedger {
 public:
  // Returns a description of the conflict this message makes, or "".
  std::string Record(int sender, ByteView payload) {
    auto m = consensus::bft::DecodeMessage(payload);
    if (!m.ok()) return "";
    if (const auto* v = std::get_if<consensus::bft::Vote>(&m.value())) {
      if (static_cast<int>(v->voter) != sender) return "";  // relayed (evidence, decisions)
      ++votes_;
      auto key = std::make_tuple(v->voter, static_cast<int>(v->type), v->height, v->round);
      auto [it, fresh] = votes_seen_.emplace(key, v->block);
      if (!fresh && it->second != v->block) {
        return "validator " + std::to_string(sender) + " voted twice at height " +
               std::to_string(v->height) + " round " + std::to_string(v->round);
      }
    } else if (const auto* p = std::get_if<consensus::bft::Proposal>(&m.value())) {
      if (static_cast<int>(p->proposer) != sender) return "";
      ++proposals_;
      auto key = std::make_tuple(p->proposer, p->height, p->round);
      auto value = std::make_pair(p->block.hash, p->valid_round);
      auto [it, fresh] = proposals_seen_.emplace(key, value);
      if (!fresh && it->second != value) {
        return "validator " + std::to_string(sender) + " proposed twice at height " +
               std::to_string(p->height) + " round " + std::to_string(p->round);
      }
    }
    return "";
  }
  uint64_t votes() const { return votes_; }
  uint64_t proposals() const { return proposals_; }

 private:
  std::map<std::tuple<uint32_t, int, uint64_t, uint32_t>, std::optional<crypto::Hash256>>
      votes_seen_;
  std::map<std::tuple<uint32_t, uint64_t, uint32_t>, std::pair<crypto::Hash256, uint32_t>>
      proposals_seen_;
  uint64_t votes_ = 0, proposals_ = 0;
};

// A node's link to the hub that goes dead with its power: a machine without power sends
// nothing, so whatever got out was sent while the node still ran.
class PoweredNetwork final : public Network {
 public:
  PoweredNetwork(FakeHub& hub, p2p::NodeId self, const FaultEnv& env,
                 std::function<void(ByteView)> on_consensus)
      : hub_(hub), self_(self), env_(env), on_consensus_(std::move(on_consensus)) {}
  Status Send(const p2p::NodeId& to, p2p::MessageType type, Bytes payload) override {
    if (!env_.powered()) return Status::Error("power is off");
    if (!hub_.Linked(self_, to)) return Status::Error("not connected");
    Record(type, payload);
    hub_.queue.push_back({self_, to, type, std::move(payload)});
    return Status::Ok();
  }
  void Broadcast(p2p::MessageType type, Bytes payload) override {
    if (!env_.powered()) return;
    const size_t queued = hub_.Broadcast(self_, type, payload);
    if (queued > 0) Record(type, payload);
  }
  void Disconnect(const p2p::NodeId& peer, const std::string&) override { hub_.Cut(self_, peer); }
  bool IsConnected(const p2p::NodeId& peer) const override { return hub_.Linked(self_, peer); }
  std::vector<p2p::PeerInfo> Peers() const override { return hub_.PeersOf(self_); }

 private:
  // A proposal sent compact (node/compact_blocks.h) is checked by its skeleton: the engine
  // message with the block's data emptied, which keeps the block hash.
  void Record(p2p::MessageType type, ByteView payload) {
    if (type == wire::kConsensus) on_consensus_(payload);
    if (type != wire::kCompactConsensus) return;
    auto m = compact::DecodeCompact(payload);
    if (m.ok()) on_consensus_(m->skeleton);
  }

  FakeHub& hub_;
  const p2p::NodeId self_;
  const FaultEnv& env_;
  std::function<void(ByteView)> on_consensus_;
};

struct Totals {
  uint64_t cuts = 0, cuts_mid_write = 0, cuts_all = 0, committed = 0, resubmitted = 0;
  uint64_t bytes_dropped = 0, files_removed = 0, files_truncated = 0, votes = 0, proposals = 0;
};

// One validator on its own directory and its own power supply.
struct PNode {
  std::string dir;
  // CAIRN_POWER_LOSS_STRICT_DIRS=1: a new file's directory entry is durable only when the
  // posix Env syncs the directory (at a MANIFEST sync), not with the file's own first sync.
  std::unique_ptr<FaultEnv> env = std::make_unique<FaultEnv>(
      FaultEnv::Options{.file_sync_syncs_dir = EnvU64("CAIRN_POWER_LOSS_STRICT_DIRS", 0) == 0});
  crypto::KeyPair key;
  config::NodeConfig config;
  std::unique_ptr<ledger::ChainStore> store;
  std::unique_ptr<PoweredNetwork> net;
  std::unique_ptr<NodeCore> core;
  Status halted;
  bool up = false;
};

// One client account: at most one transaction in flight, resubmitted until it commits.
struct Sender {
  crypto::KeyPair key;
  uint64_t nonce = 0;
  std::optional<ledger::Transaction> inflight;
  uint64_t sent_at_step = 0;
};

class PowerLossNetwork {
 public:
  PowerLossNetwork(genesis::ConsensusKind kind, uint64_t seed, const std::string& root)
      : rng_(seed), kind_(kind) {
    genesis_.chain_id = "powerloss";
    genesis_.genesis_time_ms = clock_.UnixMs() - 1000;
    genesis_.consensus = kind;
    for (uint32_t i = 0; i < 4; ++i) {
      genesis_.validators.push_back(
          genesis::Node{"n" + std::to_string(i), TestKey(i, 0x01).public_key(), "127.0.0.1:1"});
    }
    for (uint32_t i = 0; i < 8; ++i) {
      Sender s;
      s.key = TestKey(i, 0x5e);
      genesis_.accounts.push_back({s.key.public_key(), ledger::Role::kMember, 1'000'000});
      senders_.push_back(std::move(s));
    }
    for (uint32_t i = 0; i < 4; ++i) {
      auto n = std::make_unique<PNode>();
      n->dir = root + "/n" + std::to_string(i);
      n->key = TestKey(i, 0x01);
      n->config.name = "n" + std::to_string(i);
      n->config.block_interval_ms = 100;
      n->config.sync_writes = true;
      nodes_.push_back(std::move(n));
    }
  }
  ~PowerLossNetwork() {
    for (auto& n : nodes_) {
      n->core.reset();
      n->store.reset();
    }
  }

  void Boot(size_t i) {
    PNode& n = *nodes_[i];
    ledger::LevelDbOptions opts;
    opts.block_cache_bytes = 1 << 20;
    // Small memtables: log switches and compactions (new files, MANIFEST writes, renames)
    // happen every few blocks, so cuts land among them too.
    opts.write_buffer_bytes = 64 << 10;
    opts.env = n.env.get();
    auto kv = ledger::OpenLevelDb(n.dir, /*create=*/true, opts);
    INFO("node " << i << ": " << kv.status().message());
    REQUIRE(kv.ok());
    auto store =
        ledger::ChainStore::Open(std::move(kv.value()), genesis_.Block0(), genesis_.InitialState());
    INFO("node " << i << " reopens after the cut: " << store.status().message());
    REQUIRE(store.ok());
    n.store = std::move(store.value());
    n.net = std::make_unique<PoweredNetwork>(
        hub_, n.key.public_key(), *n.env, [this, i](ByteView payload) {
          std::string conflict = sent_.Record(static_cast<int>(i), payload);
          if (!conflict.empty() && conflict_.empty()) conflict_ = conflict;
        });
    NodeHooks hooks;
    hooks.raft_seed = rng_();
    n.core = std::make_unique<NodeCore>(n.config, genesis_, n.key, *n.store, *n.net, clock_, hooks);
    n.halted = Status::Ok();
    REQUIRE(n.core->Start().ok());
    n.up = true;
    for (size_t j = 0; j < nodes_.size(); ++j) {
      if (j == i || !nodes_[j]->up) continue;
      hub_.Link(id(i), id(j));
      n.core->OnPeerConnected(id(j));
      nodes_[j]->core->OnPeerConnected(id(i));
    }
  }

  // The node's power is already off: it stops, the disk loses what was not synced, and it
  // comes back with what survived.
  void Crash(size_t i, Totals& t) {
    PNode& n = *nodes_[i];
    REQUIRE(!n.env->powered());
    const uint64_t durable = n.store->head().height;
    for (size_t j = 0; j < nodes_.size(); ++j) {
      if (j == i) continue;
      hub_.Cut(id(i), id(j));
      if (nodes_[j]->up) nodes_[j]->core->OnPeerGone(id(i));
    }
    n.core.reset();
    n.store.reset();
    n.up = false;
    auto dropped = n.env->DropUnsynced();
    INFO(dropped.status().message());
    REQUIRE(dropped.ok());
    t.bytes_dropped += dropped->bytes;
    t.files_removed += dropped->files_removed;
    t.files_truncated += dropped->files_truncated;
    n.env->PowerOn();
    durable_[i] = durable;
  }

  // Restarts a crashed node and checks what it came back with.
  void Restart(size_t i) {
    Boot(i);
    PNode& n = *nodes_[i];
    INFO("node " << i << " had committed through height " << durable_[i] << " before the cut");
    CHECK(n.store->head().height >= durable_[i]);
    audit::AuditReport report = audit::AuditStore(n.store->kv(), genesis_);
    INFO("audit of node " << i << " after the cut: "
                          << (report.ok() ? "ok" : report.failure->ToString()));
    CHECK(report.ok());
    ++audits_;
  }

  bool alive(size_t i) const {
    const PNode& n = *nodes_[i];
    return n.up && n.halted.ok() && n.env->powered();
  }

  void Step() {
    clock_.Advance(50);
    ++steps_;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (alive(i)) Record(i, nodes_[i]->core->Tick());
    }
    size_t budget = 1'000'000;
    while (!hub_.queue.empty() && budget-- > 0) {
      FakeHub::Envelope e = std::move(hub_.queue.front());
      hub_.queue.pop_front();
      size_t to = index(e.to);
      if (!hub_.Linked(e.from, e.to) || !alive(to)) continue;
      Record(to, nodes_[to]->core->OnMessage(e.from, e.type, e.payload));
    }
  }

  // The client: each sender keeps one transaction in flight through a random live node and
  // resubmits it (to another node) when it has not committed for a while: an admitted
  // transaction dies with the mempool of a node whose power fails.
  void Load(bool submit, Totals& t) {
    for (Sender& s : senders_) {
      if (s.inflight) {
        const crypto::Hash256 h = s.inflight->Hash();
        for (size_t i = 0; i < nodes_.size(); ++i) {
          if (!alive(i)) continue;
          auto look = nodes_[i]->core->api().GetTransaction(h);
          if (look.ok() && look->status == api::TxLookup::Status::kCommitted) {
            committed_.emplace_back(h, look->height);
            ++t.committed;
            ++s.nonce;
            s.inflight.reset();
            break;
          }
        }
      }
      if (s.inflight && steps_ - s.sent_at_step < 40) continue;
      if (!s.inflight) {
        if (!submit) continue;
        ledger::Transaction tx = testkit::MakeTx(
            s.key, genesis_.chain_id, s.nonce,
            ledger::Transfer{senders_[rng_() % senders_.size()].key.public_key(), 1});
        s.inflight = tx;
      } else {
        ++t.resubmitted;
      }
      std::vector<size_t> live;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (alive(i)) live.push_back(i);
      }
      if (live.empty()) continue;
      s.sent_at_step = steps_;
      (void)nodes_[live[rng_() % live.size()]]->core->api().SubmitTransaction(*s.inflight);
    }
  }

  bool AllCommitted() const {
    for (const Sender& s : senders_) {
      if (s.inflight) return false;
    }
    return true;
  }

  // Every live node holds the same blocks up to the lowest head, and every transaction the
  // client saw committed sits at its reported height on each node that has that height.
  void CheckChains() {
    uint64_t min_h = UINT64_MAX;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (alive(i)) min_h = std::min(min_h, nodes_[i]->store->head().height);
    }
    for (uint64_t h = checked_through_ + 1; min_h != UINT64_MAX && h <= min_h; ++h) {
      std::optional<crypto::Hash256> first;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (!alive(i)) continue;
        auto hdr = nodes_[i]->store->HeaderAt(h);
        REQUIRE(hdr.ok());
        REQUIRE(hdr->has_value());
        if (!first) first = (*hdr)->Hash();
        INFO("node " << i << " height " << h);
        REQUIRE((*hdr)->Hash() == *first);
      }
    }
    for (const auto& [hash, height] : committed_) {
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (!alive(i) || nodes_[i]->store->head().height < height) continue;
        auto loc = nodes_[i]->store->FindTx(hash);
        INFO("committed tx " << hash.ToHex() << " at height " << height << " on node " << i);
        REQUIRE(loc.ok());
        REQUIRE(loc->has_value());
        CHECK((*loc)->height == height);
      }
    }
    if (min_h != UINT64_MAX) checked_through_ = std::max(checked_through_, min_h);
  }

  PNode& node(size_t i) { return *nodes_[i]; }
  size_t size() const { return nodes_.size(); }
  std::mt19937_64& rng() { return rng_; }
  const std::string& conflict() const { return conflict_; }
  const SentLedger& sent() const { return sent_; }
  uint64_t audits() const { return audits_; }
  uint64_t MinHeight() const {
    uint64_t h = UINT64_MAX;
    for (const auto& n : nodes_) h = std::min(h, n->up ? n->store->head().height : 0);
    return h;
  }
  uint64_t MaxHeight() const {
    uint64_t h = 0;
    for (const auto& n : nodes_) h = std::max(h, n->up ? n->store->head().height : 0);
    return h;
  }
  genesis::ConsensusKind kind() const { return kind_; }

 private:
  void Record(size_t i, Status s) {
    if (!s.ok() && nodes_[i]->halted.ok()) nodes_[i]->halted = s;
  }
  p2p::NodeId id(size_t i) const { return nodes_[i]->key.public_key(); }
  size_t index(const p2p::NodeId& id) const {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i]->key.public_key() == id) return i;
    }
    FAIL("message to an unknown node");
    return 0;
  }

  std::mt19937_64 rng_;
  genesis::ConsensusKind kind_;
  ManualClock clock_{/*steady_ms=*/0, /*unix_ms=*/1'700'000'000'000};
  FakeHub hub_;
  genesis::Genesis genesis_;
  std::vector<std::unique_ptr<PNode>> nodes_;
  std::vector<Sender> senders_;
  std::vector<std::pair<crypto::Hash256, uint64_t>> committed_;
  std::map<size_t, uint64_t> durable_;
  SentLedger sent_;
  std::string conflict_;
  uint64_t steps_ = 0, checked_through_ = 0, audits_ = 0;
};

// Runs until `done` or `max_steps`, with the client submitting (or only finishing) its load.
template <typename Pred>
bool RunUntil(PowerLossNetwork& net, Totals& t, bool submit, Pred done, int max_steps) {
  for (int s = 0; s < max_steps; ++s) {
    if (done()) return true;
    net.Step();
    net.Load(submit, t);
  }
  return done();
}

void RunIteration(genesis::ConsensusKind kind, uint64_t seed, Totals& t) {
  TempDir dir("powerloss");
  PowerLossNetwork net(kind, seed, dir.path());
  for (size_t i = 0; i < net.size(); ++i) net.Boot(i);
  auto& rng = net.rng();
  auto progress = [&](uint64_t blocks) {
    const uint64_t target = net.MaxHeight() + blocks;
    return RunUntil(
        net, t, /*submit=*/true, [&] { return net.MinHeight() >= target; }, 2000);
  };
  REQUIRE(progress(3));
  const int cuts = 4;
  for (int c = 0; c < cuts; ++c) {
    const int mode = static_cast<int>(rng() % 3);  // 0 one node, 1 one node mid-write, 2 all
    std::vector<size_t> victims;
    if (mode == 2) {
      for (size_t i = 0; i < net.size(); ++i) victims.push_back(i);
      ++t.cuts_all;
    } else {
      victims.push_back(rng() % net.size());
    }
    // Some load first, so the cut lands among writes.
    RunUntil(
        net, t, true, [] { return false; }, static_cast<int>(rng() % 20));
    if (mode == 1) {
      // The n-th file operation from now fails and the power with it: in the middle of a
      // block commit, an engine-state write, a log switch or a compaction.
      PNode& v = net.node(victims[0]);
      v.env->PowerOffAfter(1 + rng() % 60);
      ++t.cuts_mid_write;
      RunUntil(
          net, t, true, [&] { return !v.env->powered(); }, 400);
      v.env->PowerOff();  // if the countdown did not run out, now
    } else {
      for (size_t i : victims) net.node(i).env->PowerOff();
    }
    for (size_t i : victims) {
      net.Crash(i, t);
      ++t.cuts;
    }
    // Down for a while; the others go on when they are a quorum.
    RunUntil(
        net, t, true, [] { return false; }, static_cast<int>(rng() % 40));
    for (size_t i : victims) net.Restart(i);
    INFO("after cut " << c << " (mode " << mode << ")");
    REQUIRE(net.conflict().empty());
    // Liveness: with everyone back, blocks commit again (a bounded number of ticks).
    REQUIRE(progress(2));
    net.CheckChains();
  }
  // The client finishes: everything it had in flight commits.
  REQUIRE(RunUntil(
      net, t, /*submit=*/false, [&] { return net.AllCommitted(); }, 4000));
  REQUIRE(RunUntil(
      net, t, false, [&] { return net.MinHeight() == net.MaxHeight(); }, 2000));
  net.CheckChains();
  CHECK(net.conflict().empty());
  t.votes += net.sent().votes();
  t.proposals += net.sent().proposals();
}

void RunSoak(genesis::ConsensusKind kind, const char* name) {
  SetupLogging("warn");  // a line per committed block would bury the result
  const uint64_t first = EnvU64("CAIRN_POWER_LOSS_SEED", std::random_device{}());
  const uint64_t iters = EnvU64("CAIRN_POWER_LOSS_ITERS", 3);
  std::cout << "power loss " << name << ": seeds " << first << ".." << first + iters - 1
            << " (replay one with CAIRN_POWER_LOSS_SEED=S CAIRN_POWER_LOSS_ITERS=1)" << std::endl;
  Totals t;
  for (uint64_t i = 0; i < iters; ++i) {
    const uint64_t seed = first + i;
    INFO("seed " << seed);
    RunIteration(kind, seed, t);
    std::cout << "power loss " << name << ": seed " << seed << " ok (cuts so far " << t.cuts
              << ", committed " << t.committed << ")" << std::endl;
  }
  std::cout << "power loss " << name << ": iterations " << iters << " cuts " << t.cuts
            << " (mid-write " << t.cuts_mid_write << ", all nodes " << t.cuts_all << ")"
            << " committed txs " << t.committed << " resubmitted " << t.resubmitted
            << " dropped bytes " << t.bytes_dropped << " files removed " << t.files_removed
            << " files truncated " << t.files_truncated << " votes " << t.votes << " proposals "
            << t.proposals << " conflicting 0" << std::endl;
}

TEST_CASE("power loss: a BFT validator reopens at a committed block and never signs twice",
          "[chaos][powerloss][bft]") {
  RunSoak(genesis::ConsensusKind::kBft, "bft");
}

TEST_CASE("power loss: a Raft node reopens at a committed block and loses no commit",
          "[chaos][powerloss][raft]") {
  RunSoak(genesis::ConsensusKind::kRaft, "raft");
}

}  // namespace
}  // namespace cairn::node
