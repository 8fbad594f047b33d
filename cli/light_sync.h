// The light client's sync (docs/CLI.md "light sync"): brings a LightStore to trust a header of
// a node's chain, checking every header it stores with audit::HeaderTrust and following
// validator-set changes (the set of a height is taken only when a trusted header commits to
// its hash). Used by `cairn light sync` and `cairn prove --light`. Single-threaded, like the
// commands that call it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/header_trust.h"
#include "cli/common.h"
#include "cli/light_store.h"

namespace cairn::cli {

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

// Opens the store (DIR, or the default for this genesis) and makes `trust` hold the set its
// newest header names when the store saved it (DIR/set) and its hash is that header's
// validators_hash; otherwise `trust` keeps the genesis set and the next sync follows the set
// again from the newest header.
Result<LightStore> OpenLightStore(audit::HeaderTrust& trust, const std::string& dir);

// Brings `store` to trust header `target`: solo and Raft, every header past its newest, each
// checked against the one before; BFT, header `target` with its certificate, walking the set
// changes on the way when it names another set than the one held. --verbose lines on stderr.
Status SyncTo(NodeClient& node, audit::HeaderTrust& trust, LightStore& store, uint64_t target,
              bool verbose, SyncStats* stats);

// Headers [from, to] with their proposer signatures, from getRawBlocks (getHeaders carries no
// signatures). Not verified here.
Result<std::vector<TrustedHeader>> FetchSigned(NodeClient& node, uint64_t from, uint64_t to,
                                               SyncStats* stats);
// The proposer signature a solo or Raft TrustedHeader keeps in `proof`.
crypto::Signature SigOf(const TrustedHeader& t);
// The bytes of hex field `key` of a node's answer, refused above `max_hex` digits.
Result<Bytes> HexField(const Json& j, const char* key, size_t max_hex);
// "light: LINE" on stderr when `on` (--verbose).
void Verbose(bool on, const std::string& line);

}  // namespace cairn::cli
