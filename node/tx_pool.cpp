#include "node/tx_pool.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <unordered_map>

#include "ledger/executor.h"
#include "node/logging.h"
#include "node/wire.h"

namespace cairn::node {
namespace {

constexpr size_t kSeenCapacity = 200000;  // gossip dedup window, in tx hashes
constexpr size_t kGossipBatchTxs = 2000;  // per TxBatch message
constexpr size_t kMaxPendingOnConnect = 20000;

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
  std::optional<Bytes> GetSystem(std::string_view name) const override {
    return base_.GetSystem(name);
  }

 private:
  const ledger::StateReader& base_;
  std::map<ledger::Address, std::optional<ledger::Account>> accounts_;
};

void SendBatches(std::vector<Bytes> txs, const std::function<void(Bytes)>& send) {
  for (size_t i = 0; i < txs.size(); i += kGossipBatchTxs) {
    size_t end = std::min(txs.size(), i + kGossipBatchTxs);
    std::vector<Bytes> batch(std::make_move_iterator(txs.begin() + static_cast<long>(i)),
                             std::make_move_iterator(txs.begin() + static_cast<long>(end)));
    send(wire::EncodeTxs(batch));
  }
}

AdmissionControl::Options AdmissionOptions(const genesis::Genesis& genesis,
                                           const ledger::MempoolLimits& limits) {
  AdmissionControl::Options o;
  o.window_ms = limits.admission_window_ms;
  // Two full blocks may always wait, so an idle network can take a burst; never more than
  // the pool itself holds.
  o.floor_txs = std::min<size_t>(limits.max_txs, 2 * size_t{genesis.params.max_block_txs});
  return o;
}

}  // namespace

TxPool::TxPool(const genesis::Genesis& genesis, const ledger::ChainStore& store,
               const ledger::MempoolLimits& limits, const Clock& clock)
    : genesis_(genesis),
      store_(store),
      trust_validators_(genesis.consensus == genesis::ConsensusKind::kRaft),
      admission_(AdmissionOptions(genesis, limits), clock),
      mempool_(genesis.chain_id, limits) {}

std::vector<ledger::Admission> TxPool::Admit(std::vector<ledger::Transaction> txs, Source source) {
  std::vector<ledger::Admission> out = DoAdmit(std::move(txs), source);
  if (metrics_) metrics_->OnAdmitted(out, source == Source::kClient);
  return out;
}

