// Wallet commands: key files, and signed transactions sent to a node.
//   cairn keys new --out FILE | keys show [--key FILE]
//   cairn send transfer|put|register|set-role --key FILE ... [--nonce N] [--wait [--timeout S]]
#include <chrono>
#include <memory>

#include "cli/common.h"
#include "crypto/hex.h"
#include "crypto/key_file.h"
#include "ledger/transaction.h"
#include "rpc/ws_client.h"

namespace cairn::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct KeysOptions {
  std::string out;
  std::string key;
};

Status KeysNew(const GlobalOptions& g, const KeysOptions& o) {
  const crypto::KeyPair key = crypto::KeyPair::Generate();
  if (Status s = crypto::WriteKeyFile(o.out, key); !s.ok()) {
    return Status::Error("--out " + o.out + ": " + OneLine(s.message()));
  }
  const std::string addr = key.public_key().ToHex();
  if (g.json) {
    PrintJson(Json{{"address", addr}, {"public_key", addr}, {"file", o.out}});
  } else {
    // The address alone, so a script can capture it: ADDR=$(cairn keys new --out k.json)
    Print(addr + "\n");
  }
  return Status::Ok();
}

Status KeysShow(const GlobalOptions& g, const KeysOptions& o) {
  auto key = LoadKey(o.key);
  if (!key.ok()) return key.status();
  const std::string addr = key->public_key().ToHex();
  if (g.json) {
    PrintJson(Json{{"address", addr}, {"public_key", addr}, {"file", o.key}});
  } else {
    Print(RenderFields({{"address", addr}, {"public key", addr}, {"file", o.key}}));
  }
  return Status::Ok();
}

// Options every `send` command shares, plus each payload's own.
struct SendOptions : SendFlags {
  std::string to, amount;             // transfer
  std::string name, name_hex;         // put: the record key
  std::string value, value_hex;       // put
  std::string pubkey, account, role;  // register, set-role
};

// The receipt part of a getTransaction answer as fields.
std::vector<std::pair<std::string, std::string>> ReceiptFields(const Json& t) {
  std::vector<std::pair<std::string, std::string>> f = {{"hash", JsonText(t, "hash")},
                                                        {"status", JsonText(t, "status")}};
  if (t.contains("height")) f.emplace_back("height", JsonText(t, "height"));
  if (t.contains("index")) f.emplace_back("index", JsonText(t, "index"));
  if (t.contains("block_hash")) f.emplace_back("block", JsonText(t, "block_hash"));
  if (t.contains("receipt")) f.emplace_back("result", JsonText(t["receipt"], "result"));
  return f;
}

// Waits for the tx's commit over a WebSocket subscription (topic tx: it fires at once when
// the tx is already committed). nullopt when the server refused the upgrade (an older node):
// the caller polls instead. The result has getTransaction's fields.
std::optional<Result<Json>> WaitSubscribed(const std::string& url, const std::string& hash,
                                           Clock::time_point deadline) {
  auto ws = rpc::WsClient::Connect(url);
  if (!ws.ok()) return std::nullopt;
  auto sub = ws->Subscribe(Json::array({"tx", Json{{"hash", hash}}}));
  if (!sub.ok()) return std::nullopt;
  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) return Result<Json>(Status::Error("timed out"));
    auto n = ws->Next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (!n.ok()) return Result<Json>(n.status());
    if (!n->has_value() || (*n)->subscription != *sub) continue;
    Json t = (*n)->result;
    t["status"] = "committed";
    return Result<Json>(std::move(t));
  }
}

