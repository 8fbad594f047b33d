#include "node/node.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "api/methods.h"
#include "consensus/bft/bft.h"
#include "consensus/raft/raft.h"
#include "consensus/solo/solo.h"
#include "crypto/key_file.h"
#include "ledger/codec.h"
#include "ledger/executor.h"
#include "node/logging.h"
#include "node/node_loop.h"
#include "node/wire.h"
#include "rpc/dispatcher.h"
#include "rpc/server.h"

namespace cairn::node {
namespace {

constexpr const char* kVersion = "0.1.0";
// Blocks stay below wire::kMaxBlockBytes (6 MiB) with room for the Raft and p2p envelopes.
constexpr size_t kMaxBlockBytes = 4u << 20;
// Blocks built or validated but not committed yet, kept with their execution results.
constexpr size_t kMaxKeptBlocks = 16;

uint64_t SteadyMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}
uint64_t WallMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Engine durability keys, beside the chain store's (see ledger/chain_store.h):
//   'C' 'h'                 the engine's hard state
//   'C' 'l' index:u64be     one log record
Bytes EngineKey(char kind, std::optional<uint64_t> index = std::nullopt) {
  Bytes k = {'C', static_cast<uint8_t>(kind)};
  if (index) {
    for (int i = 7; i >= 0; --i) k.push_back(static_cast<uint8_t>(*index >> (8 * i)));
  }
  return k;
}

Result<consensus::DurableState> LoadEngineState(const ledger::KvStore& kv) {
  consensus::DurableState st;
  auto hs = kv.Get(EngineKey('h'));
  if (!hs.ok()) return hs.status();
  st.hard_state = *hs;
  Bytes start = EngineKey('l'), end = EngineKey('m');
  Status s = kv.Scan(start, end, [&](ByteView key, ByteView value) {
    uint64_t index = 0;
    for (size_t i = 2; i < key.size(); ++i) index = index << 8 | key[i];
    st.records.push_back(consensus::LogRecord{index, Bytes(value.begin(), value.end())});
    return true;
  });
  if (!s.ok()) return s;
  return st;
}

std::string ShortHash(const crypto::Hash256& h) { return h.ToHex().substr(0, 12); }

// Committed accounts of a batch's senders, read once; other reads go to the store.
class AccountSnapshot final : public ledger::StateReader {
 public:
  explicit AccountSnapshot(const ledger::StateReader& base) : base_(base) {}
  void Load(const ledger::Address& a) {
    if (!accounts_.count(a)) accounts_.emplace(a, base_.GetAccount(a));
  }
  std::optional<ledger::Account> GetAccount(const ledger::Address& a) const override {
    auto it = accounts_.find(a);
    return it != accounts_.end() ? it->second : base_.GetAccount(a);
  }
  std::optional<Bytes> GetRecord(const ledger::Address& a, ByteView key) const override {
    return base_.GetRecord(a, key);
  }

 private:
  const ledger::StateReader& base_;
  std::map<ledger::Address, std::optional<ledger::Account>> accounts_;
};

// The store plus the writes of this leader's own blocks that are in the consensus log but
// not yet committed (oldest first): the state a pipelining leader builds its next block on.
class PendingState final : public ledger::StateReader {
 public:
  explicit PendingState(const ledger::StateReader& base) : base_(base) {}
  void Push(const ledger::StateDiff& diff) { layers_.push_back(&diff); }

  std::optional<ledger::Account> GetAccount(const ledger::Address& a) const override {
    if (const auto* v = Find(ledger::AccountKey(a))) {
      if (!*v) return std::nullopt;
      auto acct = ledger::Account::Decode(**v);
      if (acct.ok()) return acct.value();
      return std::nullopt;
    }
    return base_.GetAccount(a);
  }
  std::optional<Bytes> GetRecord(const ledger::Address& a, ByteView key) const override {
    if (const auto* v = Find(ledger::RecordKey(a, key))) return *v;
    return base_.GetRecord(a, key);
  }

 private:
  const std::optional<Bytes>* Find(const Bytes& key) const {
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
      auto found = (*it)->find(key);
      if (found != (*it)->end()) return &found->second;
    }
    return nullptr;
  }

  const ledger::StateReader& base_;
  std::vector<const ledger::StateDiff*> layers_;
};

}  // namespace

