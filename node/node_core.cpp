#include "node/node_core.h"

#include <random>

#include "node/logging.h"
#include "node/set_history.h"
#include "node/wire.h"

namespace cairn::node {
namespace {

uint32_t MaxBlockTxs(const config::NodeConfig& config, const genesis::Genesis& genesis) {
  return config.max_block_txs ? config.max_block_txs : genesis.params.max_block_txs;
}

consensus::EngineKind KindOf(genesis::ConsensusKind kind) {
  switch (kind) {
    case genesis::ConsensusKind::kRaft:
      return consensus::EngineKind::kRaft;
    case genesis::ConsensusKind::kBft:
      return consensus::EngineKind::kBft;
    default:
      return consensus::EngineKind::kSolo;
  }
}

Snapshotter::Options SnapshotOptions(const config::NodeConfig& c) {
  Snapshotter::Options o;
  o.dir = c.Resolve(c.data_dir) + "/snapshots";
  o.interval = c.snapshot_interval;
  o.keep = c.snapshot_keep;
  o.serve_parts_per_sec = c.snapshot_serve_chunks_per_sec;
  o.serve_bytes_per_sec = c.snapshot_serve_bytes_per_sec;
  o.target_chunk_bytes = c.snapshot_target_chunk_bytes;
  return o;
}

}  // namespace

NodeCore::NodeCore(const config::NodeConfig& config, const genesis::Genesis& genesis,
                   const crypto::KeyPair& key, ledger::ChainStore& store, Network& net,
                   const Clock& clock, NodeHooks hooks)
    : genesis_(genesis),
      key_(key),
      store_(store),
      net_(net),
      hooks_(std::move(hooks)),
      solo_validator_(genesis.consensus == genesis::ConsensusKind::kSolo &&
                      genesis.ValidatorIndex(key.public_key()) >= 0),
      snapshot_interval_(config.snapshot_interval),
      engine_store_(store.kv()),
      membership_(genesis, store),
      pool_(genesis, store, config.mempool, clock),
      acceptor_(genesis, store, pool_, cache_, clock,
                BlockAcceptor::Options{.sync_writes = config.sync_writes, .verify_threads = 2}),
      builder_(key, store, pool_, cache_, clock,
               BlockBuilder::Options{.max_block_txs = MaxBlockTxs(config, genesis),
                                     .block_interval_ms = config.block_interval_ms,
                                     .empty_blocks = config.empty_blocks,
                                     .on_arrival = solo_validator_}),
      evidence_(genesis, engine_store_, clock),
      driver_(EngineDriver::Parts{genesis, store, engine_store_, acceptor_, builder_, evidence_,
                                  pool_, clock, membership_, key.public_key()},
              config.empty_blocks, CompactRelay::Options{.enabled = config.compact_blocks}),
      sync_(store, acceptor_, net, clock),
      service_(NodeService::Parts{config.name, genesis, key.public_key(), store, pool_, driver_,
                                  evidence_, membership_, engine_open_,
                                  [this] { NotifyArrival(); }}),
      snapshotter_(SnapshotOptions(config), store, clock) {
  snapshotter_.set_metrics(&metrics_);
  // set(height) for a joiner's light client: the sets in memory, then every set this node has
  // seen (node/set_history.h), matched by the header's validators_hash either way.
  snapshotter_.set_validators_of([this](uint64_t height) -> std::vector<ledger::Member> {
    std::vector<ledger::Member> set = membership_.ValidatorsOf(height);
    if (!set.empty()) return set;
    auto header = store_.HeaderAt(height);
    if (!header.ok() || !header->has_value()) return {};
    return FindSet(store_.kv(), (*header)->validators_hash).value_or(std::vector<ledger::Member>{});
  });
  // The snapshotter pins the store right after the commit, before anything else runs on the
  // loop: the pin is exactly the state after that block.
  acceptor_.set_commit_observer([this](const ledger::Block& block, const crypto::Hash256& hash,
                                       const std::vector<crypto::Hash256>& tx_hashes,
                                       const std::vector<ledger::Receipt>& receipts) {
    snapshotter_.OnCommitted(block.header);
    MaybeCompact();
    if (block.header.next_validators_hash != block.header.validators_hash) {
      // set(h + 1) differs: kept now, from the state just committed, since FollowMembers sees
      // only the sets after a whole batch of synced blocks.
      auto next = ledger::ValidatorSetAt(store_, block.header.height + 1);
      if (next) {
        if (Status s = RememberSet(store_.kv(), *next); !s.ok()) {
          Log("node")->warn("storing set({}) in the set history: {}", block.header.height + 1,
                            s.message());
        }
      }
    }
    if (commit_observer_) commit_observer_(block, hash, tx_hashes, receipts);
  });
  acceptor_.set_network(&net_);
  pool_.set_metrics(&metrics_);
  acceptor_.set_metrics(&metrics_);
  driver_.set_metrics(&metrics_);
  driver_.set_network(&net_);
  service_.set_network(&net_);
  pool_.set_best_peer_height([this] { return sync_.best_peer_height(); });
  evidence_.set_key_of([this](uint64_t height, uint32_t index) -> std::optional<crypto::PublicKey> {
    const std::vector<ledger::Member> set = membership_.ValidatorsOf(height);
    if (index >= set.size()) return std::nullopt;
    return set[index].consensus_key;
  });
  pool_.set_validators([this] { return std::max<size_t>(1, membership_.Get()->next.size()); },
                       [this](const p2p::NodeId& peer) {
                         return membership_.Get()->ValidatorByP2p(peer) != nullptr;
                       });
}

Status NodeCore::Start() {
  builder_.ResetInterval();
  if (snapshot_interval_ > 0) {
    if (Status s = snapshotter_.Open(); !s.ok()) return s.Wrap("snapshots");
  }
  if (genesis_.consensus == genesis::ConsensusKind::kBft) {
    if (Status s = evidence_.Load(); !s.ok()) return s;
  }
  membership_.Refresh();
  followed_ = membership_.Get();
  if (Status s = RememberSets(*followed_); !s.ok()) return s;
  MaybeCompact();  // what the open pruned at once (a window set on a long chain)
  net_.FollowMembers(followed_->Allowed(), followed_->Dial(key_.public_key()));
  self_id_ = FindSelf();
  if (!self_id_) return Status::Ok();  // observers follow by block sync
  return OpenEngine(*self_id_, /*joining=*/false);
}

std::optional<consensus::ReplicaId> NodeCore::FindSelf() const {
  auto snap = membership_.Get();
  if (!snap->from_state) {
    const int index = genesis_.ValidatorIndex(key_.public_key());
    if (index < 0) return std::nullopt;
    return static_cast<consensus::ReplicaId>(index);
  }
  const ledger::Member* m = snap->ValidatorByConsensusKey(key_.public_key());
  if (!m) return std::nullopt;
  for (const ledger::Member& n : snap->next) {
    // A rotation to this key is not in force at head + 1 yet: a vote there would carry a
    // signature set(head + 1) refuses. The engine opens when it is (FollowMembers).
    if (n.id == m->id && n.consensus_key != key_.public_key()) return std::nullopt;
  }
  return m->id;
}

void NodeCore::MaybeCompact() {
  if (!compact_post_ || !store_.CompactionDue() || compacting_.exchange(true)) return;
  compact_post_([this] {
    const uint64_t from = store_.BlocksFrom();
    const auto start = std::chrono::steady_clock::now();
    store_.CompactPruned();
    Log("node")->info(
        "compacted the storage pruned below block {} in {} ms (storage.retain_blocks: LevelDB "
        "frees deleted data only when it compacts)",
        from,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                              start)
            .count());
    compacting_ = false;
  });
}

