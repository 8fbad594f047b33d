// SubscriptionHub: the node's WebSocket subscriptions (docs/RPC.md "Subscriptions"). Each
// committed block is matched against the topics (newBlocks, tx, account, records) and its
// events pushed to the subscribers' PushChannels, in height order; `from_height` replays
// committed blocks through NodeApi first, then hands over to live events with no gap and no
// duplicate.
// Thread-safety: OnCommitted from the one committing thread; everything else from any thread.
// mu_ guards the subscriptions and is held only for matching and bookkeeping; events are
// serialised outside it, once per block, and shared. The committing thread never waits for a
// client (PushChannel never blocks) nor for the store. A subscription whose channel refuses an
// event (closed, or a slow consumer) is dropped at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/node_api.h"
#include "base/mutex.h"
#include "rpc/subscription.h"

namespace cairn::api {

struct SubscriptionLimits {
  // Subscriptions one connection may hold; more is refused (-32005).
  size_t max_per_connection = 64;
  // Subscriptions the node holds in all.
  size_t max_total = 100'000;
  // How far back `from_height` may reach below the head: a resume reads this many blocks from
  // the store at most, on an RPC heavy thread.
  uint64_t max_resume_blocks = 1000;
  // Resumes running at once in the node (one per connection at most): a resume of a quiet
  // address reads up to max_resume_blocks blocks and sends nothing, so without a cap a few
  // clients looping subscribe/unsubscribe could hold every heavy RPC thread. Past it -32005.
  size_t max_concurrent_resumes = 1;
};

class SubscriptionHub final : public rpc::SubscriptionService {
 public:
  // REQUIRES: `node` outlives the hub; `committed_height` is the store's head when the hub is
  // created, before any OnCommitted.
  SubscriptionHub(const NodeApi& node, uint64_t committed_height, SubscriptionLimits limits = {});

  // The block at the next height is durable in the store (so a resume that reads the store
  // will see it). Committing thread only, in height order; never blocks on a client.
  void OnCommitted(const ledger::Block& block, const crypto::Hash256& hash,
                   const std::vector<crypto::Hash256>& tx_hashes,
                   const std::vector<ledger::Receipt>& receipts) EXCLUDES(mu_);

  // rpc::SubscriptionService.
  std::optional<rpc::RpcError> Subscribe(const rpc::Json& params,
                                         const std::shared_ptr<rpc::PushChannel>& channel,
                                         const std::function<void(uint64_t id)>& accept) override
      EXCLUDES(mu_);
  bool Unsubscribe(uint64_t id, const rpc::PushChannel& channel) override EXCLUDES(mu_);
  void Disconnected(const rpc::PushChannel& channel) override EXCLUDES(mu_);

  size_t size() const EXCLUDES(mu_);

  // Drops every subscription and with it every reference to a connection. The node calls it
  // after the RPC server stopped and before the server is destroyed: a connection's destructor
  // returns its slots to the server, which must still exist.
  void Clear() EXCLUDES(mu_);

  enum class Topic { kNewBlocks, kTx, kAccount, kRecords };

 private:
  struct Sub {
    uint64_t id = 0;
    Topic topic = Topic::kNewBlocks;
    std::shared_ptr<rpc::PushChannel> channel;
    ledger::Address address;  // kAccount; the namespace for kRecords
    Bytes prefix;             // kRecords
    crypto::Hash256 tx;       // kTx
    // Receives OnCommitted's events. False while a resume is still reading the store.
    bool live = false;
  };
  class BlockEvents;

  // The events of one block for `sub`, in order; texts shared with every other subscriber.
  static std::vector<std::shared_ptr<const std::string>> Collect(const Sub& sub,
                                                                 BlockEvents& events);
  // Replays [from, ...) for subscription `id` until it is caught up with OnCommitted, then
  // makes it live. A store error ends the subscription with an {"error","ended"} event.
  void Resume(uint64_t id, uint64_t from) EXCLUDES(mu_);
  void EraseLocked(std::map<uint64_t, Sub>::iterator it) REQUIRES(mu_);

  const NodeApi& node_;
  const SubscriptionLimits limits_;

  mutable Mutex mu_;
  std::map<uint64_t, Sub> subs_ GUARDED_BY(mu_);
  std::map<const rpc::PushChannel*, size_t> per_channel_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  // The connections with a resume running (their count is the node's resumes running).
  std::vector<const rpc::PushChannel*> resuming_ GUARDED_BY(mu_);
  // The height of the last block OnCommitted saw: a resume reads the store up to here.
  uint64_t last_height_ GUARDED_BY(mu_);
};

}  // namespace cairn::api