Result<std::unique_ptr<Node>> Node::Open(const NodeConfig& config, NodeHooks hooks) {
  SetupLogging(config.log_level);
  auto genesis = genesis::Genesis::Load(config.Resolve(config.genesis_file));
  if (!genesis.ok()) return genesis.status();
  auto key = crypto::ReadKeyFile(config.Resolve(config.key_file));
  if (!key.ok()) return key.status();
  std::string data_dir = config.Resolve(config.data_dir);
  auto store = ledger::OpenChainStore(data_dir, genesis->Block0(), genesis->InitialState(),
                                      /*create=*/true);
  if (!store.ok()) return store.status().Wrap("data dir " + data_dir);
  return std::unique_ptr<Node>(new Node(config, std::move(genesis.value()), key.value(),
                                        std::move(store.value()), std::move(hooks)));
}

Node::Node(NodeConfig config, genesis::Genesis genesis, crypto::KeyPair key,
           std::unique_ptr<ledger::ChainStore> store, NodeHooks hooks)
    : config_(std::move(config)),
      genesis_(std::move(genesis)),
      key_(key),
      genesis_hash_(genesis_.Block0().Hash()),
      validator_index_(genesis_.ValidatorIndex(key_.public_key())),
      store_(std::move(store)),
      mempool_(genesis_.chain_id, config_.mempool),
      hooks_(std::move(hooks)),
      bft_(genesis_.consensus == genesis::ConsensusKind::kBft) {}

Node::~Node() = default;

Status Node::OpenEngine(const ledger::Head& head) {
  auto durable = LoadEngineState(store_->kv());
  if (!durable.ok()) return durable.status().Wrap("consensus state");
  consensus::BlockRef applied{head.height, head.hash};
  const auto replicas = static_cast<uint32_t>(genesis_.validators.size());
  if (bft_) {
    // Observers need the keys too: they check the certificate of every block they sync.
    std::vector<crypto::PublicKey> keys;
    for (const genesis::Node& v : genesis_.validators) keys.push_back(v.public_key);
    verifier_ = std::make_unique<consensus::Ed25519Verifier>(std::move(keys));
    if (Status s = LoadEvidence(); !s.ok()) return s;
  }
  if (validator_index_ < 0) {
    // Observers run no engine: they follow committed blocks through block sync.
  } else if (genesis_.consensus == genesis::ConsensusKind::kRaft) {
    consensus::raft::RaftConfig rc;
    rc.id = static_cast<consensus::ReplicaId>(validator_index_);
    rc.replicas = replicas;
    rc.genesis = consensus::BlockRef{0, genesis_hash_};
    // Election timeouts of 10..20 ticks; heartbeats every tick.
    rc.election_ticks = 10;
    rc.heartbeat_ticks = 1;
    rc.seed = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
    auto raft = consensus::raft::RaftEngine::Open(rc, *durable, applied);
    if (!raft.ok()) return raft.status().Wrap("raft state");
    engine_ = std::move(raft.value());
  } else if (bft_) {
    const auto id = static_cast<consensus::ReplicaId>(validator_index_);
    signer_ = std::make_unique<consensus::Ed25519Signer>(id, key_);
    proposal_check_ = MakeProposalCheck();
    consensus::bft::BftConfig bc;
    bc.id = id;
    bc.replicas = replicas;
    bc.genesis = consensus::BlockRef{0, genesis_hash_};
    // With 50 ms ticks: 1 s to propose, 0.5 s per vote step, +0.25 s per round, at most 5 s.
    bc.propose_timeout_ticks = 20;
    bc.vote_timeout_ticks = 10;
    bc.timeout_delta_ticks = 5;
    bc.max_timeout_ticks = 100;
    bc.rebroadcast_ticks = 10;
    auto bft = consensus::bft::BftEngine::Open(bc, *signer_, *verifier_, *proposal_check_, *durable,
                                               applied);
    if (!bft.ok()) return bft.status().Wrap("bft state");
    bft_engine_ = bft.value().get();
    engine_ = std::move(bft.value());
  } else {
    engine_ = std::make_unique<consensus::solo::SoloEngine>(applied);
  }
  if (engine_ && hooks_.wrap_engine)
    engine_ = hooks_.wrap_engine(std::move(engine_), key_, genesis_);
  return Status::Ok();
}

uint32_t Node::MaxBlockTxs() const {
  return config_.max_block_txs ? config_.max_block_txs : genesis_.params.max_block_txs;
}