// Waits until the tx is committed or `timeout` passes: by subscription, else by polling
// getTransaction.
Result<Json> WaitCommitted(NodeClient& node, const std::string& hash,
                           std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (auto done = WaitSubscribed(node.url(), hash, deadline)) {
    if (done->ok()) return *done;
    // Timed out or the connection failed: one poll says why (pending or unknown).
  }
  std::string last_status = "unknown";
  for (;;) {
    auto t = node.Call("getTransaction", Json{{"hash", hash}});
    if (!t.ok()) return t.status();
    last_status = JsonText(*t, "status");
    if (last_status == "committed") return t;
    if (Clock::now() >= deadline) break;
    SleepUntilNextPoll(std::chrono::milliseconds(100), deadline);
  }
  return Status::Error("timed out after " + FormatDuration(timeout.count()) + ": tx " + hash +
                       (last_status == "pending" ? " is still pending"
                                                 : " is unknown to the node (dropped from the "
                                                   "mempool?)"));
}

}  // namespace

Result<Json> SubmitSigned(const GlobalOptions& g, const SendFlags& o, ledger::Payload payload) {
  auto key = LoadKey(o.key);
  if (!key.ok()) return key.status();
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  auto status = node->Call("getStatus");
  if (!status.ok()) return status.status();
  const std::string chain_id = JsonText(*status, "chain_id");
  const std::string sender = key->public_key().ToHex();

  uint64_t nonce = 0;
  if (!o.nonce.empty()) {
    nonce = U64Of(o.nonce);
  } else {
    rpc::CallResult acct = node->CallRaw("getAccount", Json{{"address", sender}});
    if (acct.is_rpc_error() && acct.rpc_error().code == 1100) {
      return Status::Error("sender " + sender + " is not a registered account on chain \"" +
                           chain_id + "\" (an admin registers it: cairn send register --pubkey " +
                           sender + ")");
    }
    if (!acct.ok()) return Status::Error(node->Describe(acct));
    auto next = JsonU64(acct.value(), "next_nonce");
    if (!next) return Status::Error("getAccount answered without a next_nonce");
    nonce = *next;
  }

  ledger::Transaction tx;
  tx.chain_id = chain_id;
  tx.nonce = nonce;
  tx.payload = std::move(payload);
  tx.Sign(*key);
  const std::string hash = tx.Hash().ToHex();
  auto sent = node->Call("sendTransaction", Json{{"tx", crypto::ToHex(tx.Encode())}});
  if (!sent.ok()) return sent.status();
  if (JsonText(*sent, "hash") != hash) {
    return Status::Error("the node accepted the tx under hash \"" + JsonText(*sent, "hash") + "\"" +
                         ", not " + hash);
  }

  Json out = {{"hash", hash}, {"sender", sender}, {"nonce", nonce}, {"chain_id", chain_id}};
  if (!o.wait) {
    out["status"] = "pending";
    return out;
  }
  auto done = WaitCommitted(*node, hash, std::chrono::seconds(U64Of(o.timeout_s)));
  if (!done.ok()) {
    if (g.json) {
      out["status"] = "timeout";
      PrintJson(out);
    }
    return done.status();
  }
  out["status"] = "committed";
  for (const char* k : {"height", "index", "block_hash", "receipt"}) {
    if (done->contains(k)) out[k] = (*done)[k];
  }
  return out;
}

void PrintSubmitted(const GlobalOptions& g, const Json& out) {
  if (g.json) {
    PrintJson(out);
  } else if (JsonText(out, "status") != "committed") {
    Print(JsonText(out, "hash") + "\n");
  } else {
    auto fields = ReceiptFields(out);
    fields.insert(fields.begin() + 1, {"nonce", JsonText(out, "nonce")});
    Print(RenderFields(fields));
  }
}

Status ReceiptStatus(const Json& out) {
  if (JsonText(out, "status") != "committed") return Status::Ok();
  const std::string result = out.contains("receipt") ? JsonText(out["receipt"], "result") : "";
  if (result == "ok") return Status::Ok();
  std::string why = "tx " + JsonText(out, "hash") +
                    " failed: " + (result.empty() ? "no receipt" : result) + " (height " +
                    JsonText(out, "height") + ", index " + JsonText(out, "index") + ")";
  if (std::string hint = ReceiptHint(result); !hint.empty()) why += ": " + hint;
  return Status::Error(why);
}