std::vector<ledger::Admission> TxPool::DoAdmit(std::vector<ledger::Transaction> txs,
                                               Source source) {
  const size_t n = txs.size();
  // One encoding per transaction: its hash, the signature caches' key and the gossip payload.
  // first[i] is the first transaction of this call with i's hash: a copy gets the first one's
  // answer and costs nothing more (20,000 copies of one forged transaction are one check).
  std::vector<Bytes> encoded(n);
  std::vector<crypto::Hash256> hashes(n);
  std::vector<size_t> first(n);
  std::vector<size_t> unique;
  {
    std::unordered_map<crypto::Hash256, size_t, crypto::Hash256Hasher> index;
    index.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      encoded[i] = txs[i].Encode();
      hashes[i] = crypto::Sha256Of(encoded[i]);
      auto [it, inserted] = index.emplace(hashes[i], i);
      first[i] = it->second;
      if (inserted) unique.push_back(i);
    }
  }
  // Past the admission bound a client's call is refused before any account is read or
  // signature checked: under overload this is most calls, and refusing must cost far less
  // than admitting. The bound counts the backlog that can commit, not transactions waiting
  // behind a nonce gap (those would otherwise lock every client out, the gap's filler too).
  const bool client = source == Source::kClient;
  const size_t bound = client ? admission_.Bound() : SIZE_MAX;
  std::optional<ledger::Admission> refusal;  // one per call: its numbers are the same for all
  if (client && bound != SIZE_MAX) {
    MutexLock lock(&mu_);
    if (mempool_.backlog() >= bound) {
      refusal = BoundRefusal(mempool_.backlog());
      return RefuseAll(txs, hashes, first, *refusal);
    }
  }

  // The senders' committed accounts, read before taking mu_: LevelDB reads under the mempool
  // lock would hold up every other user of it for a whole batch. If a block commits in
  // between, the snapshot is stale and the mempool reads the store itself.
  const uint64_t snapshot_height = store_.head().height;
  AccountSnapshot snapshot(store_);
  for (size_t i : unique) snapshot.Load(txs[i].sender);
  auto state_at = [&](uint64_t height) -> const ledger::StateReader& {
    return height == snapshot_height ? static_cast<const ledger::StateReader&>(snapshot) : store_;
  };

  // Cheap checks first (size, chain id, duplicates, sender, nonce window, role, balance): a
  // transaction refused by one of them never reaches the signature check.
  std::vector<ledger::Admission> verdict(n);
  std::vector<size_t> passed;
  {
    MutexLock lock(&mu_);
    const ledger::StateReader& state = state_at(store_.head().height);
    // Every validator admits from its clients at once and learns of the others' admissions
    // only by gossip, so each takes its share of the room in one call: together they cannot
    // overshoot the bound N times over. Repeated calls still fill it from a single node.
    const size_t share =
        std::max<size_t>(1, validator_count_ ? validator_count_() : genesis_.validators.size());
    size_t room = SIZE_MAX;  // peers, or the bound off: only the mempool's own limits
    if (client && bound != SIZE_MAX) {
      const size_t left = bound > mempool_.backlog() ? bound - mempool_.backlog() : 0;
      room = left / share + (left % share != 0);
    }
    for (size_t i : unique) {
      verdict[i] = mempool_.Precheck(txs[i], hashes[i], state);
      if (!verdict[i].ok()) continue;
      if (room == 0) {
        if (!refusal) refusal = BoundRefusal(mempool_.backlog());
        verdict[i] = *refusal;
        verdict[i].hash = hashes[i];
        continue;
      }
      --room;
      passed.push_back(i);
    }
  }

  // Then signatures, outside the lock, on two threads, and only those neither cache knows.
  // Under Raft a validator peer verified what it relays. A signature is a function of the
  // hashed bytes, so a hash found bad once is bad for good: a repeat costs a lookup.
  std::vector<uint8_t> sig_ok(n, 1);
  if (source != Source::kValidatorPeer || !trust_validators_) {
    std::vector<size_t> unverified;
    for (size_t i : passed) {
      if (bad_sigs_.Contains(hashes[i])) {
        sig_ok[i] = 0;
      } else if (!sig_cache_.Contains(hashes[i])) {
        unverified.push_back(i);
      }
    }
    ledger::VerifyEach(txs, unverified, unverified.size() >= 64 ? 2 : 1, sig_ok);
    std::vector<crypto::Hash256> good, bad;
    for (size_t i : unverified) (sig_ok[i] ? good : bad).push_back(hashes[i]);
    sig_cache_.Insert(good);
    bad_sigs_.Insert(bad);
  }

  // Admit, re-checking against the pool as it is now (other calls ran meanwhile, and earlier
  // transactions of this call are now pending).
  {
    MutexLock lock(&mu_);
    const uint64_t height = store_.head().height;
    const ledger::StateReader& state = state_at(height);
    for (size_t i : passed) {
      if (sig_ok[i]) {
        verdict[i] = mempool_.Add(std::move(txs[i]), hashes[i], state, height,
                                  /*signature_checked=*/true);
      } else {
        // The error follows the documented order: a check before the signature may fail now.
        verdict[i] = mempool_.Precheck(txs[i], hashes[i], state);
        if (verdict[i].ok()) verdict[i] = ledger::BadSignature(hashes[i]);
      }
    }
  }

  std::vector<ledger::Admission> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (first[i] == i) {
      out[i] = verdict[i];
    } else if (verdict[first[i]].ok()) {
      out[i] =
          ledger::Admission{ledger::TxCode::kAlreadyKnown,
                            "already in the mempool (an earlier copy in this call)", hashes[i]};
    } else {
      out[i] = verdict[first[i]];
    }
  }
  if (client) {
    MarkSyncing(out);
    // The pool's own capacity refusals get the hint too.
    uint32_t retry_after_ms = 0;
    for (ledger::Admission& a : out) {
      if (a.code == ledger::TxCode::kMempoolFull && a.retry_after_ms == 0) {
        if (retry_after_ms == 0) retry_after_ms = admission_.RetryAfterMs(size());
        a.retry_after_ms = retry_after_ms;
      }
    }
  }

  // Relay only what was admitted. Validators keep a full mesh (consensus needs direct links),
  // and the validator that admitted a transaction first broadcasts it to every peer, so
  // relaying what a validator sent would only add N x (N-1) copies of each transaction.
  const bool relay = source != Source::kValidatorPeer;
  MutexLock lock(&gossip_mu_);
  for (size_t i : unique) {
    if (!out[i].ok()) continue;
    if (seen_.insert(out[i].hash).second) seen_order_.push_back(out[i].hash);
    if (relay) gossip_out_.push_back(std::move(encoded[i]));
  }
  TrimSeen();
  return out;
}