Status Node::Run(const std::function<void(uint16_t rpc_port)>& on_serving) {
  auto log = Log("node");
  ledger::Head head = store_->head();
  log->info("chain {} genesis {} head height {} hash {}", genesis_.chain_id,
            ShortHash(genesis_hash_), head.height, ShortHash(head.hash));

  if (Status st = OpenEngine(head); !st.ok()) return st;
  if (validator_index_ < 0) {
    log->warn("this node's key {} is not a validator of this chain; it will not produce blocks",
              key_.public_key().ToHex());
  }

  Loop loop;
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_ = &loop;
  }
  loop.signals.async_wait([&loop](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    Log("node")->info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    loop.io.stop();
  });
  // The network starts before RPC, so RPC threads only ever see host_ set (or never set).
  if (Status s = StartNetwork(loop); !s.ok()) {
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_ = nullptr;
    return s;
  }
  rpc::Dispatcher dispatcher(rpc::DispatcherOptions{
      .max_batch_size = config_.rpc_max_batch,
      .max_nesting_depth = 64,
      .on_handler_exception = [](std::string_view method, std::string_view what) {
        Log("rpc")->error("method {} threw: {}", method, what);
      }});
  if (Status s = rpc::RegisterNodeMethods(dispatcher, *this); !s.ok()) {
    StopNetwork();
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_ = nullptr;
    return s;
  }
  rpc::ServerOptions rpc_opts;
  rpc_opts.threads = config_.rpc_threads;
  rpc_opts.max_body_bytes = config_.rpc_max_body_bytes;
  rpc_opts.max_connections = config_.rpc_max_connections;
  rpc::Server server(dispatcher, rpc_opts);
  auto listen = SplitHostPort(config_.rpc_listen, "rpc.listen");
  if (!listen.ok()) {
    StopNetwork();
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_ = nullptr;
    return listen.status();
  }
  if (Status s = server.Start(listen->first, listen->second); !s.ok()) {
    StopNetwork();
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_ = nullptr;
    return s.Wrap("rpc listen " + config_.rpc_listen);
  }
  rpc_port_ = server.port();
  log->info("rpc listening on http://{}:{}", listen->first, server.port());
  if (on_serving) on_serving(server.port());

  last_block_ms_ = SteadyMs();
  std::function<void(const boost::system::error_code&)> on_tick;
  on_tick = [this, &loop, &on_tick](const boost::system::error_code& ec) {
    if (ec || stop_requested_) return;
    OnTick(loop);
    if (!loop.exit_status.ok()) {
      loop.io.stop();
      return;
    }
    loop.tick.expires_after(std::chrono::milliseconds(config_.tick_ms));
    loop.tick.async_wait(on_tick);
  };
  loop.tick.expires_after(std::chrono::milliseconds(config_.tick_ms));
  loop.tick.async_wait(on_tick);
  if (!stop_requested_) loop.io.run();

  // Shutdown: no new RPC, then the loop is already idle (a block in progress finished
  // inside OnTick, which runs to completion), then the store closes in the destructor.
  server.Stop();
  StopNetwork();
  // Queued gossip and sync requests are abandoned, not served: shutdown must not wait on them.
  loop.worker.stop();
  loop.worker.join();
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_ = nullptr;
  }
  rpc_port_ = 0;
  if (!loop.exit_status.ok()) {
    log->critical("halting: {}", loop.exit_status.message());
    return loop.exit_status;
  }
  log->info("stopped at height {}", store_->head().height);
  return Status::Ok();
}

void Node::Stop() {
  stop_requested_ = true;
  std::lock_guard<std::mutex> lock(loop_mu_);
  if (loop_) loop_->io.stop();
}

