// Subscriptions: topic parsing, matching a block's events, resume. The event shapes are
// docs/RPC.md "Subscriptions"; every event is derived from the block and its receipts alone,
// so a live event and the same event replayed by a resume are byte for byte the same.
#include "api/subscriptions.h"

#include <algorithm>
#include <string>
#include <utility>

#include "api/json.h"
#include "crypto/sha256.h"

namespace cairn::api {
namespace {

using rpc::Json;
using rpc::RpcError;

// docs/RPC.md "Application error codes".
constexpr int kResumeTooFar = 1101;

std::shared_ptr<const std::string> Text(const Json& j) {
  return std::make_shared<const std::string>(
      j.dump(-1, ' ', false, Json::error_handler_t::replace));
}

// Which accounts a transaction changed: its sender always (the nonce, even when it failed),
// and, when it succeeded, the account a transfer credited, a register created or a set_role
// changed.
std::vector<ledger::Address> Touched(const ledger::Transaction& tx, ledger::TxCode code) {
  std::vector<ledger::Address> out{tx.sender};
  if (code != ledger::TxCode::kOk) return out;
  if (auto* t = std::get_if<ledger::Transfer>(&tx.payload)) out.push_back(t->to);
  if (auto* r = std::get_if<ledger::RegisterAccount>(&tx.payload)) out.push_back(r->public_key);
  if (auto* s = std::get_if<ledger::SetRole>(&tx.payload)) out.push_back(s->account);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

template <typename T>
std::optional<T> ParseHexParam(const Json* v) {
  if (v == nullptr || !v->is_string()) return std::nullopt;
  auto parsed = T::FromHex(v->get<std::string>());
  if (!parsed) return std::nullopt;
  return T(*parsed);
}

}  // namespace

// One block's events, built lazily and each serialised once: every subscriber of the same event
// shares its text (keyed by tx index, and by address for account events), so the memory a
// block's events take is bounded by the block, not by the number of subscribers. A node with
// no subscriber of a topic pays nothing for it on its commit path. Not thread-safe: one
// OnCommitted or one resume step owns it.
class SubscriptionHub::BlockEvents {
 public:
  BlockEvents(const ledger::Block& block, const crypto::Hash256& hash,
              const std::vector<crypto::Hash256>& tx_hashes,
              const std::vector<ledger::Receipt>& receipts)
      : block_(block), hash_(hash), tx_hashes_(tx_hashes), receipts_(receipts) {}

  uint64_t height() const { return block_.header.height; }

  std::shared_ptr<const std::string> NewBlock() {
    if (!new_block_) new_block_ = Text(HeaderToJson(block_.header, hash_));
    return new_block_;
  }

  std::shared_ptr<const std::string> Tx(const crypto::Hash256& tx) {
    auto index = IndexOf(tx);
    if (!index) return nullptr;
    auto& cached = tx_events_[*index];
    if (!cached) {
      Json j = Base(*index);
      j["hash"] = tx.ToHex();
      cached = Text(j);
    }
    return cached;
  }

  // Whether `tx` is in this block (a tx subscription fires).
  bool HasTx(const crypto::Hash256& tx) { return IndexOf(tx).has_value(); }
  // Whether this block changed account `a` / put a record in namespace `ns`: cheap lookups,
  // so only subscriptions with an event are copied out of the hub's lock.
  bool Touches(const ledger::Address& a) {
    BuildIndexes();
    return touched_.count(a) > 0;
  }
  bool PutsIn(const ledger::Address& ns) {
    BuildIndexes();
    return puts_.count(ns) > 0;
  }

  void Account(const ledger::Address& a, std::vector<std::shared_ptr<const std::string>>* out) {
    BuildIndexes();
    auto it = touched_.find(a);
    if (it == touched_.end()) return;
    for (uint32_t i : it->second) {
      auto& cached = account_events_[{a, i}];
      if (!cached) {
        Json j = Base(i);
        j["address"] = a.ToHex();
        j["tx"] = tx_hashes_[i].ToHex();
        j["kind"] = std::string(ledger::PayloadKindName(ledger::KindOf(block_.txs[i].payload)));
        cached = Text(j);
      }
      out->push_back(cached);
    }
  }