ledger::Admission TxPool::BoundRefusal(size_t backlog) const {
  const AdmissionControl::Snapshot s = admission_.Measure(backlog);
  ledger::Admission a;
  a.code = ledger::TxCode::kMempoolFull;
  a.retry_after_ms = s.retry_after_ms;
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.0f", s.commit_rate);
  a.detail = std::to_string(backlog) + " transactions can commit ahead of this one and the " +
             "network commits about " + rate + " per second: this node takes at most " +
             std::to_string(s.bound) + " from clients (its share per call); retry in " +
             std::to_string(a.retry_after_ms) + " ms";
  return a;
}

std::vector<ledger::Admission> TxPool::RefuseAll(const std::vector<ledger::Transaction>& txs,
                                                 const std::vector<crypto::Hash256>& hashes,
                                                 const std::vector<size_t>& first,
                                                 const ledger::Admission& refusal) const {
  // What costs only a comparison or a lookup is still answered truly, so a client never
  // resends for ever a transaction that could not be admitted anyway, or one already pending.
  std::vector<ledger::Admission> out(hashes.size());
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (first[i] != i) {
      out[i] = out[first[i]];
    } else if (txs[i].chain_id != genesis_.chain_id) {
      out[i] = ledger::Admission{
          ledger::TxCode::kWrongChain,
          "chain id \"" + txs[i].chain_id + "\" is not \"" + genesis_.chain_id + "\"", hashes[i]};
    } else if (mempool_.Contains(hashes[i])) {
      out[i] =
          ledger::Admission{ledger::TxCode::kAlreadyKnown, "already in the mempool", hashes[i]};
    } else {
      out[i] = refusal;
    }
    out[i].hash = hashes[i];
  }
  return out;
}

void TxPool::MarkSyncing(std::vector<ledger::Admission>& out) const {
  const uint64_t peer_height = best_peer_height_ ? best_peer_height_() : 0;
  const uint64_t head = store_.head().height;
  if (peer_height <= head) return;
  for (ledger::Admission& a : out) {
    if (!CanBeStale(a.code)) continue;
    a.detail = "this node is catching up (height " + std::to_string(head) + ", a peer is at " +
               std::to_string(peer_height) + ") and its state may be stale; it found " +
               std::string(ledger::TxCodeName(a.code)) + ": " + a.detail +
               ". Retry at an up-to-date node, or once getStatus shows this one caught up";
    a.code = ledger::TxCode::kSyncing;
  }
}

bool TxPool::CanBeStale(ledger::TxCode code) {
  // What a block this node has not applied yet can change: a registration, a role, a balance,
  // a nonce moving ahead. A nonce too low, a wrong chain or a bad signature stay so.
  switch (code) {
    case ledger::TxCode::kUnknownSender:
    case ledger::TxCode::kNonceTooHigh:
    case ledger::TxCode::kNotPermitted:
    case ledger::TxCode::kInsufficientBalance:
      return true;
    default:
      return false;
  }
}