void Node::OnTick(Loop& loop) {
  FlushGossip();
  MaybeSync();
  if (!engine_) return;
  bool idle = false;
  if (bft_engine_ && bft_engine_->Idle()) {
    // Nothing is happening at this height: no proposal, no vote, and nothing of ours to
    // propose. Holding the round timers keeps an idle network from churning through rounds (and
    // growing its timeouts), as Tendermint does without empty blocks. Any message, or a
    // transaction here, starts it again.
    std::lock_guard<std::mutex> lock(mu_);
    idle = mempool_.size() == 0 && !config_.empty_blocks;
  }
  if (idle) {
    // The clock still moves for what is not a round timer (answering laggards).
    bft_engine_->IdleTick();
  } else {
    engine_->Tick();
  }
  if (pending_sync_to_ && store_->head().height >= pending_sync_to_->height) {
    // Block sync follows peers' heads, so the ledger is usually past the target: check the
    // block at the target height is the one consensus named, then report the target itself.
    auto at = store_->HeaderAt(pending_sync_to_->height);
    if (!at.ok() || !at->has_value() || (*at)->Hash() != pending_sync_to_->hash) {
      loop.exit_status =
          Status::Error("block sync reached height " + std::to_string(pending_sync_to_->height) +
                        " but holds a different block there than consensus committed");
      loop.io.stop();
      return;
    }
    // Raft resumes from the target it asked for (its log continues there). A BFT engine
    // accepts any certified tip, and must be told the real head, or it would vote at a height
    // the ledger has passed.
    ledger::Head head = store_->head();
    consensus::BlockRef tip =
        bft_ ? consensus::BlockRef{head.height, head.hash} : *pending_sync_to_;
    if (Status s = engine_->SyncCompleted(tip); !s.ok()) {
      Log("consensus")->warn("sync completed refused: {}", s.message());
    } else {
      pending_sync_to_.reset();
    }
  }
  AfterEngineInput(loop);
}

void Node::AfterEngineInput(Loop& loop) {
  if (!engine_) return;
  if (Status s = DrainReady(); !s.ok()) {
    loop.exit_status = s;
    loop.io.stop();
    return;
  }
  MaybePropose(loop);
  if (Status s = DrainReady(); !s.ok()) {
    loop.exit_status = s;
    loop.io.stop();
    return;
  }
  // Let the engine drop log entries the ledger holds durably, keeping a margin for
  // followers that are slightly behind.
  uint64_t head = store_->head().height;
  if (head >= last_compact_ + 512) {
    if (engine_->Compact(head - 256).ok()) last_compact_ = head;
  }
  // Not under mu_: admission holds that for whole batches, and consensus must not wait on it.
  std::lock_guard<std::mutex> lock(status_mu_);
  engine_status_ = engine_->GetStatus();
}

void Node::OnConsensusMessage(Loop& loop, const p2p::NodeId& from, Bytes payload) {
  if (!engine_) return;
  int replica = genesis_.ValidatorIndex(from);
  if (replica < 0) return;  // observers have no say in consensus
  if (Status s = engine_->Step(static_cast<consensus::ReplicaId>(replica), payload); !s.ok()) {
    // A faulty validator could send these without end: one line per peer per 10 s at most.
    RefusedLog& r = refused_log_[static_cast<consensus::ReplicaId>(replica)];
    const uint64_t now = SteadyMs();
    if (r.last_ms == 0 || now - r.last_ms >= 10'000) {
      Log("consensus")
          ->warn("message from validator {} refused: {}{}", replica, s.message(),
                 r.suppressed ? " (and " + std::to_string(r.suppressed) +
                                    " more refused since the last such line)"
                              : "");
      r.last_ms = now;
      r.suppressed = 0;
    } else {
      ++r.suppressed;
    }
  }
  AfterEngineInput(loop);
}

