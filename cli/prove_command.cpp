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

// Opens the store and makes `trust` hold the set its newest header names, when the store saved
// it (DIR/set) and its hash is that header's validators_hash. Otherwise `trust` keeps the
// genesis set: a sync then follows the set again from the newest header (its
// next_validators_hash vouches for the set the node gives), so a lost or stale DIR/set (a crash
// between appending headers and saving the set) costs a download, never trust.
Result<LightStore> OpenStore(audit::HeaderTrust& trust, const std::string& dir) {
  auto store = LightStore::Open(dir.empty() ? LightStore::DefaultDir(trust.genesis_hash()) : dir,
                                /*linked=*/!trust.certified());
  if (!store.ok()) return store;
  const TrustedHeader* newest = store->Find(store->height());
  if (newest != nullptr && trust.NeedsSet(newest->header) && store->saved_set()) {
    (void)trust.Hold(newest->header, *store->saved_set());
  }
  return store;
}

// What a sync downloaded, for --verbose and --json: tests and users see that a second proof
// fetched only the headers past the store's newest.
struct SyncStats {
  uint64_t before = 0;   // the store's height before
  uint64_t after = 0;    // and after
  uint64_t fetched = 0;  // headers downloaded
  uint64_t calls = 0;    // RPC calls made for them
  Json ToJson() const {
    return Json{{"store_height_before", before},
                {"store_height_after", after},
                {"headers_fetched", fetched},
                {"calls", calls}};
  }
};

void Verbose(bool on, const std::string& line) {
  if (on) std::fprintf(stderr, "light: %s\n", line.c_str());
}

Result<Bytes> HexField(const Json& j, const char* key, size_t max_hex) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string() ||
      j[key].get_ref<const std::string&>().size() > max_hex) {
    return Status::Error(std::string("the node's answer has no valid \"") + key + "\"");
  }
  auto b = crypto::FromHex(j[key].get<std::string>());
  if (!b) return Status::Error(std::string("the node's \"") + key + "\" is not hex");
  return std::move(*b);
}

// set(height)'s validators from getValidators {height}; not trusted here (HeaderTrust::Follow
// checks them against a trusted header's next_validators_hash).
Result<std::vector<ledger::Member>> FetchSet(NodeClient& node, uint64_t height, SyncStats* stats) {
  auto r = node.Call("getValidators", Json{{"height", height}});
  if (!r.ok()) return r.status().Wrap("set(" + std::to_string(height) + ")");
  ++stats->calls;
  const Json& v = r->is_object() && r->contains("validators") ? (*r)["validators"] : Json();
  if (!v.is_array() || v.empty() || v.size() > ledger::kMaxMembers) {
    return Status::Error("getValidators " + std::to_string(height) +
                         ": no list of 1 to 1024 validators");
  }
  std::vector<ledger::Member> out;
  for (const Json& m : v) {
    auto id = JsonU64(m, "id");
    auto key = crypto::PublicKey::FromHex(JsonText(m, "consensus_key"));
    if (!id || *id > 0xffffffffu || !key) {
      return Status::Error("getValidators " + std::to_string(height) +
                           ": a validator without a valid id and consensus_key");
    }
    ledger::Member member;
    member.id = static_cast<uint32_t>(*id);
    member.consensus_key = *key;
    member.p2p_key = crypto::PublicKey::FromHex(JsonText(m, "p2p_key")).value_or(*key);
    member.name = JsonText(m, "name");
    // Names are operational (not hashed); the store's encoding needs 1..64 bytes.
    if (member.name.empty() || member.name.size() > 64) member.name = "id" + std::to_string(*id);
    out.push_back(std::move(member));
  }
  return out;
}

// One getHeaders item decoded: the header, its bytes and its certificate (empty if none).
struct HeaderItem {
  TrustedHeader t;
  bool has_cert = false;
};

Result<std::vector<HeaderItem>> FetchHeaders(NodeClient& node, uint64_t from, uint64_t count,
                                             SyncStats* stats) {
  auto r = node.Call("getHeaders", Json{{"from", from}, {"count", count}});
  if (!r.ok()) return r.status();
  ++stats->calls;
  if (!r->is_array() || r->empty() || r->size() > count) {
    return Status::Error("getHeaders " + std::to_string(from) + ": not 1 to " +
                         std::to_string(count) + " headers");
  }
  std::vector<HeaderItem> out;
  uint64_t next = from;
  for (const Json& item : *r) {
    auto hb = HexField(item, "header", kMaxHeaderHex);
    if (!hb.ok()) return hb.status();
    auto h = ledger::BlockHeader::Decode(*hb);
    if (!h.ok()) return h.status().Wrap("header " + std::to_string(next));
    if (h->height != next) return Status::Error("getHeaders: wrong height");
    HeaderItem it;
    if (auto cb = HexField(item, "certificate", kMaxCertificateHex); cb.ok()) {
      it.t.proof = std::move(*cb);
      it.has_cert = true;
    }
    it.t.encoded = std::move(*hb);
    it.t.header = std::move(*h);
    out.push_back(std::move(it));
    ++next;
  }
  stats->fetched += out.size();
  return out;
}

