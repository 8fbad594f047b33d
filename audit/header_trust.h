// HeaderTrust: whether a block header belongs to the chain a genesis file starts, judged from
// headers alone (no blocks, no state), with the same chain::BlockRules checks the node and the
// audit run. For cairn's light client and `cairn verify-proof`. It holds one validator set,
// set(H) of the heights it is checking (the genesis set at first), and follows set changes
// only through Follow/Hold, which accept a set only when a trusted header commits to its hash
// (docs/CLI.md "light client and set changes"). Const methods are thread-safe; Follow and Hold
// need exclusive access.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "genesis/genesis.h"
#include "ledger/block.h"
#include "ledger/governance.h"

namespace cairn::audit {

class HeaderTrust {
 public:
  explicit HeaderTrust(genesis::Genesis genesis);
  ~HeaderTrust();
  HeaderTrust(const HeaderTrust&) = delete;
  HeaderTrust& operator=(const HeaderTrust&) = delete;

  const genesis::Genesis& genesis() const;
  const crypto::Hash256& genesis_hash() const { return genesis_hash_; }
  const ledger::BlockHeader& genesis_header() const { return genesis_header_; }
  // BFT chains: a header is final by its certificate alone. Solo and Raft: by a hash chain of
  // proposer-signed headers from genesis, which proves authorship, not finality.
  bool certified() const { return genesis().consensus == genesis::ConsensusKind::kBft; }

  // The set this checker holds (by member id) and its SetHash.
  const std::vector<ledger::Member>& validators() const { return validators_; }
  const crypto::Hash256& validators_hash() const { return validators_hash_; }
  // Whether `header` names another set than the one held: the caller must first Follow (or
  // Hold) set(header.height), fetched from a node (getValidators {height}).
  bool NeedsSet(const ledger::BlockHeader& header) const {
    return header.validators_hash != validators_hash_;
  }
  // Takes `set` as set(trusted.height + 1): accepted only when its SetHash is the trusted
  // header's next_validators_hash (what the validators of `trusted` signed), else an error
  // naming both hashes, and the held set is kept.
  Status Follow(const ledger::BlockHeader& trusted, std::vector<ledger::Member> set);
  // Takes `set` as set(trusted.height): its SetHash must be trusted.validators_hash (a light
  // store resuming from its newest trusted header).
  Status Hold(const ledger::BlockHeader& trusted, std::vector<ledger::Member> set);

  // BFT: `certificate` (encoded) proves `header` final for the held set, which `header` must
  // name (validators_hash). Returns how many validators signed it. Errors read "header 812:
  // certificate: ...".
  Result<uint32_t> CheckCertified(const ledger::BlockHeader& header, ByteView certificate) const;
  // Solo and Raft: `header` follows `parent` (height, chain id, prev_hash, timestamp, and its
  // validators_hash is the parent's next_validators_hash), its proposer is a validator of the
  // held set and `proposer_sig` is that validator's signature over its hash. Errors read
  // "header 812: header: prev_hash ...".
  Status CheckLinked(const ledger::BlockHeader& parent, const ledger::BlockHeader& header,
                     const crypto::Signature& proposer_sig) const;

 private:
  struct Rules;
  std::unique_ptr<Rules> rules_;  // the genesis and the BlockRules that refer to it
  crypto::Hash256 genesis_hash_;
  ledger::BlockHeader genesis_header_;
  std::vector<ledger::Member> validators_;  // the held set, by member id
  crypto::Hash256 validators_hash_;
};

}  // namespace cairn::audit
