// How Submit works (docs/CLIENT.md "Sending"): transactions are grouped by sender; each round
// routes every unfinished group to the first healthy node of its ranking that has not failed
// it in this call, and sends each node its groups in one sendTransactions call per chunk. A
// group whose node fails goes into the next round; there are at most as many rounds as nodes.
// Locks: mu_ (nodes) and senders_mu_ (the sender map) never nest and are never held during
// a call to a node.
#include "client/client.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "crypto/hex.h"

namespace cairn::client {
namespace {

constexpr int kNonceTooLow = 1036;
constexpr int kNonceTooHigh = 1037;
constexpr int kMempoolFull = 1064;
constexpr int kAlreadyKnown = 1065;
constexpr int kSenderQueueFull = 1066;
constexpr int kSyncing = 1067;
// JSON-RPC batches the node takes (its dispatcher's max_batch_size is 1000).
constexpr size_t kCheckBatch = 500;

// Whether the answer says the node itself is unusable now, rather than refusing the request:
// it could not be reached, answered garbage or HTTP 5xx without JSON-RPC, is busy or shutting
// down (-32002), or its handler failed (-32603).
bool NodeFailure(const rpc::CallResult& r) {
  if (r.is_transport_error()) return true;
  if (r.is_rpc_error()) {
    const int code = r.rpc_error().code;
    return code == rpc::kResourceUnavailable || code == rpc::kInternalError;
  }
  return false;
}

// A node that answers but is catching up (a restart, a partition healed) holds stale state:
// it would refuse a moved sender's nonces as too high. It rejoins once its head is within
// kMaxLagBlocks of what its engine knows is committed (the lag /ready allows by default).
// Observers report commit_height 0: for them answering is enough.
constexpr uint64_t kMaxLagBlocks = 2;

std::string CatchingUp(const Json& status) {
  if (!status.is_object()) return "";
  const uint64_t height = status.value("height", uint64_t{0});
  const uint64_t committed = status.value("commit_height", uint64_t{0});
  if (committed <= height + kMaxLagBlocks) return "";
  return "catching up: head " + std::to_string(height) + ", committed " + std::to_string(committed);
}

uint64_t MixSeed(uint64_t seed, const std::string& url) {
  const crypto::Hash256 h = crypto::Sha256Of(AsBytes(url));
  uint64_t v = 0;
  std::memcpy(&v, h.data(), sizeof v);
  return seed ^ v;
}

}  // namespace

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAccepted:
      return "accepted";
    case Outcome::kRetryLater:
      return "retry_later";
    case Outcome::kRejected:
      return "rejected";
    case Outcome::kConflict:
      return "conflict";
    case Outcome::kUnavailable:
      return "unavailable";
  }
  return "?";
}

SignedTx SignedTx::Of(const ledger::Transaction& tx) {
  SignedTx s;
  s.sender = tx.sender;
  s.nonce = tx.nonce;
  const Bytes enc = tx.Encode();
  s.hash = crypto::Sha256Of(enc);
  s.hex = crypto::ToHex(enc);
  return s;
}

struct Client::Node {
  Node(BackoffOptions b, uint64_t seed) : backoff(b, seed) {}
  bool healthy = true;
  bool probing = false;
  uint64_t next_probe_ms = 0;
  Backoff backoff;
  uint64_t outstanding = 0;
  uint64_t calls = 0;
  uint64_t failures = 0;
  std::string last_error;
  std::vector<std::unique_ptr<rpc::Client>> idle;
};

// Owned by the one thread that submits for the sender (the class contract), so unguarded.
struct Client::Sender {
  std::vector<size_t> rank;
  // The node the unconfirmed transactions were all last accepted by; SIZE_MAX: none yet.
  size_t home = SIZE_MAX;
  std::deque<SignedTx> unconfirmed;  // ascending nonce
  size_t prune_at = 0;
};

// One sender's part of a Submit: its inputs in nonce order, [next, end) still unresolved.
struct Client::Group {
  Sender* s = nullptr;
  std::vector<size_t> idx;
  size_t next = 0;
  std::vector<size_t> skip;  // nodes that answered `syncing` for it in this call
  std::string last_error;
};

