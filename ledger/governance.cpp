// Grammar (all integers little endian; bytes := len:u32 data[len]); system records are
// SystemKey := 0x03 name:
//   "gov/config"          GovConfig  := threshold:u16 count:u16 admin:fixed[32]^count
//   "gov/p/" id:fixed[32] Proposal   := proposer:fixed[32] expires_at:u64 action:Action
//                                       approvals:u16 approver:fixed[32]^approvals status:u8
//                                       result_height:u64 result_code:u16
//   "gov/open"            OpenList   := count:u32 (id:fixed[32] proposer:fixed[32]
//                                       expires_at:u64)^count
//   "gov/queue"           IdQueue    := count:u32 id:fixed[32]^count      (absent when empty)
//   "set/members"         MemberSet  := next_id:u32 count:u32 Member^count
//   "set/pending"         Pending    := effective_height:u64 MemberSet  (absent when none)
//   Member := id:u32 kind:u8 name:bytes[1..64] consensus_key:fixed[32] p2p_key:fixed[32]
//             address:bytes[0..255]
//   SetHash(S) := SHA-256("CAIRN/set" 0x00 || count:u32 (id:u32 consensus_key:fixed[32])^count)
#include "ledger/governance.h"

#include <algorithm>
#include <set>

#include "base/codec.h"

