// Membership and governance methods. Every read goes through NodeApi::GetStateProof (the
// state of one height, retained or not), wrapped as a ledger::StateReader so that set(H) is
// computed by the ledger's own ledger::MemberSetAt, never re-derived here.
#include "api/membership.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/errors.h"
#include "api/methods.h"
#include "crypto/hex.h"
#include "ledger/governance.h"

namespace cairn::api::membership {
namespace {

using rpc::FindParam;
using rpc::RpcError;
using rpc::RpcResult;

// The system records of the state after block `height`, read one key at a time through the
// node's proof path. Accounts and records are never asked for (governance reads only 0x03
// keys). The first failed read is kept; readers then see absent records, so a caller checks
// status() before trusting what it computed.
class StateAt final : public ledger::StateReader {
 public:
  StateAt(NodeApi& node, std::optional<uint64_t> height) : node_(node), height_(height) {}

  std::optional<ledger::Account> GetAccount(const ledger::Address&) const override {
    return std::nullopt;
  }
  std::optional<Bytes> GetRecord(const ledger::Address&, ByteView) const override {
    return std::nullopt;
  }
  std::optional<Bytes> GetSystem(std::string_view name) const override {
    if (!status_.ok()) return std::nullopt;
    auto p = node_.GetStateProof(ledger::SystemKey(name), height_);
    if (!p.ok()) {
      status_ = p.status();
      return std::nullopt;
    }
    height_ = p->height;  // pin "the head" to one height for every later read
    return std::move(p->value);
  }

  const Status& status() const { return status_; }
  // The height read: the one asked for, or the head as of the first read.
  std::optional<uint64_t> height() const { return height_; }