Status NodeCore::RememberSets(const Membership::Snapshot& snap) {
  const std::vector<ledger::Member> genesis_set = genesis_.Members().Validators();
  for (const std::vector<ledger::Member>* set : {&snap.next, &snap.after, &genesis_set}) {
    if (Status s = RememberSet(store_.kv(), *set); !s.ok()) {
      return s.Wrap("storing a validator set (set history)");
    }
  }
  return Status::Ok();
}

Status NodeCore::FollowMembers() {
  membership_.Refresh();
  if (engine_open_ && !driver_.running() && driver_.signing_floor() == 0) {
    // The driver closed the engine: this node's key was rotated out (EngineDriver::KeyRetired).
    engine_open_ = false;
    self_id_.reset();
  }
  auto snap = membership_.Get();
  if (snap == followed_) return Status::Ok();
  const bool changed = !followed_ || snap->next != followed_->next ||
                       snap->after != followed_->after || snap->members != followed_->members;
  followed_ = snap;
  if (!changed) return Status::Ok();
  if (Status s = RememberSets(*snap); !s.ok()) return s;
  net_.FollowMembers(snap->Allowed(), snap->Dial(key_.public_key()));
  if (genesis_.consensus == genesis::ConsensusKind::kSolo) return Status::Ok();
  if (!engine_open_) {
    self_id_ = FindSelf();
    if (!self_id_) return Status::Ok();
    Log("node")->info("block {} made this node validator {} (member id): opening its engine",
                      snap->head, *self_id_);
    return OpenEngine(*self_id_, /*joining=*/true);
  }
  if (!self_id_) return Status::Ok();
  const ledger::Member* me = snap->Validator(*self_id_);
  if (!me && !left_logged_) {
    left_logged_ = true;
    Log("node")->warn(
        "block {} removed this node (validator {}) from the validator set: it votes no more and "
        "its peers will disconnect it; stop it once its removal is in force",
        snap->head, *self_id_);
  }
  if (me && me->consensus_key != key_.public_key() && !rekey_logged_) {
    rekey_logged_ = true;
    Log("node")->warn(
        "block {} rotated the keys of validator {} (this node): from height {} its votes count "
        "only under the new key {}; restart cairnd with that key file (docs/OPERATIONS.md, "
        "\"Rotating a validator's key\")",
        snap->head, *self_id_, snap->head + 2, me->consensus_key.ToHex());
  }
  return Status::Ok();
}