// A connection to one node for one call, counted as outstanding while held.
class Client::Lease {
 public:
  Lease(Client* c, size_t node) : c_(c), node_(node) {
    {
      MutexLock lock(&c_->mu_);
      Node& n = *c_->nodes_[node];
      ++n.outstanding;
      ++n.calls;
      if (!n.idle.empty()) {
        conn_ = std::move(n.idle.back());
        n.idle.pop_back();
      }
    }
    if (!conn_) {
      // The URL was checked when the Client was created, so this cannot fail.
      auto r = rpc::Client::Create(c_->ring_.nodes()[node], c_->options_.rpc);
      if (r.ok()) conn_ = std::make_unique<rpc::Client>(std::move(r.value()));
    }
  }
  ~Lease() {
    MutexLock lock(&c_->mu_);
    Node& n = *c_->nodes_[node_];
    --n.outstanding;
    if (keep_ && conn_ && n.healthy && n.idle.size() < c_->options_.max_idle_connections) {
      n.idle.push_back(std::move(conn_));
    }
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  rpc::CallResult Call(std::string_view method, const Json& params) {
    if (!conn_) return Status::Unavailable("client: no connection to " + c_->ring_.nodes()[node_]);
    rpc::CallResult r = conn_->Call(method, params);
    keep_ = !NodeFailure(r);
    return r;
  }
  Result<std::vector<rpc::RpcResult>> Batch(
      const std::vector<std::pair<std::string, Json>>& calls) {
    if (!conn_) return Status::Unavailable("client: no connection to " + c_->ring_.nodes()[node_]);
    auto r = conn_->CallBatch(calls);
    keep_ = r.ok();
    return r;
  }

 private:
  Client* const c_;
  const size_t node_;
  std::unique_ptr<rpc::Client> conn_;
  bool keep_ = false;
};

size_t Client::AddressHasher::operator()(const ledger::Address& a) const {
  size_t v;
  std::memcpy(&v, a.data(), sizeof v);
  return v;
}

Result<std::vector<std::string>> Client::ParseUrlList(std::string_view list) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    const size_t comma = list.find(',', pos);
    std::string_view one = list.substr(pos, comma == std::string_view::npos ? comma : comma - pos);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (one.empty()) {
      return Status::InvalidArgument("empty URL in the list '" + std::string(list) + "'");
    }
    out.emplace_back(one);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

Result<std::unique_ptr<Client>> Client::Create(std::vector<std::string> urls, Options o) {
  if (urls.empty()) return Status::InvalidArgument("client: no node URL");
  for (const std::string& u : urls) {
    auto c = rpc::Client::Create(u, o.rpc);
    if (!c.ok()) return c.status();
  }
  return std::unique_ptr<Client>(new Client(Ring(std::move(urls)), o));
}

Client::Client(Ring ring, Options o)
    : ring_(std::move(ring)),
      options_(o),
      clock_(o.clock != nullptr ? o.clock : &SystemClock::Instance()) {
  MutexLock lock(&mu_);
  for (const std::string& u : ring_.nodes()) {
    nodes_.push_back(std::make_unique<Node>(options_.backoff, MixSeed(options_.seed, u)));
  }
}

Client::~Client() = default;

void Client::Count(uint64_t ClientStats::*field, uint64_t n) {
  MutexLock lock(&mu_);
  totals_.*field += n;
}

Client::Sender* Client::SenderOf(const ledger::Address& a) {
  {
    MutexLock lock(&senders_mu_);
    auto it = senders_.find(a);
    if (it != senders_.end()) return it->second.get();
  }
  auto s = std::make_unique<Sender>();
  s->rank = ring_.Rank(a);  // outside the lock: n hashes
  s->prune_at = options_.confirm_every;
  MutexLock lock(&senders_mu_);
  auto [it, inserted] = senders_.emplace(a, std::move(s));
  return it->second.get();
}

const Client::Sender* Client::FindSender(const ledger::Address& a) const {
  MutexLock lock(&senders_mu_);
  auto it = senders_.find(a);
  return it == senders_.end() ? nullptr : it->second.get();
}

bool Client::Healthy(size_t node) {
  MutexLock lock(&mu_);
  return nodes_[node]->healthy;
}

size_t Client::FirstHealthy(const std::vector<size_t>& rank, const std::vector<size_t>& skip) {
  MutexLock lock(&mu_);
  for (size_t n : rank) {
    if (nodes_[n]->healthy && std::find(skip.begin(), skip.end(), n) == skip.end()) return n;
  }
  return SIZE_MAX;
}

size_t Client::NodeFor(const ledger::Address& sender) {
  const std::vector<size_t> rank = ring_.Rank(sender);
  const size_t n = FirstHealthy(rank, {});
  return n == SIZE_MAX ? rank.front() : n;
}

void Client::MarkDown(size_t node, const std::string& why) {
  MutexLock lock(&mu_);
  Node& n = *nodes_[node];
  n.last_error = why;
  if (!n.healthy) return;  // already down: keep its probe schedule
  n.healthy = false;
  ++n.failures;
  n.next_probe_ms = clock_->SteadyMs() + n.backoff.Next();
  n.idle.clear();  // connections to a node that failed are not reused
}

void Client::ProbeDue() {
  std::vector<size_t> due;
  {
    MutexLock lock(&mu_);
    const uint64_t now = clock_->SteadyMs();
    for (size_t i = 0; i < nodes_.size(); ++i) {
      Node& n = *nodes_[i];
      if (!n.healthy && !n.probing && n.next_probe_ms <= now) {
        n.probing = true;  // one prober per node, whichever thread comes first
        due.push_back(i);
        ++totals_.probes;
      }
    }
  }
  for (size_t i : due) {
    rpc::ClientOptions po = options_.rpc;
    po.connect_timeout = options_.probe_timeout;
    po.request_timeout = options_.probe_timeout;
    auto c = rpc::Client::Create(ring_.nodes()[i], po);
    rpc::CallResult r = c.ok() ? c->Call("getStatus") : rpc::CallResult(c.status());
    std::string behind;
    if (r.ok()) behind = CatchingUp(r.value());
    MutexLock lock(&mu_);
    Node& n = *nodes_[i];
    n.probing = false;
    if (r.ok() && behind.empty()) {
      n.healthy = true;
      n.backoff.Reset();
      ++totals_.rejoined;
    } else {
      n.last_error = r.ok() ? behind : r.status().message();
      n.next_probe_ms = clock_->SteadyMs() + n.backoff.Next();
    }
  }
}

size_t Client::PickForRead() {
  MutexLock lock(&mu_);
  const size_t count = nodes_.size();
  const size_t start = read_turn_++ % count;
  size_t best = SIZE_MAX;
  for (size_t k = 0; k < count; ++k) {
    const size_t i = (start + k) % count;
    const Node& n = *nodes_[i];
    if (!n.healthy) continue;
    if (best == SIZE_MAX || n.outstanding < nodes_[best]->outstanding) best = i;
  }
  if (best != SIZE_MAX) return best;
  for (size_t i = 0; i < count; ++i) {
    if (best == SIZE_MAX || nodes_[i]->next_probe_ms < nodes_[best]->next_probe_ms) best = i;
  }
  return best;
}

rpc::CallResult Client::CallOn(size_t node, std::string_view method, const Json& params) {
  rpc::CallResult r = [&] {
    Lease lease(this, node);
    return lease.Call(method, params);
  }();
  if (NodeFailure(r)) MarkDown(node, r.status().message());
  return r;
}

rpc::CallResult Client::Read(std::string_view method, const Json& params, size_t* node) {
  ProbeDue();
  std::vector<size_t> tried;
  rpc::CallResult last = Status::Unavailable("client: no node");
  for (size_t attempt = 0; attempt < nodes().size(); ++attempt) {
    size_t n = PickForRead();
    if (std::find(tried.begin(), tried.end(), n) != tried.end()) {
      // Every healthy node was tried; go through the others once, in order.
      n = SIZE_MAX;
      for (size_t i = 0; i < nodes().size() && n == SIZE_MAX; ++i) {
        if (std::find(tried.begin(), tried.end(), i) == tried.end()) n = i;
      }
      if (n == SIZE_MAX) break;
    }
    tried.push_back(n);
    if (node != nullptr) *node = n;
    last = CallOn(n, method, params);
    if (!NodeFailure(last)) return last;
  }
  return last;
}

size_t Client::Unconfirmed(const ledger::Address& sender) const {
  const Sender* s = FindSender(sender);
  return s == nullptr ? 0 : s->unconfirmed.size();
}

namespace {

// One transaction in a sendTransactions call: an input (`input` its index) or a resend of an
// unconfirmed one (`input` SIZE_MAX).
struct Item {
  size_t group = 0;
  const SignedTx* tx = nullptr;
  size_t input = SIZE_MAX;
};

enum class Verdict { kAccepted, kCommitted, kConflict, kRetryLater, kRejected, kSyncing, kCheck };

struct Answer {
  Verdict verdict = Verdict::kRejected;
  int code = 0;
  std::string reason;
  int64_t retry_after_ms = 0;
};

Answer Classify(const Json& r) {
  Answer a;
  if (!r.is_object()) {
    a.reason = "malformed answer";
    return a;
  }
  auto err = r.find("error");
  if (err == r.end()) {
    a.verdict = Verdict::kAccepted;
    return a;
  }
  if (err->is_object()) {
    a.code = err->value("code", 0);
    auto data = err->find("data");
    if (data != err->end() && data->is_object()) {
      a.reason = data->value("reason", "");
      a.retry_after_ms = data->value("retry_after_ms", int64_t{0});
    }
    if (a.reason.empty()) a.reason = err->value("message", "");
  }
  switch (a.code) {
    case kAlreadyKnown:
    case kNonceTooLow:
      a.verdict = Verdict::kCheck;
      break;
    case kSyncing:
      a.verdict = Verdict::kSyncing;
      break;
    case kMempoolFull:
    case kSenderQueueFull:
    case kNonceTooHigh:
      a.verdict = Verdict::kRetryLater;
      break;
    default:
      a.verdict = Verdict::kRejected;
  }
  return a;
}

void InsertUnconfirmed(std::deque<SignedTx>* q, const SignedTx& tx) {
  auto it = std::lower_bound(q->begin(), q->end(), tx.nonce,
                             [](const SignedTx& a, uint64_t n) { return a.nonce < n; });
  if (it != q->end() && it->nonce == tx.nonce) return;  // this nonce is held already
  q->insert(it, tx);
}

void EraseUnconfirmed(std::deque<SignedTx>* q, const crypto::Hash256& hash) {
  q->erase(std::remove_if(q->begin(), q->end(), [&](const SignedTx& t) { return t.hash == hash; }),
           q->end());
}

}  // namespace

std::vector<Client::Group*> Client::SendTo(size_t node, std::vector<Group*> groups,
                                           std::span<const SignedTx> txs,
                                           std::vector<TxResult>* results) {
  // What to send: per group, the unconfirmed (when they were last sent elsewhere) and the
  // unresolved inputs, merged by nonce.
  std::vector<std::vector<SignedTx>> resend(groups.size());
  std::vector<Item> items;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    Group& g = *groups[gi];
    Sender& s = *g.s;
    std::vector<Item> mine;
    if (s.home != node && s.home != SIZE_MAX && !s.unconfirmed.empty()) {
      resend[gi].assign(s.unconfirmed.begin(), s.unconfirmed.end());
      for (const SignedTx& t : resend[gi]) mine.push_back({gi, &t, SIZE_MAX});
      Count(&ClientStats::failovers);
      Count(&ClientStats::resent, resend[gi].size());
    }
    for (size_t k = g.next; k < g.idx.size(); ++k) mine.push_back({gi, &txs[g.idx[k]], g.idx[k]});
    std::stable_sort(mine.begin(), mine.end(),
                     [](const Item& a, const Item& b) { return a.tx->nonce < b.tx->nonce; });
    items.insert(items.end(), mine.begin(), mine.end());
  }

