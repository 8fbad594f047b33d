// Client: one application's view of several Cairn nodes. A sender's transactions go to one
// node chosen by rendezvous hashing (client/ring.h), in nonce order; when that node fails the
// sender moves to the next node of its ranking, and every transaction of its that was accepted
// and not yet known committed is sent again there (docs/CLIENT.md has the guarantees). Reads
// go to the healthy node with the fewest requests in flight. A node that fails is probed with
// backoff (client/backoff.h) and rejoins when it answers.
// Thread-safety: thread-safe, with one contract: the transactions of one sender are handed
// to Submit / ResendMoved by one thread at a time (as their nonce order needs anyway).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "base/status.h"
#include "client/backoff.h"
#include "client/ring.h"
#include "crypto/sha256.h"
#include "ledger/transaction.h"
#include "rpc/client.h"

namespace cairn::client {

using Json = rpc::Json;

struct Options {
  // Each connection's bounds. A short connect timeout keeps a dead host from stalling a
  // sender for long before it fails over.
  rpc::ClientOptions rpc = {std::chrono::milliseconds(2'000), std::chrono::milliseconds(15'000),
                            64u << 20};
  BackoffOptions backoff;
  // A probe (getStatus) that takes longer fails.
  std::chrono::milliseconds probe_timeout{1'000};
  // Seeds the probes' jitter (each node's generator is this mixed with its URL).
  uint64_t seed = 1;
  // Null: the system clock. Probe times are read from it.
  const Clock* clock = nullptr;
  // Transactions per sendTransactions call (the node takes at most 10,000 and 5 MiB).
  size_t max_batch = 2'000;
  // When a sender has this many accepted transactions not known committed, Submit asks its
  // node for the sender's committed nonce and forgets those below it (bounds the memory).
  size_t confirm_every = 128;
  // Idle connections kept per node.
  size_t max_idle_connections = 64;
};

// One signed transaction as the client keeps it: the bytes it resends, and what routes it.
struct SignedTx {
  ledger::Address sender;
  uint64_t nonce = 0;
  crypto::Hash256 hash;
  std::string hex;  // the encoded transaction, as sendTransactions takes it

  static SignedTx Of(const ledger::Transaction& tx);
};

enum class Outcome : uint8_t {
  // A node holds it: admitted now, or a copy was already pending or committed (checked by
  // its hash with getTransaction). The client will resend it on failover until it is known
  // committed.
  kAccepted,
  // Back-pressure (mempool_full, sender_queue_full, or nonce_too_high behind such a refusal):
  // send the same bytes again after retry_after_ms.
  kRetryLater,
  // Refused for a reason resending does not fix (bad signature, wrong chain, balance, ...).
  kRejected,
  // Its nonce is taken by another transaction of the sender (committed, or pending): it will
  // never commit.
  kConflict,
  // No node could be reached (every node of the sender's ranking failed or is down).
  kUnavailable,
};

std::string_view OutcomeName(Outcome o);

struct TxResult {
  Outcome outcome = Outcome::kUnavailable;
  bool committed = false;  // kAccepted and already committed (a resend found it)
  int code = 0;            // the node's error code for a refusal (docs/RPC.md)
  std::string reason;      // its data.reason, or the transport failure
  int64_t retry_after_ms = 0;
  size_t node = SIZE_MAX;  // index in nodes() of the node that answered
};

struct NodeStats {
  std::string url;
  bool healthy = true;
  uint64_t outstanding = 0;  // requests in flight now
  uint64_t calls = 0;        // requests sent
  uint64_t failures = 0;     // times it was marked down
  uint32_t probe_attempt = 0;
  uint64_t next_probe_ms = 0;  // Clock::SteadyMs of its next probe, while down
  std::string last_error;
};

struct ClientStats {
  uint64_t failovers = 0;  // senders moved to another node (down or syncing)
  uint64_t resent = 0;     // accepted transactions sent again after a move
  uint64_t lost = 0;       // accepted, then found to be conflicts or refused on resend
  uint64_t probes = 0;
  uint64_t rejoined = 0;  // nodes that came back
};

class Client {
 public:
  // `urls`: one or more http:// URLs (a duplicate counts once). Connects to none yet.
  static Result<std::unique_ptr<Client>> Create(std::vector<std::string> urls, Options o = {});
  // "URL1,URL2,..." (spaces around commas allowed): the --rpc / CAIRN_RPC form.
  static Result<std::vector<std::string>> ParseUrlList(std::string_view list);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `txs`: each sender's in nonce order to the first healthy node of its ranking, one
  // sendTransactions call per node (chunks of max_batch); a sender whose previous node is no
  // longer its node first has its unconfirmed transactions resent there. A node that fails
  // (transport error, HTTP 5xx, busy -32002) is marked down and its senders go on to the next
  // node within this call; a node that answers 1067 syncing is skipped for that sender. One
  // result per input, in input order.
  // REQUIRES: no other thread submits for these senders meanwhile.
  std::vector<TxResult> Submit(std::span<const SignedTx> txs);
  // For each of `senders` whose unconfirmed transactions were last sent to a node that is no
  // longer its node (it went down, or came back): sends them to its node now. Returns how many
  // were sent. Submit does the same for the senders it handles; call this when a sender has
  // nothing new to send, so what a dead node held still reaches the chain.
  // REQUIRES: as Submit.
  size_t ResendMoved(std::span<const ledger::Address> senders);
  // The accepted transactions of `sender` not known committed yet. REQUIRES: as Submit.
  size_t Unconfirmed(const ledger::Address& sender) const;

