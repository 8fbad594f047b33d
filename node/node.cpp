#include "node/node.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <map>

#include "api/methods.h"
#include "api/subscriptions.h"
#include "base/mutex.h"
#include "base/rate_limit.h"
#include "base/thread.h"
#include "crypto/key_file.h"
#include "node/logging.h"
#include "node/metrics_collect.h"
#include "node/metrics_server.h"
#include "node/p2p_network.h"
#include "node/state_sync.h"
#include "node/wire.h"
#include "rpc/dispatcher.h"
#include "rpc/readiness_cache.h"
#include "rpc/server.h"
#include "rpc/subscription.h"

namespace cairn::node {

// The threads Run() starts and what they share; alive for one Run().
struct Node::Loop {
  boost::asio::io_context io;
  // One thread for gossip admission and serving block requests, off the p2p and loop threads.
  boost::asio::thread_pool worker{1};
  boost::asio::steady_timer tick{io};
  boost::asio::signal_set signals{io, SIGINT, SIGTERM};
  std::unique_ptr<P2pNetwork> net;
  std::unique_ptr<NodeCore> core;
  // What the p2p thread routes to: the state sync until it is done, then the core (set once,
  // on the loop thread, before the first message that needs it is posted).
  std::atomic<NodeCore*> core_ptr{nullptr};
  std::unique_ptr<chain::BlockRules> sync_rules;  // a BFT state sync's light client's
  std::unique_ptr<StateSync> sync;                // loop thread only
  // Each peer's last Status during the state sync (loop thread): handed to the core when it
  // starts, so block sync knows the peers' heads without waiting for their next commit.
  std::map<p2p::NodeId, Bytes> statuses;
  // Snapshot builds, off the loop (created only when snapshot.interval is set).
  std::unique_ptr<boost::asio::thread_pool> snapshot_thread;
  // Compactions of pruned ranges, off the loop (created only with storage.retain_blocks).
  std::unique_ptr<boost::asio::thread_pool> compact_thread;
  Status exit_status;
  // A solo validator's arrival wake is queued on `io` (at most one at a time).
  std::atomic<bool> arrival_posted{false};

