// HeaderTrust: whether a block header belongs to the chain a genesis file starts, judged from
// headers alone (no blocks, no state), with the same chain::BlockRules checks the node and the
// audit run. For cairn's light client and `cairn verify-proof`. Immutable after construction;
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "genesis/genesis.h"
#include "ledger/block.h"

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

  // BFT: `certificate` (encoded) proves `header` final for the genesis validators. Returns
  // how many validators signed it. Errors read "header 812: certificate: ...".
  Result<uint32_t> CheckCertified(const ledger::BlockHeader& header, ByteView certificate) const;
  // Solo and Raft: `header` follows `parent` (height, chain id, prev_hash, timestamp), its
  // proposer is a genesis validator and `proposer_sig` is that validator's signature over its
  // hash. Errors read "header 812: header: prev_hash ...".
  Status CheckLinked(const ledger::BlockHeader& parent, const ledger::BlockHeader& header,
                     const crypto::Signature& proposer_sig) const;

 private:
  struct Rules;
  std::unique_ptr<Rules> rules_;  // the genesis and the BlockRules that refer to it
  crypto::Hash256 genesis_hash_;
  ledger::BlockHeader genesis_header_;
};

}  // namespace cairn::audit