Status NodeCore::OpenEngine(consensus::ReplicaId id, bool joining) {
  consensus::EngineOptions o;
  o.kind = KindOf(genesis_.consensus);
  o.id = id;
  o.replicas = static_cast<uint32_t>(genesis_.validators.size());
  auto snap = membership_.Get();
  const uint64_t head = store_.head().height;
  if (snap->from_state && snap->head == head) {
    if (o.kind == consensus::EngineKind::kBft) {
      o.validators[head + 1] = Membership::Infos(snap->next);
      o.validators[head + 2] = Membership::Infos(snap->after);
    } else if (o.kind == consensus::EngineKind::kRaft) {
      o.raft_members = Membership::Ids(snap->after);
      o.raft_next_id = snap->members.next_id;
    }
  }
  o.genesis = consensus::BlockRef{0, store_.genesis_hash()};
  // Raft: election timeouts of 10..20 ticks; heartbeats every tick.
  o.election_ticks = 10;
  o.heartbeat_ticks = 1;
  o.seed =
      hooks_.raft_seed.value_or(std::random_device{}() | (uint64_t{std::random_device{}()} << 32));
  // BFT, with 50 ms ticks: 1 s to propose, 0.5 s per vote step, +0.25 s per round, at most 5 s.
  o.propose_timeout_ticks = 20;
  o.vote_timeout_ticks = 10;
  o.timeout_delta_ticks = 5;
  o.max_timeout_ticks = 100;
  o.rebroadcast_ticks = 10;
  if (o.kind == consensus::EngineKind::kBft) {
    std::vector<crypto::PublicKey> keys;
    for (const genesis::Node& v : genesis_.validators) keys.push_back(v.public_key);
    verifier_ = std::make_unique<consensus::Ed25519Verifier>(std::move(keys));
    signer_ = std::make_unique<consensus::Ed25519Signer>(o.id, key_);
    o.signer = signer_.get();
    o.verifier = verifier_.get();
    o.validator = &acceptor_;
  }
  EngineDriver::Wrap wrap;
  if (hooks_.wrap_engine) {
    wrap = [this](std::unique_ptr<consensus::Engine> e) {
      return hooks_.wrap_engine(std::move(e), key_, genesis_);
    };
  }
  Status opened =
      driver_.Open(o, wrap,
                   hooks_.allow_lost_consensus_state ? EngineDriver::LostState::kStartClean
                                                     : EngineDriver::LostState::kRefuse,
                   joining);
  if (opened.ok()) engine_open_ = true;
  return opened;
}