  std::vector<Answer> answers(items.size());
  std::vector<bool> answered(items.size(), false);
  std::vector<bool> failed_group(groups.size(), false);
  bool node_failed = false;
  std::string node_error;
  for (size_t begin = 0; begin < items.size() && !node_failed; begin += options_.max_batch) {
    const size_t end = std::min(items.size(), begin + options_.max_batch);
    Json hexes = Json::array();
    for (size_t i = begin; i < end; ++i) hexes.push_back(items[i].tx->hex);
    rpc::CallResult r = CallOn(node, "sendTransactions", Json{{"txs", std::move(hexes)}});
    const Json* list = nullptr;
    if (r.ok()) {
      auto it = r.value().find("results");
      if (it != r.value().end() && it->is_array() && it->size() == end - begin) list = &*it;
    }
    if (list == nullptr) {
      if (NodeFailure(r) || r.ok()) {
        // Down, or an answer that does not fit the call: not a node to trust now.
        node_failed = true;
        node_error =
            r.ok() ? "sendTransactions: results do not match the call" : r.status().message();
        if (r.ok()) MarkDown(node, node_error);
        break;
      }
      // A refusal of the call itself (-32005 body too large, -32602): the same call would be
      // refused anywhere.
      for (size_t i = begin; i < end; ++i) {
        answers[i] = {Verdict::kRejected, r.rpc_error().code, r.rpc_error().message, 0};
        answered[i] = true;
      }
      continue;
    }
    for (size_t i = begin; i < end; ++i) {
      answers[i] = Classify((*list)[i - begin]);
      answered[i] = true;
    }
  }