  // Stops the loop with `s` as the reason, unless it is ok. Loop thread only.
  void HaltIf(Status s) {
    if (s.ok() || !exit_status.ok()) return;
    exit_status = std::move(s);
    io.stop();
  }
};

Result<std::unique_ptr<Node>> Node::Open(const config::NodeConfig& config, NodeHooks hooks) {
  SetupLogging(LogOptions{config.log_level, config.log_format, config.log_levels});
  auto genesis = genesis::Genesis::Load(config.Resolve(config.genesis_file));
  if (!genesis.ok()) return genesis.status();
  auto key = crypto::ReadKeyFile(config.Resolve(config.key_file));
  if (!key.ok()) return key.status();
  std::string data_dir = config.Resolve(config.data_dir);
  if (config.state_sync_enable) {
    auto kv = ledger::OpenLevelDb(data_dir, /*create=*/true);
    if (!kv.ok()) return kv.status().Wrap("data dir " + data_dir);
    auto pending = ledger::SnapshotImport::PendingIn(**kv);
    if (!pending.ok()) return pending.status().Wrap("data dir " + data_dir);
    bool empty = true;
    if (Status s = (*kv)->Scan({}, {},
                               [&empty](ByteView, ByteView) {
                                 empty = false;
                                 return false;
                               });
        !s.ok()) {
      return s.Wrap("data dir " + data_dir);
    }
    if (empty || pending->has_value()) {
      return std::unique_ptr<Node>(new Node(config, std::move(genesis.value()), key.value(),
                                            nullptr, std::move(kv.value()), std::move(hooks)));
    }
    // Already a chain: state sync has nothing to do; the node catches up by block sync.
    auto store =
        ledger::ChainStore::Open(std::move(kv.value()), genesis->Block0(), genesis->InitialState());
    if (!store.ok()) return store.status().Wrap("data dir " + data_dir);
    Log("node")->info("state sync: the data dir already holds a chain (head {}); starting from it",
                      (*store)->head().height);
    if (Status s = ConfigureStore(**store, config); !s.ok()) return s.Wrap("data dir " + data_dir);
    return std::unique_ptr<Node>(new Node(config, std::move(genesis.value()), key.value(),
                                          std::move(store.value()), nullptr, std::move(hooks)));
  }
  auto store = ledger::OpenChainStore(data_dir, genesis->Block0(), genesis->InitialState(),
                                      /*create=*/true);
  if (!store.ok()) return store.status().Wrap("data dir " + data_dir);
  if (Status s = ConfigureStore(**store, config); !s.ok()) return s.Wrap("data dir " + data_dir);
  return std::unique_ptr<Node>(new Node(config, std::move(genesis.value()), key.value(),
                                        std::move(store.value()), nullptr, std::move(hooks)));
}

Status Node::ConfigureStore(ledger::ChainStore& store, const config::NodeConfig& config) {
  store.SetMemoryVersions(config.state_tree_memory_versions);
  if (Status s = store.SetRetainHeights(config.state_tree_retain_heights); !s.ok()) return s;
  return store.SetRetainBlocks(config.retain_blocks);
}

Node::Node(config::NodeConfig config, genesis::Genesis genesis, crypto::KeyPair key,
           std::unique_ptr<ledger::ChainStore> store, std::unique_ptr<ledger::KvStore> sync_kv,
           NodeHooks hooks)
    : config_(std::move(config)),
      genesis_(std::move(genesis)),
      key_(key),
      store_(std::move(store)),
      sync_kv_(std::move(sync_kv)),
      hooks_(std::move(hooks)) {}

Status Node::RunStateSync(Loop& loop) {
  StateSync::Options o;
  o.trust_height = config_.state_sync_trust_height;
  if (!config_.state_sync_trust_hash.empty()) {
    o.trust_hash = crypto::Hash256::FromHex(config_.state_sync_trust_hash);
  }
  if (genesis_.consensus == genesis::ConsensusKind::kBft) {
    loop.sync_rules = std::make_unique<chain::BlockRules>(genesis_);
    o.rules = loop.sync_rules.get();
  }
  loop.sync = store_ ? std::make_unique<StateSync>(genesis_.Block0(), o, std::move(store_),
                                                   *loop.net, clock_)
                     : std::make_unique<StateSync>(genesis_.Block0(), o, std::move(sync_kv_),
                                                   *loop.net, clock_);
  if (Status s = loop.sync->Start(); !s.ok()) return s;
  std::function<void(const boost::system::error_code&)> on_tick;
  on_tick = [this, &loop, &on_tick](const boost::system::error_code& ec) {
    if (ec || stop_requested_) return;
    loop.HaltIf(loop.sync->Tick());
    if (!loop.exit_status.ok()) return;
    if (loop.sync->done()) {
      loop.io.stop();
      return;
    }
    loop.tick.expires_after(std::chrono::milliseconds(config_.tick_ms));
    loop.tick.async_wait(on_tick);
  };
  loop.tick.expires_after(std::chrono::milliseconds(config_.tick_ms));
  loop.tick.async_wait(on_tick);
  if (!stop_requested_) loop.io.run();
  if (!loop.exit_status.ok()) return loop.exit_status;
  if (!loop.sync->done()) return Status::Ok();  // stopped (SIGTERM); resumes at the next start
  store_ = loop.sync->TakeStore();
  if (Status s = ConfigureStore(*store_, config_); !s.ok()) return s;
  return Status::Ok();
}

Node::~Node() = default;

Status Node::Run(const std::function<void(uint16_t rpc_port)>& on_serving) {
  auto log = Log("node");
  if (store_) {
    const ledger::Head head = store_->head();
    log->info("chain {} genesis {} head height {} hash {}", genesis_.chain_id,
              crypto::ShortHex(store_->genesis_hash()), head.height, crypto::ShortHex(head.hash));
  } else {
    log->info("chain {}: the data dir holds no chain yet; joining by state sync",
              genesis_.chain_id);
  }
  // A state sync stopped after its import finished and before the headers below it were all
  // backfilled: the backfill resumes before the node joins, as it ran the first time.
  const bool backfill = store_ && store_->HeadersFrom() > 1;

  Loop loop;
  // The worker admits gossiped transactions: like the RPC threads, it runs below the loop
  // thread (the block pipeline) by mempool.admission_nice. One thread, so one task sets it.
  boost::asio::post(loop.worker, [nice = static_cast<int>(config_.admission_nice)] {
    NameThisThread("gossip-worker");
    if (nice > 0) (void)LowerThisThreadPriority(nice);
  });
  auto net = P2pNetwork::Create(config_, genesis_, key_);
  if (!net.ok()) return net.status();
  loop.net = std::move(net.value());
  struct Teardown {
    Node& node;
    Loop& loop;
    ~Teardown() {
      // Once, whatever Run reached: no p2p, and queued gossip and sync requests are
      // abandoned: shutdown must not wait on them. A snapshot being written finishes.
      loop.net->host().Stop();
      loop.worker.stop();
      loop.worker.join();
      if (loop.snapshot_thread) {
        loop.snapshot_thread->stop();
        loop.snapshot_thread->join();
      }
      if (loop.compact_thread) loop.compact_thread->join();  // a compaction is not cut off
      MutexLock lock(&node.loop_mu_);
      node.loop_ = nullptr;
    }
  } teardown{*this, loop};
  {
    MutexLock lock(&loop_mu_);
    loop_ = &loop;
  }
  loop.signals.async_wait([&loop](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    Log("node")->info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    loop.io.stop();
  });
  Route(loop);
  // A node with a chain starts its core before the network, so no peer's first message is
  // lost; a state sync needs the network first, and makes the core after.
  if (store_ && !backfill) {
    if (Status s = StartCore(loop); !s.ok()) return s;
  }
  p2p::Host& host = loop.net->host();
  if (Status s = host.Start(); !s.ok()) return s.Wrap("p2p listen " + config_.p2p_listen);
  auto p2p_listen = config::SplitHostPort(config_.p2p_listen, "p2p.listen");
  if (!p2p_listen.ok()) return p2p_listen.status();
  Log("p2p")->info("p2p listening on {}:{} as node {}, {} persistent peers", p2p_listen->first,
                   host.listen_port(), key_.public_key().ToHex(), config_.peers.size());
  std::printf("p2p: %s:%u\n", p2p_listen->first.c_str(), host.listen_port());
  std::fflush(stdout);
  if (!store_ || backfill) {
    Status synced = RunStateSync(loop);
    if (!synced.ok()) {
      log->critical("halting: {}", synced.message());
      return synced;
    }
    if (!store_) {
      log->info("stopped during the state sync; it resumes at the next start");
      return Status::Ok();
    }
    loop.io.restart();
    if (Status s = StartCore(loop); !s.ok()) return s;
    // Peers that connected during the state sync learn our head now; theirs came in the
    // Status each sent on connecting.
    for (const p2p::PeerInfo& p : loop.net->Peers()) {
      boost::asio::post(loop.worker, [&loop, id = p.id] { loop.core->OnPeerConnected(id); });
    }
    for (const auto& [peer, status] : loop.statuses) {
      if (Status s = loop.core->OnMessage(peer, wire::kStatus, status); !s.ok()) return s;
    }
    loop.statuses.clear();
  }
  if (!loop.core->is_validator()) {
    log->warn(
        "this node's key {} is not a validator's consensus key in its state (head {}); it "
        "follows by block sync, and opens its engine if governance makes it a validator",
        key_.public_key().ToHex(), store_->head().height);
  }
  Status served = Serve(loop, on_serving);
  rpc_port_ = 0;
  if (!served.ok()) return served;
  if (!loop.exit_status.ok()) {
    log->critical("halting: {}", loop.exit_status.message());
    return loop.exit_status;
  }
  log->info("stopped at height {}", store_->head().height);
  return Status::Ok();
}

Status Node::StartCore(Loop& loop) {
  loop.core =
      std::make_unique<NodeCore>(config_, genesis_, key_, *store_, *loop.net, clock_, hooks_);
  // Background work at the lowest nice level: it takes what the block pipeline and admission
  // leave, so commit latency does not pay for it; it only takes longer on a busy node (a
  // snapshot height reached meanwhile is skipped, a compaction comes later).
  auto background = [](std::unique_ptr<boost::asio::thread_pool>& pool, const char* name) {
    pool = std::make_unique<boost::asio::thread_pool>(1);
    boost::asio::post(*pool, [name] {
      NameThisThread(name);
      (void)LowerThisThreadPriority(19);
    });
    return [p = pool.get()](std::function<void()> job) { boost::asio::post(*p, std::move(job)); };
  };
  if (config_.snapshot_interval > 0) {
    loop.core->set_snapshot_post(background(loop.snapshot_thread, "snapshot"));
  }
  if (config_.retain_blocks > 0) {
    loop.core->set_compact_post(background(loop.compact_thread, "compact"));
  }
  // Transactions admitted on RPC or worker threads wake the loop (solo only, NodeCore decides)
  // so they are proposed now, not at the next tick. Coalesced: what arrives while the wake
  // runs posts the next one, and the flag is cleared before the mempool is read.
  loop.core->set_arrival_wake([this, &loop] {
    if (loop.arrival_posted.exchange(true)) return;
    boost::asio::post(loop.io, [this, &loop] {
      loop.arrival_posted.store(false);
      if (stop_requested_ || !loop.exit_status.ok()) return;
      loop.HaltIf(loop.core->OnArrival());
    });
  });
  loop.net->set_metrics(&loop.core->metrics());
  if (loop.sync) {
    const StateSync::Counts& c = loop.sync->counts();
    loop.core->metrics().OnStateSyncBadPart(c.bad_parts);
    loop.core->metrics().OnStateSyncTimeout(c.timeouts);
    loop.core->metrics().OnStateSyncChunk(c.chunks);
    loop.sync.reset();
  }
  if (Status s = loop.core->Start(); !s.ok()) return s;
  loop.core_ptr.store(loop.core.get());
  return Status::Ok();
}

// Starts p2p and RPC and runs the loop until stopped; RPC is closed when it returns.
Status Node::Serve(Loop& loop, const std::function<void(uint16_t)>& on_serving) {
  rpc::Dispatcher dispatcher(rpc::DispatcherOptions{
      .max_batch_size = config_.rpc_max_batch,
      .max_nesting_depth = 64,
      .max_response_bytes = config_.rpc_max_response_bytes,
      // A client can make a handler throw at will (bad_alloc at worst): rate-limited.
      .on_handler_exception =
          [limiter = std::make_shared<RateLimiter>(/*per_second=*/1,
                                                   /*burst=*/10)](std::string_view method,
                                                                  std::string_view what) {
            uint64_t suppressed = 0;
            if (!limiter->Allow(&suppressed)) return;
            Log("rpc")->error("method {} threw: {} ({} similar suppressed)", method, what,
                              suppressed);
          },
      .on_call =
          [&metrics = loop.core->metrics()](std::string_view method, int code,
                                            std::chrono::nanoseconds took) {
            metrics.OnRpcCall(method, code, std::chrono::duration<double>(took).count());
          }});
  if (Status s = api::RegisterNodeMethods(dispatcher, loop.core->api()); !s.ok()) return s;
  // subscribe/unsubscribe are served by the WebSocket transport, reported through on_call too.
  std::vector<std::string> rpc_methods = dispatcher.Methods();
  rpc_methods.insert(rpc_methods.end(), rpc::kSubscriptionMethods.begin(),
                     rpc::kSubscriptionMethods.end());
  loop.core->metrics().InitRpcMethods(rpc_methods);
  // Metrics before RPC, so a node that serves RPC is already observable; stopped before Serve
  // returns, so its collectors never read what teardown frees.
  std::unique_ptr<MetricsServer> metrics_server;
  if (!config_.metrics_listen.empty()) {
    AddNodeCollectors(loop.core->metrics(), NodeView{*loop.core, *loop.net, *store_, genesis_});
    auto mlisten = config::SplitHostPort(config_.metrics_listen, "metrics.listen");
    if (!mlisten.ok()) return mlisten.status();
    metrics_server = std::make_unique<MetricsServer>(
        [&metrics = loop.core->metrics()] { return metrics.Render(); });
    if (Status s = metrics_server->Start(mlisten->first, mlisten->second); !s.ok()) return s;
    Log("node")->info("metrics on http://{}:{}/metrics", mlisten->first, metrics_server->port());
    std::printf("metrics: http://%s:%u/metrics\n", mlisten->first.c_str(), metrics_server->port());
    std::fflush(stdout);
  }
  rpc::ServerOptions rpc_opts;
  rpc_opts.threads = config_.rpc_threads;
  rpc_opts.max_body_bytes = config_.rpc_max_body_bytes;
  rpc_opts.max_connections = config_.rpc_max_connections;
  rpc_opts.max_connections_per_ip = config_.rpc_max_connections_per_ip;
  rpc_opts.max_inflight_bytes = config_.rpc_max_inflight_bytes;
  rpc_opts.thread_nice = static_cast<int>(config_.admission_nice);
  rpc_opts.max_ws_connections = config_.rpc_max_ws_connections;
  rpc_opts.max_ws_connections_per_ip = config_.rpc_max_ws_connections_per_ip;
  rpc_opts.max_ws_message_bytes = config_.rpc_max_ws_message_bytes;
  rpc_opts.ws_queue_messages = config_.rpc_ws_queue_messages;
  rpc_opts.ws_queue_bytes = config_.rpc_ws_queue_bytes;
  rpc_opts.ws_send_buffer_bytes = config_.rpc_ws_send_buffer_bytes;
  // Subscriptions see every block committed from here on; what came before, a resume reads.
  api::SubscriptionHub hub(
      loop.core->api(), store_->head().height,
      api::SubscriptionLimits{
          .max_per_connection = config_.rpc_max_subscriptions_per_connection,
          .max_total = 100'000,
          .max_resume_blocks = config_.rpc_max_resume_blocks,
          // Half the heavy RPC threads at most: the others stay for calls.
          .max_concurrent_resumes = std::max<size_t>(1, config_.rpc_threads / 2)});
  auto last_commit_ms = std::make_shared<std::atomic<uint64_t>>(clock_.SteadyMs());
  loop.core->set_commit_observer(
      [&hub, last_commit_ms, this](const ledger::Block& block, const crypto::Hash256& hash,
                                   const std::vector<crypto::Hash256>& tx_hashes,
                                   const std::vector<ledger::Receipt>& receipts) {
        last_commit_ms->store(clock_.SteadyMs(), std::memory_order_relaxed);
        hub.OnCommitted(block, hash, tx_hashes, receipts);
      });
  struct ClearObserver {
    NodeCore& core;
    ~ClearObserver() { core.set_commit_observer(nullptr); }
  } clear_observer{*loop.core};
  auto ready_cache = std::make_shared<rpc::ReadinessCache>();
  rpc_opts.readiness = [this, &loop, last_commit_ms, ready_cache]() -> rpc::Readiness {
    return ready_cache->Get(clock_.SteadyMs(), [&] {
      return Readiness(*loop.core, last_commit_ms->load(std::memory_order_relaxed));
    });
  };
  rpc::Server server(dispatcher, rpc_opts, &hub);
  // Destroyed before the server (declared after it): a subscription holds its connection, whose
  // destructor returns the connection's slots to the server, so the hub lets go of every
  // connection while the server still exists. The hub itself outlives the server, which calls
  // it until its threads are joined.
  struct ReleaseSubscriptions {
    api::SubscriptionHub& hub;
    ~ReleaseSubscriptions() { hub.Clear(); }
  } release_subscriptions{hub};
  // Declared after server and hub: removed, and any scrape reading them finished, before they go.
  auto rpc_metrics = AddRpcCollectors(loop.core->metrics(), server, hub);
  auto listen = config::SplitHostPort(config_.rpc_listen, "rpc.listen");
  if (!listen.ok()) return listen.status();
  if (Status s = server.Start(listen->first, listen->second); !s.ok()) {
    return s.Wrap("rpc listen " + config_.rpc_listen);
  }
  rpc_port_ = server.port();
  Log("node")->info("rpc listening on http://{}:{}", listen->first, server.port());
  if (on_serving) on_serving(server.port());

  std::function<void(const boost::system::error_code&)> on_tick;
  on_tick = [this, &loop, &on_tick](const boost::system::error_code& ec) {
    if (ec || stop_requested_) return;
    loop.HaltIf(loop.core->Tick());
    if (!loop.exit_status.ok()) return;
    loop.tick.expires_after(std::chrono::milliseconds(config_.tick_ms));
    loop.tick.async_wait(on_tick);
  };
  loop.tick.expires_after(std::chrono::milliseconds(config_.tick_ms));
  loop.tick.async_wait(on_tick);
  if (!stop_requested_) loop.io.run();
  // A block in progress finished inside a loop handler, which runs to completion.
  if (metrics_server) metrics_server->Stop();
  server.Stop();
  return Status::Ok();
}

// GET /ready (docs/RPC.md "Health and readiness"): enough peers, not behind them, and not
// stalled with transactions waiting. Read on an RPC I/O thread, at most every
// rpc::ReadinessCache::kWindowMs.
rpc::Readiness Node::Readiness(NodeCore& core, uint64_t last_commit_ms) const {
  const api::NodeStatus status = core.api().GetStatus();
  const uint64_t want_peers = std::min<uint64_t>(config_.rpc_ready_min_peers, config_.peers.size());
  if (status.peers < want_peers) {
    return {false, "peers: " + std::to_string(status.peers) + " connected, " +
                       std::to_string(want_peers) + " wanted (rpc.ready_min_peers)"};
  }
  const uint64_t best = core.best_peer_height();
  if (best > status.head.height + config_.rpc_ready_max_lag_blocks) {
    return {false, "syncing: head " + std::to_string(status.head.height) + ", best peer " +
                       std::to_string(best) + " (rpc.ready_max_lag_blocks " +
                       std::to_string(config_.rpc_ready_max_lag_blocks) + ")"};
  }
  const uint64_t now = clock_.SteadyMs();
  const uint64_t idle = now > last_commit_ms ? now - last_commit_ms : 0;
  if (config_.rpc_ready_stall_ms > 0 && status.mempool_size > 0 &&
      idle > config_.rpc_ready_stall_ms) {
    return {false, "stalled: " + std::to_string(status.mempool_size) +
                       " transactions pending and no block committed for " + std::to_string(idle) +
                       " ms (rpc.ready_stall_ms " + std::to_string(config_.rpc_ready_stall_ms) +
                       ")"};
  }
  return {true, ""};
}

// Each message type goes to one component (NodeCore::OnMessage) on its lane's thread; the
// p2p thread only copies the payload and posts.
void Node::Route(Loop& loop) {
  p2p::Host& host = loop.net->host();
  auto post = [&loop](const p2p::NodeId& from, p2p::MessageType type, ByteView payload) {
    NodeCore* core = loop.core_ptr.load();
    // Answers only a state sync asks for: once the core runs nobody asked, so they are dropped
    // here rather than copied (a part is up to 5 MiB) and queued on the loop thread.
    const bool sync_answer = type == wire::kSnapshots || type == wire::kSnapshotPart ||
                             type == wire::kHeaders || type == wire::kValidators;
    if (core != nullptr && sync_answer) return;
    Bytes data(payload.begin(), payload.end());
    if (core == nullptr) {
      // State sync: only its answers matter, and peers' heads for the core to come.
      if (type == wire::kStatus) {
        boost::asio::post(loop.io, [&loop, from, data = std::move(data)] {
          if (NodeCore* c = loop.core_ptr.load()) {
            loop.HaltIf(c->OnMessage(from, wire::kStatus, data));
          } else {
            loop.statuses[from] = data;
          }
        });
        return;
      }
      if (!sync_answer) return;
      boost::asio::post(loop.io, [&loop, from, type, data = std::move(data)] {
        if (loop.sync && !loop.sync->done()) loop.HaltIf(loop.sync->OnMessage(from, type, data));
      });
      return;
    }
    core->metrics().OnP2pMessage(type, payload.size(), /*received=*/true);
    if (NodeCore::LaneOf(type) == NodeCore::Lane::kWorker) {
      boost::asio::post(loop.worker, [core, from, type, data = std::move(data)] {
        // Worker-lane handlers never fail the node: they only read the store.
        (void)core->OnMessage(from, type, data);
      });
    } else {
      boost::asio::post(loop.io, [&loop, core, from, type, data = std::move(data)] {
        loop.HaltIf(core->OnMessage(from, type, data));
      });
    }
  };
  for (p2p::MessageType t :
       {wire::kTxs, wire::kGetBlocks, wire::kBlocks, wire::kNewBlock, wire::kConsensus,
        wire::kCompactConsensus, wire::kGetBlockTxs, wire::kBlockTxs, wire::kStatus,
        wire::kGetSnapshots, wire::kSnapshots, wire::kGetSnapshotPart, wire::kSnapshotPart,
        wire::kGetHeaders, wire::kHeaders, wire::kGetValidators, wire::kValidators}) {
    host.SetHandler(t, post);
  }
  host.SetPeerHandlers(
      [&loop](const p2p::NodeId& peer) {
        if (NodeCore* core = loop.core_ptr.load()) {
          boost::asio::post(loop.worker, [core, peer] { core->OnPeerConnected(peer); });
          return;
        }
        boost::asio::post(loop.io, [&loop, peer] {
          if (NodeCore* core = loop.core_ptr.load()) {
            // The sync finished while this waited: tell the core instead.
            boost::asio::post(loop.worker, [core, peer] { core->OnPeerConnected(peer); });
          } else if (loop.sync) {
            loop.sync->OnPeerConnected(peer);
          }
        });
      },
      [&loop](const p2p::NodeId& peer) {
        boost::asio::post(loop.io, [&loop, peer] {
          if (NodeCore* core = loop.core_ptr.load()) {
            core->OnPeerGone(peer);
          } else if (loop.sync) {
            loop.sync->OnPeerGone(peer);
          }
        });
      });
}

void Node::Stop() {
  stop_requested_ = true;
  MutexLock lock(&loop_mu_);
  if (loop_) loop_->io.stop();
}

}  // namespace cairn::node
