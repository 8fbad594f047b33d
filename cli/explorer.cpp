// Explorer commands: read-only views of a node's chain over JSON-RPC.
//   cairn status | block [SEL] | blocks [--from A] [--to B] | tx HASH | account [ADDR]
//   cairn record --address ADDR --name K | evidence | peers | follow [--count N]
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/common.h"
#include "client/client.h"
#include "crypto/hex.h"
#include "genesis/genesis.h"
#include "rpc/ws_client.h"

namespace cairn::cli {
namespace {

using Clock = std::chrono::steady_clock;
using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr uint64_t kMaxBlocksPerCall = 1000;  // getBlocks' limit (api/methods.cpp)

// A 64-hex value shortened for tables; the all-zero proposer of genesis shows as "-".
std::string ShortKey(const std::string& hex) {
  if (!hex.empty() && hex.find_first_not_of('0') == std::string::npos) return "-";
  return ShortHex(hex, 16);
}

std::string TimeOf(const Json& header) {
  std::string t = JsonText(header, "time");
  if (!t.empty()) return t;
  auto ms = JsonU64(header, "timestamp_ms");
  return ms ? genesis::FormatRfc3339Ms(*ms) : "";
}

// HEIGHT TIME HASH TXS PROPOSER, for `blocks` and `follow`.
const std::vector<std::string> kBlockColumns = {"HEIGHT", "TIME", "HASH", "TXS", "PROPOSER"};
std::vector<std::string> BlockRow(const Json& h) {
  return {JsonText(h, "height"), TimeOf(h), ShortHex(JsonText(h, "hash"), 16),
          JsonText(h, "tx_count"), ShortKey(JsonText(h, "proposer"))};
}

// `follow` prints rows as blocks arrive, so its columns have fixed widths.
std::string FixedRow(const std::vector<std::string>& cells) {
  static const size_t kWidths[] = {8, 24, 18, 5, 0};
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    const std::string cell = OneLine(cells[i]);
    const size_t w = i < std::size(kWidths) ? kWidths[i] : 0;
    const std::string pad(w > TextWidth(cell) ? w - TextWidth(cell) : 0, ' ');
    line += (i == 0 || i == 3) ? pad + cell : cell + pad;  // numbers right-aligned
    if (i + 1 < cells.size()) line += "  ";
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

// Bytes of a hex JSON field as text when printable, else hex.
std::string HexFieldAsText(const Json& j, const char* key) {
  auto b = crypto::FromHex(JsonText(j, key));
  if (!b) return JsonText(j, key);
  bool text = false;
  std::string s = TextOrHex(*b, &text);
  return text ? "\"" + s + "\"" : "0x" + s;
}

// The payload-specific fields of a tx JSON (api/json.cpp TxToJson).
void AddPayloadFields(const Json& tx, Fields* f) {
  const std::string type = JsonText(tx, "type");
  if (type == "transfer") {
    f->emplace_back("to", JsonText(tx, "to"));
    f->emplace_back("amount", JsonText(tx, "amount"));
  } else if (type == "put") {
    f->emplace_back("name", HexFieldAsText(tx, "key"));
    f->emplace_back("value", HexFieldAsText(tx, "value"));
  } else if (type == "register") {
    f->emplace_back("public key", JsonText(tx, "public_key"));
    f->emplace_back("role", JsonText(tx, "role"));
  } else if (type == "set_role") {
    f->emplace_back("account", JsonText(tx, "account"));
    f->emplace_back("role", JsonText(tx, "role"));
  }
}

std::string StatusView(const Json& s) {
  std::string consensus = JsonText(s, "consensus");
  if (!JsonText(s, "role").empty()) consensus += ", role " + JsonText(s, "role");
  if (!JsonText(s, "term").empty()) consensus += ", term " + JsonText(s, "term");
  if (!JsonText(s, "leader").empty()) consensus += ", leader " + ShortKey(JsonText(s, "leader"));
  return RenderFields({
      {"chain", JsonText(s, "chain_id")},
      {"genesis hash", JsonText(s, "genesis_hash")},
      {"node", JsonText(s, "node_name") + " (" + JsonText(s, "node_id") + ")"},
      {"version", JsonText(s, "version")},
      {"consensus", consensus},
      {"validator", JsonText(s, "validator") == "true" ? "yes" : "no"},
      {"height", JsonText(s, "height")},
      {"head hash", JsonText(s, "head_hash")},
      {"head time", JsonText(s, "head_time")},
      {"state root", JsonText(s, "state_root")},
      {"commit height", JsonText(s, "commit_height")},
      {"mempool", JsonText(s, "mempool_size") + " txs, " +
                      FormatBytes(JsonU64(s, "mempool_bytes").value_or(0))},
      {"peers", JsonText(s, "peers")},
  });
}

std::string BlockView(const Json& b) {
  const std::string consensus = JsonText(b, "consensus_data");
  std::string finality = "-";
  if (b.contains("certificate") && b["certificate"].is_object()) {
    const Json& c = b["certificate"];
    std::string signers;
    size_t n = 0;
    if (c.contains("signatures") && c["signatures"].is_array()) {
      for (const Json& s : c["signatures"]) {
        signers += (n++ ? ", " : "") + JsonText(s, "validator");
      }
    }
    finality = "round " + JsonText(c, "round") + ", precommits of validators " + signers + " (" +
               std::to_string(n) + " signatures)";
  }
  std::string out = RenderFields({
      {"height", JsonText(b, "height")},
      {"hash", JsonText(b, "hash")},
      {"prev hash", JsonText(b, "prev_hash")},
      {"time", TimeOf(b)},
      {"proposer",
       ShortKey(JsonText(b, "proposer")) == "-" ? "- (genesis)" : JsonText(b, "proposer")},
      {"tx root", JsonText(b, "tx_root")},
      {"state root", JsonText(b, "state_root")},
      {"consensus", consensus.empty() ? "-" : consensus},
      {"certificate", finality},
      {"txs", JsonText(b, "tx_count")},
  });
  if (!b.contains("txs") || !b["txs"].is_array() || b["txs"].empty()) return out;
  Table t({"#", "HASH", "TYPE", "SENDER", "NONCE", "DETAIL", "RESULT"}, {0, 4});
  size_t i = 0;
  for (const Json& tx : b["txs"]) {
    const Json receipt = tx.is_object() && tx.contains("receipt") ? tx["receipt"] : Json();
    t.AddRow({std::to_string(i++), ShortHex(JsonText(tx, "hash"), 16), JsonText(tx, "type"),
              ShortHex(JsonText(tx, "sender"), 16), JsonText(tx, "nonce"), SummarizeTx(tx),
              JsonText(receipt, "result")});
  }
  return out + "\n" + t.Render();
}

std::string TxView(const Json& t) {
  Fields f = {{"hash", JsonText(t, "hash")}, {"status", JsonText(t, "status")}};
  if (t.contains("height")) {
    f.emplace_back("block", JsonText(t, "height") + " (" + JsonText(t, "block_hash") + ")");
    f.emplace_back("index", JsonText(t, "index"));
  }
  if (t.contains("receipt")) f.emplace_back("result", JsonText(t["receipt"], "result"));
  if (t.contains("tx")) {
    const Json& tx = t["tx"];
    f.emplace_back("type", JsonText(tx, "type"));
    f.emplace_back("chain", JsonText(tx, "chain_id"));
    f.emplace_back("sender", JsonText(tx, "sender"));
    f.emplace_back("nonce", JsonText(tx, "nonce"));
    AddPayloadFields(tx, &f);
    f.emplace_back("signature", JsonText(tx, "signature"));
  }
  return RenderFields(f);
}

std::string AccountView(const Json& a) {
  return RenderFields(
      {{"address", JsonText(a, "address")},
       {"balance", JsonText(a, "balance")},
       {"nonce", JsonText(a, "nonce")},
       {"next nonce", JsonText(a, "next_nonce") + " (committed nonce plus pending)"},
       {"role", JsonText(a, "role")}});
}

std::string EvidenceView(const Json& e) {
  if (!e.is_array() || e.empty())
    return "no evidence: no validator was seen signing conflicting votes\n";
  Table t({"VALIDATOR", "PUBLIC KEY", "VOTE", "HEIGHT", "ROUND", "BLOCK A", "BLOCK B", "RECORDED"},
          {3, 4});
  auto block = [](const Json& j, const char* k) {
    return j.contains(k) && j[k].is_string() ? ShortHex(j[k].get<std::string>(), 16)
                                             : std::string("nil");
  };
  for (const Json& v : e) {
    auto at = JsonU64(v, "recorded_ms");
    t.AddRow({JsonText(v, "validator"), ShortHex(JsonText(v, "public_key"), 16),
              JsonText(v, "vote_type"), JsonText(v, "height"), JsonText(v, "round"),
              block(v, "block_a"), block(v, "block_b"), at ? genesis::FormatRfc3339Ms(*at) : ""});
  }
  return t.Render();
}

std::string PeersView(const Json& p) {
  if (!p.is_array() || p.empty()) return "no peers connected\n";
  Table t({"NAME", "NODE ID", "ADDRESS", "DIRECTION", "SINCE", "IN", "OUT"}, {5, 6});
  for (const Json& n : p) {
    auto since = JsonU64(n, "connected_since_ms");
    t.AddRow({JsonText(n, "name"), ShortHex(JsonText(n, "node_id"), 16), JsonText(n, "address"),
              JsonText(n, "direction"), since ? genesis::FormatRfc3339Ms(*since) : "",
              FormatBytes(JsonU64(n, "bytes_in").value_or(0)) + " / " + JsonText(n, "messages_in") +
                  " msgs",
              FormatBytes(JsonU64(n, "bytes_out").value_or(0)) + " / " +
                  JsonText(n, "messages_out") + " msgs"});
  }
  return t.Render();
}

struct ExplorerOptions {
  std::string block = "latest";
  std::string from, to;
  std::string hash;
  std::string address, key_file;
  std::string name, name_hex;
  std::string count, follow_from, timeout_s = "0", interval_ms = "250";
};

// Block headers [from, to] through getBlocks, in pages; `fn` gets each.
Status ForEachHeader(NodeClient& node, uint64_t from, uint64_t to,
                     const std::function<void(const Json&)>& fn) {
  while (from <= to) {
    const uint64_t last = std::min(to, from + kMaxBlocksPerCall - 1);
    auto r = node.Call("getBlocks", Json{{"from", from}, {"to", last}});
    if (!r.ok()) return r.status();
    if (!r->is_array() || r->empty()) break;
    for (const Json& h : *r) fn(h);
    auto got = JsonU64(r->back(), "height");
    if (!got || *got < from) return Status::Error("getBlocks answered out of order");
    from = *got + 1;
  }
  return Status::Ok();
}

Status Blocks(const GlobalOptions& g, const ExplorerOptions& o) {
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  auto status = node->Call("getStatus");
  if (!status.ok()) return status.status();
  const uint64_t head = JsonU64(*status, "height").value_or(0);
  const uint64_t to = o.to.empty() ? head : std::min(head, U64Of(o.to));
  const uint64_t from = o.from.empty() ? (to >= 19 ? to - 19 : 0) : U64Of(o.from);
  Json all = Json::array();
  Table t(kBlockColumns, {0, 3});
  Status s = ForEachHeader(*node, from, to, [&](const Json& h) {
    if (g.json) {
      all.push_back(h);
    } else {
      t.AddRow(BlockRow(h));
    }
  });
  if (!s.ok()) return s;
  if (g.json) {
    PrintJson(all);
  } else if (t.rows() == 0) {
    const std::string last = o.to.empty() ? std::to_string(to) : o.to;
    Print("no blocks in [" + std::to_string(from) + ", " + last + "] (the head is " +
          std::to_string(head) + ")\n");
  } else {
    Print(t.Render());
  }
  return Status::Ok();
}

// Follows over a WebSocket subscription to newBlocks from `*next` (the blocks committed since
// getStatus are replayed by the server, so none is missed or printed twice). nullopt when the
// server refused the upgrade (an older node) or the resume (from further back than its
// rpc.max_resume_blocks), or when the subscription ends under way (the server closed the
// connection: a slow consumer, 1008, or a restart, 1001; or an {"error","ended":true} event):
// the caller then polls over HTTP from `*next`, so no block is missed or printed twice.
std::optional<Status> FollowSubscribed(const GlobalOptions& g, uint64_t* next, uint64_t count,
                                       uint64_t* seen, Clock::time_point deadline,
                                       uint64_t timeout_s, bool* header_printed) {
  // With a --rpc list, the first node that accepts the upgrade serves the subscription.
  auto urls = client::Client::ParseUrlList(g.rpc_url);
  if (!urls.ok()) return std::nullopt;
  Result<rpc::WsClient> ws = Status::Unavailable("no node accepted the WebSocket upgrade");
  for (const std::string& url : *urls) {
    ws = rpc::WsClient::Connect(url);
    if (ws.ok()) break;
  }
  if (!ws.ok()) return std::nullopt;
  auto sub = ws->Subscribe(Json::array({"newBlocks", Json{{"from_height", *next}}}));
  if (!sub.ok()) return std::nullopt;
  if (!g.json && !*header_printed) Print(FixedRow(kBlockColumns));
  *header_printed = true;
  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) {
      return Status::Error("timed out after " + std::to_string(timeout_s) + " s: saw " +
                           std::to_string(*seen) +
                           (count > 0 ? " of " + std::to_string(count) : "") + " blocks");
    }
    const auto wait = std::min<Clock::duration>(deadline - now, std::chrono::seconds(3600));
    auto n = ws->Next(std::chrono::duration_cast<std::chrono::milliseconds>(wait));
    if (!n.ok()) return std::nullopt;  // closed: polling takes over from *next
    if (!n->has_value() || (*n)->subscription != *sub) continue;
    const Json& h = (*n)->result;
    // Not a block: the server ended the subscription (a resume could not read the store).
    if (!h.is_object() || h.contains("ended") || !h.contains("height")) return std::nullopt;
    if (g.json) {
      PrintJsonLine(h);
    } else {
      Print(FixedRow(BlockRow(h)));
    }
    ++*seen;
    *next = JsonU64(h, "height").value_or(*next) + 1;
    if (count > 0 && *seen >= count) return Status::Ok();
  }
}

Status Follow(const GlobalOptions& g, const ExplorerOptions& o) {
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  auto status = node->Call("getStatus");
  if (!status.ok()) return status.status();
  uint64_t next =
      o.follow_from.empty() ? JsonU64(*status, "height").value_or(0) + 1 : U64Of(o.follow_from);
  const uint64_t count = o.count.empty() ? 0 : U64Of(o.count);
  const uint64_t timeout_s = U64Of(o.timeout_s);
  const auto deadline =
      timeout_s > 0 ? Clock::now() + std::chrono::seconds(timeout_s) : Clock::time_point::max();
  const auto interval = std::chrono::milliseconds(std::max<uint64_t>(10, U64Of(o.interval_ms)));
  uint64_t seen = 0;
  if (count > 0 && seen >= count) return Status::Ok();
  bool header_printed = false;
  if (auto done = FollowSubscribed(g, &next, count, &seen, deadline, timeout_s, &header_printed)) {
    return *done;
  }
  // Polling: the server has no WebSocket, cannot replay from --from, or ended the subscription.
  if (!g.json && !header_printed) Print(FixedRow(kBlockColumns));
  bool unreachable = false;  // said once per outage on stderr
  for (;;) {
    rpc::CallResult raw = node->CallRaw("getStatus");
    if (raw.is_transport_error()) {
      // A node restarting (it closed the subscription with 1001) or briefly unreachable: keep
      // `next` and poll until it answers or --timeout, as a follower of a log would.
      if (!unreachable) {
        std::fprintf(stderr, "cairn follow: %s; retrying\n", node->Describe(raw).c_str());
      }
      unreachable = true;
      if (Clock::now() >= deadline) {
        return Status::Error("timed out after " + std::to_string(timeout_s) +
                             " s: the node is not answering: " + node->Describe(raw));
      }
      SleepUntilNextPoll(interval, deadline);
      continue;
    }
    if (!raw.ok()) return Status::Error(node->Describe(raw));
    unreachable = false;
    const Json st = std::move(raw).value();
    const uint64_t head = JsonU64(st, "height").value_or(0);
    if (head >= next) {
      const uint64_t to = count > 0 ? std::min(head, next + (count - seen) - 1) : head;
      Status s = ForEachHeader(*node, next, to, [&](const Json& h) {
        if (g.json) {
          PrintJsonLine(h);
        } else {
          Print(FixedRow(BlockRow(h)));
        }
        ++seen;
        next = JsonU64(h, "height").value_or(next) + 1;
      });
      if (!s.ok()) return s;
      if (count > 0 && seen >= count) return Status::Ok();
    }
    if (Clock::now() >= deadline) {
      return Status::Error("timed out after " + std::to_string(timeout_s) + " s: saw " +
                           std::to_string(seen) +
                           (count > 0 ? " of " + std::to_string(count) : "") + " blocks");
    }
    SleepUntilNextPoll(interval, deadline);
  }
}

Status Record(const GlobalOptions& g, const ExplorerOptions& o, bool by_hex) {
  const Bytes key = by_hex ? *crypto::FromHex(o.name_hex) : Bytes(o.name.begin(), o.name.end());
  if (key.empty() || key.size() > ledger::kMaxRecordKey) {
    return Status::Error("the record name is " + std::to_string(key.size()) +
                         " bytes; it must be 1 to " + std::to_string(ledger::kMaxRecordKey));
  }
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  auto r = node->Call("getRecord", Json{{"address", o.address}, {"key", crypto::ToHex(key)}});
  if (!r.ok()) return r.status();
  auto value = crypto::FromHex(JsonText(*r, "value"));
  if (!r->is_object() || !value) return Status::Error("getRecord answered without a hex value");
  bool is_text = false;
  const std::string shown = TextOrHex(*value, &is_text);
  if (g.json) {
    Json out = *r;
    bool name_text = false;
    const std::string name_shown = TextOrHex(key, &name_text);
    out["key_text"] = name_text ? Json(name_shown) : Json();
    out["value_text"] = is_text ? Json(shown) : Json();
    out["size"] = value->size();
    PrintJson(out);
    return Status::Ok();
  }
  bool name_text = false;
  const std::string name_shown = TextOrHex(key, &name_text);
  Print(RenderFields({{"address", o.address},
                      {"name", name_text ? name_shown : "0x" + name_shown},
                      {"value", is_text ? shown : "0x" + shown},
                      {"encoding", is_text ? "utf-8 text" : "hex (not printable text)"},
                      {"size", std::to_string(value->size()) + " bytes"}}));
  return Status::Ok();
}

// cairn tx HASH.
Status ShowTx(const GlobalOptions& g, const ExplorerOptions& o) {
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  auto r = node->Call("getTransaction", Json{{"hash", o.hash}});
  if (!r.ok()) return r.status();
  if (g.json) {
    PrintJson(*r);
  } else if (JsonText(*r, "status") != "unknown") {
    Print(TxView(*r));
  }
  if (JsonText(*r, "status") == "unknown") {
    return Status::Error("not found: tx " + o.hash + " is unknown to the node");
  }
  return Status::Ok();
}

// cairn account [ADDR]: the address given, else that of --key / $CAIRN_KEY.
Status ShowAccount(const GlobalOptions& g, const ExplorerOptions& o) {
  std::string addr = o.address;
  if (addr.empty()) {
    auto key = LoadKey(o.key_file);
    if (!key.ok()) return Status::Error("give an address, --key FILE, or set CAIRN_KEY");
    addr = key->public_key().ToHex();
  }
  return Show(g, "getAccount", Json{{"address", addr}}, AccountView);
}

// status, block, blocks, tx: the chain itself.
void AddChainCommands(CLI::App& app, const GlobalOptions& g, Action* action) {
  auto o = std::make_shared<ExplorerOptions>();
  CLI::App* c = app.add_subcommand("status", "the node's chain, head and consensus view");
  c->footer("Example:\n  cairn status");
  c->callback(
      [&g, action] { *action = [&g] { return Show(g, "getStatus", nullptr, StatusView); }; });

  c = app.add_subcommand("block", "one block: header fields and its transactions with receipts");
  c->add_option("block", o->block, "a height, a block hash, or latest")->capture_default_str();
  c->footer("Examples:\n  cairn block\n  cairn block 12\n  cairn block 9f86d081884c7d65...");
  c->callback([&g, o, action] {
    *action = [&g, o]() -> Status {
      auto sel = ParseBlockSelector(o->block);
      if (!sel.ok()) return sel.status();
      return Show(g, "getBlock", BlockParams(*sel), BlockView);
    };
  });

  c = app.add_subcommand("blocks", "a table of blocks: height, time, hash, tx count, proposer");
  c->add_option("--from", o->from, "first height (default: 19 below --to)")
      ->check(U64Validator())
      ->type_name("N");
  c->add_option("--to", o->to, "last height (default: the head)")
      ->check(U64Validator())
      ->type_name("N");
  c->footer("Example:\n  cairn blocks --from 1 --to 50");
  c->callback([&g, o, action] { *action = [&g, o] { return Blocks(g, *o); }; });

  c = app.add_subcommand("tx", "one transaction: decoded payload, status and receipt");
  c->add_option("hash", o->hash, "transaction hash")
      ->required()
      ->check(HashValidator())
      ->type_name("HASH");
  c->footer("Example:\n  cairn tx 3f2a1b...");
  c->callback([&g, o, action] { *action = [&g, o] { return ShowTx(g, *o); }; });
}

// account, record, evidence, peers: state and the network.
void AddStateCommands(CLI::App& app, const GlobalOptions& g, Action* action) {
  auto o = std::make_shared<ExplorerOptions>();
  CLI::App* c = app.add_subcommand("account", "an account's balance, nonce and role");
  c->add_option("address", o->address, "address (default: the address of --key / $CAIRN_KEY)")
      ->check(AddressValidator())
      ->type_name("ADDR");
  c->add_option("--key", o->key_file, "show the account of this key file")
      ->envname("CAIRN_KEY")
      ->type_name("FILE");
  c->footer("Examples:\n  cairn account c55f57d61c21642f...\n  cairn account --key alice.json");
  c->callback([&g, o, action] { *action = [&g, o] { return ShowAccount(g, *o); }; });

  c = app.add_subcommand("record", "a record's value (as text when printable, else hex)");
  c->add_option("--address", o->address, "the account that wrote the record")
      ->required()
      ->check(AddressValidator())
      ->type_name("ADDR");
  auto* name = c->add_option("--name,--record-key", o->name, "record name as UTF-8 text");
  auto* name_hex = c->add_option("--name-hex", o->name_hex, "record name as hex bytes")
                       ->check(HexValidator())
                       ->type_name("HEX");
  name->excludes(name_hex);
  c->footer("Example:\n  cairn record --address $ALICE --name doc-1");
  c->callback([&g, o, name, name_hex, action] {
    *action = [&g, o, name, name_hex]() -> Status {
      if (!name->count() && !name_hex->count()) return Status::Error("give --name or --name-hex");
      return Record(g, *o, name_hex->count() > 0);
    };
  });

  c = app.add_subcommand("evidence",
                         "validators proven to have signed conflicting votes (BFT chains)");
  c->footer(
      "Example:\n  cairn evidence\n  cairn --json evidence   (with each piece's raw encoding)");
  c->callback(
      [&g, action] { *action = [&g] { return Show(g, "getEvidence", nullptr, EvidenceView); }; });

  c = app.add_subcommand("peers", "the node's connected peers");
  c->footer("Example:\n  cairn peers");
  c->callback([&g, action] { *action = [&g] { return Show(g, "getPeers", nullptr, PeersView); }; });
}

// follow: new blocks as they commit.
void AddFollowCommand(CLI::App& app, const GlobalOptions& g, Action* action) {
  auto o = std::make_shared<ExplorerOptions>();
  CLI::App* c = app.add_subcommand(
      "follow", "print each new block as it commits (until Ctrl-C, --count or --timeout)");
  c->add_option("--count", o->count, "stop after this many blocks")
      ->check(U64Validator())
      ->type_name("N");
  c->add_option("--from", o->follow_from,
                "start at this height (default: the block after the head)")
      ->check(U64Validator())
      ->type_name("N");
  c->add_option("--timeout", o->timeout_s, "give up (exit 1) after this many seconds; 0: never")
      ->check(U64Validator())
      ->type_name("N")
      ->capture_default_str();
  c->add_option("--interval-ms", o->interval_ms, "how often to poll the node")
      ->check(U64Validator())
      ->type_name("N")
      ->capture_default_str();
  c->footer("Examples:\n  cairn follow\n  cairn --json follow --count 3 --timeout 60");
  c->callback([&g, o, action] { *action = [&g, o] { return Follow(g, *o); }; });
}

}  // namespace

void AddExplorerCommands(CLI::App& app, const GlobalOptions& g, Action* action) {
  AddChainCommands(app, g, action);
  AddStateCommands(app, g, action);
  AddFollowCommand(app, g, action);
}

}  // namespace cairn::cli
