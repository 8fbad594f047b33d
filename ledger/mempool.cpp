#include "ledger/mempool.h"

#include <algorithm>
#include <cstring>
#include <queue>

#include "ledger/lease.h"

namespace cairn::ledger {

struct Mempool::Entry {
  Transaction tx;
  crypto::Hash256 hash;
  uint64_t seq = 0;
  uint64_t admitted_height = 0;
  size_t bytes = 0;
  uint64_t spend = 0;      // transfer amount, 0 for other payloads
  Entry* older = nullptr;  // admission order (Mempool::oldest_ / newest_)
  Entry* newer = nullptr;
};

size_t Mempool::AddressHasher::operator()(const Address& a) const {
  // A public key's bytes are uniform; senders are registered accounts, so an outsider cannot
  // choose keys to collide.
  size_t v;
  std::memcpy(&v, a.data(), sizeof v);
  return v;
}

namespace {
uint64_t SpendOf(const Transaction& tx) {
  if (auto* t = std::get_if<Transfer>(&tx.payload)) return t->amount;
  return 0;
}
uint64_t SatAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
Admission Refuse(TxCode code, std::string detail, const crypto::Hash256& hash) {
  return Admission{code, std::move(detail), hash};
}
}  // namespace

Mempool::Mempool(std::string chain_id, MempoolLimits limits)
    : chain_id_(std::move(chain_id)), limits_(limits) {}

Mempool::~Mempool() = default;

size_t Mempool::size() const { return by_hash_.size(); }

std::vector<Transaction> Mempool::Oldest(size_t max) const {
  std::vector<Transaction> out;
  for (const Entry* e = oldest_; e != nullptr && out.size() < max; e = e->newer) {
    out.push_back(e->tx);
  }
  return out;
}

bool Mempool::Contains(const crypto::Hash256& hash) const { return by_hash_.count(hash) != 0; }

std::optional<Transaction> Mempool::Get(const crypto::Hash256& hash) const {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  return it->second->tx;
}

std::vector<crypto::Hash256> Mempool::PendingOf(const Address& sender) const {
  std::vector<crypto::Hash256> out;
  auto it = senders_.find(sender);
  if (it == senders_.end()) return out;
  for (const auto& [nonce, e] : it->second.by_nonce) out.push_back(e->hash);
  return out;
}

uint64_t Mempool::NextNonce(const Address& sender, uint64_t committed_nonce) const {
  auto it = senders_.find(sender);
  uint64_t next = committed_nonce;
  if (it == senders_.end()) return next;
  while (it->second.by_nonce.count(next)) ++next;
  return next;
}

Admission Mempool::Add(Transaction tx, const StateReader& committed, uint64_t height,
                       bool signature_checked) {
  crypto::Hash256 hash = tx.Hash();
  return Add(std::move(tx), hash, committed, height, signature_checked);
}

Admission Mempool::Precheck(const Transaction& tx, const crypto::Hash256& hash,
                            const StateReader& committed) const {
  std::optional<Account> account;
  return Precheck(tx, hash, committed, &account);
}

Admission Mempool::Precheck(const Transaction& tx, const crypto::Hash256& hash,
                            const StateReader& committed,
                            std::optional<Account>* account_out) const {
  std::optional<Account>& account = *account_out;
  // Cheapest first: nothing below allocates or reads more than two map entries, and a refusal
  // here costs the sender of a forged transaction what it cost us.
  if (const size_t size = tx.EncodedSize(); size > kMaxTxSize) {
    return Refuse(TxCode::kMalformed,
                  "encoded size " + std::to_string(size) + " exceeds " + std::to_string(kMaxTxSize),
                  hash);
  }
  if (tx.chain_id != chain_id_) {
    return Refuse(TxCode::kWrongChain,
                  "chain id \"" + tx.chain_id + "\" is not \"" + chain_id_ + "\"", hash);
  }
  if (Contains(hash)) return Refuse(TxCode::kAlreadyKnown, "already in the mempool", hash);
  account = committed.GetAccount(tx.sender);
  if (!account) {
    return Refuse(TxCode::kUnknownSender, "sender " + tx.sender.ToHex() + " is not registered",
                  hash);
  }
  if (tx.nonce < account->nonce) {
    return Refuse(
        TxCode::kNonceTooLow,
        "nonce " + std::to_string(tx.nonce) + " is used; next is " + std::to_string(account->nonce),
        hash);
  }
  const Sender* sender = nullptr;
  if (auto it = senders_.find(tx.sender); it != senders_.end()) sender = &it->second;
  if (sender && sender->by_nonce.count(tx.nonce)) {
    return Refuse(TxCode::kAlreadyKnown,
                  "another transaction with nonce " + std::to_string(tx.nonce) + " is pending",
                  hash);
  }
  if (tx.nonce - account->nonce > limits_.max_nonce_gap) {
    return Refuse(TxCode::kNonceTooHigh,
                  "nonce " + std::to_string(tx.nonce) + " is more than " +
                      std::to_string(limits_.max_nonce_gap) + " ahead of next nonce " +
                      std::to_string(account->nonce),
                  hash);
  }
  if (IsAdminOnly(tx.payload) && account->role != Role::kAdmin) {
    return Refuse(TxCode::kNotPermitted,
                  std::string(PayloadKindName(KindOf(tx.payload))) + " requires the admin role",
                  hash);
  }
  // The one lease failure the transaction alone predicts: refused before it costs a nonce.
  if (auto* a = std::get_if<LeaseAcquire>(&tx.payload);
      a && (a->ttl_blocks == 0 || a->ttl_blocks > kMaxLeaseTtl)) {
    return Refuse(TxCode::kBadTtl,
                  "ttl_blocks " + std::to_string(a->ttl_blocks) + " is not in [1, " +
                      std::to_string(kMaxLeaseTtl) + "]",
                  hash);
  }
  const uint64_t spend = SpendOf(tx);
  const uint64_t pending = sender ? sender->pending_spend : 0;
  if (SatAdd(pending, spend) > account->balance) {
    return Refuse(TxCode::kInsufficientBalance,
                  "balance " + std::to_string(account->balance) + " cannot cover " +
                      std::to_string(spend) + " plus " + std::to_string(pending) + " pending",
                  hash);
  }
  // Capacity before the signature too: under overload most refusals are these, and each
  // must cost a lookup, not a verification (congestion collapse, issue 13).
  if (sender && sender->by_nonce.size() >= limits_.max_per_sender) {
    return Refuse(TxCode::kSenderQueueFull,
                  "sender has " + std::to_string(limits_.max_per_sender) + " pending transactions",
                  hash);
  }
  if (Full(tx.EncodedSize()) && !(IsExecutable(tx, *account, sender) && NewestQueued(committed))) {
    return FullRefusal(hash);
  }
  return Admission{TxCode::kOk, "", hash};
}

bool Mempool::Full(size_t tx_bytes) const {
  return size() >= limits_.max_txs || bytes_ + tx_bytes > limits_.max_bytes;
}

Admission Mempool::FullRefusal(const crypto::Hash256& hash) const {
  return Refuse(TxCode::kMempoolFull,
                "mempool holds " + std::to_string(size()) + " transactions, " +
                    std::to_string(bytes_) + " bytes",
                hash);
}

bool Mempool::IsExecutable(const Transaction& tx, const Account& account,
                           const Sender* sender) const {
  // Executable when every nonce from the account's up to this one is pending.
  if (tx.nonce == account.nonce) return true;
  if (!sender) return false;
  for (uint64_t n = account.nonce; n < tx.nonce; ++n) {
    if (!sender->by_nonce.count(n)) return false;
  }
  return true;
}

Admission BadSignature(const crypto::Hash256& hash) {
  return Refuse(TxCode::kBadSignature, "signature does not verify for the sender's key", hash);
}

Admission Mempool::Add(Transaction tx, const crypto::Hash256& hash, const StateReader& committed,
                       uint64_t height, bool signature_checked) {
  std::optional<Account> account;
  if (Admission pre = Precheck(tx, hash, committed, &account); !pre.ok()) return pre;
  if (!signature_checked && !tx.VerifySignature()) return BadSignature(hash);
  Sender* sender = nullptr;
  if (auto it = senders_.find(tx.sender); it != senders_.end()) sender = &it->second;
  const uint64_t spend = SpendOf(tx);
  const size_t tx_bytes = tx.EncodedSize();
  const bool executable = IsExecutable(tx, *account, sender);
  while (Full(tx_bytes)) {
    Entry* victim = executable ? NewestQueued(committed) : nullptr;
    if (victim == nullptr) return FullRefusal(hash);
    Remove(victim);
  }

  auto entry = std::make_unique<Entry>();
  entry->hash = hash;
  entry->seq = next_seq_++;
  entry->admitted_height = height;
  entry->bytes = tx_bytes;
  entry->spend = spend;
  entry->tx = std::move(tx);
  Entry* e = entry.get();
  Sender& s = senders_[e->tx.sender];
  s.by_nonce[e->tx.nonce] = e;
  s.pending_spend = SatAdd(s.pending_spend, spend);
  e->older = newest_;
  (newest_ ? newest_->newer : oldest_) = e;
  newest_ = e;
  if (!executable) maybe_queued_.emplace(e->seq, e);
  bytes_ += tx_bytes;
  by_hash_.emplace(hash, std::move(entry));
  return Admission{TxCode::kOk, "", hash};
}

bool Mempool::IsQueued(const Entry& e, const StateReader& committed) const {
  auto account = committed.GetAccount(e.tx.sender);
  if (!account) return true;
  const Sender& s = senders_.at(e.tx.sender);
  for (uint64_t n = account->nonce; n < e.tx.nonce; ++n) {
    if (!s.by_nonce.count(n)) return true;
  }
  return false;
}

Mempool::Entry* Mempool::NewestQueued(const StateReader& committed) const {
  // Only entries that were behind a gap can be queued: scanning the whole pool (a state read
  // per entry, under the node's lock) for every newcomer to a full pool was itself a
  // collapse under overload. A candidate whose gap has filled since is executable now.
  for (auto it = maybe_queued_.rbegin(); it != maybe_queued_.rend(); ++it) {
    if (IsQueued(*it->second, committed)) return it->second;
  }
  return nullptr;
}

void Mempool::Remove(Entry* e) {
  auto sit = senders_.find(e->tx.sender);
  Sender& s = sit->second;
  s.by_nonce.erase(e->tx.nonce);
  if (s.pending_spend != UINT64_MAX) {
    s.pending_spend -= e->spend;
  } else {
    // A saturated sum cannot be taken apart: add up what is left.
    s.pending_spend = 0;
    for (const auto& [n, other] : s.by_nonce) {
      s.pending_spend = SatAdd(s.pending_spend, other->spend);
    }
  }
  if (s.by_nonce.empty()) senders_.erase(sit);
  (e->older ? e->older->newer : oldest_) = e->newer;
  (e->newer ? e->newer->older : newest_) = e->older;
  if (!maybe_queued_.empty()) maybe_queued_.erase({e->seq, e});
  bytes_ -= e->bytes;
  crypto::Hash256 hash = e->hash;
  by_hash_.erase(hash);  // destroys *e
}

std::vector<Transaction> Mempool::Select(size_t max_txs, const StateReader& committed) const {
  // Min-heap of (seq of the sender's next executable tx, that entry).
  using Item = std::pair<uint64_t, const Entry*>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  for (const auto& [addr, s] : senders_) {
    auto account = committed.GetAccount(addr);
    if (!account) continue;
    auto it = s.by_nonce.find(account->nonce);
    if (it != s.by_nonce.end()) heap.emplace(it->second->seq, it->second);
  }
  std::vector<Transaction> out;
  out.reserve(std::min(max_txs, size()));
  while (!heap.empty() && out.size() < max_txs) {
    const Entry* e = heap.top().second;
    heap.pop();
    out.push_back(e->tx);
    const Sender& s = senders_.at(e->tx.sender);
    auto next = s.by_nonce.find(e->tx.nonce + 1);
    if (next != s.by_nonce.end()) heap.emplace(next->second->seq, next->second);
  }
  return out;
}

void Mempool::OnCommitted(std::span<const Transaction> txs, std::span<const crypto::Hash256> hashes,
                          const StateReader& committed, uint64_t height) {
  std::set<Address> touched;
  for (size_t i = 0; i < txs.size(); ++i) {
    touched.insert(txs[i].sender);
    auto it = i < hashes.size() ? by_hash_.find(hashes[i]) : by_hash_.end();
    if (it != by_hash_.end()) Remove(it->second.get());
  }
  // A same-nonce transaction from another node may have been included instead of ours.
  for (const Address& a : touched) {
    auto sit = senders_.find(a);
    if (sit == senders_.end()) continue;
    auto account = committed.GetAccount(a);
    std::vector<Entry*> stale;
    for (const auto& [n, e] : sit->second.by_nonce) {
      if (!account || n < account->nonce) stale.push_back(e);
    }
    for (Entry* e : stale) Remove(e);
  }
  if (limits_.ttl_blocks > 0) {
    std::vector<Entry*> expired;
    // Admission order is also admitted_height order, so the expired ones form a prefix.
    for (Entry* e = oldest_; e != nullptr; e = e->newer) {
      if (height < e->admitted_height + limits_.ttl_blocks) break;
      expired.push_back(e);
    }
    std::set<Address> gapped;
    for (Entry* e : expired) {
      gapped.insert(e->tx.sender);
      Remove(e);
    }
    // An expired transaction may leave its sender's later ones behind a gap.
    for (const Address& a : gapped) {
      auto sit = senders_.find(a);
      if (sit == senders_.end()) continue;
      for (const auto& [n, e] : sit->second.by_nonce) maybe_queued_.emplace(e->seq, e);
    }
  }
}

}  // namespace cairn::ledger
