// How Submit works (docs/CLIENT.md "Sending"): transactions are grouped by sender; each round
// routes every unfinished group to the first healthy node of its ranking that has not failed
// it in this call, and sends each node its groups in one sendTransactions call per chunk. A
// group whose node fails goes into the next round; there are at most as many rounds as nodes.
// Locks: mu_ (nodes) and senders_mu_ (the sender map) never nest and are never held during
// a call to a node.
#include "client/client.h"

#include <algorithm>
#include <map>

#include "client/client_internal.h"

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

}  // namespace cairn::client
