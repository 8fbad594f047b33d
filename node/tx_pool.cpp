#include "node/tx_pool.h"

#include <algorithm>
#include <map>

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

}  // namespace

TxPool::TxPool(const genesis::Genesis& genesis, const ledger::ChainStore& store,
               const ledger::MempoolLimits& limits)
    : genesis_(genesis),
      store_(store),
      trust_validators_(genesis.consensus == genesis::ConsensusKind::kRaft),
      mempool_(genesis.chain_id, limits) {}

std::vector<ledger::Admission> TxPool::Admit(std::vector<ledger::Transaction> txs, Source source) {
  // One encoding per transaction: its hash, the signature cache key and the gossip payload.
  std::vector<Bytes> encoded(txs.size());
  std::vector<crypto::Hash256> hashes(txs.size());
  for (size_t i = 0; i < txs.size(); ++i) {
    encoded[i] = txs[i].Encode();
    hashes[i] = crypto::Sha256Of(encoded[i]);
  }
  // Signatures are the expensive check: verify outside the lock, on two threads, and only
  // those this node has not verified yet. Under Raft a validator peer verified what it relays.
  std::vector<uint8_t> sig_ok(txs.size(), 1);
  if (source != Source::kValidatorPeer || !trust_validators_) {
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
  const bool relay = source != Source::kValidatorPeer;
  // The senders' committed accounts, read before taking mu_: LevelDB reads under the mempool
  // lock would hold up every other user of it for a whole batch. If a block commits in
  // between, the snapshot is stale and Add reads the store itself.
  const uint64_t snapshot_height = store_.head().height;
  AccountSnapshot snapshot(store_);
  for (const ledger::Transaction& tx : txs) snapshot.Load(tx.sender);
  std::vector<ledger::Admission> out;
  out.reserve(txs.size());
  {
    MutexLock lock(&mu_);
    uint64_t height = store_.head().height;
    const ledger::StateReader& state =
        height == snapshot_height ? static_cast<const ledger::StateReader&>(snapshot) : store_;
    for (size_t i = 0; i < txs.size(); ++i) {
      // A bad signature is re-checked by Add, so its error follows the documented order.
      out.push_back(mempool_.Add(std::move(txs[i]), hashes[i], state, height, sig_ok[i] != 0));
    }
  }
  // Relay only what was admitted. Validators keep a full mesh (consensus needs direct links),
  // and the validator that admitted a transaction first broadcasts it to every peer, so
  // relaying what a validator sent would only add N x (N-1) copies of each transaction.
  MutexLock lock(&gossip_mu_);
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].ok()) continue;
    if (seen_.insert(out[i].hash).second) seen_order_.push_back(out[i].hash);
    if (relay) gossip_out_.push_back(std::move(encoded[i]));
  }
  TrimSeen();
  return out;
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
  Admit(std::move(fresh),
        genesis_.ValidatorIndex(from) >= 0 ? Source::kValidatorPeer : Source::kOtherPeer);
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
                         std::span<const crypto::Hash256> hashes, uint64_t height) {
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

uint64_t TxPool::NextNonce(const ledger::Address& a, uint64_t committed_nonce) const {
  MutexLock lock(&mu_);
  return mempool_.NextNonce(a, committed_nonce);
}

}  // namespace cairn::node