  // already_known and nonce_too_low say a transaction with that nonce is pending or
  // committed; only its hash says whether it is this one.
  std::vector<size_t> checks;
  for (size_t i = 0; i < items.size(); ++i) {
    if (answered[i] && answers[i].verdict == Verdict::kCheck) checks.push_back(i);
  }
  for (size_t b = 0; b < checks.size() && !node_failed; b += kCheckBatch) {
    const size_t e = std::min(checks.size(), b + kCheckBatch);
    std::vector<std::pair<std::string, Json>> calls;
    for (size_t k = b; k < e; ++k) {
      calls.emplace_back("getTransaction", Json{{"hash", items[checks[k]].tx->hash.ToHex()}});
    }
    Result<std::vector<rpc::RpcResult>> got = [&] {
      Lease lease(this, node);
      return lease.Batch(calls);
    }();
    if (!got.ok()) {
      MarkDown(node, got.status().message());
      node_failed = true;
      node_error = got.status().message();
      break;
    }
    for (size_t k = b; k < e; ++k) {
      Answer& a = answers[checks[k]];
      const rpc::RpcResult& t = (*got)[k - b];
      const std::string status = t.ok() ? t.value().value("status", "") : "";
      if (status == "committed") {
        a.verdict = Verdict::kCommitted;
      } else if (status == "pending") {
        a.verdict = Verdict::kAccepted;
      } else {
        a.verdict = Verdict::kConflict;
        a.reason += a.code == kNonceTooLow ? ": another transaction used this nonce"
                                           : ": another transaction with this nonce is pending";
      }
    }
  }