  void Records(const ledger::Address& ns, ByteView prefix,
               std::vector<std::shared_ptr<const std::string>>* out) {
    BuildIndexes();
    auto it = puts_.find(ns);
    if (it == puts_.end()) return;
    for (uint32_t i : it->second) {
      const auto& put = std::get<ledger::Put>(block_.txs[i].payload);
      if (put.key.size() < prefix.size() ||
          !std::equal(prefix.begin(), prefix.end(), put.key.begin())) {
        continue;
      }
      // Only the prefix filter is per subscriber; the event is the put's, whoever asks.
      auto& cached = record_events_[i];
      if (!cached) {
        Json j = Base(i);
        j["namespace"] = ns.ToHex();
        j["key"] = crypto::ToHex(put.key);
        j["value"] = crypto::ToHex(put.value);
        j["tx"] = tx_hashes_[i].ToHex();
        cached = Text(j);
      }
      out->push_back(cached);
    }
  }

 private:
  Json Base(uint32_t i) const {
    Json j = {{"height", block_.header.height}, {"block_hash", hash_.ToHex()}, {"index", i}};
    if (i < receipts_.size()) j["receipt"] = ReceiptToJson(receipts_[i]);
    return j;
  }

  ledger::TxCode CodeOf(uint32_t i) const {
    return i < receipts_.size() ? receipts_[i].code : ledger::TxCode::kOk;
  }

  std::optional<uint32_t> IndexOf(const crypto::Hash256& tx) {
    if (!by_hash_) {
      by_hash_.emplace();
      for (uint32_t i = 0; i < tx_hashes_.size(); ++i) by_hash_->emplace(tx_hashes_[i], i);
    }
    auto it = by_hash_->find(tx);
    if (it == by_hash_->end()) return std::nullopt;
    return it->second;
  }

  void BuildIndexes() {
    if (indexed_) return;
    indexed_ = true;
    const uint32_t n = static_cast<uint32_t>(std::min(block_.txs.size(), tx_hashes_.size()));
    for (uint32_t i = 0; i < n; ++i) {
      const ledger::Transaction& tx = block_.txs[i];
      for (const auto& a : Touched(tx, CodeOf(i))) touched_[a].push_back(i);
      if (CodeOf(i) == ledger::TxCode::kOk && std::holds_alternative<ledger::Put>(tx.payload)) {
        puts_[tx.sender].push_back(i);
      }
    }
  }

