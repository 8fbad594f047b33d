// The light client's sync: see cli/light_sync.h. Everything from the node is unverified until
// audit::HeaderTrust accepts it; a set is taken only through HeaderTrust::Follow/Hold.
#include "cli/light_sync.h"

#include <cstdio>
#include <optional>

#include "cli/proof_file.h"
#include "crypto/hex.h"

namespace cairn::cli {
namespace {

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

}  // namespace

// Opens the store and makes `trust` hold the set its newest header names, when the store saved
// it (DIR/set) and its hash is that header's validators_hash. Otherwise `trust` keeps the
// genesis set: a sync then follows the set again from the newest header (its
// next_validators_hash vouches for the set the node gives), so a lost or stale DIR/set (a crash
// between appending headers and saving the set) costs a download, never trust.
Result<LightStore> OpenLightStore(audit::HeaderTrust& trust, const std::string& dir) {
  auto store = LightStore::Open(dir.empty() ? LightStore::DefaultDir(trust.genesis_hash()) : dir,
                                /*linked=*/!trust.certified());
  if (!store.ok()) return store;
  const TrustedHeader* newest = store->Find(store->height());
  if (newest != nullptr && trust.NeedsSet(newest->header) && store->saved_set()) {
    (void)trust.Hold(newest->header, *store->saved_set());
  }
  return store;
}

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

}  // namespace cairn::cli