 private:
  NodeApi& node_;
  mutable std::optional<uint64_t> height_;
  mutable Status status_;
};

// A failed state read as an RPC error: beyond retention is not_found (with the reason the
// store gave), a busy rebuild is -32002, anything else internal.
RpcError StateError(const Status& s) {
  if (s.code() == StatusCode::kNotFound) return NotFound(s.message());
  if (s.code() == StatusCode::kUnavailable) {
    return RpcError{rpc::kResourceUnavailable, "Resource unavailable",
                    Json{{"reason", "busy"}, {"detail", s.message()}}};
  }
  return RpcError{rpc::kInternalError, "Internal error", Json{{"reason", s.message()}}};
}

Json KeysToJson(const std::vector<crypto::PublicKey>& keys) {
  Json out = Json::array();
  for (const crypto::PublicKey& k : keys) out.push_back(k.ToHex());
  return out;
}

// Genesis members carry no address in state (addresses stay operational, in the genesis
// file): show the file's, as getValidators always did, where the state has none.
void FillAddresses(ledger::MemberSet& set, const genesis::Genesis& g) {
  for (ledger::Member& m : set.members) {
    if (!m.address.empty()) continue;
    for (const auto* nodes : {&g.validators, &g.observers}) {
      for (const genesis::Node& n : *nodes) {
        if (n.public_key == m.p2p_key) m.address = n.address;
      }
    }
  }
}

// {validators: [...with index], observers: [...], validators_hash}
Json SetToJson(const ledger::MemberSet& set) {
  Json validators = Json::array();
  Json observers = Json::array();
  std::vector<ledger::Member> v = set.Validators();
  for (size_t i = 0; i < v.size(); ++i) {
    Json m = MemberToJson(v[i]);
    m["index"] = i;  // the signer index certificates of this height use
    validators.push_back(std::move(m));
  }
  for (const ledger::Member& m : set.members) {
    if (m.kind == ledger::MemberKind::kObserver) observers.push_back(MemberToJson(m));
  }
  return Json{{"validators", std::move(validators)},
              {"observers", std::move(observers)},
              {"validators_hash", ledger::SetHash(v).ToHex()},
              {"next_id", set.next_id}};
}

std::optional<uint64_t> HeightParam(const Json& params, size_t pos, NodeApi& node, RpcError* err,
                                    bool* given) {
  const Json* h = FindParam(params, pos, "height");
  *given = h != nullptr && !h->is_null();
  if (!*given) return std::nullopt;
  if (h->is_string() && h->get<std::string>() == "latest") return node.GetHead().height;
  if (!h->is_number_unsigned()) {
    *err = BadParams("\"height\" must be a non-negative integer or \"latest\"");
    return std::nullopt;
  }
  return h->get<uint64_t>();
}

// The pre-membership answer (no params): an array of set(head)'s validators, with the fields
// it always had. A node that serves no state (a fake) answers the genesis validators.
Json LegacyValidators(NodeApi& node) {
  StateAt state(node, std::nullopt);
  std::optional<ledger::MemberSet> set;
  const uint64_t head = node.GetHead().height;
  set = ledger::MemberSetAt(state, head);
  if (!state.status().ok() || !set) set = node.GetGenesis().Members();
  FillAddresses(*set, node.GetGenesis());
  Json out = Json::array();
  std::vector<ledger::Member> v = set->Validators();
  for (size_t i = 0; i < v.size(); ++i) {
    out.push_back(Json{{"index", i},
                       {"id", v[i].id},
                       {"name", v[i].name},
                       {"public_key", v[i].consensus_key.ToHex()},
                       {"p2p_key", v[i].p2p_key.ToHex()},
                       {"address", v[i].address}});
  }
  return out;
}

// A proposal's view at the head: the stored status, and the one a user acts on ("expired"
// once no block can approve it any more; the state marks it only when an approval finds it).
Json ProposalToJson(const crypto::Hash256& id, const ledger::Proposal& p, uint64_t head,
                    const std::optional<ledger::GovConfig>& config) {
  std::string status(ledger::ProposalStatusName(p.status));
  const bool live =
      p.status == ledger::ProposalStatus::kOpen || p.status == ledger::ProposalStatus::kQueued;
  // Block head + 1 is the next that could approve it; it may while height <= expires_at.
  const bool lapsed = live && head + 1 > p.expires_at;
  Json j{{"id", id.ToHex()},
         {"proposer", p.proposer.ToHex()},
         {"expires_at", p.expires_at},
         {"action", ActionToJson(p.action)},
         {"approvals", KeysToJson(p.approvals)},
         {"status", lapsed ? std::string("expired") : status},
         {"stored_status", status},
         {"result_height", p.result_height},
         {"result_code", p.result_code},
         {"result", Json()}};
  // Nothing ran (or expired) yet: no result to name.
  if (p.result_height != 0) {
    j["result"] = std::string(ledger::TxCodeName(static_cast<ledger::TxCode>(p.result_code)));
  }
  if (config) j["threshold"] = config->threshold;
  return j;
}

}  // namespace

Json MemberToJson(const ledger::Member& m) {
  return Json{{"id", m.id},
              {"kind", std::string(ledger::MemberKindName(m.kind))},
              {"name", m.name},
              {"consensus_key", m.consensus_key.ToHex()},
              {"p2p_key", m.p2p_key.ToHex()},
              {"address", m.address}};
}

// set(H) from the state after block min(H, head): the state after S holds set(S) in
// set/members and, in set/pending, the set of S + 1 or S + 2 (a change waits two blocks), so
// every H up to head + 2 is answered and nothing above it is known yet.
RpcResult GetValidators(NodeApi& node, const Json& params) {
  RpcError err;
  bool given = false;
  auto height = HeightParam(params, 0, node, &err, &given);
  if (!given) return LegacyValidators(node);
  if (!height) return err;
  const uint64_t head = node.GetHead().height;
  if (*height > head + ledger::kSetChangeDelay) {
    return NotFound("set(" + std::to_string(*height) +
                        ") is not known yet: a node knows the sets up to head + " +
                        std::to_string(ledger::kSetChangeDelay) + " = " +
                        std::to_string(head + ledger::kSetChangeDelay),
                    head);
  }
  const uint64_t state_height = std::min(*height, head);
  StateAt state(node, state_height);
  std::optional<ledger::MemberSet> set = ledger::MemberSetAt(state, *height);
  std::optional<ledger::PendingSet> pending;
  if (state.status().ok()) pending = ledger::ReadPending(state);
  if (!state.status().ok()) return StateError(state.status());
  // A chain whose state has no set/members never changed its genesis set.
  if (!set) set = node.GetGenesis().Members();
  FillAddresses(*set, node.GetGenesis());
  if (pending) FillAddresses(pending->set, node.GetGenesis());
  Json j = SetToJson(*set);
  j["height"] = *height;
  j["state_height"] = state_height;
  j["head"] = head;
  if (pending && pending->effective_height > *height) {
    Json p = SetToJson(pending->set);
    p["effective_height"] = pending->effective_height;
    j["pending"] = std::move(p);
  } else {
    j["pending"] = nullptr;
  }
  return j;
}

RpcResult GetGovernance(NodeApi& node, const Json&) {
  StateAt state(node, std::nullopt);
  std::optional<ledger::GovConfig> config = ledger::ReadGovConfig(state);
  std::vector<ledger::OpenEntry> open;
  std::vector<crypto::Hash256> queue;
  if (state.status().ok()) open = ledger::ReadOpenList(state);
  if (state.status().ok()) queue = ledger::ReadQueue(state);
  if (!state.status().ok()) return StateError(state.status());
  Json q = Json::array();
  for (const crypto::Hash256& id : queue) q.push_back(id.ToHex());
  return Json{{"height", state.height().value_or(node.GetHead().height)},
              {"enabled", config.has_value()},
              {"threshold", config ? config->threshold : 0},
              {"admins", config ? KeysToJson(config->admins) : Json::array()},
              {"open", open.size()},
              {"queue", std::move(q)}};
}

RpcResult GetProposal(NodeApi& node, const Json& params) {
  const Json* v = FindParam(params, 0, "id");
  if (v == nullptr || !v->is_string()) return BadParams("missing \"id\" (64 hex digits)");
  auto id = crypto::Hash256::FromHex(v->get<std::string>());
  if (!id) return BadParams("\"id\" must be 64 hex digits");
  const uint64_t head = node.GetHead().height;
  StateAt state(node, head);
  std::optional<ledger::Proposal> p = ledger::ReadProposal(state, *id);
  std::optional<ledger::GovConfig> config;
  if (state.status().ok()) config = ledger::ReadGovConfig(state);
  if (!state.status().ok()) return StateError(state.status());
  if (!p) {
    return NotFound("no proposal " + id->ToHex() +
                        " (its id is the gov_propose transaction's hash; a proposal exists once "
                        "that transaction is committed)",
                    head);
  }
  Json j = ProposalToJson(*id, *p, head, config);
  j["height"] = head;
  return j;
}

// gov/open and gov/queue at the head. Bounded by the state rules: at most 16 open proposals
// per admin and 64 admins, so at most 1,024 entries plus the queue.
RpcResult ListProposals(NodeApi& node, const Json& params) {
  bool all = false;
  if (const Json* a = FindParam(params, 0, "all"); a && !a->is_null()) {
    if (!a->is_boolean()) return BadParams("\"all\" must be true or false");
    all = a->get<bool>();
  }
  const uint64_t head = node.GetHead().height;
  StateAt state(node, head);
  std::vector<ledger::OpenEntry> open = ledger::ReadOpenList(state);
  std::vector<crypto::Hash256> ids;
  if (state.status().ok()) ids = ledger::ReadQueue(state);
  std::optional<ledger::GovConfig> config;
  if (state.status().ok()) config = ledger::ReadGovConfig(state);
  if (!state.status().ok()) return StateError(state.status());
  for (const ledger::OpenEntry& e : open) {
    if (std::find(ids.begin(), ids.end(), e.id) == ids.end()) ids.push_back(e.id);
  }
  Json out = Json::array();
  size_t lapsed = 0;
  for (const crypto::Hash256& id : ids) {
    std::optional<ledger::Proposal> p = ledger::ReadProposal(state, id);
    if (!state.status().ok()) return StateError(state.status());
    if (!p) continue;  // listed but gone: nothing to show
    Json j = ProposalToJson(id, *p, head, config);
    const bool live = j["status"] == "open" || j["status"] == "queued";
    if (!live) ++lapsed;
    if (!live && !all) continue;
    out.push_back(std::move(j));
  }
  return Json{{"height", head},
              {"proposals", std::move(out)},
              {"hidden", all ? size_t{0} : lapsed},
              {"governance", config.has_value()}};
}

}  // namespace cairn::api::membership