namespace cairn::ledger {

using codec::Reader;
using codec::Writer;

namespace {

constexpr size_t kMemberMinBytes = 4 + 1 + 4 + 1 + 32 + 32 + 4;

void WriteMemberSet(Writer& w, const MemberSet& s) {
  w.U32(s.next_id).U32(static_cast<uint32_t>(s.members.size()));
  for (const Member& m : s.members) {
    w.U32(m.id).U8(static_cast<uint8_t>(m.kind)).Str(m.name);
    w.Fixed(m.consensus_key).Fixed(m.p2p_key).Str(m.address);
  }
}

bool ReadMemberSet(Reader& r, MemberSet* s) {
  uint32_t count = 0;
  r.U32(&s->next_id, "next_id");
  if (!r.Count(&count, "count", kMemberMinBytes, kMaxMembers)) return false;
  s->members.reserve(count);
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    Member m;
    uint8_t kind = 0;
    const size_t at = r.offset();
    r.U32(&m.id, "member.id");
    if (r.U8(&kind, "member.kind") && kind != 1 && kind != 2) {
      r.Fail("member.kind", std::to_string(kind) + " is not 1 (validator) or 2 (observer)");
    }
    m.kind = static_cast<MemberKind>(kind);
    r.Str(&m.name, kMaxMemberName, "member.name", 1);
    r.Fixed(&m.consensus_key, "member.consensus_key");
    r.Fixed(&m.p2p_key, "member.p2p_key");
    r.Str(&m.address, kMaxMemberAddress, "member.address");
    if (r.ok() && ((!s->members.empty() && m.id <= s->members.back().id) || m.id >= s->next_id)) {
      r.FailAt(at, "member.id", "ids must increase and stay below next_id");
    }
    s->members.push_back(std::move(m));
  }
  return r.ok();
}

bool ReadKeys(Reader& r, uint32_t count, std::vector<crypto::PublicKey>* keys,
              std::string_view field) {
  if (r.remaining() < size_t{count} * 32) return r.Fail(field, "truncated");
  keys->resize(count);
  for (auto& k : *keys) r.Fixed(&k, field);
  return r.ok();
}

template <typename T>
std::optional<T> ReadRecord(const StateReader& state, std::string_view name) {
  auto raw = state.GetSystem(name);
  if (!raw) return std::nullopt;
  auto v = T::Decode(*raw);
  if (!v.ok()) return std::nullopt;
  return std::move(v.value());
}

bool KeyTaken(const MemberSet& set, const crypto::PublicKey& key, uint32_t except_id) {
  for (const Member& m : set.members) {
    if (m.id != except_id && (m.consensus_key == key || m.p2p_key == key)) return true;
  }
  return false;
}

bool NameTaken(const MemberSet& set, std::string_view name) {
  for (const Member& m : set.members) {
    if (m.name == name) return true;
  }
  return false;
}

constexpr uint32_t kNoId = UINT32_MAX;

// Applies a set-changing action to `set`; kInvalidAction (and `set` unspecified) when the
// action does not fit it.
TxCode ApplyToSet(const Action& action, MemberSet& set) {
  auto add = [&](Member m) {
    if (set.members.size() >= kMaxMembers || set.next_id == kNoId) return TxCode::kInvalidAction;
    if (NameTaken(set, m.name)) return TxCode::kInvalidAction;
    if (KeyTaken(set, m.consensus_key, kNoId) || KeyTaken(set, m.p2p_key, kNoId)) {
      return TxCode::kInvalidAction;
    }
    m.id = set.next_id++;
    set.members.push_back(std::move(m));  // ids increase, so the set stays sorted
    return TxCode::kOk;
  };
  if (auto* a = std::get_if<AddValidator>(&action)) {
    return add(
        Member{0, MemberKind::kValidator, a->name, a->consensus_key, a->p2p_key, a->address});
  }
  if (auto* a = std::get_if<AddObserver>(&action)) {
    return add(Member{0, MemberKind::kObserver, a->name, a->p2p_key, a->p2p_key, a->address});
  }
  if (auto* a = std::get_if<RemoveMember>(&action)) {
    auto it = std::find_if(set.members.begin(), set.members.end(),
                           [&](const Member& m) { return m.id == a->id; });
    if (it == set.members.end()) return TxCode::kInvalidAction;
    set.members.erase(it);
    return TxCode::kOk;
  }
  if (auto* a = std::get_if<RotateKeys>(&action)) {
    auto it = std::find_if(set.members.begin(), set.members.end(),
                           [&](const Member& m) { return m.id == a->id; });
    // Observers have no consensus key to rotate; removing and re-adding one is the path.
    if (it == set.members.end() || it->kind != MemberKind::kValidator) {
      return TxCode::kInvalidAction;
    }
    if (KeyTaken(set, a->consensus_key, a->id) || KeyTaken(set, a->p2p_key, a->id)) {
      return TxCode::kInvalidAction;
    }
    it->consensus_key = a->consensus_key;
    it->p2p_key = a->p2p_key;
    return TxCode::kOk;
  }
  return TxCode::kInvalidAction;
}

TxCode CheckSetGovernance(const SetGovernance& g) {
  if (g.admins.empty() || g.admins.size() > kMaxGovAdmins) return TxCode::kInvalidAction;
  if (g.threshold == 0 || g.threshold > g.admins.size()) return TxCode::kInvalidAction;
  std::set<crypto::PublicKey> seen(g.admins.begin(), g.admins.end());
  if (seen.size() != g.admins.size()) return TxCode::kInvalidAction;
  return TxCode::kOk;
}

// The newest member set: the pending one if a change waits, else the current one.
MemberSet NewestSet(const StateReader& state) {
  if (auto p = ReadPending(state)) return std::move(p->set);
  if (auto m = ReadMembers(state)) return std::move(*m);
  return MemberSet{};
}

// Whether `action` fits the state as it is now (the proposal-time check).
TxCode CheckAction(const StateReader& state, const Action& action) {
  if (auto* g = std::get_if<SetGovernance>(&action)) return CheckSetGovernance(*g);
  MemberSet set = NewestSet(state);
  return ApplyToSet(action, set);
}

// Runs an action now (REQUIRES: no pending set when it changes members).
TxCode RunAction(StateOverlay& state, const Action& action, uint64_t height) {
  if (auto* g = std::get_if<SetGovernance>(&action)) {
    TxCode code = CheckSetGovernance(*g);
    if (code == TxCode::kOk) {
      state.PutSystem(kGovConfigName, GovConfig{g->threshold, g->admins}.Encode());
    }
    return code;
  }
  MemberSet set = ReadMembers(state).value_or(MemberSet{});
  TxCode code = ApplyToSet(action, set);
  if (code == TxCode::kOk) {
    state.PutSystem(kPendingName, PendingSet{height + kSetChangeDelay, std::move(set)}.Encode());
  }
  return code;
}

void Finish(Proposal& p, TxCode code, uint64_t height) {
  p.status = code == TxCode::kOk ? ProposalStatus::kExecuted : ProposalStatus::kFailed;
  p.result_height = height;
  p.result_code = static_cast<uint16_t>(code);
}

void WriteQueue(StateOverlay& state, const std::vector<crypto::Hash256>& queue) {
  if (queue.empty()) {
    if (state.GetSystem(kGovQueueName)) state.DeleteSystem(kGovQueueName);
  } else {
    state.PutSystem(kGovQueueName, EncodeIdQueue(queue));
  }
}

// Writes gov/open without `drop` (if set) and without entries past their expiry.
void WriteOpenList(StateOverlay& state, std::vector<OpenEntry> list, uint64_t height,
                   const crypto::Hash256* drop) {
  std::erase_if(list, [&](const OpenEntry& e) {
    return height > e.expires_at || (drop != nullptr && e.id == *drop);
  });
  if (list.empty()) {
    if (state.GetSystem(kGovOpenName)) state.DeleteSystem(kGovOpenName);
  } else {
    state.PutSystem(kGovOpenName, EncodeOpenList(list));
  }
}

size_t CountedApprovals(const Proposal& p, const GovConfig& config) {
  size_t n = 0;
  for (const auto& k : p.approvals) n += config.IsAdmin(k) ? 1 : 0;
  return n;
}

// The proposal reached its threshold: run it now, or queue it behind the pending set.
void RunOrQueue(StateOverlay& state, Proposal& p, const crypto::Hash256& id, uint64_t height) {
  if (ChangesMembers(p.action) && state.GetSystem(kPendingName)) {
    p.status = ProposalStatus::kQueued;
    std::vector<crypto::Hash256> queue = ReadQueue(state);
    queue.push_back(id);
    WriteQueue(state, queue);
    return;
  }
  Finish(p, RunAction(state, p.action, height), height);
}

TxCode Propose(StateOverlay& state, const Transaction& tx, const GovPropose& g,
               const GovConfig& config, const crypto::Hash256& id, uint64_t height) {
  if (g.expires_at <= height || g.expires_at > height + kMaxProposalLifetime) {
    return TxCode::kBadExpiry;
  }
  std::vector<OpenEntry> open = ReadOpenList(state);
  size_t mine = 0;
  for (const OpenEntry& e : open) {
    mine += e.proposer == tx.sender && height <= e.expires_at ? 1 : 0;
  }
  if (mine >= kMaxOpenProposals) return TxCode::kTooManyProposals;
  if (CheckAction(state, g.action) != TxCode::kOk) return TxCode::kInvalidAction;

  Proposal p;
  p.proposer = tx.sender;
  p.expires_at = g.expires_at;
  p.action = g.action;
  p.approvals.push_back(tx.sender);
  if (CountedApprovals(p, config) >= config.threshold) {
    RunOrQueue(state, p, id, height);
    WriteOpenList(state, std::move(open), height, nullptr);
  } else {
    open.push_back(OpenEntry{id, tx.sender, g.expires_at});
    WriteOpenList(state, std::move(open), height, nullptr);
  }
  state.PutSystem(ProposalName(id), p.Encode());
  return TxCode::kOk;
}

TxCode Approve(StateOverlay& state, const Transaction& tx, const GovApprove& g,
               const GovConfig& config, uint64_t height) {
  std::optional<Proposal> p = ReadProposal(state, g.proposal);
  if (!p) return TxCode::kUnknownProposal;
  if (p->status != ProposalStatus::kOpen) return TxCode::kProposalClosed;
  if (height > p->expires_at) {
    // The one failure that writes: the expiry is recorded so the proposal reads as closed.
    p->status = ProposalStatus::kExpired;
    p->result_height = height;
    p->result_code = static_cast<uint16_t>(TxCode::kProposalExpired);
    state.PutSystem(ProposalName(g.proposal), p->Encode());
    WriteOpenList(state, ReadOpenList(state), height, &g.proposal);
    return TxCode::kProposalExpired;
  }
  if (std::find(p->approvals.begin(), p->approvals.end(), tx.sender) != p->approvals.end()) {
    return TxCode::kAlreadyApproved;
  }
  p->approvals.push_back(tx.sender);
  if (CountedApprovals(*p, config) >= config.threshold) {
    WriteOpenList(state, ReadOpenList(state), height, &g.proposal);
    RunOrQueue(state, *p, g.proposal, height);
  }
  state.PutSystem(ProposalName(g.proposal), p->Encode());
  return TxCode::kOk;
}

}  // namespace