namespace {

Status Send(const GlobalOptions& g, const SendOptions& o, ledger::Payload payload) {
  auto out = SubmitSigned(g, o, std::move(payload));
  if (!out.ok()) return out.status();
  PrintSubmitted(g, *out);
  return ReceiptStatus(*out);
}

}  // namespace

void AddSendFlags(CLI::App* cmd, SendFlags* o) {
  cmd->add_option("--key", o->key, "the sender's key file (default: $CAIRN_KEY)")
      ->envname("CAIRN_KEY")
      ->type_name("FILE");
  cmd->add_option("--nonce", o->nonce,
                  "use this nonce instead of the account's next one (getAccount next_nonce)")
      ->check(U64Validator())
      ->type_name("N");
  cmd->add_flag("--wait", o->wait,
                "wait until the tx is committed, print its receipt, fail if its result is not ok");
  cmd->add_option("--timeout", o->timeout_s, "seconds --wait waits before giving up")
      ->check(U64Validator())
      ->type_name("N")
      ->capture_default_str();
}

namespace {

void AddSendCommon(CLI::App* cmd, const std::shared_ptr<SendOptions>& o) {
  AddSendFlags(cmd, o.get());
}

ledger::Role RoleOf(const std::string& s) {
  return ledger::ParseRole(s).value_or(ledger::Role::kMember);
}

CLI::Validator RoleValidator() {
  return CLI::IsMember(std::vector<std::string>{"member", "admin"});
}

// cairn keys new | show.
void AddKeysCommands(CLI::App& app, const GlobalOptions& g, Action* action) {
  CLI::App* keys = app.add_subcommand("keys", "create and inspect key files");
  keys->require_subcommand(1);
  auto ko = std::make_shared<KeysOptions>();

  CLI::App* kn = keys->add_subcommand("new", "create a key file (mode 0600) and print its address");
  kn->add_option("--out", ko->out, "file to write; an existing file is never overwritten")
      ->required()
      ->type_name("FILE");
  kn->footer("Example:\n  ALICE=$(cairn keys new --out alice.json)");
  kn->callback([&g, ko, action] { *action = [&g, ko] { return KeysNew(g, *ko); }; });

  CLI::App* ks = keys->add_subcommand("show", "print the address (public key) of a key file");
  ks->add_option("--key", ko->key, "key file (default: $CAIRN_KEY)")
      ->envname("CAIRN_KEY")
      ->type_name("FILE");
  ks->footer("Example:\n  cairn keys show --key alice.json");
  ks->callback([&g, ko, action] { *action = [&g, ko] { return KeysShow(g, *ko); }; });
}

// cairn send transfer.
void AddTransferCommand(CLI::App* send, const GlobalOptions& g, Action* action) {
  auto o = std::make_shared<SendOptions>();
  CLI::App* c = send->add_subcommand("transfer", "move balance to another account");
  AddSendCommon(c, o);
  c->add_option("--to", o->to, "recipient address")
      ->required()
      ->check(AddressValidator())
      ->type_name("ADDR");
  c->add_option("--amount", o->amount, "amount (integer units)")
      ->required()
      ->check(U64Validator())
      ->type_name("N");
  c->footer("Example:\n  cairn send transfer --key admin.json --to $ALICE --amount 5000 --wait");
  c->callback([&g, o, action] {
    *action = [&g, o] {
      ledger::Transfer t{*ParseAddress(o->to, ""), U64Of(o->amount)};
      return Send(g, *o, t);
    };
  });
}

// cairn send put.
void AddPutCommand(CLI::App* send, const GlobalOptions& g, Action* action) {
  auto o = std::make_shared<SendOptions>();
  CLI::App* c =
      send->add_subcommand("put", "write a record (NAME -> VALUE) in the sender's own namespace");
  AddSendCommon(c, o);
  auto* name = c->add_option("--name,--record-key", o->name,
                             "record name as UTF-8 text (1..128 bytes); --key is the key file");
  auto* name_hex = c->add_option("--name-hex", o->name_hex, "record name as hex bytes")
                       ->check(HexValidator())
                       ->type_name("HEX");
  name->excludes(name_hex);
  auto* value = c->add_option("--value", o->value, "value as UTF-8 text (0..4096 bytes)");
  auto* value_hex = c->add_option("--value-hex", o->value_hex, "value as hex bytes")
                        ->check(HexValidator())
                        ->type_name("HEX");
  value->excludes(value_hex);
  c->footer(
      "Examples:\n  cairn send put --key alice.json --name doc-1 --value 'sha256:3f2a...' "
      "--wait\n"
      "  cairn send put --key alice.json --name-hex 00ff --value-hex deadbeef");
  c->callback([&g, o, name, name_hex, value, value_hex, action] {
    *action = [&g, o, name, name_hex, value, value_hex]() -> Status {
      if (!name->count() && !name_hex->count()) return Status::Error("give --name or --name-hex");
      if (!value->count() && !value_hex->count()) {
        return Status::Error("give --value or --value-hex");
      }
      ledger::Put p;
      p.key = name->count() ? Bytes(o->name.begin(), o->name.end()) : *crypto::FromHex(o->name_hex);
      p.value =
          value->count() ? Bytes(o->value.begin(), o->value.end()) : *crypto::FromHex(o->value_hex);
      if (p.key.empty() || p.key.size() > ledger::kMaxRecordKey) {
        return Status::Error("the record name is " + std::to_string(p.key.size()) +
                             " bytes; it must be 1 to " + std::to_string(ledger::kMaxRecordKey));
      }
      if (p.value.size() > ledger::kMaxRecordValue) {
        return Status::Error("the value is " + std::to_string(p.value.size()) + " bytes; at most " +
                             std::to_string(ledger::kMaxRecordValue));
      }
      return Send(g, *o, std::move(p));
    };
  });
}

// cairn send register.
void AddRegisterCommand(CLI::App* send, const GlobalOptions& g, Action* action) {
  auto o = std::make_shared<SendOptions>();
  CLI::App* c = send->add_subcommand("register", "admin: register a new account (balance 0)");
  AddSendCommon(c, o);
  c->add_option("--pubkey", o->pubkey, "the new account's public key (its address)")
      ->required()
      ->check(AddressValidator())
      ->type_name("ADDR");
  o->role = "member";
  c->add_option("--role", o->role, "member|admin")->check(RoleValidator())->capture_default_str();
  c->footer(
      "Example:\n  cairn send register --key admin.json --pubkey $ALICE --role member --wait");
  c->callback([&g, o, action] {
    *action = [&g, o] {
      ledger::RegisterAccount r{*ParseAddress(o->pubkey, ""), RoleOf(o->role)};
      return Send(g, *o, r);
    };
  });
}

// cairn send set-role.
void AddSetRoleCommand(CLI::App* send, const GlobalOptions& g, Action* action) {
  auto o = std::make_shared<SendOptions>();
  CLI::App* c = send->add_subcommand("set-role", "admin: change an account's role");
  AddSendCommon(c, o);
  c->add_option("--account", o->account, "the account's address")
      ->required()
      ->check(AddressValidator())
      ->type_name("ADDR");
  c->add_option("--role", o->role, "member|admin")->required()->check(RoleValidator());
  c->footer(
      "Example:\n  cairn send set-role --key admin.json --account $ALICE --role admin --wait");
  c->callback([&g, o, action] {
    *action = [&g, o] {
      ledger::SetRole s{*ParseAddress(o->account, ""), RoleOf(o->role)};
      return Send(g, *o, s);
    };
  });
}

}  // namespace

void AddWalletCommands(CLI::App& app, const GlobalOptions& g, Action* action) {
  AddKeysCommands(app, g, action);
  CLI::App* send = app.add_subcommand(
      "send", "sign a transaction with a key file and submit it (prints the tx hash)");
  send->require_subcommand(1);
  AddTransferCommand(send, g, action);
  AddPutCommand(send, g, action);
  AddRegisterCommand(send, g, action);
  AddSetRoleCommand(send, g, action);
}

}  // namespace cairn::cli