void TxPool::OnGossip(Network& net, const p2p::NodeId& from, ByteView payload) {
  auto items = wire::DecodeTxs(payload);
  if (!items.ok()) {
    Log("p2p")->warn("peer {} sent a malformed tx batch: {}", crypto::ShortHex(from),
                     items.error());
    net.Disconnect(from, "malformed tx batch");
    return;
  }
  std::vector<ledger::Transaction> fresh;
  {
    // Only admitted transactions enter the seen-set (Admit adds them): one refused now (a
    // nonce gap, a full pool) may be admissible when a peer offers it again.
    MutexLock lock(&gossip_mu_);
    for (ByteView b : *items) {
      if (seen_.count(crypto::Sha256Of(b))) continue;
      auto tx = ledger::Transaction::Decode(b);
      if (!tx.ok()) {
        Log("p2p")->warn("peer {} gossiped a malformed tx: {}", crypto::ShortHex(from), tx.error());
        continue;
      }
      fresh.push_back(std::move(tx.value()));
    }
  }
  if (fresh.empty()) return;
  const bool validator = is_validator_ ? is_validator_(from) : genesis_.ValidatorIndex(from) >= 0;
  Admit(std::move(fresh), validator ? Source::kValidatorPeer : Source::kOtherPeer);
}

void TxPool::TrimSeen() {
  while (seen_order_.size() > kSeenCapacity) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
}

void TxPool::FlushGossip(Network& net) {
  std::vector<Bytes> out;
  {
    MutexLock lock(&gossip_mu_);
    out.swap(gossip_out_);
  }
  SendBatches(std::move(out), [&](Bytes b) { net.Broadcast(wire::kTxs, std::move(b)); });
}

void TxPool::SendPendingTo(Network& net, const p2p::NodeId& peer) {
  std::vector<ledger::Transaction> pending;
  {
    MutexLock lock(&mu_);
    pending = mempool_.Oldest(kMaxPendingOnConnect);
  }
  std::vector<Bytes> encoded;
  encoded.reserve(pending.size());
  for (const ledger::Transaction& tx : pending) encoded.push_back(tx.Encode());
  SendBatches(std::move(encoded), [&](Bytes b) { (void)net.Send(peer, wire::kTxs, std::move(b)); });
}

std::vector<ledger::Transaction> TxPool::Select(size_t max_txs,
                                                const ledger::StateReader& state) const {
  MutexLock lock(&mu_);
  return mempool_.Select(max_txs, state);
}

void TxPool::OnCommitted(std::span<const ledger::Transaction> txs,
                         std::span<const crypto::Hash256> hashes, uint64_t height,
                         uint64_t block_time_ms) {
  admission_.OnCommitted(txs.size(), block_time_ms);
  MutexLock lock(&mu_);
  mempool_.OnCommitted(txs, hashes, store_, height);
}

size_t TxPool::size() const {
  MutexLock lock(&mu_);
  return mempool_.size();
}

size_t TxPool::bytes() const {
  MutexLock lock(&mu_);
  return mempool_.bytes();
}

std::optional<ledger::Transaction> TxPool::Get(const crypto::Hash256& hash) const {
  MutexLock lock(&mu_);
  return mempool_.Get(hash);
}

void TxPool::GetEncoded(std::span<const crypto::Hash256> hashes, std::vector<Bytes>& out) const {
  std::vector<std::pair<size_t, ledger::Transaction>> found;
  {
    MutexLock lock(&mu_);
    for (size_t i = 0; i < hashes.size(); ++i) {
      if (!out[i].empty()) continue;
      if (std::optional<ledger::Transaction> tx = mempool_.Get(hashes[i])) {
        found.emplace_back(i, std::move(*tx));
      }
    }
  }
  for (auto& [i, tx] : found) out[i] = tx.Encode();
}

uint64_t TxPool::NextNonce(const ledger::Address& a, uint64_t committed_nonce) const {
  MutexLock lock(&mu_);
  return mempool_.NextNonce(a, committed_nonce);
}

}  // namespace cairn::node
