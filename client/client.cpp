// The nodes' side of Client: creation, health (marking down, probes with backoff), the
// connection pool and reads. Sending is in submit.cpp; the nested types in client_internal.h.
// Locks: mu_ (nodes) and senders_mu_ (the sender map) never nest and are never held during
// a call to a node.
#include "client/client.h"

#include <algorithm>
#include <cstring>

#include "client/client_internal.h"
#include "crypto/hex.h"

namespace cairn::client {
namespace {

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
