// The load itself: deterministic bench accounts, pre-signed transfers split into lanes (one
// submitting thread each, sending through the client library, client/client.h), the open-loop
// submitters, the block follower and the /proc sampler. Everything the report needs is
// recorded in a Timeline.
// Thread-safety: a Timeline is written by the submitter lanes (disjoint tx indices), the
// follower and the sampler at once, and read only after they have all been joined.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/ring.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"

namespace cairn::bench {

using Clock = std::chrono::steady_clock;

// Prints "cairn-bench: MSG" on stderr and exits 1 (the tool's one failure path).
[[noreturn]] void Die(const std::string& msg);

// Bench account i of `seed`: the same key in the genesis file and in the load.
crypto::KeyPair AccountKey(uint64_t seed, size_t i);

// Adds `accounts` bench accounts (members, `balance` each) to the genesis file at `path`,
// rewriting it in place. Must run before any node has started on that genesis.
void AddGenesisAccounts(const std::string& path, size_t accounts, uint64_t seed, uint64_t balance);

// Ed25519 verifications per second on this thread (one core), measured for `seconds`.
double MeasureVerifyRate(double seconds);

struct Load {
  std::vector<client::SignedTx> txs;         // encoded, with sender, nonce and hash
  std::vector<std::vector<uint32_t>> lanes;  // tx indices of each lane, in submission order
  std::vector<size_t> lane_node;             // the ring node (index in ring.nodes()) of each lane
  std::vector<std::vector<ledger::Address>> lane_senders;  // the accounts each lane sends for
};

// Pre-signs `txs` transfers of 1 unit: tx i is sent by account i % accounts (to the next
// account) with that account's next nonce (`nonces`, advanced). Each account's transactions
// go through one lane, among the `lanes_per_node` lanes of its home node on `ring` (so they
// reach one node in nonce order, and one thread hands them to the client).
Load PrepareLoad(const std::vector<crypto::KeyPair>& keys, std::vector<uint64_t> nonces,
                 const std::string& chain_id, size_t txs, const client::Ring& ring,
                 size_t lanes_per_node, unsigned threads);

struct BlockSeen {
  double t = 0;  // seconds since t0, when the follower first saw it committed
  uint64_t height = 0;
  size_t txs = 0;        // all transactions in the block
  size_t bench_txs = 0;  // those of this load
};

struct CpuSample {
  double t = 0;
  std::vector<double> cpu_s;  // per watched pid; -1 when unreadable
  double self_cpu_s = 0;
};

struct Timeline {
  explicit Timeline(size_t txs)
      : first_try(txs, -1), submitted(txs, -1), committed(txs, -1), refused(txs, 0) {}
  std::vector<double> first_try;  // seconds since t0 of the first call that carried it
  std::vector<double> submitted;  // seconds since t0 of the call that admitted it; -1: never
  std::vector<double> committed;  // seconds since t0 the follower saw it; -1: never
  std::vector<uint8_t> refused;   // refused for a reason other than capacity
  std::vector<BlockSeen> blocks;
  std::vector<CpuSample> samples;
  double send_end = 0;        // when the last lane stopped submitting
  bool duration_cut = false;  // the --duration bound stopped a lane before its last tx
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> retries{0};  // calls that met back-pressure (mempool or sender full)
  std::atomic<uint64_t> calls{0};
  std::atomic<int64_t> max_lag_us{0};  // worst lateness against the offered schedule
};

struct RunParams {
  std::vector<std::string> rpc;  // node URLs, the client's (duplicates count once)
  std::string follow;            // URL whose committed blocks time each tx
  double rate = 0;               // offered tx/s over all lanes; 0 = as fast as accepted
  double duration_s = 60;        // no new submission after this
  double drain_timeout_s = 60;   // after submission ends, wait this long for commits
  size_t batch = 1000;           // transactions per sendTransactions call
  uint64_t start_height = 0;     // follow blocks above this height
  std::vector<pid_t> pids;       // sampled every 100 ms
};

// Runs the timed window: submitters, follower and sampler until every accepted tx has
// committed or the drain timeout passes. A node that fails is failed over by the client
// (its senders' accepted transactions resent); dies (exit 1) when no node can be reached.
void RunLoad(const Load& load, const RunParams& p, Timeline* tl);

}  // namespace cairn::bench
