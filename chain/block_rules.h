// BlockRules: whether a block may join the chain on top of its parent, as one ordered list of
// checks returning a typed verdict. The node's commit path, BFT proposal validation, block
// sync and the offline audit all call Check, so a rule lives in exactly one place.
// Thread-safety: immutable after construction; Check may run concurrently on distinct inputs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "consensus/signer.h"
#include "genesis/genesis.h"
#include "ledger/block.h"
#include "ledger/executor.h"
#include "ledger/governance.h"
#include "ledger/state.h"

namespace cairn::chain {

// Why a block was refused, in the order Check runs the checks. Stable: p2p decides from it
// whether to drop a peer, and the audit reports it.
enum class Verdict : uint8_t {
  kAccepted,
  kHeader,             // height, chain id, validator set hashes, prev_hash or timestamp is wrong
  kProposer,           // the proposer is not a validator
  kClockDrift,         // proposals only: the timestamp is too far ahead of this node's clock
  kProposerSignature,  // the proposer signature does not verify
  kCertificate,        // BFT: the commit certificate is missing or does not prove the block
  kTxRoot,             // tx_root is not the Merkle root of the block's transactions
  kTxSignature,        // a transaction signature does not verify
  kExecution,          // a transaction is invalid, or executing gives another state root
};
std::string_view VerdictName(Verdict v);  // snake_case: "tx_signature"

// A proposal whose timestamp is further ahead of this validator's clock than this gets no
// vote: a proposer cannot push the chain's time arbitrarily into the future.
inline constexpr uint64_t kMaxClockDriftMs = 10'000;

struct CheckOptions {
  // Verify the commit certificate (chains whose rules require one). Off for a block this
  // node is voting on (it has none yet) and for one a quorum already decided in-process.
  bool check_certificate = true;
  // Proposals: refuse a timestamp more than kMaxClockDriftMs after this (unix ms). Committed
  // blocks are final whatever their time, so commit and audit leave it unset.
  std::optional<uint64_t> now_unix_ms;
  // Skips transaction signatures already verified (a node's signature cache, an audit's
  // parallel pass). Must be thread-safe when verify_threads > 1.
  std::function<bool(const crypto::Hash256&)> signature_known_valid;
  // The proposer signature's outcome when the caller verified it already (the audit does,
  // in parallel over a page); unset: Check verifies it.
  std::optional<bool> proposer_signature_ok;
  unsigned verify_threads = 1;
};

struct Checked {
  Verdict verdict = Verdict::kAccepted;
  std::string detail;                      // one line saying what is wrong; empty when accepted
  std::optional<ledger::ExecResult> exec;  // set when accepted: the block executed on the state
  // Where an accepted block's check went, for the node's metrics: transaction signatures (the
  // ones not already known valid), then execution.
  std::chrono::nanoseconds verify_time{0};
  std::chrono::nanoseconds execute_time{0};

  bool ok() const { return verdict == Verdict::kAccepted; }
  // "block 7: certificate: ..." (kInvalid), or ok.
  Status ToStatus(uint64_t height) const;
};

class BlockRules {
 public:
  explicit BlockRules(const genesis::Genesis& genesis);

  // BFT chains: every block above genesis carries a commit certificate.
  bool certificates_required() const { return genesis_.consensus == genesis::ConsensusKind::kBft; }
  // set(height), the validators by member id, from `state`, the post-state of height - 1
  // (ledger::ValidatorSetAt); the genesis validators when the state holds no set/members.
  std::vector<ledger::Member> ValidatorsAt(const ledger::StateReader& state, uint64_t height) const;
  // The genesis validators (member ids 0..n-1) and their SetHash.
  const std::vector<ledger::Member>& genesis_validators() const { return genesis_set_; }
  const crypto::Hash256& genesis_validators_hash() const { return genesis_set_hash_; }

  // Checks `block` as the child of `parent` (the header at height - 1, whose post-state
  // `state` is, with state tree `parent_view`), with its `certificate` (empty when none),
  // and executes it. The first failing check is the verdict.
  Checked Check(const ledger::StateReader& state, const ledger::BlockHeader& parent,
                const ledger::StateTree::View& parent_view, const ledger::Block& block,
                ByteView certificate, const CheckOptions& options) const;

  // That `certificate` proves `block` final for `set`, the validators of its height (set(H)):
  // kCertificate or ok.
  Checked CheckCertificate(const ledger::Block& block, ByteView certificate,
                           std::span<const ledger::Member> set) const;
  // Check's first step alone: `block`'s header follows `parent` (height, chain id, prev_hash,
  // timestamp) and names a validator as proposer (kHeader, kProposer, kClockDrift or ok).
  // Public for the light client (audit/header_trust.h), which links headers without blocks.
  // `set` is set(H) of the block's height: validators_hash must be its SetHash and the proposer
  // one of its consensus keys (next_validators_hash needs the block executed: Check does it).
  Checked CheckHeader(const ledger::BlockHeader& parent, const ledger::Block& block,
                      const CheckOptions& options, std::span<const ledger::Member> set) const;

 private:
  Checked CheckTransactions(const ledger::StateReader& state,
                            const ledger::StateTree::View& parent_view, const ledger::Block& block,
                            const CheckOptions& options) const;

  const genesis::Genesis& genesis_;
  const crypto::Hash256 genesis_hash_;
  const std::vector<ledger::Member> genesis_set_;
  const crypto::Hash256 genesis_set_hash_;
};

}  // namespace cairn::chain