  // Apply the answers, group by group, in nonce order.
  std::vector<bool> resend_done(groups.size(), true);
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    Group& g = *groups[it.group];
    Sender& s = *g.s;
    if (failed_group[it.group]) continue;
    if (!answered[i] || (answers[i].verdict == Verdict::kCheck) ||
        (node_failed && answers[i].verdict == Verdict::kCheck)) {
      failed_group[it.group] = true;  // not answered: the node failed before
      g.last_error = node_error;
      continue;
    }
    const Answer& a = answers[i];
    if (a.verdict == Verdict::kSyncing) {
      // This node is behind for this sender: the rest of its transactions go to the next.
      failed_group[it.group] = true;
      g.skip.push_back(node);
      g.last_error = "node " + ring_.nodes()[node] + " is syncing";
      continue;
    }
    const bool is_resend = it.input == SIZE_MAX;
    switch (a.verdict) {
      case Verdict::kAccepted:
        InsertUnconfirmed(&s.unconfirmed, *it.tx);
        break;
      case Verdict::kCommitted:
        EraseUnconfirmed(&s.unconfirmed, it.tx->hash);
        break;
      case Verdict::kRetryLater:
        if (is_resend) resend_done[it.group] = false;
        break;
      default:  // rejected or conflict: it will never commit
        EraseUnconfirmed(&s.unconfirmed, it.tx->hash);
        if (is_resend) Count(&ClientStats::lost);
    }
    if (is_resend) continue;
    TxResult& out = (*results)[it.input];
    out.node = node;
    out.code = a.code;
    out.reason = a.reason;
    out.retry_after_ms = a.retry_after_ms;
    out.committed = a.verdict == Verdict::kCommitted;
    switch (a.verdict) {
      case Verdict::kAccepted:
      case Verdict::kCommitted:
        out.outcome = Outcome::kAccepted;
        break;
      case Verdict::kRetryLater:
        out.outcome = Outcome::kRetryLater;
        break;
      case Verdict::kConflict:
        out.outcome = Outcome::kConflict;
        break;
      default:
        out.outcome = Outcome::kRejected;
    }
    ++g.next;  // inputs are in nonce order, so resolved ones form a prefix
  }

  std::vector<Group*> again;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    Group& g = *groups[gi];
    if (failed_group[gi]) {
      again.push_back(&g);
      continue;
    }
    if (resend_done[gi]) g.s->home = node;
    if (g.s->unconfirmed.size() >= g.s->prune_at) {
      Prune(node, g.s);
      g.s->prune_at = g.s->unconfirmed.size() + options_.confirm_every;
    }
  }
  return again;
}

