// The offline check of a proof file (`cairn verify-proof`, docs/CLI.md "verify-proof"): the
// genesis, then the header (certificate, or header chain), then the statement's proof. Pure
// over its inputs: no node, no network. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>

#include "audit/header_trust.h"
#include "base/status.h"
#include "cli/light_store.h"
#include "cli/proof_file.h"

namespace cairn::cli {

// What a proof file established.
struct VerifiedProof {
  StatementKind kind = StatementKind::kTx;
  crypto::Hash256 tx_hash;
  uint32_t index = 0;
  uint64_t height = 0;
  crypto::Hash256 block_hash;
  bool certified = false;         // BFT: final by a certificate
  uint32_t signers = 0;           // BFT: how many validators signed the certificate
  uint32_t validators = 0;        // in the genesis
  uint64_t linked_headers = 0;    // solo, Raft: headers checked from the file
  uint64_t anchor = 0;            // solo, Raft: the trusted height they link to (0: genesis)
  bool trusted_by_store = false;  // solo, Raft: the light store already held this header
  StateStatement state;           // kinds kAccount, kRecord: what the state proof proved
  std::string proposer;           // the proposer's genesis name
};

// Checks `file` against the genesis `trust` was built from, in this order: the genesis hash,
// chain id and consensus; the header (its height; under BFT its certificate; under solo and
// Raft the chain of signed headers from genesis, or from a header `store` trusts); the proof
// against the header. The first failure is the error, naming what and where ("header 812:
// certificate: 2 signers, a quorum of 4 validators needs 3"). `store` may be null.
Result<VerifiedProof> VerifyProof(const ProofFile& file, const audit::HeaderTrust& trust,
                                  const LightStore* store);

// "transaction ab12... is at index 3 of block 812 (hash ...), final by a certificate of 3 of
// 4 validators"
std::string DescribeVerified(const VerifiedProof& v);

}  // namespace cairn::cli
