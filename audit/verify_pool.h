// VerifyPool: the audit's parallel stage. The checks of a block that need neither its parent
// nor the replayed state (every transaction signature and hash, the proposer signature, the
// BFT commit certificate) run on worker threads for the blocks ahead of the replay, while the
// replay checks blocks in height order. Internal to audit/.
// Thread-safety: Submit and Wait are called from one thread (the replay's); the workers only
// write the result fields of the blocks they were handed, each task its own slots.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "chain/block_rules.h"
#include "ledger/block.h"

namespace cairn::audit::internal {

// A decoded block between the read and the replay, with the results of its parallel checks.
// Not movable once submitted: tasks hold its address until Wait returns.
struct Checked {
  ledger::Block block;
  Bytes certificate;  // as stored beside the block; empty when none

  // Written by the pool; read only after VerifyPool::Wait returned for this block.
  crypto::Hash256 hash;
  std::vector<uint8_t> tx_ok;  // bytes, not vector<bool>: tasks write neighbouring slots
  bool proposer_sig_ok = false;
  // Chains whose rules require a certificate: BlockRules::CheckCertificate's verdict.
  std::optional<chain::Checked> certificate_verdict;
  // Set by Wait: the lowest index whose signature does not verify, and that tx's hash (the
  // replay hashes every transaction itself; the pool does not, to save the work).
  long first_bad_tx = -1;
  crypto::Hash256 first_bad_hash;

  std::atomic<size_t> pending{0};  // tasks not finished
};

class VerifyPool {
 public:
  // `threads` verify in all, the caller's thread included: it runs queued tasks while it waits,
  // so threads - 1 workers are started (none for 1).
  VerifyPool(const chain::BlockRules& rules, unsigned threads);
  // Drops the tasks not started and joins the workers (after the tasks they are running).
  ~VerifyPool();
  VerifyPool(const VerifyPool&) = delete;
  VerifyPool& operator=(const VerifyPool&) = delete;

  // Queues the checks of `c`, behind those of every block submitted before it, so the workers
  // finish blocks in height order. REQUIRES: `c` outlives the pool or a Wait on it.
  void Submit(Checked& c);
  // Returns when every check of `c` is done, running queued tasks meanwhile; then sets
  // c.first_bad_tx.
  void Wait(Checked& c);

 private:
  struct Task {
    Checked* block;
    size_t begin;  // [begin, end) of its transactions
    size_t end;
    bool header;  // also the block hash, proposer signature and certificate
  };
  // Transactions per task: a few milliseconds of work, so that one large block spreads over
  // every thread and the queue's lock is taken rarely.
  static constexpr size_t kTxsPerTask = 32;

  void Run(const Task& t) const;
  void Finished(const Task& t);
  void WorkerLoop();

  const chain::BlockRules& rules_;
  Mutex mu_;
  CondVar work_cv_;  // a task was queued, or stop_
  CondVar done_cv_;  // a block's last task finished (only the submitting thread waits on it)
  std::deque<Task> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace cairn::audit::internal