void Client::Prune(size_t node, Sender* s) {
  if (s->unconfirmed.empty()) return;
  rpc::CallResult r =
      CallOn(node, "getAccount", Json{{"address", s->unconfirmed.front().sender.ToHex()}});
  if (!r.ok()) return;  // tried again at the next threshold
  const uint64_t committed = r.value().value("nonce", uint64_t{0});
  // A nonce the chain has used is either this transaction, committed, or another one that
  // took its place; resending it can do nothing either way.
  while (!s->unconfirmed.empty() && s->unconfirmed.front().nonce < committed) {
    s->unconfirmed.pop_front();
  }
}

std::vector<TxResult> Client::Submit(std::span<const SignedTx> txs) {
  std::vector<TxResult> results(txs.size());
  if (txs.empty()) return results;
  ProbeDue();
  std::vector<Group> groups;
  std::unordered_map<ledger::Address, size_t, AddressHasher> index;
  for (size_t i = 0; i < txs.size(); ++i) {
    auto [it, inserted] = index.emplace(txs[i].sender, groups.size());
    if (inserted) {
      groups.emplace_back();
      groups.back().s = SenderOf(txs[i].sender);
    }
    groups[it->second].idx.push_back(i);
  }
  for (Group& g : groups) {
    std::stable_sort(g.idx.begin(), g.idx.end(),
                     [&](size_t a, size_t b) { return txs[a].nonce < txs[b].nonce; });
  }
  std::vector<Group*> todo;
  for (Group& g : groups) todo.push_back(&g);
  for (size_t round = 0; !todo.empty() && round <= nodes().size(); ++round) {
    std::map<size_t, std::vector<Group*>> by_node;
    for (Group* g : todo) {
      const size_t n = FirstHealthy(g->s->rank, g->skip);
      if (n == SIZE_MAX) {
        for (size_t k = g->next; k < g->idx.size(); ++k) {
          results[g->idx[k]].reason =
              "no node available" + (g->last_error.empty() ? "" : ": " + g->last_error);
        }
        continue;
      }
      by_node[n].push_back(g);
    }
    todo.clear();
    for (auto& [n, gs] : by_node) {
      std::vector<Group*> again = SendTo(n, std::move(gs), txs, &results);
      todo.insert(todo.end(), again.begin(), again.end());
    }
  }
  for (Group* g : todo) {
    for (size_t k = g->next; k < g->idx.size(); ++k) {
      results[g->idx[k]].reason = "no node available: " + g->last_error;
    }
  }
  return results;
}

size_t Client::ResendMoved(std::span<const ledger::Address> senders) {
  ProbeDue();
  std::vector<Group> groups;
  size_t count = 0;
  for (const ledger::Address& a : senders) {
    Sender* s = SenderOf(a);
    if (s->unconfirmed.empty() || s->home == SIZE_MAX) continue;
    if (FirstHealthy(s->rank, {}) == s->home) continue;
    count += s->unconfirmed.size();
    groups.emplace_back();
    groups.back().s = s;
  }
  std::vector<Group*> todo;
  for (Group& g : groups) todo.push_back(&g);
  std::vector<TxResult> none;
  for (size_t round = 0; !todo.empty() && round <= nodes().size(); ++round) {
    std::map<size_t, std::vector<Group*>> by_node;
    for (Group* g : todo) {
      const size_t n = FirstHealthy(g->s->rank, g->skip);
      if (n != SIZE_MAX) by_node[n].push_back(g);
    }
    todo.clear();
    for (auto& [n, gs] : by_node) {
      std::vector<Group*> again = SendTo(n, std::move(gs), {}, &none);
      todo.insert(todo.end(), again.begin(), again.end());
    }
  }
  return count;
}

std::vector<NodeStats> Client::Stats() const {
  MutexLock lock(&mu_);
  std::vector<NodeStats> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = *nodes_[i];
    out.push_back({ring_.nodes()[i], n.healthy, n.outstanding, n.calls, n.failures,
                   n.backoff.attempt(), n.healthy ? 0 : n.next_probe_ms, n.last_error});
  }
  return out;
}

ClientStats Client::Totals() const {
  MutexLock lock(&mu_);
  return totals_;
}

}  // namespace cairn::client
