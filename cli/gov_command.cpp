// Governance and membership commands (docs/CLI.md "Governance"):
//   cairn gov propose add-validator|remove|add-observer|rotate|set-governance ... [--expires-in N]
//   cairn gov approve ID | gov list [--all] | gov show ID
//   cairn validators [--at H]
// Proposals are signed with the wallet key like `cairn send`; what the chain would refuse
// (a key that is no governance admin, an unknown, closed or expired proposal) is said before
// anything is sent, unless --skip-checks asks to let the chain judge.
#include <cstdio>
#include <memory>
#include <set>

#include "cli/common.h"
#include "cli/lease_command.h"
#include "crypto/hex.h"
#include "ledger/governance.h"

namespace cairn::cli {
namespace {

struct GovOptions : SendFlags {
  std::string expires_in = "1000";
  bool skip_checks = false;
  // Actions.
  std::string name, consensus_key, p2p_key, address, id, threshold;
  std::vector<std::string> admins;
  // approve, show.
  std::string proposal;
  // list.
  bool all = false;
  // validators.
  std::string at;
};

crypto::PublicKey KeyOf(const std::string& hex) {
  return crypto::PublicKey::FromHex(hex).value_or(crypto::PublicKey());
}

// "add_validator node4 (ab12...)", one line per action for tables and receipts.
std::string ActionSummary(const Json& a) {
  const std::string type = JsonText(a, "type");
  if (type == "add_validator" || type == "add_observer") {
    return type + " " + JsonText(a, "name") + " (" +
           ShortHex(JsonText(a, type == "add_validator" ? "consensus_key" : "p2p_key"), 16) + ")";
  }
  if (type == "remove_member") return type + " id " + JsonText(a, "id");
  if (type == "rotate_keys") {
    return type + " id " + JsonText(a, "id") + " -> " + ShortHex(JsonText(a, "consensus_key"), 16);
  }
  if (type == "set_governance") {
    const size_t n = a.contains("admins") && a["admins"].is_array() ? a["admins"].size() : 0;
    return type + " " + JsonText(a, "threshold") + " of " + std::to_string(n) + " admins";
  }
  return type;
}

// "1 of 2" while approvals still count, else how many it got.
std::string Approvals(const Json& p) {
  const size_t n = p.contains("approvals") && p["approvals"].is_array() ? p["approvals"].size() : 0;
  std::string s = std::to_string(n);
  if (JsonText(p, "status") == "open" && p.contains("threshold")) {
    s += " of " + JsonText(p, "threshold");
  }
  return s;
}

std::string ProposalView(const Json& p) {
  std::vector<std::pair<std::string, std::string>> f = {
      {"id", JsonText(p, "id")},
      {"action", ActionSummary(p.value("action", Json::object()))},
      {"status",
       JsonText(p, "status") + (JsonText(p, "status") != JsonText(p, "stored_status")
                                    ? " (the state still says " + JsonText(p, "stored_status") + ")"
                                    : "")},
      {"proposer", JsonText(p, "proposer")},
      {"approvals", Approvals(p)},
      {"expires at", "block " + JsonText(p, "expires_at") + " (last height it may be approved)"}};
  if (p.contains("approvals") && p["approvals"].is_array()) {
    for (const Json& a : p["approvals"]) {
      f.emplace_back("  approved by", a.is_string() ? a.get<std::string>() : a.dump());
    }
  }
  if (JsonText(p, "result_height") != "0") {
    f.emplace_back("result", JsonText(p, "result") + " at block " + JsonText(p, "result_height"));
  }
  return RenderFields(f);
}

std::string ListView(const Json& r) {
  Table t({"ID", "ACTION", "APPROVALS", "EXPIRES", "STATUS"}, {2, 3});
  if (r.contains("proposals") && r["proposals"].is_array()) {
    for (const Json& p : r["proposals"]) {
      t.AddRow({ShortHex(JsonText(p, "id"), 16), ActionSummary(p.value("action", Json::object())),
                Approvals(p), JsonText(p, "expires_at"), JsonText(p, "status")});
    }
  }
  std::string out = t.rows() > 0 ? t.Render() : "no open proposals\n";
  if (JsonText(r, "governance") == "false") {
    out += "this chain has no governance (its genesis names no admins)\n";
  } else if (auto hidden = JsonU64(r, "hidden"); hidden && *hidden > 0) {
    out += std::to_string(*hidden) + " expired or closed not shown (--all)\n";
  }
  return out;
}

std::string MembersTable(const Json& s) {
  Table t({"ID", "KIND", "NAME", "CONSENSUS KEY", "ADDRESS"}, {0});
  for (const char* group : {"validators", "observers"}) {
    if (!s.contains(group) || !s[group].is_array()) continue;
    for (const Json& m : s[group]) {
      t.AddRow({JsonText(m, "id"), JsonText(m, "kind"), JsonText(m, "name"),
                JsonText(m, "consensus_key"), JsonText(m, "address")});
    }
  }
  return t.Render();
}

std::string ValidatorsView(const Json& s, const Json& gov) {
  std::string out = "set(" + JsonText(s, "height") + "), validators_hash " +
                    JsonText(s, "validators_hash") + "\n" + MembersTable(s);
  if (s.contains("pending") && s["pending"].is_object()) {
    const Json& p = s["pending"];
    out += "pending change, in force from block " + JsonText(p, "effective_height") +
           " (validators_hash " + JsonText(p, "validators_hash") + "):\n" + MembersTable(p);
  }
  if (gov.is_object()) {
    if (JsonText(gov, "enabled") == "true") {
      out += "governance: " + JsonText(gov, "threshold") + " of " +
             std::to_string(gov.value("admins", Json::array()).size()) + " admins\n";
    } else {
      out += "governance: none (the genesis names no admins; the set cannot change)\n";
    }
  }
  return out;
}

// The node's view of who is online: its own key when it validates, and its peers' keys.
std::set<std::string> OnlineKeys(NodeClient& node, const Json& status) {
  std::set<std::string> keys;
  if (JsonText(status, "validator") == "true") keys.insert(JsonText(status, "node_id"));
  if (auto peers = node.Call("getPeers"); peers.ok() && peers->is_array()) {
    for (const Json& p : *peers) keys.insert(JsonText(p, "node_id"));
  }
  return keys;
}

// Design §7: a removal that leaves a set too small for its engine, or fewer validators this
// node sees online than a quorum of the new set, is allowed by the rules (the chain cannot know
// who is online) but would stall the chain from the change's height: warn on stderr.
void WarnRemoval(NodeClient& node, const Json& status, uint32_t removed) {
  auto set = node.Call("getValidators", Json{{"height", "latest"}});
  if (!set.ok() || !set->contains("validators")) return;
  std::vector<Json> remaining;
  bool found = false;
  for (const Json& v : (*set)["validators"]) {
    if (JsonU64(v, "id") == removed) {
      found = true;
    } else {
      remaining.push_back(v);
    }
  }
  if (!found) return;  // an observer, or no member: the chain says so
  const std::string consensus = JsonText(status, "consensus");
  const size_t n = remaining.size();
  if (n == 0) {
    std::fprintf(stderr,
                 "cairn: warning: this removes the last validator: no block can be made after "
                 "the change takes effect\n");
    return;
  }
  const size_t tolerant = consensus == "bft" ? 4 : consensus == "raft" ? 3 : 0;
  if (n < tolerant) {
    std::fprintf(stderr,
                 "cairn: warning: the new set has %zu validators; %s tolerates a faulty one only "
                 "from %zu\n",
                 n, consensus.c_str(), tolerant);
  }
  // BFT: n - floor((n - 1) / 3); Raft: a majority; solo: its one proposer.
  const size_t quorum = consensus == "bft" ? n - (n - 1) / 3 : consensus == "raft" ? n / 2 + 1 : 1;
  const std::set<std::string> online = OnlineKeys(node, status);
  size_t up = 0;
  for (const Json& v : remaining) up += online.count(JsonText(v, "p2p_key"));
  if (up < quorum) {
    std::fprintf(
        stderr,
        "cairn: warning: this node sees %zu of the %zu remaining validators online (itself "
        "and its peers); the new set needs %zu, so the chain stalls from the change's "
        "height until enough are up\n",
        up, n, quorum);
  }
}

// What the chain would refuse, said before spending a nonce (unless --skip-checks).
Status CheckAdmin(NodeClient& node, const crypto::PublicKey& key) {
  auto gov = node.Call("getGovernance");
  if (!gov.ok()) return gov.status();
  if (JsonText(*gov, "enabled") != "true") {
    return Status::Error("this chain has no governance (its genesis names no admins)");
  }
  for (const Json& a : (*gov)["admins"]) {
    if (a.is_string() && a.get<std::string>() == key.ToHex()) return Status::Ok();
  }
  return Status::Error("key " + key.ToHex() +
                       " is not a governance admin (cairn validators lists the " +
                       std::to_string((*gov)["admins"].size()) +
                       " admins; a role admin is not a governance admin). "
                       "--skip-checks sends it anyway");
}

Result<crypto::PublicKey> SenderKey(const SendFlags& o) {
  auto key = LoadKey(o.key);
  if (!key.ok()) return key.status();
  return key->public_key();
}

// Sends a governance transaction and prints its receipt plus the proposal it made or
// approved (when committed).
Status SendGov(const GlobalOptions& g, const GovOptions& o, NodeClient& node, ledger::Payload p,
               const std::string& proposal_id) {
  auto out = SubmitSigned(g, o, std::move(p));
  if (!out.ok()) return out.status();
  const std::string id = proposal_id.empty() ? JsonText(*out, "hash") : proposal_id;
  (*out)["proposal_id"] = id;
  if (JsonText(*out, "status") == "committed") {
    if (auto pr = node.Call("getProposal", Json{{"id", id}}); pr.ok()) (*out)["proposal"] = *pr;
  }
  if (g.json) {
    PrintJson(*out);
  } else {
    PrintSubmitted(g, *out);
    if (out->contains("proposal")) {
      const Json& pr = (*out)["proposal"];
      Print(RenderFields(
          {{"proposal", id}, {"status", JsonText(pr, "status")}, {"approvals", Approvals(pr)}}));
    } else if (proposal_id.empty() && JsonText(*out, "status") != "committed") {
      Print("the proposal's id is this transaction's hash\n");
    }
  }
  return ReceiptStatus(*out);
}

Status Propose(const GlobalOptions& g, const GovOptions& o, ledger::Action action) {
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  auto status = node->Call("getStatus");
  if (!status.ok()) return status.status();
  const uint64_t expires_in = U64Of(o.expires_in);
  // expires_at must be above the block that includes the proposal, head + 1 at the earliest.
  if (expires_in < 2 || expires_in > ledger::kMaxProposalLifetime) {
    return Status::Error("--expires-in " + o.expires_in + ": give 2 to " +
                         std::to_string(ledger::kMaxProposalLifetime) +
                         " blocks (the proposal itself lands in block head + 1 at the earliest)");
  }
  auto head = JsonU64(*status, "height");
  if (!head) return Status::Error("getStatus answered without a height");
  if (!o.skip_checks) {
    auto key = SenderKey(o);
    if (!key.ok()) return key.status();
    if (Status s = CheckAdmin(*node, *key); !s.ok()) return s;
  }
  if (auto* r = std::get_if<ledger::RemoveMember>(&action)) WarnRemoval(*node, *status, r->id);
  ledger::GovPropose p;
  p.expires_at = *head + expires_in;
  p.action = std::move(action);
  return SendGov(g, o, *node, std::move(p), "");
}

Status Approve(const GlobalOptions& g, const GovOptions& o) {
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  auto id = crypto::Hash256::FromHex(o.proposal);
  if (!o.skip_checks) {
    auto key = SenderKey(o);
    if (!key.ok()) return key.status();
    if (Status s = CheckAdmin(*node, *key); !s.ok()) return s;
    rpc::CallResult r = node->CallRaw("getProposal", Json{{"id", o.proposal}});
    if (r.is_rpc_error() && r.rpc_error().code == 1100) {
      return Status::Error("no proposal " + o.proposal +
                           " (the id is the gov_propose transaction's hash; cairn gov list)");
    }
    if (!r.ok()) return Status::Error(node->Describe(r));
    const Json& p = r.value();
    const std::string st = JsonText(p, "status");
    if (st == "expired") {
      return Status::Error("proposal " + o.proposal +
                           " expired: it could be approved up to block " +
                           JsonText(p, "expires_at") + "; propose it again");
    }
    if (st != "open") {
      return Status::Error("proposal " + o.proposal + " is " + st + " (result " +
                           JsonText(p, "result") + "), not open for approvals");
    }
    for (const Json& a : p.value("approvals", Json::array())) {
      if (a.is_string() && a.get<std::string>() == key->ToHex()) {
        return Status::Error("key " + key->ToHex() + " already approved proposal " + o.proposal);
      }
    }
  }
  return SendGov(g, o, *node, ledger::GovApprove{*id}, o.proposal);
}

Status Validators(const GlobalOptions& g, const GovOptions& o) {
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  Json height = o.at.empty() ? Json("latest") : Json(U64Of(o.at));
  auto set = node->Call("getValidators", Json{{"height", height}});
  if (!set.ok()) return set.status();
  auto gov = node->Call("getGovernance");
  if (g.json) {
    Json out = *set;
    if (gov.ok()) out["governance"] = *gov;
    PrintJson(out);
  } else {
    Print(ValidatorsView(*set, gov.ok() ? *gov : Json()));
  }
  return Status::Ok();
}

void AddProposeCommon(CLI::App* c, const std::shared_ptr<GovOptions>& o) {
  AddSendFlags(c, o.get());
  c->add_option("--expires-in", o->expires_in,
                "it may be approved up to block head + N (2..100000)")
      ->check(U64Validator())
      ->type_name("N")
      ->capture_default_str();
  c->add_flag("--skip-checks", o->skip_checks,
              "send even if this key is no governance admin (the chain refuses it in a receipt)");
}

CLI::Option* KeyOption(CLI::App* c, const char* name, std::string* v, const char* what) {
  return c->add_option(name, *v, what)->check(AddressValidator())->type_name("HEX");
}

void AddProposeCommands(CLI::App* gov, const GlobalOptions& g, Action* action) {
  CLI::App* propose =
      gov->add_subcommand("propose", "governance admin: propose a change (your tx approves it)");
  propose->require_subcommand(1);

  auto o = std::make_shared<GovOptions>();
  CLI::App* c = propose->add_subcommand("add-validator", "add a validator (from h + 2)");
  AddProposeCommon(c, o);
  c->add_option("--name", o->name, "its name (1..64 bytes, unique)")->required();
  KeyOption(c, "--consensus-key", &o->consensus_key, "the key it signs blocks and votes with")
      ->required();
  KeyOption(c, "--p2p-key", &o->p2p_key, "its p2p identity (default: the consensus key)");
  c->add_option("--address", o->address, "its p2p host:port");
  c->footer(
      "Example:\n  cairn gov propose add-validator --key admin.json --name node4 "
      "--consensus-key $K --address 10.0.0.5:7000 --wait");
  c->callback([&g, o, action] {
    *action = [&g, o] {
      ledger::AddValidator a{o->name, KeyOf(o->consensus_key),
                             KeyOf(o->p2p_key.empty() ? o->consensus_key : o->p2p_key), o->address};
      return Propose(g, *o, a);
    };
  });

  o = std::make_shared<GovOptions>();
  c = propose->add_subcommand("remove", "remove a validator or an observer by member id");
  AddProposeCommon(c, o);
  c->add_option("--id", o->id, "its member id (cairn validators)")
      ->required()
      ->check(CLI::Range(0u, 0xffffffffu));
  c->footer("Example:\n  cairn gov propose remove --key admin.json --id 3 --wait");
  c->callback([&g, o, action] {
    *action = [&g, o] {
      return Propose(g, *o, ledger::RemoveMember{static_cast<uint32_t>(U64Of(o->id))});
    };
  });

  o = std::make_shared<GovOptions>();
  c = propose->add_subcommand("add-observer", "allow a non-voting node to connect");
  AddProposeCommon(c, o);
  c->add_option("--name", o->name, "its name (1..64 bytes, unique)")->required();
  KeyOption(c, "--p2p-key", &o->p2p_key, "its p2p identity")->required();
  c->add_option("--address", o->address, "its p2p host:port");
  c->footer("Example:\n  cairn gov propose add-observer --key admin.json --name obs1 --p2p-key $K");
  c->callback([&g, o, action] {
    *action = [&g, o] {
      return Propose(g, *o, ledger::AddObserver{o->name, KeyOf(o->p2p_key), o->address});
    };
  });

  o = std::make_shared<GovOptions>();
  c = propose->add_subcommand("rotate", "replace a validator's keys; its member id stays");
  AddProposeCommon(c, o);
  c->add_option("--id", o->id, "its member id")->required()->check(CLI::Range(0u, 0xffffffffu));
  KeyOption(c, "--consensus-key", &o->consensus_key, "the new consensus key")->required();
  KeyOption(c, "--p2p-key", &o->p2p_key, "the new p2p key (default: the new consensus key)");
  c->footer("Example:\n  cairn gov propose rotate --key admin.json --id 2 --consensus-key $NEW");
  c->callback([&g, o, action] {
    *action = [&g, o] {
      ledger::RotateKeys a{static_cast<uint32_t>(U64Of(o->id)), KeyOf(o->consensus_key),
                           KeyOf(o->p2p_key.empty() ? o->consensus_key : o->p2p_key)};
      return Propose(g, *o, a);
    };
  });

  o = std::make_shared<GovOptions>();
  c = propose->add_subcommand("set-governance", "replace the admin set and the threshold");
  AddProposeCommon(c, o);
  c->add_option("--threshold", o->threshold, "approvals that run an action (1..admins)")
      ->required()
      ->check(CLI::Range(1, 64));
  c->add_option("--admin", o->admins, "an admin's public key (repeat; 1..64)")
      ->required()
      ->check(AddressValidator())
      ->type_name("HEX");
  c->footer(
      "Example:\n  cairn gov propose set-governance --key admin.json --threshold 2 "
      "--admin $A --admin $B --admin $C");
  c->callback([&g, o, action] {
    *action = [&g, o] {
      ledger::SetGovernance a;
      a.threshold = static_cast<uint16_t>(U64Of(o->threshold));
      for (const std::string& k : o->admins) a.admins.push_back(KeyOf(k));
      return Propose(g, *o, std::move(a));
    };
  });
}

}  // namespace

std::string ReceiptHint(std::string_view result) {
  if (result == "not_governance_admin") {
    return "the key is not a governance admin (cairn validators lists them; a role admin is not "
           "one)";
  }
  if (result == "bad_expiry") return "expires_at must be above the block and at most 100000 on";
  if (result == "too_many_proposals") return "the key has 16 open proposals; let some close";
  if (result == "invalid_action") {
    return "the action does not fit the current set or config (unknown id, name or key taken, "
           "threshold above the admin count)";
  }
  if (result == "unknown_proposal") return "no proposal has that id (cairn gov list)";
  if (result == "proposal_closed") return "the proposal already executed, failed or is queued";
  if (result == "proposal_expired") return "the proposal passed its expiry; propose it again";
  if (result == "already_approved") return "this key already approved it";
  return LeaseHint(result);
}

void AddGovCommands(CLI::App& app, const GlobalOptions& g, Action* action) {
  CLI::App* gov = app.add_subcommand("gov", "governance: propose and approve membership changes");
  gov->require_subcommand(1);
  AddProposeCommands(gov, g, action);

  auto o = std::make_shared<GovOptions>();
  CLI::App* c = gov->add_subcommand("approve", "governance admin: approve an open proposal");
  AddSendFlags(c, o.get());
  c->add_option("id", o->proposal, "the proposal id (its gov_propose tx hash)")
      ->required()
      ->check(HashValidator())
      ->type_name("ID");
  c->add_flag("--skip-checks", o->skip_checks,
              "send without checking the proposal and the key first (the chain judges)");
  c->footer("Example:\n  cairn gov approve 3f2a... --key admin2.json --wait");
  c->callback([&g, o, action] { *action = [&g, o] { return Approve(g, *o); }; });

  c = gov->add_subcommand("list", "open and queued proposals");
  c->add_flag("--all", o->all, "also the expired ones the state still lists");
  c->footer("Example:\n  cairn gov list");
  c->callback([&g, o, action] {
    *action = [&g, o] { return Show(g, "listProposals", Json{{"all", o->all}}, ListView); };
  });

  c = gov->add_subcommand("show", "one proposal: action, approvals, status, result");
  c->add_option("id", o->proposal, "the proposal id")
      ->required()
      ->check(HashValidator())
      ->type_name("ID");
  c->footer("Example:\n  cairn gov show 3f2a...");
  c->callback([&g, o, action] {
    *action = [&g, o] { return Show(g, "getProposal", Json{{"id", o->proposal}}, ProposalView); };
  });

  c = app.add_subcommand("validators", "the members (validators, observers) governing a height");
  c->add_option("--at", o->at, "the height (default: the head); up to head + 2")
      ->check(U64Validator())
      ->type_name("H");
  c->footer("Examples:\n  cairn validators\n  cairn validators --at 120");
  c->callback([&g, o, action] { *action = [&g, o] { return Validators(g, *o); }; });
}

}  // namespace cairn::cli