  // A read (any method) on the healthy node with the fewest requests in flight; on a node
  // failure it is marked down and the next is tried. *node (when given) is the one that
  // answered, or tried last.
  rpc::CallResult Read(std::string_view method, const Json& params = nullptr,
                       size_t* node = nullptr);
  // As Read, on one given node (no failover); a failure marks it down.
  rpc::CallResult CallOn(size_t node, std::string_view method, const Json& params = nullptr);
  // The node Read would use now: healthy with the fewest requests in flight, ties taken in
  // turn; a down node only when all are down (the one probed soonest).
  size_t PickForRead();

  // Probes (getStatus) each down node whose backoff delay has passed; one that answers
  // rejoins. Submit and Read call it first; exposed for tests and idle callers.
  void ProbeDue();
  void MarkDown(size_t node, const std::string& why);

  // The node `sender`'s transactions go to now: the first healthy node of its ranking.
  size_t NodeFor(const ledger::Address& sender);
  const Ring& ring() const { return ring_; }
  const std::vector<std::string>& nodes() const { return ring_.nodes(); }
  std::vector<NodeStats> Stats() const;
  ClientStats Totals() const;

 private:
  struct Node;
  struct Sender;
  class Lease;
  struct Group;

  Client(Ring ring, Options o);

  Sender* SenderOf(const ledger::Address& a);
  const Sender* FindSender(const ledger::Address& a) const;
  // The first node of `rank` that is healthy and not in `skip`; SIZE_MAX when none.
  size_t FirstHealthy(const std::vector<size_t>& rank, const std::vector<size_t>& skip);
  bool Healthy(size_t node);
  // Sends each group's transactions to `node`; groups that must go elsewhere are returned.
  std::vector<Group*> SendTo(size_t node, std::vector<Group*> groups, std::span<const SignedTx> txs,
                             std::vector<TxResult>* results);
  void Prune(size_t node, Sender* s);
  void Count(uint64_t ClientStats::*field, uint64_t n = 1);

  const Ring ring_;
  const Options options_;
  const Clock* const clock_;

  mutable Mutex mu_;  // the nodes' health and connections; never held during a call
  std::vector<std::unique_ptr<Node>> nodes_ GUARDED_BY(mu_);
  uint64_t read_turn_ GUARDED_BY(mu_) = 0;
  ClientStats totals_ GUARDED_BY(mu_);

  mutable Mutex senders_mu_;  // the map only; a Sender's fields belong to its one caller
  struct AddressHasher {
    size_t operator()(const ledger::Address& a) const;
  };
  std::unordered_map<ledger::Address, std::unique_ptr<Sender>, AddressHasher> senders_
      GUARDED_BY(senders_mu_);
};

}  // namespace cairn::client
