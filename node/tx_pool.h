// TxPool: transaction admission and gossip. It owns the mempool, the signature caches and the
// gossip queue: a transaction from a client or a peer passes the mempool's cheap checks, then
// its signature is verified once per node (SigCache; a bad one is remembered too), it is
// admitted, and relayed once to peers (the seen-set stops echoes).
// Thread-safety: every method may be called from any thread (RPC, worker, loop). mu_ guards
// the mempool, gossip_mu_ the relay queue and seen-set; neither is held while calling out
// of the pool, and the two are never held together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "ledger/mempool.h"
#include "node/admission_control.h"
#include "node/metrics.h"
#include "node/network.h"
#include "node/sig_cache.h"

namespace cairn::node {

class TxPool {
 public:
  // Where transactions being admitted come from; it decides what is verified and relayed.
  enum class Source { kClient, kValidatorPeer, kOtherPeer };

  // `clock` times commits for the admission bound (AdmissionControl).
  TxPool(const genesis::Genesis& genesis, const ledger::ChainStore& store,
         const ledger::MempoolLimits& limits, const Clock& clock = SystemClock::Instance());

  // Runs the mempool's cheap checks (Mempool::Precheck) on each distinct transaction, verifies
  // the signatures of those that pass (unless cached good or bad, or a trusted validator
  // relayed them), admits them, and queues what was admitted for gossip (unless a validator
  // peer sent it: it broadcast it to every peer itself). A later copy of a transaction in
  // `txs` gets the first copy's answer (already_known when that one was admitted). For a
  // client, while a peer reports a head above ours, a refusal that stale state can explain
  // becomes kSyncing; and past the admission bound (AdmissionControl) a transaction that
  // passes the cheap checks is refused kMempoolFull with a retry hint, before its signature.
  // Peers are held only to the mempool's own limits: what a validator admitted must reach
  // the next proposer.
  std::vector<ledger::Admission> Admit(std::vector<ledger::Transaction> txs, Source source)
      EXCLUDES(mu_, gossip_mu_);
  // Where admissions and refusals are counted; null: nowhere. Set before any thread admits.
  void set_metrics(NodeMetrics* m) { metrics_ = m; }
  // A TxBatch from `from` (worker thread): decodes, skips what was seen, admits the rest.
  // A malformed batch disconnects the peer.
  void OnGossip(Network& net, const p2p::NodeId& from, ByteView payload) EXCLUDES(gossip_mu_);
  // Broadcasts what Admit queued, in TxBatch messages (loop thread, every tick).
  void FlushGossip(Network& net) EXCLUDES(gossip_mu_);
  // Hands a peer that just connected what is still pending: it missed our gossip, and the
  // next leader may be that peer.
  void SendPendingTo(Network& net, const p2p::NodeId& peer) EXCLUDES(mu_);

  // The block builder's view: candidates in nonce order, valid against `state`.
  std::vector<ledger::Transaction> Select(size_t max_txs, const ledger::StateReader& state) const
      EXCLUDES(mu_);
  // Drops what `txs` committed at `height` (a block proposed at `block_time_ms`, unix) and
  // re-checks the rest against the store.
  void OnCommitted(std::span<const ledger::Transaction> txs,
                   std::span<const crypto::Hash256> hashes, uint64_t height, uint64_t block_time_ms)
      EXCLUDES(mu_);

  size_t size() const EXCLUDES(mu_);
  size_t bytes() const EXCLUDES(mu_);
  const AdmissionControl& admission() const { return admission_; }
  std::optional<ledger::Transaction> Get(const crypto::Hash256& hash) const EXCLUDES(mu_);
  // Fills each empty out[i] with the encoding of hashes[i], when pending; one lock for all,
  // encoding outside it (a block's worth of lookups must not queue behind admission batches
  // once per transaction). REQUIRES: out.size() == hashes.size().
  void GetEncoded(std::span<const crypto::Hash256> hashes, std::vector<Bytes>& out) const
      EXCLUDES(mu_);
  uint64_t NextNonce(const ledger::Address& a, uint64_t committed_nonce) const EXCLUDES(mu_);

  // Where admission learns the highest head a peer reported (BlockSync). Set once, before any
  // thread calls Admit; the function must be thread-safe.
  void set_best_peer_height(std::function<uint64_t()> f) { best_peer_height_ = std::move(f); }
  // Before threads start: who the validators are now (Membership), for the admission share
  // and gossip's source; unset, the genesis validators.
  void set_validators(std::function<size_t()> count,
                      std::function<bool(const p2p::NodeId&)> is_validator) {
    validator_count_ = std::move(count);
    is_validator_ = std::move(is_validator);
  }

  // Transactions whose signatures this node verified (shared with block acceptance).
  SigCache& sig_cache() { return sig_cache_; }
  // Raft trusts its validators (crash faults only, authenticated links): a transaction a
  // validator admitted, or a block a validator proposed, had its signatures checked there.
  bool trust_validators() const { return trust_validators_; }

 private:
  // Admit, uncounted.
  std::vector<ledger::Admission> DoAdmit(std::vector<ledger::Transaction> txs, Source source)
      EXCLUDES(mu_, gossip_mu_);
  void TrimSeen() REQUIRES(gossip_mu_);
  void MarkSyncing(std::vector<ledger::Admission>& out) const;
  // kMempoolFull past the admission bound, with the retry hint and the numbers behind it
  // (no hash: the caller copies it per transaction).
  ledger::Admission BoundRefusal(size_t backlog) const;
  // Every transaction of a call refused with `refusal`, but for a wrong chain id or one
  // already pending, which are answered as such (a copy gets its first's answer).
  std::vector<ledger::Admission> RefuseAll(const std::vector<ledger::Transaction>& txs,
                                           const std::vector<crypto::Hash256>& hashes,
                                           const std::vector<size_t>& first,
                                           const ledger::Admission& refusal) const REQUIRES(mu_);
  static bool CanBeStale(ledger::TxCode code);

  const genesis::Genesis& genesis_;
  const ledger::ChainStore& store_;
  const bool trust_validators_;
  SigCache sig_cache_{400000};  // ~32 MiB at capacity
  // Hashes whose signature failed: a forged transaction sent again costs a lookup, not a
  // verification. Smaller: only an attacker fills it, and evicting one costs one verification.
  SigCache bad_sigs_{65536};  // ~5 MiB at capacity
  std::function<uint64_t()> best_peer_height_;
  std::function<size_t()> validator_count_;
  std::function<bool(const p2p::NodeId&)> is_validator_;
  NodeMetrics* metrics_ = nullptr;
  AdmissionControl admission_;

  mutable Mutex mu_;
  ledger::Mempool mempool_ GUARDED_BY(mu_);

  Mutex gossip_mu_;
  std::vector<Bytes> gossip_out_ GUARDED_BY(gossip_mu_);
  std::unordered_set<crypto::Hash256, crypto::Hash256Hasher> seen_ GUARDED_BY(gossip_mu_);
  std::deque<crypto::Hash256> seen_order_ GUARDED_BY(gossip_mu_);
};

}  // namespace cairn::node
