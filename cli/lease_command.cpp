// Lease commands (docs/CLI.md "Leases"):
//   cairn lease acquire NAME --ttl N | renew NAME --token T | release NAME --token T
//   cairn lease show NAME [--at H] [--proof] | watch NAME [--timeout S] [--interval-ms MS]
// Transactions are signed with the wallet key like `cairn send`. Before sending, what the chain
// would refuse (a lease held by another, a token that is not the current one) is said unless
// --skip-checks; the chain's receipt stays the authority (two clients can race).
#include "cli/lease_command.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "crypto/hex.h"
#include "ledger/lease.h"

namespace cairn::cli {
namespace {

struct LeaseOptions : SendFlags {
  std::string name;
  std::string ttl = "100";
  std::string token;
  bool skip_checks = false;
  // show
  std::string at;
  bool proof = false;
  // watch
  std::string watch_timeout_s = "60";
  std::string interval_ms = "500";
};

std::string HolderText(const Json& l) {
  return l.contains("holder") && l["holder"].is_string() ? l["holder"].get<std::string>() : "none";
}

std::string LeaseView(const Json& l) {
  std::vector<std::pair<std::string, std::string>> f = {
      {"name", JsonText(l, "name")},
      {"height", JsonText(l, "height")},
  };
  if (JsonText(l, "exists") != "true") {
    f.emplace_back("state", "never acquired");
    return RenderFields(f);
  }
  const bool held = JsonText(l, "held") == "true";
  const bool released = !l.contains("holder") || !l["holder"].is_string();
  f.emplace_back("state", held ? "held" : released ? "released" : "expired");
  f.emplace_back("holder", HolderText(l));
  f.emplace_back("token", JsonText(l, "token"));
  f.emplace_back("expires at",
                 "block " + JsonText(l, "expires_at") +
                     (released ? " (released there)" : " (held while height < expires_at)"));
  f.emplace_back("ttl", JsonText(l, "ttl_blocks") + " blocks");
  if (l.contains("proof")) {
    f.emplace_back("state key", JsonText(l, "state_key"));
    f.emplace_back("proof", JsonText(l, "proof"));
  }
  return RenderFields(f);
}

// Reads the lease at the head; an error when the node cannot answer.
Result<Json> ReadLeaseAtHead(NodeClient& node, const std::string& name) {
  return node.Call("getLease", Json{{"name", name}});
}

// The pre-send checks: they spare a nonce on what the chain would refuse at the head.
Status Precheck(NodeClient& node, const LeaseOptions& o, const crypto::PublicKey& me, bool acquire,
                uint64_t token) {
  auto l = ReadLeaseAtHead(node, o.name);
  if (!l.ok()) return l.status();
  const std::string holder = HolderText(*l);
  // The next block is head + 1: held there iff head + 1 < expires_at.
  const uint64_t next = JsonU64(*l, "height").value_or(0) + 1;
  const bool held_next = holder != "none" && next < JsonU64(*l, "expires_at").value_or(0);
  if (acquire) {
    if (held_next) {
      return Status::Error("lease \"" + o.name + "\" is held by " +
                           (holder == me.ToHex() ? std::string("this key") : holder) + " (token " +
                           JsonText(*l, "token") + ") until block " + JsonText(*l, "expires_at") +
                           "; --skip-checks sends it anyway");
    }
    return Status::Ok();
  }
  if (holder != me.ToHex()) {
    return Status::Error("key " + me.ToHex() + " does not hold lease \"" + o.name +
                         "\" (holder: " + holder + "); --skip-checks sends it anyway");
  }
  if (JsonU64(*l, "token") != token) {
    return Status::Error("token " + std::to_string(token) + " is not lease \"" + o.name +
                         "\"'s current token " + JsonText(*l, "token") +
                         "; --skip-checks sends it anyway");
  }
  if (!held_next) {
    return Status::Error("lease \"" + o.name + "\" expires at block " + JsonText(*l, "expires_at") +
                         ", before the next block; acquire it again");
  }
  return Status::Ok();
}

Status SendLease(const GlobalOptions& g, const LeaseOptions& o, ledger::Payload p) {
  const bool acquire = std::holds_alternative<ledger::LeaseAcquire>(p);
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  if (!o.skip_checks) {
    auto key = LoadKey(o.key);
    if (!key.ok()) return key.status();
    if (Status s = Precheck(*node, o, key->public_key(), acquire, U64Of(o.token)); !s.ok()) {
      return s;
    }
  }
  auto out = SubmitSigned(g, o, std::move(p));
  if (!out.ok()) return out.status();
  const bool committed = JsonText(*out, "status") == "committed";
  if (committed) {
    // The lease as that block left it: the token a fencing service will be shown.
    const uint64_t h = JsonU64(*out, "height").value_or(0);
    if (auto l = node->Call("getLease", Json{{"name", o.name}, {"height", h}}); l.ok()) {
      (*out)["lease"] = *l;
    }
  }
  if (g.json) {
    PrintJson(*out);
  } else {
    PrintSubmitted(g, *out);
    if (out->contains("lease") && JsonText((*out)["receipt"], "result") == "ok") {
      const Json& l = (*out)["lease"];
      Print(RenderFields({{"lease", o.name},
                          {"holder", HolderText(l)},
                          {"token", JsonText(l, "token")},
                          {"expires at", "block " + JsonText(l, "expires_at")}}));
    }
  }
  return ReceiptStatus(*out);
}

Status Watch(const GlobalOptions& g, const LeaseOptions& o) {
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(U64Of(o.watch_timeout_s));
  const auto interval = std::chrono::milliseconds(std::max<uint64_t>(10, U64Of(o.interval_ms)));
  Json last;
  for (;;) {
    auto l = ReadLeaseAtHead(*node, o.name);
    if (!l.ok()) return l.status();
    if (last.is_null() || !LeaseChange(last, *l).empty()) {
      if (g.json) {
        PrintJsonLine(*l);
      } else {
        Print("block " + JsonText(*l, "height") + ": " + LeaseStateLine(*l) + "\n");
      }
      last = *l;
    }
    if (std::chrono::steady_clock::now() >= deadline) return Status::Ok();
    SleepUntilNextPoll(interval, deadline);
  }
}

}  // namespace

std::string LeaseHint(std::string_view result) {
  if (result == "lease_held") {
    return "another key holds it (or this key already does: renew it); cairn lease show NAME";
  }
  if (result == "bad_ttl") return "--ttl must be 1 to 100000 blocks";
  if (result == "lease_expired") return "the lease ran out; acquire it again for a new token";
  if (result == "wrong_token") return "the token is not the lease's current one (cairn lease show)";
  if (result == "not_holder") return "this key does not hold the lease (any more)";
  return "";
}

std::string LeaseStateLine(const Json& l) {
  if (!l.is_object() || JsonText(l, "exists") != "true") return "free (never acquired)";
  if (JsonText(l, "held") == "true") {
    return "held by " + HolderText(l) + " token " + JsonText(l, "token") + " until block " +
           JsonText(l, "expires_at");
  }
  if (HolderText(l) == "none") return "released (token " + JsonText(l, "token") + ")";
  return "expired at block " + JsonText(l, "expires_at") + " (holder " + HolderText(l) +
         ", token " + JsonText(l, "token") + ")";
}

std::string LeaseChange(const Json& before, const Json& after) {
  const std::string a = LeaseStateLine(before), b = LeaseStateLine(after);
  return a == b ? "" : b;
}

void AddLeaseCommands(CLI::App& app, const GlobalOptions& g, Action* action) {
  CLI::App* lease =
      app.add_subcommand("lease", "leases: expiring, exclusive names with fencing tokens");
  lease->require_subcommand(1);
  auto name_arg = [](CLI::App* c, LeaseOptions* o) {
    c->add_option("name", o->name, "the lease name (1..128 of A-Z a-z 0-9 . _ - / :)")
        ->required()
        ->check(CLI::Validator(
            [](std::string& s) {
              return ledger::IsValidLeaseName(s)
                         ? std::string()
                         : std::string("a lease name is 1 to 128 of A-Z a-z 0-9 . _ - / :");
            },
            "NAME"))
        ->type_name("NAME");
  };

  auto o = std::make_shared<LeaseOptions>();
  CLI::App* c = lease->add_subcommand("acquire", "take a free or expired lease (new token)");
  AddSendFlags(c, o.get());
  name_arg(c, o.get());
  c->add_option("--ttl", o->ttl, "blocks it is held for (1..100000)")
      ->check(CLI::Range(uint64_t{1}, ledger::kMaxLeaseTtl))
      ->type_name("N")
      ->capture_default_str();
  c->add_flag("--skip-checks", o->skip_checks, "send even if the lease looks held");
  c->footer("Example:\n  cairn lease acquire db/primary --ttl 50 --key me.json --wait");
  c->callback([&g, o, action] {
    *action = [&g, o] { return SendLease(g, *o, ledger::LeaseAcquire{o->name, U64Of(o->ttl)}); };
  });

  for (const bool renew : {true, false}) {
    o = std::make_shared<LeaseOptions>();
    c = renew ? lease->add_subcommand("renew", "holder: extend the lease by its ttl from now")
              : lease->add_subcommand("release", "holder: free the lease now");
    AddSendFlags(c, o.get());
    name_arg(c, o.get());
    c->add_option("--token", o->token, "the lease's current token (cairn lease show)")
        ->required()
        ->check(U64Validator())
        ->type_name("T");
    c->add_flag("--skip-checks", o->skip_checks, "send without checking holder and token first");
    c->footer(renew ? "Example:\n  cairn lease renew db/primary --token 7 --key me.json --wait"
                    : "Example:\n  cairn lease release db/primary --token 7 --key me.json --wait");
    c->callback([&g, o, action, renew] {
      *action = [&g, o, renew] {
        const uint64_t t = U64Of(o->token);
        return renew ? SendLease(g, *o, ledger::LeaseRenew{o->name, t})
                     : SendLease(g, *o, ledger::LeaseRelease{o->name, t});
      };
    });
  }

  o = std::make_shared<LeaseOptions>();
  c = lease->add_subcommand("show", "a lease: holder, token, expiry (at the head or --at H)");
  name_arg(c, o.get());
  c->add_option("--at", o->at, "the height (default: the head)")
      ->check(U64Validator())
      ->type_name("H");
  c->add_flag("--proof", o->proof, "also the state proof, header and certificate");
  c->footer("Examples:\n  cairn lease show db/primary\n  cairn lease show db/primary --json");
  c->callback([&g, o, action] {
    *action = [&g, o] {
      Json params{{"name", o->name}, {"proof", o->proof}};
      if (!o->at.empty()) params["height"] = U64Of(o->at);
      return Show(g, "getLease", params, LeaseView);
    };
  });

  o = std::make_shared<LeaseOptions>();
  c = lease->add_subcommand("watch", "follow a lease: one line per holder, token or expiry change");
  name_arg(c, o.get());
  c->add_option("--timeout", o->watch_timeout_s, "seconds to watch before exiting 0")
      ->check(U64Validator())
      ->type_name("S")
      ->capture_default_str();
  c->add_option("--interval-ms", o->interval_ms, "how often to poll getLease")
      ->check(U64Validator())
      ->type_name("MS")
      ->capture_default_str();
  c->footer("Example:\n  cairn lease watch db/primary --timeout 600");
  c->callback([&g, o, action] { *action = [&g, o] { return Watch(g, *o); }; });
}

}  // namespace cairn::cli