  const ledger::Block& block_;
  const crypto::Hash256& hash_;
  const std::vector<crypto::Hash256>& tx_hashes_;
  const std::vector<ledger::Receipt>& receipts_;
  std::shared_ptr<const std::string> new_block_;
  std::optional<std::map<crypto::Hash256, uint32_t>> by_hash_;
  bool indexed_ = false;
  std::map<ledger::Address, std::vector<uint32_t>> touched_;
  std::map<ledger::Address, std::vector<uint32_t>> puts_;
  std::map<uint32_t, std::shared_ptr<const std::string>> tx_events_;
  std::map<std::pair<ledger::Address, uint32_t>, std::shared_ptr<const std::string>>
      account_events_;
  std::map<uint32_t, std::shared_ptr<const std::string>> record_events_;
};

SubscriptionHub::SubscriptionHub(const NodeApi& node, uint64_t committed_height,
                                 SubscriptionLimits limits)
    : node_(node), limits_(limits), last_height_(committed_height) {}

size_t SubscriptionHub::size() const {
  MutexLock lock(&mu_);
  return subs_.size();
}

std::vector<std::shared_ptr<const std::string>> SubscriptionHub::Collect(const Sub& sub,
                                                                         BlockEvents& events) {
  std::vector<std::shared_ptr<const std::string>> results;
  switch (sub.topic) {
    case Topic::kNewBlocks:
      results.push_back(events.NewBlock());
      break;
    case Topic::kTx:
      if (auto r = events.Tx(sub.tx)) results.push_back(std::move(r));
      break;
    case Topic::kAccount:
      events.Account(sub.address, &results);
      break;
    case Topic::kRecords:
      events.Records(sub.address, sub.prefix, &results);
      break;
  }
  return results;
}

void SubscriptionHub::OnCommitted(const ledger::Block& block, const crypto::Hash256& hash,
                                  const std::vector<crypto::Hash256>& tx_hashes,
                                  const std::vector<ledger::Receipt>& receipts) {
  // Under the lock only the bookkeeping: which live subscriptions this block has events for
  // (copied, so the lock is not held while events are serialised) and which tx subscriptions fire
  // (erased here: whoever erases one delivers its event).
  std::vector<Sub> live;
  BlockEvents events(block, hash, tx_hashes, receipts);
  {
    MutexLock lock(&mu_);
    last_height_ = block.header.height;
    if (subs_.empty()) return;
    live.reserve(subs_.size());
    for (auto it = subs_.begin(); it != subs_.end();) {
      Sub& sub = it->second;
      if (!sub.live) {
        ++it;
        continue;
      }
      if (sub.topic == Topic::kTx) {
        if (!events.HasTx(sub.tx)) {
          ++it;
          continue;
        }
        live.push_back(sub);
        EraseLocked(it++);
        continue;
      }
      if ((sub.topic == Topic::kAccount && !events.Touches(sub.address)) ||
          (sub.topic == Topic::kRecords && !events.PutsIn(sub.address))) {
        ++it;
        continue;
      }
      live.push_back(sub);
      ++it;
    }
  }
  // Outside the lock, in subscription order, each event handed to its channel as it is built:
  // nothing is accumulated per subscriber, so a block's memory is its shared event texts plus
  // what the channels' own queues (bounded by ws_queue_messages / ws_queue_bytes) accept. A
  // channel that cannot take an event closed itself (a slow consumer); its other
  // subscriptions are skipped and dropped here, not left holding the connection.
  std::vector<const rpc::PushChannel*> refused;
  for (const Sub& sub : live) {
    const rpc::PushChannel* ch = sub.channel.get();
    if (std::find(refused.begin(), refused.end(), ch) != refused.end()) continue;
    for (auto& r : Collect(sub, events)) {
      if (!sub.channel->Notify(sub.id, std::move(r))) {
        refused.push_back(ch);
        break;
      }
    }
  }
  for (const rpc::PushChannel* ch : refused) Disconnected(*ch);
}

void SubscriptionHub::EraseLocked(std::map<uint64_t, Sub>::iterator it) {
  auto pc = per_channel_.find(it->second.channel.get());
  if (pc != per_channel_.end() && --pc->second == 0) per_channel_.erase(pc);
  subs_.erase(it);
}

std::optional<RpcError> SubscriptionHub::Subscribe(const Json& params,
                                                   const std::shared_ptr<rpc::PushChannel>& channel,
                                                   const std::function<void(uint64_t id)>& accept) {
  // Positional: ["topic", {options}]; named: {"topic": ..., options...}.
  const Json* topic_param = rpc::FindParam(params, 0, "topic");
  const Json* options = params.is_object() ? &params : rpc::FindParam(params, 1, "options");
  if (topic_param == nullptr || !topic_param->is_string()) {
    return rpc::InvalidParams(
        "params[0]: expected a topic: \"newBlocks\", \"tx\", \"account\" or \"records\"");
  }
  if (options != nullptr && !options->is_object()) {
    return rpc::InvalidParams("params[1]: expected an object of options");
  }
  auto option = [options](const char* name) -> const Json* {
    if (options == nullptr) return nullptr;
    auto it = options->find(name);
    return it == options->end() ? nullptr : &*it;
  };
  Sub sub;
  sub.channel = channel;
  const std::string topic = topic_param->get<std::string>();
  if (topic == "newBlocks") {
    sub.topic = Topic::kNewBlocks;
  } else if (topic == "tx") {
    sub.topic = Topic::kTx;
    auto h = ParseHexParam<crypto::Hash256>(option("hash"));
    if (!h) return rpc::InvalidParams("hash: expected a 64-digit hex transaction hash");
    sub.tx = *h;
  } else if (topic == "account") {
    sub.topic = Topic::kAccount;
    auto a = ParseHexParam<ledger::Address>(option("address"));
    if (!a) return rpc::InvalidParams("address: expected a 64-digit hex account address");
    sub.address = *a;
  } else if (topic == "records") {
    sub.topic = Topic::kRecords;
    auto a = ParseHexParam<ledger::Address>(option("namespace"));
    if (!a) return rpc::InvalidParams("namespace: expected a 64-digit hex account address");
    sub.address = *a;
    if (const Json* p = option("prefix"); p != nullptr) {
      auto bytes = p->is_string() ? crypto::FromHex(p->get<std::string>()) : std::nullopt;
      if (!bytes || bytes->size() > ledger::kMaxRecordKey) {
        return rpc::InvalidParams("prefix: expected hex of at most " +
                                  std::to_string(ledger::kMaxRecordKey) + " bytes");
      }
      sub.prefix = std::move(*bytes);
    }
  } else {
    return rpc::InvalidParams("params[0]: unknown topic \"" + topic.substr(0, 32) +
                              "\"; expected newBlocks, tx, account or records");
  }
  std::optional<uint64_t> from;
  if (const Json* f = option("from_height"); f != nullptr) {
    if (sub.topic == Topic::kTx) {
      return rpc::InvalidParams("from_height: not for topic tx (it fires at once when committed)");
    }
    if (!f->is_number_integer() || f->get<int64_t>() < 0) {
      return rpc::InvalidParams("from_height: expected a height");
    }
    from = f->get<uint64_t>();
  }

  uint64_t id = 0;
  {
    MutexLock lock(&mu_);
    // The connection closed while this waited for a heavy thread: its Disconnected may have
    // run already (the transport clears open() before calling it), so registering now would
    // hold the connection, and its connection slots, forever.
    if (!channel->open()) {
      return rpc::StandardError(rpc::kResourceUnavailable, "the connection is closing");
    }
    if (from) {
      // Heights up to last_height_ come from the store; the next from OnCommitted.
      if (*from > last_height_ + 1) {
        return rpc::InvalidParams("from_height: " + std::to_string(*from) +
                                  " is above the next block, " + std::to_string(last_height_ + 1));
      }
      if (last_height_ + 1 - *from > limits_.max_resume_blocks) {
        // Not 1100 not_found: the blocks exist, this node only will not replay that many.
        return rpc::AppError(kResumeTooFar, "resume too far",
                             Json{{"reason", "resume_too_far"},
                                  {"detail", "from_height " + std::to_string(*from) +
                                                 " is more than max_resume_blocks below the "
                                                 "next block; read older blocks with getBlocks"},
                                  {"max_resume_blocks", limits_.max_resume_blocks},
                                  {"oldest", last_height_ + 1 - limits_.max_resume_blocks}});
      }
    }
    if (from) {
      const rpc::PushChannel* ch = channel.get();
      if (std::find(resuming_.begin(), resuming_.end(), ch) != resuming_.end()) {
        return rpc::StandardError(rpc::kLimitExceeded,
                                  "this connection has a resume running; one at a time");
      }
      if (resuming_.size() >= limits_.max_concurrent_resumes) {
        return rpc::StandardError(rpc::kLimitExceeded,
                                  "the node runs max_concurrent_resumes " +
                                      std::to_string(limits_.max_concurrent_resumes) +
                                      " resumes at once; retry later");
      }
    }
    if (subs_.size() >= limits_.max_total) {
      return rpc::StandardError(
          rpc::kLimitExceeded,
          "the node holds max_total " + std::to_string(limits_.max_total) + " subscriptions");
    }
    size_t& mine = per_channel_[channel.get()];
    if (mine >= limits_.max_per_connection) {
      if (mine == 0) per_channel_.erase(channel.get());
      return rpc::StandardError(rpc::kLimitExceeded,
                                "this connection holds max_per_connection " +
                                    std::to_string(limits_.max_per_connection) + " subscriptions");
    }
    ++mine;
    id = next_id_++;
    sub.id = id;
    // Without a resume the subscription is live at once; with one, OnCommitted leaves it to
    // Resume until Resume has read the store up to last_height_.
    sub.live = !from;
    subs_.emplace(id, sub);
    if (from) resuming_.push_back(channel.get());
    // Under the lock: the answer is queued before any event for `id` can be.
    accept(id);
  }
  if (from) {
    // Released however Resume ends (a throw included), or resumes would stay refused.
    struct Done {
      SubscriptionHub* hub;
      const rpc::PushChannel* ch;
      ~Done() {
        MutexLock lock(&hub->mu_);
        auto& r = hub->resuming_;
        r.erase(std::find(r.begin(), r.end(), ch));
      }
    } done{this, channel.get()};
    Resume(id, *from);
  }
  if (sub.topic == Topic::kTx) {
    // Committed before the subscription was registered: deliver it now, unless OnCommitted
    // already did (whoever erases the subscription delivers).
    auto found = node_.GetTransaction(sub.tx);
    if (found.ok() && found->status == TxLookup::Status::kCommitted && found->receipt) {
      Json j = {{"height", found->height},
                {"block_hash", found->block_hash.ToHex()},
                {"index", found->index},
                {"receipt", ReceiptToJson(*found->receipt)},
                {"hash", sub.tx.ToHex()}};
      bool mine = false;
      {
        MutexLock lock(&mu_);
        auto it = subs_.find(id);
        if (it != subs_.end()) {
          EraseLocked(it);
          mine = true;
        }
      }
      if (mine && !channel->Notify(id, Text(j))) Disconnected(*channel);
    }
  }
  return std::nullopt;
}

void SubscriptionHub::Resume(uint64_t id, uint64_t from) {
  uint64_t next = from;
  std::shared_ptr<rpc::PushChannel> channel;
  Sub sub;
  for (;;) {
    uint64_t through = 0;
    {
      MutexLock lock(&mu_);
      auto it = subs_.find(id);
      if (it == subs_.end()) return;  // unsubscribed or disconnected meanwhile
      if (next > last_height_) {
        // Caught up: every block up to last_height_ was pushed, and OnCommitted pushes the
        // next ones, after this.
        it->second.live = true;
        return;
      }
      through = last_height_;
      sub = it->second;
    }
    for (; next <= through; ++next) {
      if (!sub.channel->open()) {
        Disconnected(*sub.channel);
        return;
      }
      std::vector<std::shared_ptr<const std::string>> results;
      if (sub.topic == Topic::kNewBlocks) {
        auto header = node_.GetHeader(next);
        if (!header.ok() || !header->has_value()) break;
        ledger::Block shell;
        shell.header = **header;
        const std::vector<crypto::Hash256> none;
        const std::vector<ledger::Receipt> no_receipts;
        const crypto::Hash256 hash = shell.header.Hash();
        BlockEvents events(shell, hash, none, no_receipts);
        results = Collect(sub, events);
      } else {
        auto block = node_.GetBlock(next);
        auto receipts = node_.GetReceipts(next);
        if (!block.ok() || !block->has_value() || !receipts.ok() || !receipts->has_value()) break;
        std::vector<crypto::Hash256> hashes;
        hashes.reserve((*block)->txs.size());
        for (const auto& tx : (*block)->txs) hashes.push_back(tx.Hash());
        const crypto::Hash256 hash = (*block)->Hash();
        BlockEvents events(**block, hash, hashes, **receipts);
        results = Collect(sub, events);
      }
      for (auto& r : results) {
        if (!sub.channel->Notify(id, std::move(r))) {
          Disconnected(*sub.channel);
          return;
        }
      }
    }
    if (next <= through) {
      // The store failed under us (the node halts on such errors): the subscription ends
      // with a last event that says so, rather than with a silent gap.
      {
        MutexLock lock(&mu_);
        if (auto it = subs_.find(id); it != subs_.end()) EraseLocked(it);
      }
      sub.channel->Notify(
          id, Text(Json{{"error", "resume: could not read block " + std::to_string(next)},
                        {"ended", true}}));
      return;
    }
  }
}

bool SubscriptionHub::Unsubscribe(uint64_t id, const rpc::PushChannel& channel) {
  MutexLock lock(&mu_);
  auto it = subs_.find(id);
  if (it == subs_.end() || it->second.channel.get() != &channel) return false;
  EraseLocked(it);
  return true;
}

void SubscriptionHub::Clear() {
  std::map<uint64_t, Sub> release;
  {
    MutexLock lock(&mu_);
    release.swap(subs_);
    per_channel_.clear();
  }
  // Outside the lock: dropping the last reference to a channel runs its destructor.
}

void SubscriptionHub::Disconnected(const rpc::PushChannel& channel) {
  std::vector<std::shared_ptr<rpc::PushChannel>> release;
  {
    MutexLock lock(&mu_);
    for (auto it = subs_.begin(); it != subs_.end();) {
      if (it->second.channel.get() == &channel) {
        release.push_back(std::move(it->second.channel));
        it = subs_.erase(it);
      } else {
        ++it;
      }
    }
    per_channel_.erase(&channel);
  }
  // `release` drops the last references outside the lock: a channel's destructor may run.
}

}  // namespace cairn::api
