// The mempool: transactions admitted but not yet committed, ordered per sender by nonce.
// Not thread-safe: the node serialises access.
//
// Admission (Add) checks, in order, each with its own TxCode: encoded size, chain id,
// duplicate hash, sender registered, nonce not used (>= account nonce) and not already
// pending, nonce at most max_nonce_gap ahead, admin-only payloads from admins only, enough
// balance for this and the sender's other pending transfers, the sender's pending count, the
// pool's capacity (Precheck: every check so far is a map lookup), then the signature (~65 us,
// the only expensive one), then capacity again (other admissions ran meanwhile).
//
// Eviction rule: the pool holds at most max_txs transactions and max_bytes bytes. When it
// is full, a new transaction that is executable (no nonce gap before it) evicts the most
// recently admitted queued transaction (one waiting behind a nonce gap); otherwise it is
// refused with mempool_full. Executable transactions are never evicted for newcomers: first
// come, first served. Every transaction also expires ttl_blocks blocks after admission.
//
// Selection (Select) is first-come-first-served across senders and nonce order within one:
// the next transaction is always the earliest-admitted among each sender's next nonce.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "crypto/sha256.h"
#include "ledger/receipt.h"
#include "ledger/state.h"
#include "ledger/transaction.h"

namespace cairn::ledger {

struct MempoolLimits {
  size_t max_txs = 100000;
  size_t max_bytes = 64u << 20;
  uint64_t max_nonce_gap = 64;   // a tx may carry at most account nonce + this
  size_t max_per_sender = 1000;  // pending transactions of one sender
  uint64_t ttl_blocks = 1000;    // expiry, counted in committed blocks
  // Read by the node's admission control (node/admission_control.h), not by the Mempool:
  // clients are refused while the pool holds more than this much of the commit rate.
  uint64_t admission_window_ms = 2000;
};

struct Admission {
  TxCode code = TxCode::kOk;
  std::string detail;  // human-readable reason when code != kOk
  crypto::Hash256 hash;
  uint32_t retry_after_ms = 0;  // with kMempoolFull for a client: when to try again
  bool ok() const { return code == TxCode::kOk; }
};

// The refusal of a transaction whose signature does not verify (Add's, for callers that
// verified it themselves).
Admission BadSignature(const crypto::Hash256& hash);

class Mempool {
 public:
  Mempool(std::string chain_id, MempoolLimits limits);
  ~Mempool();

  // `signature_checked`: the caller already verified tx's signature (skip the 65 us check).
  // `height`: the committed height (starts the expiry clock).
  Admission Add(Transaction tx, const StateReader& committed, uint64_t height,
                bool signature_checked = false);
  // Same, when the caller already knows the hash.
  Admission Add(Transaction tx, const crypto::Hash256& hash, const StateReader& committed,
                uint64_t height, bool signature_checked = false);

  // Add's checks that come before the signature, against the pool and `committed`: kOk when
  // only the signature and capacity remain. A caller verifies signatures outside its lock for
  // just the transactions that pass, so a forged one costs no verification unless it would
  // otherwise be admitted.
  Admission Precheck(const Transaction& tx, const crypto::Hash256& hash,
                     const StateReader& committed) const;

  // Up to max_txs executable transactions on top of `committed`, in selection order.
  std::vector<Transaction> Select(size_t max_txs, const StateReader& committed) const;

  // After the block at `height` committed (`txs` with their `hashes`; `committed` is the new
  // state): removes those txs, every pending tx of their senders whose nonce is now used (a
  // same-nonce tx may have come from elsewhere), and expired ones.
  void OnCommitted(std::span<const Transaction> txs, std::span<const crypto::Hash256> hashes,
                   const StateReader& committed, uint64_t height);

  // Up to `max` pending transactions in admission order (for a newly connected peer).
  std::vector<Transaction> Oldest(size_t max) const;
  bool Contains(const crypto::Hash256& hash) const;
  std::optional<Transaction> Get(const crypto::Hash256& hash) const;
  // The nonce a new transaction of `sender` should carry: `committed_nonce` plus the number
  // of the sender's pending transactions that follow it without a gap.
  uint64_t NextNonce(const Address& sender, uint64_t committed_nonce) const;
  // Executable-or-queued transactions of one sender, by nonce.
  std::vector<crypto::Hash256> PendingOf(const Address& sender) const;
  size_t size() const;
  size_t bytes() const { return bytes_; }
  // At most the pending transactions that can execute in order (size() less those that were
  // ever behind a nonce gap): the backlog the network can commit, for admission control.
  size_t backlog() const { return size() - maybe_queued_.size(); }
  const MempoolLimits& limits() const { return limits_; }

 private:
  struct Entry;
  struct AddressHasher {
    size_t operator()(const Address& a) const;
  };
  struct Sender {
    std::map<uint64_t, Entry*> by_nonce;
    uint64_t pending_spend = 0;  // sum of pending transfer amounts (saturating)
  };

  // Also returns the sender's account when it was read.
  Admission Precheck(const Transaction& tx, const crypto::Hash256& hash,
                     const StateReader& committed, std::optional<Account>* account_out) const;
  bool IsQueued(const Entry& e, const StateReader& committed) const;
  bool IsExecutable(const Transaction& tx, const Account& account, const Sender* sender) const;
  bool Full(size_t tx_bytes) const;
  Admission FullRefusal(const crypto::Hash256& hash) const;
  void Remove(Entry* e);
  Entry* NewestQueued(const StateReader& committed) const;

  std::string chain_id_;
  MempoolLimits limits_;
  size_t bytes_ = 0;
  uint64_t next_seq_ = 0;
  // Lookup only; never iterated, so its order cannot leak into anything.
  std::unordered_map<crypto::Hash256, std::unique_ptr<Entry>, crypto::Hash256Hasher> by_hash_;
  // Lookup, and iterated only by Select, which orders what it takes by admission sequence.
  // Keys are registered accounts' public keys (an unknown sender never gets in).
  std::unordered_map<Address, Sender, AddressHasher> senders_;
  // Admission order: a list through the entries (Entry::older/newer), appended at admission
  // and unlinked on removal, so neither allocates.
  Entry* oldest_ = nullptr;
  Entry* newest_ = nullptr;
  // The only entries that can be queued (see NewestQueued): admitted behind a nonce gap, or
  // left behind one when an earlier transaction of their sender expired. Admission order.
  std::set<std::pair<uint64_t, Entry*>> maybe_queued_;
};

}  // namespace cairn::ledger