void Node::MaybePropose(Loop&) {
  if (validator_index_ < 0 || !engine_) return;
  auto slot = engine_->ProposalWanted();
  if (!slot) return;
  ledger::Head head = store_->head();
  // The parent is the applied tip, or (Raft pipelining up to the engine's in-flight bound) a
  // block of this node's own still in the log, built on the tip through blocks of its own:
  // then the new block executes on the tip's state plus their writes. A parent of someone
  // else's that is not applied yet cannot be built on: wait for it.
  std::vector<const ledger::Block*> in_flight;  // newest first
  for (crypto::Hash256 at = slot->parent.hash; at != head.hash;) {
    auto it = built_blocks_.find(at);
    if (it == built_blocks_.end() || !built_.count(at) || it->second.header.height <= head.height) {
      return;
    }
    in_flight.push_back(&it->second);
    at = it->second.header.prev_hash;
  }
  PendingState pending(*store_);
  for (auto it = in_flight.rbegin(); it != in_flight.rend(); ++it) {
    pending.Push(built_.at((*it)->Hash()).diff);
  }
  uint64_t now = SteadyMs();
  std::vector<ledger::Transaction> candidates;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool full = mempool_.size() >= MaxBlockTxs();
    bool due = now - last_block_ms_ >= config_.block_interval_ms;
    if (!full && !due) return;
    if (mempool_.size() == 0 && !config_.empty_blocks) return;
    // Selected against the pending state, so transactions of blocks in flight are skipped.
    candidates = mempool_.Select(MaxBlockTxs(), pending);
  }
  // A byte budget below every transport limit (wire::kMaxBlockBytes, the p2p frame, Raft's
  // message cap), so a block of large records always travels.
  size_t bytes = 0, keep = 0;
  while (keep < candidates.size()) {
    bytes += 4 + candidates[keep].EncodedSize();
    if (bytes > kMaxBlockBytes) break;
    ++keep;
  }
  candidates.resize(keep);
  if (candidates.empty() && !config_.empty_blocks) return;
  ledger::BlockHeader parent;
  if (!in_flight.empty()) {
    parent = in_flight.front()->header;
  } else {
    auto stored = store_->HeaderAt(head.height);
    if (!stored.ok() || !stored->has_value()) {
      Log("node")->error("cannot read head header {}: {}", head.height, stored.status().message());
      return;
    }
    parent = **stored;
  }
  ledger::ExecOptions opts;
  // Everything selected from the mempool had its signature checked at admission.
  opts.signature_known_valid = [](const crypto::Hash256&) { return true; };
  ledger::BuiltBlock built =
      ledger::BuildBlock(pending, parent, std::move(candidates), WallMs(), key_, {}, opts);
  if (!built.skipped.empty()) {
    Log("node")->warn("block {}: skipped {} transactions that are no longer valid",
                      built.block.header.height, built.skipped.size());
  }
  if (built.block.txs.empty() && !config_.empty_blocks) return;
  crypto::Hash256 hash = built.block.Hash();
  consensus::Block cb{built.block.header.height, hash, built.block.Encode(), {}};
  built_.emplace(hash, std::move(built.exec));
  // A BFT height that does not decide makes this node build a block in every round it leads:
  // keep the newest few (a dropped one that commits after all is just verified again).
  built_order_.push_back(hash);
  while (built_order_.size() > kMaxKeptBlocks) {
    built_.erase(built_order_.front());
    built_blocks_.erase(built_order_.front());
    built_at_ms_.erase(built_order_.front());
    built_order_.pop_front();
  }
  built_blocks_.emplace(hash, std::move(built.block));
  last_block_ms_ = now;
  built_at_ms_[hash] = now;
  if (Status s = engine_->Propose(std::move(cb)); !s.ok()) {
    Log("consensus")->warn("proposal refused: {}", s.message());
    built_.erase(hash);
    built_blocks_.erase(hash);
    built_at_ms_.erase(hash);
  }
}

Status Node::DrainReady() {
  while (engine_ && engine_->HasReady()) {
    consensus::Ready ready = engine_->TakeReady();
    // 1. Persist, before sending anything.
    ledger::WriteBatch batch;
    if (ready.hard_state) batch.Put(EngineKey('h'), *ready.hard_state);
    if (ready.truncate_from) {
      Bytes start = EngineKey('l', *ready.truncate_from), end = EngineKey('m');
      std::vector<Bytes> doomed;
      Status s = store_->kv().Scan(start, end, [&](ByteView k, ByteView) {
        doomed.emplace_back(k.begin(), k.end());
        return true;
      });
      if (!s.ok()) return s;
      for (const Bytes& k : doomed) batch.Delete(k);
    }
    for (const consensus::LogRecord& r : ready.append) batch.Put(EngineKey('l', r.index), r.data);
    if (batch.size() > 0) {
      if (Status s = store_->kv().Write(batch, /*sync=*/true); !s.ok()) {
        return s.Wrap("persisting consensus state");
      }
    }
    if (ready.discard_through) {
      ledger::WriteBatch gc;
      Status s = store_->kv().Scan(EngineKey('l', 0), EngineKey('l', *ready.discard_through + 1),
                                   [&](ByteView k, ByteView) {
                                     gc.Delete(k);
                                     return true;
                                   });
      if (s.ok() && gc.size() > 0) (void)store_->kv().Write(gc, /*sync=*/false);
    }
    // 2. Send, after persisting.
    for (consensus::OutboundMessage& m : ready.messages) {
      if (!host_ || m.to >= genesis_.validators.size()) continue;
      // Not connected: Raft retries on its own (heartbeats, re-sent appends).
      Status sent =
          host_->Send(genesis_.validators[m.to].public_key, wire::kConsensus, std::move(m.payload));
      if (!sent.ok()) Log("consensus")->debug("to validator {}: {}", m.to, sent.message());
    }
    // 3. Sync (through block sync, which follows peers' heads), then apply.
    if (ready.sync_to) {
      Log("consensus")
          ->info("consensus compacted past this node: block-syncing to height {}",
                 ready.sync_to->height);
      pending_sync_to_ = ready.sync_to;
    }
    for (const consensus::Block& b : ready.committed) {
      if (Status s = ApplyCommitted(b); !s.ok()) return s;
    }
    // 4. Record evidence of misbehaviour.
    for (const Bytes& ev : ready.evidence) RecordEvidence(ev);
    engine_->Advance();
  }
  return Status::Ok();
}

