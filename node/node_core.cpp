#include "node/node_core.h"

#include <random>

#include "node/logging.h"
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

}  // namespace

NodeCore::NodeCore(const config::NodeConfig& config, const genesis::Genesis& genesis,
                   const crypto::KeyPair& key, ledger::ChainStore& store, Network& net,
                   const Clock& clock, NodeHooks hooks)
    : genesis_(genesis),
      key_(key),
      validator_index_(genesis.ValidatorIndex(key.public_key())),
      store_(store),
      net_(net),
      hooks_(std::move(hooks)),
      solo_validator_(genesis.consensus == genesis::ConsensusKind::kSolo && validator_index_ >= 0),
      engine_store_(store.kv()),
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
                                  pool_, clock},
              config.empty_blocks, CompactRelay::Options{.enabled = config.compact_blocks}),
      sync_(store, acceptor_, net, clock),
      service_(NodeService::Parts{config.name, genesis, key.public_key(), store, pool_, driver_,
                                  evidence_, [this] { NotifyArrival(); }}) {
  acceptor_.set_network(&net_);
  pool_.set_metrics(&metrics_);
  acceptor_.set_metrics(&metrics_);
  driver_.set_metrics(&metrics_);
  driver_.set_network(&net_);
  service_.set_network(&net_);
  pool_.set_best_peer_height([this] { return sync_.best_peer_height(); });
}

Status NodeCore::Start() {
  builder_.ResetInterval();
  if (genesis_.consensus == genesis::ConsensusKind::kBft) {
    if (Status s = evidence_.Load(); !s.ok()) return s;
  }
  if (validator_index_ < 0) return Status::Ok();  // observers follow by block sync
  return OpenEngine();
}

Status NodeCore::OpenEngine() {
  consensus::EngineOptions o;
  o.kind = KindOf(genesis_.consensus);
  o.id = static_cast<consensus::ReplicaId>(validator_index_);
  o.replicas = static_cast<uint32_t>(genesis_.validators.size());
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
  return driver_.Open(o, wrap,
                      hooks_.allow_lost_consensus_state ? EngineDriver::LostState::kStartClean
                                                        : EngineDriver::LostState::kRefuse);
}

NodeCore::Lane NodeCore::LaneOf(p2p::MessageType type) {
  return type == wire::kTxs || type == wire::kGetBlocks ? Lane::kWorker : Lane::kLoop;
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
    case wire::kStatus:
      sync_.OnPeerStatus(from, payload);
      return Status::Ok();
    case wire::kBlocks:
    case wire::kNewBlock: {
      auto applied = sync_.OnBlocks(from, payload, type == wire::kNewBlock);
      if (!applied.ok()) return applied.status();
      return *applied > 0 ? driver_.CatchUp() : Status::Ok();
    }
    case wire::kConsensus: {
      const int replica = genesis_.ValidatorIndex(from);
      if (replica < 0) return Status::Ok();  // observers have no say in consensus
      return driver_.StepWhole(static_cast<consensus::ReplicaId>(replica), from, payload);
    }
    // Compact blocks pass between validators only, like the engine messages they carry.
    case wire::kCompactConsensus:
    case wire::kGetBlockTxs:
    case wire::kBlockTxs: {
      const int replica = genesis_.ValidatorIndex(from);
      if (replica < 0) return Status::Ok();
      const auto id = static_cast<consensus::ReplicaId>(replica);
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

Status NodeCore::OnArrival() { return driver_.OnArrival(); }

Status NodeCore::Tick() {
  pool_.FlushGossip(net_);
  sync_.MaybeSync();
  return driver_.Tick();
}

}  // namespace cairn::node