// Headers [from, to] with their proposer signatures, from getRawBlocks (getHeaders carries no
// signatures). Not verified here.
Result<std::vector<TrustedHeader>> FetchSigned(NodeClient& node, uint64_t from, uint64_t to,
                                               SyncStats* stats) {
  std::vector<TrustedHeader> out;
  uint64_t next = from;
  while (next <= to) {
    const uint64_t count = std::min<uint64_t>(100, to - next + 1);
    auto r = node.Call("getRawBlocks", Json{{"from", next}, {"count", count}});
    if (!r.ok()) return r.status();
    ++stats->calls;
    const Json& blocks = (*r).is_object() ? (*r)["blocks"] : Json();
    if (!blocks.is_array() || blocks.empty() || blocks.size() > count) {
      return Status::Error("getRawBlocks from " + std::to_string(next) +
                           ": the node returned no usable page (is its head below " +
                           std::to_string(to) + "?)");
    }
    for (const Json& hex : blocks) {
      if (!hex.is_string()) return Status::Error("getRawBlocks: a block is not a hex string");
      auto bytes = crypto::FromHex(hex.get<std::string>());
      if (!bytes) return Status::Error("getRawBlocks: a block is not hex");
      auto block = ledger::Block::Decode(*bytes);
      if (!block.ok()) {
        return Status::Error("block " + std::to_string(next) +
                             " does not decode: " + block.status().message());
      }
      if (block->header.height != next) {
        return Status::Error("getRawBlocks: asked for block " + std::to_string(next) + ", got " +
                             std::to_string(block->header.height));
      }
      TrustedHeader t;
      t.encoded = block->header.Encode();
      t.header = std::move(block->header);
      t.proof.assign(block->proposer_sig.view().begin(), block->proposer_sig.view().end());
      out.push_back(std::move(t));
      ++next;
    }
  }
  stats->fetched += out.size();
  return out;
}

crypto::Signature SigOf(const TrustedHeader& t) {
  return crypto::Signature::FromBytes(t.proof).value_or(crypto::Signature());
}

// BFT: from the newest trusted header, walks the headers up to `target` and, at each height
// x whose header names another set than the held one, trusts x - 1 by its certificate (the
// held set), takes set(x) when its hash is x - 1's next_validators_hash, and trusts x by its
// certificate: sequential verification across set changes (docs/CLI.md). Headers between
// changes are downloaded but not checked; only the change points and the target are stored.
Status WalkSetChanges(NodeClient& node, audit::HeaderTrust& trust, LightStore& store,
                      uint64_t target, bool verbose, SyncStats* stats) {
  std::optional<TrustedHeader> prev;  // the header before the next one looked at
  if (const TrustedHeader* newest = store.Find(store.height())) prev = *newest;
  std::optional<HeaderItem> last;  // the last header fetched (its certificate unchecked)
  uint64_t next = store.height() + 1;
  while (next <= target) {
    auto page = FetchHeaders(node, next, std::min<uint64_t>(1000, target - next + 1), stats);
    if (!page.ok()) return page.status();
    for (HeaderItem& it : *page) {
      if (trust.NeedsSet(it.t.header)) {
        // x - 1 is trusted already (the store's newest, or genesis) or checked now.
        std::vector<TrustedHeader> append;
        ledger::BlockHeader before = trust.genesis_header();
        if (last) {
          if (!last->has_cert) {
            return Status::Error("header " + std::to_string(last->t.header.height) +
                                 ": no certificate");
          }
          auto signers = trust.CheckCertified(last->t.header, last->t.proof);
          if (!signers.ok()) return signers.status();
          before = last->t.header;
          append.push_back(last->t);
        } else if (prev) {
          before = prev->header;
        }
        auto set = FetchSet(node, it.t.header.height, stats);
        if (!set.ok()) return set.status();
        if (Status s = trust.Follow(before, std::move(*set)); !s.ok()) return s;
        if (!it.has_cert) {
          return Status::Error("header " + std::to_string(it.t.header.height) + ": no certificate");
        }
        auto signers = trust.CheckCertified(it.t.header, it.t.proof);
        if (!signers.ok()) return signers.status();
        Verbose(verbose, "validator set changed at " + std::to_string(it.t.header.height) +
                             ": now " + std::to_string(trust.validators().size()) +
                             " validators (" + std::to_string(*signers) + " signed)");
        append.push_back(it.t);
        if (Status s = store.Append(std::move(append)); !s.ok()) return s;
        if (Status s = store.SaveSet(trust.validators()); !s.ok()) return s;
        last.reset();
        prev = it.t;
        continue;
      }
      last = std::move(it);
    }
    next += page->size();
  }
  // The target itself, if the last change was not at it.
  if (last && last->t.header.height == target) {
    if (!last->has_cert)
      return Status::Error("header " + std::to_string(target) + ": no certificate");
    auto signers = trust.CheckCertified(last->t.header, last->t.proof);
    if (!signers.ok()) return signers.status();
    if (Status s = store.Append({last->t}); !s.ok()) return s;
  }
  return Status::Ok();
}