Status Node::ApplyCommitted(const consensus::Block& cb) {
  ledger::Head head = store_->head();
  if (cb.height <= head.height) {
    // Already applied through block sync or a NewBlock push: it must be the same block.
    auto stored = store_->HeaderAt(cb.height);
    if (!stored.ok() || !stored->has_value() || (*stored)->Hash() != cb.hash) {
      return Status::Error("consensus committed block " + std::to_string(cb.height) + " " +
                           ShortHash(cb.hash) + " but this node holds a different block there");
    }
    return Status::Ok();
  }
  if (auto it = built_.find(cb.hash); it != built_.end()) {
    ledger::ExecResult exec = std::move(it->second);
    built_.erase(it);
    ledger::Block block = std::move(built_blocks_.at(cb.hash));
    built_blocks_.erase(cb.hash);
    return CommitBlock(std::move(block), std::move(exec), /*built=*/true, cb.certificate);
  }
  if (auto it = validated_.find(cb.hash); it != validated_.end()) {
    Validated v = std::move(it->second);
    validated_.erase(it);
    return CommitBlock(std::move(v.block), std::move(v.exec), /*built=*/false, cb.certificate);
  }
  auto decoded = ledger::Block::Decode(cb.data);
  if (!decoded.ok()) return decoded.status().Wrap("committed block " + std::to_string(cb.height));
  if (decoded->Hash() != cb.hash || decoded->header.height != cb.height) {
    return Status::Error("committed block " + std::to_string(cb.height) +
                         " does not hash to the hash consensus gave");
  }
  return CommitBlock(std::move(decoded.value()), std::nullopt, /*built=*/false, cb.certificate);
}

bool Node::IsAllowedProposer(const crypto::PublicKey& key) const {
  // Solo: the one validator. Raft: any validator (crash faults; links are authenticated).
  return genesis_.ValidatorIndex(key) >= 0;
}

