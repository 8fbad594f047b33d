// LightTrust: proves a BFT header final from the genesis file alone, following validator-set
// changes on the way: how a node joining by state sync trusts a snapshot's header without an
// operator trust point (docs/design/state-sync.md section 3.2). A header is final when a commit
// certificate of set(H) proves it; set(1) is the genesis set, and a set is taken as set(c) only
// when it hashes to the next_validators_hash of a certified header c - 1. Headers between two
// changes are not checked one by one: each certificate proves its own header, so the target is
// checked against the set in force at its height, and the ones before it only where the set
// changes. Pure logic (the caller fetches what next() asks for), single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "chain/block_rules.h"
#include "ledger/block.h"
#include "ledger/governance.h"

namespace cairn::node {

class LightTrust {
 public:
  using Certified = std::pair<ledger::BlockHeader, Bytes>;  // a header and its certificate

  // `rules` (a BFT chain's) outlives this; `genesis` is block 0's header; `target` > 0 is the
  // height to prove.
  LightTrust(const chain::BlockRules& rules, ledger::BlockHeader genesis, uint64_t target);

  struct Need {
    enum class Kind { kNone, kHeaders, kSet };
    Kind kind = Kind::kNone;
    uint64_t low = 0, high = 0;  // kHeaders: heights [low, high], ascending
    uint64_t set_height = 0;     // kSet: set(set_height), whose SetHash is set_hash
    crypto::Hash256 set_hash;
  };
  // What to fetch next: the target alone first; when it names another set than the one held,
  // the headers from the newest trusted one up, a page at a time, and at each change the new
  // set. kNone once done().
  Need next() const;

  // Consecutive headers from next().low upward (the target alone, or any prefix of the page).
  // kRejected when one proves false (a certificate that does not verify, a set hash that does
  // not link): the walk goes back to its newest trusted header, so another peer can answer.
  // kInvalidArgument when they are not the heights asked (the caller's bookkeeping).
  Status AddHeaders(std::span<const Certified> ascending);
  // set(next().set_height) as a peer sent it. kRejected when it does not hash to the set the
  // trusted header names (the sender lied), or when the headers fetched before it fail with it
  // (the change header's certificate, or the rest of its page: the headers' sender lied, and
  // blame_headers() says so; a set that hashed right is kept then).
  Status AddSet(uint64_t height, std::vector<ledger::Member> set);
  bool blame_headers() const { return blame_headers_; }

  bool done() const { return proven_.has_value(); }
  // After done(): the target header and its certificate.
  const Certified& proven() const { return *proven_; }
  // The sets followed past the genesis one, oldest first (set history for the store).
  const std::vector<std::vector<ledger::Member>>& followed() const { return followed_; }
  uint64_t trusted_height() const { return trusted_.height; }
  // Headers fetched and certificates checked, for the log.
  uint64_t headers_seen() const { return headers_seen_; }
  uint64_t certificates_checked() const { return checked_; }

  static constexpr uint64_t kPage = 1000;  // wire::kMaxHeadersPerRequest

 private:
  Status Check(const Certified& c) const;  // its certificate against the held set
  Status Walk(std::vector<Certified> ascending);
  Status Reject(const std::string& why);
  void Hold(std::vector<ledger::Member> set);

  const chain::BlockRules& rules_;
  const uint64_t target_;
  std::vector<ledger::Member> held_;  // the set of the heights the walk is at (from cursor_)
  crypto::Hash256 held_hash_;
  ledger::BlockHeader trusted_;          // the newest header proven (genesis at first)
  std::optional<Certified> target_hdr_;  // the target as fetched, not yet proven
  bool walking_ = false;
  uint64_t cursor_ = 1;              // the next height the walk needs
  std::optional<Certified> last_;    // header cursor_ - 1, unchecked
  std::optional<Certified> change_;  // a header naming a new set, waiting for it
  std::vector<Certified> rest_;      // the page after change_
  std::optional<Certified> proven_;
  std::vector<std::vector<ledger::Member>> followed_;
  bool blame_headers_ = false;
  uint64_t headers_seen_ = 0, checked_ = 0;
};

}  // namespace cairn::node