NodeCore::Lane NodeCore::LaneOf(p2p::MessageType type) {
  switch (type) {
    case wire::kTxs:
    case wire::kGetBlocks:
    // Served from files and the store, off the loop.
    case wire::kGetSnapshots:
    case wire::kGetSnapshotPart:
    case wire::kGetHeaders:
    case wire::kGetValidators:
      return Lane::kWorker;
    default:
      return Lane::kLoop;
  }
}

Status NodeCore::OnMessage(const p2p::NodeId& from, p2p::MessageType type, ByteView payload) {
  switch (type) {
    case wire::kTxs:
      pool_.OnGossip(net_, from, payload);
      // An observer relays its clients' transactions to a solo validator. A wake that finds
      // nothing new proposes nothing.
      NotifyArrival();
      return Status::Ok();
    case wire::kGetBlocks:
      sync_.Serve(from, payload);
      return Status::Ok();
    case wire::kGetSnapshots:
    case wire::kGetSnapshotPart:
    case wire::kGetHeaders:
    case wire::kGetValidators:
      snapshotter_.Serve(net_, from, type, payload);
      return Status::Ok();
    case wire::kStatus:
      sync_.OnPeerStatus(from, payload);
      return Status::Ok();
    case wire::kBlocks:
    case wire::kNewBlock: {
      auto applied = sync_.OnBlocks(from, payload, type == wire::kNewBlock);
      if (!applied.ok()) return applied.status();
      if (*applied == 0) return Status::Ok();
      if (Status s = FollowMembers(); !s.ok()) return s;
      return driver_.CatchUp();
    }
    case wire::kConsensus: {
      const ledger::Member* sender = membership_.Get()->ValidatorByP2p(from);
      if (!sender) return Status::Ok();  // observers have no say in consensus
      if (Status s = driver_.StepWhole(sender->id, from, payload); !s.ok()) return s;
      return FollowMembers();
    }
    // Compact blocks pass between validators only, like the engine messages they carry.
    case wire::kCompactConsensus:
    case wire::kGetBlockTxs:
    case wire::kBlockTxs: {
      const ledger::Member* sender = membership_.Get()->ValidatorByP2p(from);
      if (!sender) return Status::Ok();
      const consensus::ReplicaId id = sender->id;
      if (type == wire::kGetBlockTxs) {
        driver_.ServeBlockTxs(from, payload);
        return Status::Ok();
      }
      return type == wire::kBlockTxs ? driver_.OnBlockTxs(id, from, payload)
                                     : driver_.StepCompact(id, from, payload);
    }
    default:
      return Status::Ok();
  }
}

void NodeCore::OnPeerConnected(const p2p::NodeId& peer) {
  sync_.SendStatus(peer);
  // A peer that was away missed our gossip (the next leader may be that peer).
  pool_.SendPendingTo(net_, peer);
}

void NodeCore::OnPeerGone(const p2p::NodeId& peer) { sync_.OnPeerGone(peer); }

Status NodeCore::OnArrival() {
  if (Status s = driver_.OnArrival(); !s.ok()) return s;
  return FollowMembers();
}

Status NodeCore::Tick() {
  pool_.FlushGossip(net_);
  sync_.MaybeSync();
  if (Status s = driver_.Tick(); !s.ok()) return s;
  if (Status s = FollowMembers(); !s.ok()) return s;
  if (engine_open_) {
    const consensus::EngineStatus es = driver_.status();
    if (es.removed && !removed_) {
      removed_ = true;
      Log("node")->warn(
          "validator {} applied its own removal from the Raft members: it votes, campaigns and "
          "acknowledges no more (a leader hands leadership over first); stop it",
          es.id);
    }
    if (es.learner != learner_) {
      learner_ = es.learner;
      if (learner_) {
        Log("node")->info(
            "validator {} runs as a learner: it receives blocks and votes once the "
            "leader promotes it",
            es.id);
      } else if (!es.removed) {
        Log("node")->info("validator {} was promoted: it is now a voter", es.id);
      }
    }
  }
  return Status::Ok();
}

}  // namespace cairn::node