Status Node::CommitBlock(ledger::Block block, std::optional<ledger::ExecResult> exec, bool built,
                         ByteView certificate) {
  uint64_t started = SteadyMs();
  const uint64_t height = block.header.height;
  // Every block of a BFT chain is stored with its proof of finality; one from a peer is
  // checked before anything else (a certificate costs a quorum of verifications; executing
  // a block costs one per transaction).
  if (bft_ && certificate.empty()) {
    return Status::Error("block " + std::to_string(height) + " has no commit certificate");
  }
  if (bft_ && !exec) {
    if (Status s = CheckCertificate(block, certificate); !s.ok()) return s;
  }
  if (!exec) {
    if (!IsAllowedProposer(block.header.proposer)) {
      return Status::Error("block " + std::to_string(height) + ": proposer " +
                           block.header.proposer.ToHex() + " is not a validator");
    }
    ledger::Head head = store_->head();
    if (height != head.height + 1) {
      return Status::Error("block " + std::to_string(height) + " does not follow head " +
                           std::to_string(head.height));
    }
    auto parent = store_->HeaderAt(head.height);
    if (!parent.ok() || !parent->has_value()) return Status::Error("cannot read head header");
    ledger::ExecOptions opts;
    opts.verify_threads = 2;
    // Transactions this node admitted had their signatures checked then. Under Raft the
    // proposer is a trusted validator (checked above) that admitted or was relayed each one.
    opts.signature_known_valid = [this](const crypto::Hash256& h) {
      return TrustValidators() || sig_cache_.Contains(h);
    };
    auto verified = ledger::VerifyBlock(*store_, **parent, block, opts);
    if (!verified.ok()) return verified.status();
    // The same transactions may still arrive by gossip: they need no second verification.
    sig_cache_.Insert(verified->tx_hashes);
    if (Status s = store_->StateReadError(); !s.ok()) return s.Wrap("reading state");
    exec = std::move(verified.value());
  }
  const uint64_t verified_at = SteadyMs();
  if (Status s = store_->Commit(block, *exec, config_.sync_writes, nullptr, certificate); !s.ok()) {
    return s.Wrap("store commit");
  }
  const uint64_t stored_at = SteadyMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    mempool_.OnCommitted(block.txs, exec->tx_hashes, *store_, height);
  }
  uint64_t done = SteadyMs();
  crypto::Hash256 hash = block.Hash();
  auto built_at = built_at_ms_.find(hash);
  uint64_t since =
      built && built_at != built_at_ms_.end() ? done - built_at->second : done - started;
  if (built_at != built_at_ms_.end()) built_at_ms_.erase(built_at);
  // The split says where a slow commit went: checking and executing, the synced write, the
  // mempool update.
  Log("node")->info(
      "committed block height={} hash={} txs={} commit_ms={} (verify {} store {} "
      "mempool {}){}",
      height, ShortHash(hash), block.txs.size(), since, verified_at - started,
      stored_at - verified_at, done - stored_at, built ? "" : " (from peer)");
  // Proposals of ours at this height or below that lost (a new leader's block won) are dead,
  // and so are other validators' proposals we checked for it.
  for (auto it = built_blocks_.begin(); it != built_blocks_.end();) {
    if (it->second.header.height <= height) {
      built_.erase(it->first);
      built_at_ms_.erase(it->first);
      it = built_blocks_.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(validated_,
                [height](const auto& kv) { return kv.second.block.header.height <= height; });
  if (host_) {
    // The producer pushes its block; everyone tells peers its new head.
    if (built) {
      std::vector<wire::CertifiedBlock> one;
      one.push_back({block.Encode(), Bytes(certificate.begin(), certificate.end())});
      (void)host_->Broadcast(wire::kNewBlock, wire::EncodeBlocks(one));
    }
    BroadcastStatus();
  }
  return Status::Ok();
}

ledger::Admission Node::SubmitTransaction(ledger::Transaction tx) {
  std::vector<ledger::Transaction> one;
  one.push_back(std::move(tx));
  return SubmitTransactions(std::move(one)).front();
}

std::vector<ledger::Admission> Node::SubmitTransactions(std::vector<ledger::Transaction> txs) {
  return Admit(std::move(txs), TxSource::kClient);
}

std::vector<ledger::Admission> Node::Admit(std::vector<ledger::Transaction> txs, TxSource source) {
  // One encoding per transaction: its hash, the signature cache key and the gossip payload.
  std::vector<Bytes> encoded(txs.size());
  std::vector<crypto::Hash256> hashes(txs.size());
  for (size_t i = 0; i < txs.size(); ++i) {
    encoded[i] = txs[i].Encode();
    hashes[i] = crypto::Sha256Of(encoded[i]);
  }
  // Signatures are the expensive check: verify outside the lock, on two threads, and only
  // those this node has not verified yet (sig_cache_). Under Raft a validator peer verified
  // what it relays (see TrustValidators).
  std::vector<uint8_t> sig_ok(txs.size(), 1);
  if (source != TxSource::kValidatorPeer || !TrustValidators()) {
    std::vector<size_t> unverified;
    for (size_t i = 0; i < txs.size(); ++i) {
      if (!sig_cache_.Contains(hashes[i])) unverified.push_back(i);
    }
    ledger::VerifyEach(txs, unverified, unverified.size() >= 64 ? 2 : 1, sig_ok);
    std::vector<crypto::Hash256> good;
    for (size_t i : unverified) {
      if (sig_ok[i]) good.push_back(hashes[i]);
    }
    sig_cache_.Insert(good);
  }
  const bool relay = source != TxSource::kValidatorPeer;
  // The senders' committed accounts, read before taking mu_: LevelDB reads under the mempool
  // lock would hold up every other user of it for a whole batch. If a block commits in
  // between, the snapshot is stale and Add reads the store itself.
  const uint64_t snapshot_height = store_->head().height;
  AccountSnapshot snapshot(*store_);
  for (const ledger::Transaction& tx : txs) snapshot.Load(tx.sender);
  std::vector<ledger::Admission> out;
  out.reserve(txs.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t height = store_->head().height;
    const ledger::StateReader& state =
        height == snapshot_height ? static_cast<const ledger::StateReader&>(snapshot) : *store_;
    for (size_t i = 0; i < txs.size(); ++i) {
      // A bad signature is re-checked by Add, so its error follows the documented order.
      out.push_back(mempool_.Add(std::move(txs[i]), hashes[i], state, height, sig_ok[i] != 0));
    }
  }
  // Relay only what was admitted. Validators keep a full mesh (consensus needs direct links),
  // and the validator that admitted a transaction first broadcasts it to every peer, so
  // relaying what a validator sent would only add N x (N-1) copies of each transaction.
  std::lock_guard<std::mutex> lock(gossip_mu_);
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].ok()) continue;
    if (seen_.insert(out[i].hash).second) seen_order_.push_back(out[i].hash);
    if (relay) gossip_out_.push_back(std::move(encoded[i]));
  }
  TrimSeenLocked();
  return out;
}

