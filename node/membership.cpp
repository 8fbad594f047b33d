#include "node/membership.h"

#include <algorithm>
#include <set>

namespace cairn::node {
namespace {

const ledger::Member* FindIn(const std::vector<ledger::Member>& set, auto&& pred) {
  for (const ledger::Member& m : set) {
    if (pred(m)) return &m;
  }
  return nullptr;
}

// The system records set(H) reads, as of the state after block `at` (the store's history).
class SystemRecordsAt final : public ledger::StateReader {
 public:
  SystemRecordsAt(const ledger::ChainStore& store, uint64_t at) : store_(store), at_(at) {}
  std::optional<ledger::Account> GetAccount(const ledger::Address&) const override {
    return std::nullopt;
  }
  std::optional<Bytes> GetRecord(const ledger::Address&, ByteView) const override {
    return std::nullopt;
  }
  std::optional<Bytes> GetSystem(std::string_view name) const override {
    auto p = store_.ProveState(ledger::SystemKey(name), at_);
    if (!p.ok()) return std::nullopt;
    return p->value;
  }

 private:
  const ledger::ChainStore& store_;
  const uint64_t at_;
};

}  // namespace

const ledger::Member* Membership::Snapshot::Validator(consensus::ReplicaId id) const {
  auto is = [id](const ledger::Member& m) { return m.id == id; };
  if (const ledger::Member* m = FindIn(after, is)) return m;
  return FindIn(next, is);
}

const ledger::Member* Membership::Snapshot::ValidatorByP2p(const p2p::NodeId& key) const {
  auto is = [&key](const ledger::Member& m) { return m.p2p_key == key; };
  if (const ledger::Member* m = FindIn(after, is)) return m;
  return FindIn(next, is);
}

const ledger::Member* Membership::Snapshot::ValidatorByConsensusKey(
    const crypto::PublicKey& key) const {
  auto is = [&key](const ledger::Member& m) { return m.consensus_key == key; };
  if (const ledger::Member* m = FindIn(after, is)) return m;
  return FindIn(next, is);
}

std::vector<p2p::NodeId> Membership::Snapshot::Allowed() const {
  std::set<p2p::NodeId> ids;
  for (const auto* set : {&next, &after}) {
    for (const ledger::Member& m : *set) ids.insert(m.p2p_key);
  }
  for (const ledger::Member& m : members.members) {
    if (m.kind == ledger::MemberKind::kObserver) ids.insert(m.p2p_key);
  }
  return {ids.begin(), ids.end()};
}

std::vector<p2p::PeerAddress> Membership::Snapshot::Dial(const p2p::NodeId& self) const {
  // Genesis members carry no address (their operators list them as p2p.peers); a member
  // added by governance names its endpoint on chain.
  std::vector<p2p::PeerAddress> out;
  std::set<p2p::NodeId> seen;
  auto add = [&](const ledger::Member& m) {
    if (m.address.empty() || m.p2p_key == self || !seen.insert(m.p2p_key).second) return;
    auto addr = p2p::ParsePeerAddress(m.p2p_key.ToHex() + "@" + m.address);
    if (addr.ok()) out.push_back(*addr);
  };
  for (const auto* set : {&next, &after}) {
    for (const ledger::Member& m : *set) add(m);
  }
  for (const ledger::Member& m : members.members) {
    if (m.kind == ledger::MemberKind::kObserver) add(m);
  }
  return out;
}

std::string Membership::Snapshot::NameOf(const p2p::NodeId& key) const {
  for (const ledger::Member& m : members.members) {
    if (m.p2p_key == key) return m.name;
  }
  for (const auto* set : {&next, &after}) {
    for (const ledger::Member& m : *set) {
      if (m.p2p_key == key) return m.name;
    }
  }
  return "";
}

Membership::Membership(const genesis::Genesis& genesis, const ledger::ChainStore& store)
    : genesis_(genesis), store_(store) {
  auto first = Compute();
  MutexLock lock(&mu_);
  snap_ = std::move(first);
  Remember(snap_->next);
  Remember(snap_->after);
}

void Membership::Remember(const std::vector<ledger::Member>& set) {
  const crypto::Hash256 hash = ledger::SetHash(set);
  for (const auto& [s, h] : seen_) {
    if (h == hash) return;
  }
  seen_.emplace_back(set, hash);
  if (seen_.size() > kSeenSets) seen_.pop_front();
}

std::vector<ledger::Member> Membership::ValidatorsOf(uint64_t height, bool read_history) const {
  std::shared_ptr<const Snapshot> snap = Get();
  auto header = store_.HeaderAt(height);
  if (!header.ok() || !header->has_value()) {
    // Not committed yet (evidence of the heights being voted on): the snapshot's sets.
    if (height == snap->head + 1) return snap->next;
    if (height == snap->head + 2) return snap->after;
    return snap->from_state ? std::vector<ledger::Member>{} : genesis_.Members().Validators();
  }
  const crypto::Hash256 want = (*header)->validators_hash;
  {
    MutexLock lock(&mu_);
    for (auto it = seen_.rbegin(); it != seen_.rend(); ++it) {
      if (it->second == want) return it->first;
    }
  }
  std::vector<ledger::Member> genesis_set = genesis_.Members().Validators();
  if (ledger::SetHash(genesis_set) == want) return genesis_set;
  if (read_history && height > 0) {
    auto set = ledger::ValidatorSetAt(SystemRecordsAt(store_, height - 1), height);
    if (set && ledger::SetHash(*set) == want) return std::move(*set);
  }
  return {};  // unknown: never another set's keys under these indices
}

std::shared_ptr<const Membership::Snapshot> Membership::Compute() const {
  auto s = std::make_shared<Snapshot>();
  const ledger::Head head = store_.head();
  s->head = head.height;
  s->head_hash = head.hash;
  // The state after `head` decides set(head + 1) and set(head + 2): a change executed in a
  // later block governs head + 3 at the earliest.
  std::optional<ledger::MemberSet> now = ledger::MemberSetAt(store_, head.height + 1);
  std::optional<ledger::MemberSet> later = ledger::MemberSetAt(store_, head.height + 2);
  if (now && later) {
    s->from_state = true;
    s->next = now->Validators();
    s->after = later->Validators();
    s->members = std::move(*later);
  } else {
    s->members = genesis_.Members();
    s->next = s->members.Validators();
    s->after = s->next;
  }
  return s;
}

bool Membership::Refresh() {
  const ledger::Head head = store_.head();
  {
    MutexLock lock(&mu_);
    if (snap_->head == head.height && snap_->head_hash == head.hash) return false;
  }
  auto fresh = Compute();
  MutexLock lock(&mu_);
  Remember(fresh->next);
  Remember(fresh->after);
  const bool changed = !(fresh->next == snap_->next && fresh->after == snap_->after &&
                         fresh->members == snap_->members);
  snap_ = std::move(fresh);
  return changed;
}

std::shared_ptr<const Membership::Snapshot> Membership::Get() const {
  MutexLock lock(&mu_);
  return snap_;
}

std::vector<consensus::ValidatorInfo> Membership::Infos(const std::vector<ledger::Member>& set) {
  std::vector<consensus::ValidatorInfo> out;
  out.reserve(set.size());
  for (const ledger::Member& m : set) out.push_back({m.id, m.consensus_key});
  return out;
}

std::vector<consensus::ReplicaId> Membership::Ids(const std::vector<ledger::Member>& set) {
  std::vector<consensus::ReplicaId> out;
  for (const ledger::Member& m : set) out.push_back(m.id);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cairn::node
