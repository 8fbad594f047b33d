// Proofs and the light client (docs/CLI.md "Proofs and the light client"):
//   cairn prove tx HASH --out FILE [--genesis F] [--light] [--light-dir D] [--headers-from H]
//   cairn prove account ADDR | record ADDR KEY --out FILE [--height H] [same options]
//   cairn verify-proof FILE --genesis F [--light-dir D]          offline, no node
//   cairn light sync [--genesis F] [--light-dir D] [--to H]
// The header checks are audit::HeaderTrust's (chain::BlockRules), the proof check
// api::VerifyTxProof: the rules the node and the audit run, not a copy.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "audit/header_trust.h"
#include "cli/common.h"
#include "cli/light_store.h"
#include "cli/light_sync.h"
#include "cli/proof_file.h"
#include "cli/proof_verify.h"
#include "crypto/hex.h"

namespace cairn::cli {
namespace {

struct ProofCliOptions {
  StatementKind kind = StatementKind::kTx;
  std::string tx_hash;
  std::string address;     // account, record
  std::string record_key;  // record: hex
  std::string at_height;   // account, record: empty for the head
  std::string out;
  std::string file;
  std::string genesis_file;
  std::string light_dir;
  std::string to;
  std::string headers_from = "1";
  bool light = false;
  bool verbose = false;
};

// The default genesis file: the default cairnd home's (~/.cairn/genesis.json).
std::string DefaultGenesis() {
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cairn/genesis.json";
}

Result<std::unique_ptr<audit::HeaderTrust>> LoadTrust(const std::string& path) {
  const std::string file = path.empty() ? DefaultGenesis() : path;
  auto g = genesis::Genesis::Load(file);
  if (!g.ok()) return Status::Error("--genesis " + file + ": " + g.error());
  return std::make_unique<audit::HeaderTrust>(std::move(g.value()));
}

struct NodeChain {
  std::string chain_id;
  crypto::Hash256 genesis_hash;
  genesis::ConsensusKind consensus = genesis::ConsensusKind::kSolo;
  uint64_t head = 0;
};

Result<NodeChain> GetNodeChain(NodeClient& node) {
  auto st = node.Call("getStatus");
  if (!st.ok()) return st.status();
  NodeChain c;
  c.chain_id = JsonText(*st, "chain_id");
  auto gh = crypto::Hash256::FromHex(JsonText(*st, "genesis_hash"));
  auto kind = genesis::ParseConsensusKind(JsonText(*st, "consensus"));
  auto head = JsonU64(*st, "height");
  if (c.chain_id.empty() || !gh || !kind || !head) {
    return Status::Error(
        "getStatus: the node's answer lacks chain_id, genesis_hash, consensus "
        "or height");
  }
  c.genesis_hash = *gh;
  c.consensus = *kind;
  c.head = *head;
  return c;
}

Status SameGenesis(const NodeChain& c, const audit::HeaderTrust& trust, const std::string& url) {
  if (c.genesis_hash == trust.genesis_hash()) return Status::Ok();
  return Status::Error("the node at " + url + " serves the chain of genesis " +
                       c.genesis_hash.ToHex() + ", but the genesis file gives " +
                       trust.genesis_hash().ToHex());
}

Status Prove(const GlobalOptions& g, const ProofCliOptions& o) {
  const bool use_store = o.light || !o.light_dir.empty();
  std::unique_ptr<audit::HeaderTrust> trust;
  if (use_store || !o.genesis_file.empty()) {
    auto t = LoadTrust(o.genesis_file);
    if (!t.ok()) return t.status();
    trust = std::move(t.value());
  }
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  auto chain = GetNodeChain(*node);
  if (!chain.ok()) return chain.status();
  if (trust) {
    if (Status s = SameGenesis(*chain, *trust, node->url()); !s.ok()) return s;
  }
  const bool tx = o.kind == StatementKind::kTx;
  const std::string method = tx ? "getTxProof" : "getProof";
  Json params{{"hash", o.tx_hash}};
  if (!tx) {
    params = Json{{"address", o.address}};
    if (o.kind == StatementKind::kRecord) params["key"] = o.record_key;
    if (!o.at_height.empty()) params["height"] = U64Of(o.at_height);
  }
  auto r = node->Call(method, params);
  if (!r.ok()) return r.status();

  ProofFile f;
  f.chain_id = chain->chain_id;
  f.genesis_hash = chain->genesis_hash;
  f.consensus = chain->consensus;
  f.kind = o.kind;
  auto height = JsonU64(*r, "height");
  auto header = HexField(*r, "header", kMaxHeaderHex);
  auto proof = HexField(*r, "proof", tx ? kMaxTxProofHex : kMaxStateProofHex);
  if (!height || !header.ok() || !proof.ok()) {
    return Status::Error(method + ": the node's answer is incomplete");
  }
  if (tx) {
    f.tx.tx_hash = *crypto::Hash256::FromHex(o.tx_hash);  // the option's validator checked it
    auto index = JsonU64(*r, "index");
    if (!index || *index > UINT32_MAX) {
      return Status::Error(method + ": the node's answer is incomplete");
    }
    f.tx.index = static_cast<uint32_t>(*index);
  } else {
    f.state.address = *crypto::PublicKey::FromHex(o.address);  // checked by the validator
    if (o.kind == StatementKind::kRecord) f.state.key = *crypto::FromHex(o.record_key);
    if (r->contains("value") && (*r)["value"].is_string()) {
      auto value = HexField(*r, "value", kMaxStateValueHex);
      if (!value.ok()) return value.status();
      f.state.value = std::move(*value);
    }
  }
  if (tx && *height == 0) return Status::Error(method + ": the node names block 0");
  f.height = *height;
  f.header = std::move(*header);
  f.proof = std::move(*proof);

  std::optional<LightStore> store;
  SyncStats stats;
  if (use_store) {
    auto s = OpenLightStore(*trust, o.light_dir);
    if (!s.ok()) return s.status();
    store = std::move(s.value());
  }
  if (chain->consensus == genesis::ConsensusKind::kBft) {
    if (r->contains("certificate") && (*r)["certificate"].is_string()) {
      auto cert = HexField(*r, "certificate", kMaxCertificateHex);
      if (!cert.ok()) return cert.status();
      f.certificate = std::move(*cert);
    }
    f.headers_from = f.height;
    std::optional<ledger::BlockHeader> proved;
    if (store && f.certificate) {
      auto h = ledger::BlockHeader::Decode(f.header);
      if (!h.ok()) return h.status().Wrap(method + " header");
      proved = std::move(*h);
    }
    if (proved && trust->NeedsSet(*proved) && f.height > store->height()) {
      // Another set certified it: follow the changes from the store's newest header.
      if (Status s = SyncTo(*node, *trust, *store, f.height, o.verbose, &stats); !s.ok()) {
        return s;
      }
      if (store->Find(f.height) == nullptr || store->Find(f.height)->encoded != f.header) {
        return Status::Error("header " + std::to_string(f.height) + ": " + method +
                             "'s header is not the one the light store trusts");
      }
    } else if (proved) {
      // The certificate came with the proof: nothing more to download.
      stats.before = store->height();
      auto h = std::move(proved);
      auto signers = trust->CheckCertified(*h, *f.certificate);
      if (!signers.ok()) return signers.status();
      if (f.height > store->height()) {
        Status s = store->Append({TrustedHeader{f.header, std::move(*h), *f.certificate}});
        if (!s.ok()) return s;
      }
      stats.after = store->height();
      Verbose(o.verbose, "header " + std::to_string(f.height) + " trusted by its certificate (" +
                             std::to_string(*signers) + " signers); no headers fetched");
    }
  } else {
    f.headers_from = std::max<uint64_t>(1, U64Of(o.headers_from));
    if (f.height == 0) {
      return Status::Error("block 0 is the genesis: prove a height above it (--height)");
    }
    if (f.headers_from > f.height) {
      return Status::Error("--headers-from " + o.headers_from + " is above the block's height " +
                           std::to_string(f.height));
    }
    if (f.height - f.headers_from >= kMaxProofHeaders) {
      // No verifier would read the file; say so before downloading what it cannot hold.
      return Status::Error("block " + std::to_string(f.height) + " needs " +
                           std::to_string(f.height - f.headers_from) +
                           " linked headers, more than a proof file holds (" +
                           std::to_string(kMaxProofHeaders) +
                           "): give --headers-from for a verifier with a light store");
    }
    std::vector<TrustedHeader> chain_headers;  // heights [headers_from, height]
    if (store) {
      if (Status s = SyncTo(*node, *trust, *store, f.height, o.verbose, &stats); !s.ok()) return s;
      for (uint64_t h = f.headers_from; h <= f.height; ++h)
        chain_headers.push_back(*store->Find(h));
    } else {
      auto fetched = FetchSigned(*node, f.headers_from, f.height, &stats);
      if (!fetched.ok()) return fetched.status();
      chain_headers = std::move(*fetched);
    }
    if (chain_headers.back().encoded != f.header) {
      return Status::Error(
          "header " + std::to_string(f.height) + ": " + method + "'s header is not the block's (" +
          (store ? "the light store trusts another" : "getRawBlocks has another") + ")");
    }
    f.proposer_sig = SigOf(chain_headers.back());
    chain_headers.pop_back();
    for (TrustedHeader& t : chain_headers) {
      f.headers.push_back(LinkedHeader{std::move(t.encoded), SigOf(t)});
    }
  }

  // The prover checks what it writes when it can: a node's bad answer is refused here, not by
  // the recipient.
  std::optional<VerifiedProof> verified;
  // A short file (--headers-from) links to a header only a light store can vouch for.
  if (trust && (f.headers_from <= 1 || store || f.consensus == genesis::ConsensusKind::kBft)) {
    auto v = VerifyProof(f, *trust, store ? &*store : nullptr);
    if (!v.ok()) return Status::Error("the node's proof does not verify: " + v.status().message());
    verified = *v;
  }
  if (Status s = WriteProofFile(o.out, f); !s.ok()) return s;
  if (g.json) {
    Json j{{"file", o.out},
           {"kind", std::string(StatementKindName(f.kind))},
           {"height", f.height},
           {"headers", f.headers.size()},
           {"verified", verified.has_value()}};
    if (tx) {
      j["tx_hash"] = f.tx.tx_hash.ToHex();
      j["index"] = f.tx.index;
    } else {
      j["address"] = f.state.address.ToHex();
      if (f.kind == StatementKind::kRecord) j["key"] = crypto::ToHex(f.state.key);
      j["value"] = f.state.value ? Json(crypto::ToHex(*f.state.value)) : Json();
    }
    if (store) j["light"] = stats.ToJson();
    PrintJson(j);
  } else {
    std::string line =
        tx ? "wrote " + o.out + ": transaction " + f.tx.tx_hash.ToHex() + " at index " +
                 std::to_string(f.tx.index) + " of block " + std::to_string(f.height)
           : "wrote " + o.out + ": " + std::string(StatementKindName(f.kind)) + " " +
                 f.state.address.ToHex() +
                 (f.kind == StatementKind::kRecord ? " key " + crypto::ToHex(f.state.key) : "") +
                 (f.state.value ? " present" : " absent") + " after block " +
                 std::to_string(f.height);
    if (!f.headers.empty()) line += ", with " + std::to_string(f.headers.size()) + " headers";
    if (store) line += "; fetched " + std::to_string(stats.fetched) + " new headers";
    Print(line + (verified ? " (verified)\n"
                  : trust  ? " (not verified: its first header links to a light store)\n"
                           : " (not verified: no --genesis)\n"));
  }
  return Status::Ok();
}

Status VerifyProofCommand(const GlobalOptions& g, const ProofCliOptions& o) {
  if (o.genesis_file.empty()) return Status::Error("verify-proof needs --genesis FILE");
  auto trust = LoadTrust(o.genesis_file);
  if (!trust.ok()) return trust.status();
  auto file = ReadProofFile(o.file);
  if (!file.ok()) return Status::Error("proof refused: " + file.status().message());
  std::optional<LightStore> store;
  if (!o.light_dir.empty()) {
    // Checking reads the store; it never creates one where the user mistyped a path.
    if (!std::filesystem::is_directory(o.light_dir)) {
      return Status::Error("--light-dir " + o.light_dir + " is not a directory");
    }
    auto s = OpenLightStore(**trust, o.light_dir);
    if (!s.ok()) return s.status();
    store = std::move(s.value());
  }
  auto v = VerifyProof(*file, **trust, store ? &*store : nullptr);
  if (!v.ok()) return Status::Error("proof refused: " + v.status().message());
  if (g.json) {
    Json statement{{"kind", std::string(StatementKindName(v->kind))}};
    if (v->kind == StatementKind::kTx) {
      statement["tx_hash"] = v->tx_hash.ToHex();
      statement["index"] = v->index;
    } else {
      statement["address"] = v->state.address.ToHex();
      if (v->kind == StatementKind::kRecord) statement["key"] = crypto::ToHex(v->state.key);
      statement["value"] = v->state.value ? Json(crypto::ToHex(*v->state.value)) : Json();
    }
    PrintJson(Json{{"ok", true},
                   {"statement", std::move(statement)},
                   {"height", v->height},
                   {"block_hash", v->block_hash.ToHex()},
                   {"basis", v->certified ? "certificate" : "header_chain"},
                   {"signers", v->signers},
                   {"validators", v->validators},
                   {"linked_headers", v->linked_headers},
                   {"trusted_by_store", v->trusted_by_store}});
  } else {
    Print(DescribeVerified(*v) + "\n");
  }
  return Status::Ok();
}

Status LightSync(const GlobalOptions& g, const ProofCliOptions& o) {
  auto trust = LoadTrust(o.genesis_file);
  if (!trust.ok()) return trust.status();
  auto store = OpenLightStore(**trust, o.light_dir);
  if (!store.ok()) return store.status();
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  auto chain = GetNodeChain(*node);
  if (!chain.ok()) return chain.status();
  if (Status s = SameGenesis(*chain, **trust, node->url()); !s.ok()) return s;
  const uint64_t target = o.to.empty() ? chain->head : std::min(chain->head, U64Of(o.to));
  SyncStats stats;
  if (Status s = SyncTo(*node, **trust, *store, target, o.verbose, &stats); !s.ok()) return s;
  const TrustedHeader* newest = store->Find(store->height());
  const std::string hash =
      newest ? newest->header.Hash().ToHex() : (*trust)->genesis_hash().ToHex();
  if (g.json) {
    Json j = stats.ToJson();
    j["dir"] = store->dir();
    j["height"] = store->height();
    j["hash"] = hash;
    PrintJson(j);
  } else {
    Print("light store " + store->dir() + ": trusted up to block " +
          std::to_string(store->height()) + " (hash " + hash + "); fetched " +
          std::to_string(stats.fetched) + " headers in " + std::to_string(stats.calls) +
          " calls\n");
  }
  return Status::Ok();
}

void AddLightOptions(CLI::App* c, ProofCliOptions* o) {
  c->add_option("--light-dir", o->light_dir,
                "the light store (default: ~/.cairn/light/<genesis hash>)")
      ->type_name("DIR");
  c->add_flag("--verbose", o->verbose, "say on stderr what was downloaded");
}

}  // namespace

void AddProofCommands(CLI::App& app, const GlobalOptions& g, Action* action) {
  auto o = std::make_shared<ProofCliOptions>();
  CLI::App* prove = app.add_subcommand("prove", "write a proof file a third party checks offline");
  prove->require_subcommand(1);
  CLI::App* c = prove->add_subcommand(
      "tx",
      "prove that a committed transaction is in its block, and that the block is the chain's");
  c->add_option("HASH", o->tx_hash, "the transaction hash")->required()->check(HashValidator());
  c->add_option("--out", o->out, "the proof file to write")->required()->type_name("FILE");
  c->add_option("--genesis", o->genesis_file,
                "the chain's genesis file: check the proof before writing it (needed with "
                "--light; default with --light: ~/.cairn/genesis.json)")
      ->type_name("FILE");
  c->add_flag("--light", o->light,
              "take the headers from the light store, downloading only those it lacks");
  AddLightOptions(c, o.get());
  c->add_option("--headers-from", o->headers_from,
                "solo and Raft: carry headers from this height only (the verifier must trust "
                "the one below it in its light store); default 1, a self-contained file")
      ->check(U64Validator())
      ->type_name("H");
  c->callback([&g, o, action] {
    o->kind = StatementKind::kTx;
    *action = [&g, o] { return Prove(g, *o); };
  });
  // Shared by account and record: what a state proof file needs beside the statement.
  auto state_options = [&](CLI::App* sc) {
    sc->add_option("--out", o->out, "the proof file to write")->required()->type_name("FILE");
    sc->add_option("--height", o->at_height,
                   "the block after which to prove (default: the head; the node keeps the last "
                   "state_tree.memory_versions heights)")
        ->check(U64Validator())
        ->type_name("H");
    sc->add_option("--genesis", o->genesis_file,
                   "the chain's genesis file: check the proof before writing it")
        ->type_name("FILE");
    sc->add_flag("--light", o->light,
                 "take the headers from the light store, downloading only those it lacks");
    AddLightOptions(sc, o.get());
    sc->add_option("--headers-from", o->headers_from,
                   "solo and Raft: carry headers from this height only; default 1")
        ->check(U64Validator())
        ->type_name("H");
  };
  c = prove->add_subcommand(
      "account", "prove an account's balance, nonce and role (or its absence) after a block");
  c->add_option("ADDR", o->address, "the account's public key")->required()->check(HashValidator());
  state_options(c);
  c->callback([&g, o, action] {
    o->kind = StatementKind::kAccount;
    *action = [&g, o] { return Prove(g, *o); };
  });
  c = prove->add_subcommand("record", "prove a record's value (or its absence) after a block");
  c->add_option("ADDR", o->address, "the account's public key")->required()->check(HashValidator());
  c->add_option("KEY", o->record_key, "the record key in hex (1 to 128 bytes)")
      ->required()
      ->check([](const std::string& k) -> std::string {
        auto b = crypto::FromHex(k);
        if (!b || b->empty() || b->size() > 128) return "must be 1 to 128 bytes in hex";
        return "";
      });
  state_options(c);
  c->callback([&g, o, action] {
    o->kind = StatementKind::kRecord;
    *action = [&g, o] { return Prove(g, *o); };
  });

  c = app.add_subcommand("verify-proof",
                         "check a proof file offline against the chain's genesis file");
  c->add_option("FILE", o->file, "the proof file")->required();
  c->add_option("--genesis", o->genesis_file, "the chain's genesis file")
      ->required()
      ->type_name("FILE");
  c->add_option("--light-dir", o->light_dir,
                "also trust the headers of this light store (solo, Raft: a file may then carry "
                "only the headers past it)")
      ->type_name("DIR");
  c->callback([&g, o, action] { *action = [&g, o] { return VerifyProofCommand(g, *o); }; });

  CLI::App* light = app.add_subcommand("light", "the light client: a store of verified headers");
  light->require_subcommand(1);
  c = light->add_subcommand("sync", "download and verify the headers up to the node's head");
  c->add_option("--genesis", o->genesis_file,
                "the chain's genesis file (default: ~/.cairn/genesis.json)")
      ->type_name("FILE");
  c->add_option("--to", o->to, "stop at this height (default: the node's head)")
      ->check(U64Validator())
      ->type_name("H");
  AddLightOptions(c, o.get());
  c->callback([&g, o, action] { *action = [&g, o] { return LightSync(g, *o); }; });
}

}  // namespace cairn::cli