ledger::Head Node::GetHead() const { return store_->head(); }

Result<std::optional<ledger::Block>> Node::GetBlock(uint64_t height) const {
  return store_->BlockAt(height);
}

Result<std::optional<ledger::Block>> Node::GetBlockByHash(const crypto::Hash256& h) const {
  return store_->BlockByHash(h);
}

Result<std::optional<std::vector<ledger::Receipt>>> Node::GetReceipts(uint64_t height) const {
  return store_->ReceiptsAt(height);
}

Result<rpc::TxLookup> Node::GetTransaction(const crypto::Hash256& hash) const {
  rpc::TxLookup out;
  auto loc = store_->FindTx(hash);
  if (!loc.ok()) return loc.status();
  if (loc->has_value()) {
    auto block = store_->BlockAt((*loc)->height);
    if (!block.ok()) return block.status();
    if (!block->has_value() || (*loc)->index >= (*block)->txs.size()) {
      return Status::Error("tx index points at a missing block or position");
    }
    out.status = rpc::TxLookup::Status::kCommitted;
    out.height = (*loc)->height;
    out.index = (*loc)->index;
    out.block_hash = (*block)->Hash();
    out.tx = (*block)->txs[(*loc)->index];
    auto receipts = store_->ReceiptsAt(out.height);
    if (receipts.ok() && receipts->has_value() && out.index < (*receipts)->size()) {
      out.receipt = (**receipts)[out.index];
    }
    return out;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto tx = mempool_.Get(hash)) {
    out.status = rpc::TxLookup::Status::kPending;
    out.tx = std::move(tx);
  }
  return out;
}

std::optional<ledger::Account> Node::GetAccount(const ledger::Address& a) const {
  return store_->GetAccount(a);
}

uint64_t Node::NextNonce(const ledger::Address& a) const {
  auto acct = store_->GetAccount(a);
  uint64_t committed = acct ? acct->nonce : 0;
  std::lock_guard<std::mutex> lock(mu_);
  return mempool_.NextNonce(a, committed);
}

std::optional<Bytes> Node::GetRecord(const ledger::Address& a, ByteView key) const {
  return store_->GetRecord(a, key);
}

rpc::NodeStatus Node::GetStatus() const {
  rpc::NodeStatus s;
  s.chain_id = genesis_.chain_id;
  s.genesis_hash = genesis_hash_;
  s.node_id = key_.public_key();
  s.node_name = config_.name;
  s.consensus = std::string(genesis::ConsensusName(genesis_.consensus));
  s.validator = validator_index_ >= 0;
  s.head = store_->head();
  if (auto h = store_->HeaderAt(s.head.height); h.ok() && h->has_value()) {
    s.head_time_ms = (*h)->timestamp_ms;
  }
  s.version = kVersion;
  s.peers = host_ ? host_->GetPeers().size() : 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.mempool_size = mempool_.size();
    s.mempool_bytes = mempool_.bytes();
  }
  if (validator_index_ < 0) {
    // Observers run no engine: they follow what validators committed.
    s.role = "observer";
    s.commit_height = s.head.height;
    return s;
  }
  std::lock_guard<std::mutex> status_lock(status_mu_);
  s.role = std::string(consensus::RoleName(engine_status_.role));
  s.term = engine_status_.term;
  if (engine_status_.leader < genesis_.validators.size()) {
    s.leader = genesis_.validators[engine_status_.leader].public_key.ToHex();
  }
  s.commit_height = engine_status_.commit_height;
  return s;
}

}  // namespace cairn::node