std::string ProposalName(const crypto::Hash256& id) {
  std::string name("gov/p/");
  name.append(reinterpret_cast<const char*>(id.view().data()), id.view().size());
  return name;
}

bool GovConfig::IsAdmin(const crypto::PublicKey& key) const {
  return std::find(admins.begin(), admins.end(), key) != admins.end();
}

Bytes GovConfig::Encode() const {
  Writer w;
  w.U16(threshold).U16(static_cast<uint16_t>(admins.size()));
  for (const auto& k : admins) w.Fixed(k);
  return w.Take();
}

Result<GovConfig> GovConfig::Decode(ByteView b) {
  Reader r(b, "gov/config");
  GovConfig c;
  uint16_t count = 0;
  r.U16(&c.threshold, "threshold");
  if (r.U16(&count, "count") && (count == 0 || count > kMaxGovAdmins)) {
    r.Fail("count", std::to_string(count) + " admins");
  }
  if (r.ok()) ReadKeys(r, count, &c.admins, "admin");
  if (r.ok() && (c.threshold == 0 || c.threshold > count)) {
    r.Fail("threshold", std::to_string(c.threshold) + " is not in [1, count]");
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return c;
}

std::string_view MemberKindName(MemberKind k) {
  return k == MemberKind::kValidator ? "validator" : "observer";
}

const Member* MemberSet::Find(uint32_t id) const {
  auto it = std::lower_bound(members.begin(), members.end(), id,
                             [](const Member& m, uint32_t v) { return m.id < v; });
  return it != members.end() && it->id == id ? &*it : nullptr;
}

std::vector<Member> MemberSet::Validators() const {
  std::vector<Member> out;
  for (const Member& m : members) {
    if (m.kind == MemberKind::kValidator) out.push_back(m);
  }
  return out;
}

Bytes MemberSet::Encode() const {
  Writer w;
  WriteMemberSet(w, *this);
  return w.Take();
}

Result<MemberSet> MemberSet::Decode(ByteView b) {
  Reader r(b, "set/members");
  MemberSet s;
  ReadMemberSet(r, &s);
  if (Status st = r.Finish(); !st.ok()) return st;
  return s;
}

Bytes PendingSet::Encode() const {
  Writer w;
  w.U64(effective_height);
  WriteMemberSet(w, set);
  return w.Take();
}

Result<PendingSet> PendingSet::Decode(ByteView b) {
  Reader r(b, "set/pending");
  PendingSet p;
  r.U64(&p.effective_height, "effective_height");
  if (r.ok()) ReadMemberSet(r, &p.set);
  if (Status st = r.Finish(); !st.ok()) return st;
  return p;
}

std::string_view ProposalStatusName(ProposalStatus s) {
  switch (s) {
    case ProposalStatus::kOpen:
      return "open";
    case ProposalStatus::kExecuted:
      return "executed";
    case ProposalStatus::kFailed:
      return "failed";
    case ProposalStatus::kExpired:
      return "expired";
    case ProposalStatus::kQueued:
      return "queued";
  }
  return "unknown";
}

Bytes Proposal::Encode() const {
  Writer w;
  w.Fixed(proposer).U64(expires_at);
  EncodeAction(w, action);
  w.U16(static_cast<uint16_t>(approvals.size()));
  for (const auto& k : approvals) w.Fixed(k);
  w.U8(static_cast<uint8_t>(status)).U64(result_height).U16(result_code);
  return w.Take();
}

Result<Proposal> Proposal::Decode(ByteView b) {
  Reader r(b, "proposal");
  Proposal p;
  r.Fixed(&p.proposer, "proposer");
  r.U64(&p.expires_at, "expires_at");
  if (r.ok()) ReadAction(r, &p.action);
  uint16_t count = 0;
  // No bound but the bytes present: admins that approved and were replaced still count here.
  if (r.U16(&count, "approvals")) ReadKeys(r, count, &p.approvals, "approver");
  uint8_t status = 0;
  if (r.U8(&status, "status") && (status < 1 || status > 5)) {
    r.Fail("status", std::to_string(status) + " is not a proposal status");
  }
  p.status = static_cast<ProposalStatus>(status);
  r.U64(&p.result_height, "result_height");
  r.U16(&p.result_code, "result_code");
  if (Status s = r.Finish(); !s.ok()) return s;
  return p;
}

Bytes EncodeOpenList(const std::vector<OpenEntry>& list) {
  Writer w;
  w.U32(static_cast<uint32_t>(list.size()));
  for (const OpenEntry& e : list) w.Fixed(e.id).Fixed(e.proposer).U64(e.expires_at);
  return w.Take();
}

Result<std::vector<OpenEntry>> DecodeOpenList(ByteView b) {
  Reader r(b, "gov/open");
  uint32_t count = 0;
  std::vector<OpenEntry> out;
  if (r.Count(&count, "count", 72, UINT32_MAX)) {
    out.resize(count);
    for (OpenEntry& e : out) {
      r.Fixed(&e.id, "id");
      r.Fixed(&e.proposer, "proposer");
      r.U64(&e.expires_at, "expires_at");
    }
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return out;
}

Bytes EncodeIdQueue(const std::vector<crypto::Hash256>& ids) {
  Writer w;
  w.U32(static_cast<uint32_t>(ids.size()));
  for (const auto& id : ids) w.Fixed(id);
  return w.Take();
}

Result<std::vector<crypto::Hash256>> DecodeIdQueue(ByteView b) {
  Reader r(b, "gov/queue");
  uint32_t count = 0;
  std::vector<crypto::Hash256> out;
  if (r.Count(&count, "count", 32, UINT32_MAX)) {
    out.resize(count);
    for (auto& id : out) r.Fixed(&id, "id");
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return out;
}

std::optional<GovConfig> ReadGovConfig(const StateReader& state) {
  return ReadRecord<GovConfig>(state, kGovConfigName);
}

std::optional<MemberSet> ReadMembers(const StateReader& state) {
  return ReadRecord<MemberSet>(state, kMembersName);
}

std::optional<PendingSet> ReadPending(const StateReader& state) {
  return ReadRecord<PendingSet>(state, kPendingName);
}

std::optional<Proposal> ReadProposal(const StateReader& state, const crypto::Hash256& id) {
  return ReadRecord<Proposal>(state, ProposalName(id));
}

std::vector<OpenEntry> ReadOpenList(const StateReader& state) {
  auto raw = state.GetSystem(kGovOpenName);
  if (!raw) return {};
  auto list = DecodeOpenList(*raw);
  return list.ok() ? std::move(list.value()) : std::vector<OpenEntry>{};
}

std::vector<crypto::Hash256> ReadQueue(const StateReader& state) {
  auto raw = state.GetSystem(kGovQueueName);
  if (!raw) return {};
  auto q = DecodeIdQueue(*raw);
  return q.ok() ? std::move(q.value()) : std::vector<crypto::Hash256>{};
}

std::optional<MemberSet> MemberSetAt(const StateReader& state, uint64_t height) {
  if (auto p = ReadPending(state); p && p->effective_height <= height) return std::move(p->set);
  return ReadMembers(state);
}

std::optional<std::vector<Member>> ValidatorSetAt(const StateReader& state, uint64_t height) {
  auto set = MemberSetAt(state, height);
  if (!set) return std::nullopt;
  return set->Validators();
}

crypto::Hash256 SetHash(std::span<const Member> validators) {
  static constexpr std::string_view kDomain("CAIRN/set\0", 10);
  Writer w;
  w.Raw(AsBytes(kDomain)).U32(static_cast<uint32_t>(validators.size()));
  for (const Member& m : validators) w.U32(m.id).Fixed(m.consensus_key);
  return crypto::Sha256Of(w.bytes());
}

void BeginBlock(StateOverlay& state, uint64_t height) {
  std::optional<PendingSet> pending = ReadPending(state);
  if (!pending || pending->effective_height > height) return;
  state.PutSystem(kMembersName, pending->set.Encode());
  state.DeleteSystem(kPendingName);
  std::vector<crypto::Hash256> queue = ReadQueue(state);
  if (queue.empty()) return;
  size_t next = 0;
  while (next < queue.size()) {
    const crypto::Hash256 id = queue[next++];
    std::optional<Proposal> p = ReadProposal(state, id);
    if (!p) continue;
    if (height > p->expires_at) {
      p->status = ProposalStatus::kExpired;
      p->result_height = height;
      p->result_code = static_cast<uint16_t>(TxCode::kProposalExpired);
    } else {
      Finish(*p, RunAction(state, p->action, height), height);
    }
    state.PutSystem(ProposalName(id), p->Encode());
    if (p->status == ProposalStatus::kExecuted) break;  // it wrote the next pending set
  }
  queue.erase(queue.begin(), queue.begin() + static_cast<long>(next));
  WriteQueue(state, queue);
}

TxCode ExecuteGov(StateOverlay& state, const Transaction& tx, const crypto::Hash256& tx_hash,
                  uint64_t height) {
  std::optional<GovConfig> config = ReadGovConfig(state);
  if (!config || !config->IsAdmin(tx.sender)) return TxCode::kNotGovernanceAdmin;
  if (auto* g = std::get_if<GovPropose>(&tx.payload)) {
    return Propose(state, tx, *g, *config, tx_hash, height);
  }
  return Approve(state, tx, std::get<GovApprove>(tx.payload), *config, height);
}

StateDiff GenesisSystemRecords(const MemberSet& members, const std::optional<GovConfig>& config) {
  StateDiff diff;
  diff[SystemKey(kMembersName)] = members.Encode();
  if (config) diff[SystemKey(kGovConfigName)] = config->Encode();
  return diff;
}

}  // namespace cairn::ledger
