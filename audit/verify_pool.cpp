// Signature verification dominates the audit's time (Ed25519, one per transaction, plus the
// proposer's and a BFT certificate's quorum per block) and needs nothing from the replay, so
// it runs ahead of it on every thread; the replay thread helps whenever it would otherwise wait.
#include "audit/verify_pool.h"

#include <algorithm>

namespace cairn::audit::internal {

VerifyPool::VerifyPool(const chain::BlockRules& rules, unsigned threads) : rules_(rules) {
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

VerifyPool::~VerifyPool() {
  {
    MutexLock l(&mu_);
    stop_ = true;
    queue_.clear();
  }
  work_cv_.NotifyAll();
  for (std::thread& t : workers_) t.join();
}

void VerifyPool::Submit(Checked& c) {
  const size_t n = c.block.txs.size();
  c.tx_ok.assign(n, 0);
  const size_t tasks = std::max<size_t>(1, (n + kTxsPerTask - 1) / kTxsPerTask);
  c.pending.store(tasks, std::memory_order_relaxed);
  {
    MutexLock l(&mu_);
    for (size_t k = 0; k < tasks; ++k) {
      queue_.push_back(Task{&c, k * kTxsPerTask, std::min(n, (k + 1) * kTxsPerTask), k == 0});
    }
  }
  work_cv_.NotifyAll();
}

void VerifyPool::Run(const Task& t) const {
  Checked& c = *t.block;
  if (t.header) {
    c.hash = c.block.Hash();
    c.proposer_sig_ok = c.block.VerifyProposerSignature();
    // Ahead of execution only the genesis set is known; a block of a later set has its
    // certificate checked in order, against set(H) from the replayed state.
    if (rules_.certificates_required() &&
        c.block.header.validators_hash == rules_.genesis_validators_hash()) {
      c.certificate_verdict =
          rules_.CheckCertificate(c.block, c.certificate, rules_.genesis_validators());
    }
  }
  for (size_t i = t.begin; i < t.end; ++i) {
    c.tx_ok[i] = c.block.txs[i].VerifySignature() ? 1 : 0;
  }
}

void VerifyPool::Finished(const Task& t) {
  // acq_rel: the last task's decrement publishes every task's writes to the waiter.
  if (t.block->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // Taking the lock orders this wake-up after a waiter's check of `pending`: none is lost.
    MutexLock l(&mu_);
    done_cv_.NotifyAll();
  }
}

void VerifyPool::WorkerLoop() {
  for (;;) {
    Task t{};
    {
      MutexLock l(&mu_);
      work_cv_.Wait(&mu_, [this] {
        mu_.AssertHeld();  // the predicate runs inside Wait, under mu_
        return stop_ || !queue_.empty();
      });
      if (stop_) return;
      t = queue_.front();
      queue_.pop_front();
    }
    Run(t);
    Finished(t);
  }
}

void VerifyPool::Wait(Checked& c) {
  for (;;) {
    Task t{};
    {
      MutexLock l(&mu_);
      done_cv_.Wait(&mu_, [&] {
        mu_.AssertHeld();
        return c.pending.load(std::memory_order_acquire) == 0 || !queue_.empty();
      });
      if (c.pending.load(std::memory_order_acquire) == 0) break;
      t = queue_.front();
      queue_.pop_front();
    }
    Run(t);
    Finished(t);
  }
  c.first_bad_tx = -1;
  for (size_t i = 0; i < c.tx_ok.size(); ++i) {
    if (!c.tx_ok[i]) {
      c.first_bad_tx = static_cast<long>(i);
      c.first_bad_hash = c.block.txs[i].Hash();
      break;
    }
  }
}

}  // namespace cairn::audit::internal