// Brings the store to trust header `target`: solo and Raft, every header past its newest,
// each checked against the one before; BFT, header `target` alone with its certificate when
// it names the set the store holds, else every set change on the way (WalkSetChanges).
Status SyncTo(NodeClient& node, audit::HeaderTrust& trust, LightStore& store, uint64_t target,
              bool verbose, SyncStats* stats) {
  stats->before = store.height();
  if (trust.certified()) {
    if (target > 0 && store.Find(target) == nullptr) {
      auto r = node.Call("getHeaders", Json{{"from", target}, {"count", 1}});
      if (!r.ok()) return r.status();
      ++stats->calls;
      if (!r->is_array() || r->size() != 1) {
        return Status::Error("getHeaders " + std::to_string(target) + ": not one header");
      }
      auto hb = HexField((*r)[0], "header", kMaxHeaderHex);
      if (!hb.ok()) return hb.status();
      auto cb = HexField((*r)[0], "certificate", kMaxCertificateHex);
      if (!cb.ok()) return Status::Error("header " + std::to_string(target) + ": no certificate");
      auto h = ledger::BlockHeader::Decode(*hb);
      if (!h.ok()) return h.status().Wrap("header " + std::to_string(target));
      if (h->height != target) return Status::Error("getHeaders: wrong height");
      stats->fetched = 1;
      if (trust.NeedsSet(*h) && target > store.height()) {
        Verbose(verbose, "header " + std::to_string(target) +
                             " names another validator set: following the changes from " +
                             std::to_string(store.height()));
        if (Status s = WalkSetChanges(node, trust, store, target, verbose, stats); !s.ok()) {
          return s;
        }
        stats->after = store.height();
        return Status::Ok();
      }
      auto signers = trust.CheckCertified(*h, *cb);
      if (!signers.ok()) return signers.status();
      Verbose(verbose, "fetched header " + std::to_string(target) + " and its certificate (" +
                           std::to_string(*signers) + " signers)");
      if (target > store.height()) {
        if (Status s = store.Append({TrustedHeader{std::move(*hb), std::move(*h), std::move(*cb)}});
            !s.ok()) {
          return s;
        }
      }
    }
    stats->after = store.height();
    return Status::Ok();
  }
  while (store.height() < target) {
    // A page at a time, each appended (and synced) once verified, so progress survives.
    const uint64_t from = store.height() + 1;
    const uint64_t to = std::min(target, from + 999);
    auto page = FetchSigned(node, from, to, stats);
    if (!page.ok()) return page.status();
    ledger::BlockHeader prev =
        store.height() == 0 ? trust.genesis_header() : store.Find(store.height())->header;
    bool changed = false;
    for (const TrustedHeader& t : *page) {
      if (trust.NeedsSet(t.header)) {
        auto set = FetchSet(node, t.header.height, stats);
        if (!set.ok()) return set.status();
        if (Status s = trust.Follow(prev, std::move(*set)); !s.ok()) return s;
        Verbose(verbose, "validator set changed at " + std::to_string(t.header.height) + ": now " +
                             std::to_string(trust.validators().size()) + " validators");
        changed = true;
      }
      if (Status s = trust.CheckLinked(prev, t.header, SigOf(t)); !s.ok()) return s;
      prev = t.header;
    }
    Verbose(verbose, "fetched headers " + std::to_string(from) + ".." +
                         std::to_string(from + page->size() - 1) + " (" +
                         std::to_string(page->size()) + ") with their proposer signatures");
    if (Status s = store.Append(std::move(*page)); !s.ok()) return s;
    if (changed) {
      if (Status s = store.SaveSet(trust.validators()); !s.ok()) return s;
    }
  }
  stats->after = store.height();
  return Status::Ok();
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
    auto s = OpenStore(*trust, o.light_dir);
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
    auto s = OpenStore(**trust, o.light_dir);
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
  auto store = OpenStore(**trust, o.light_dir);
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
