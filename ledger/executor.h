// The deterministic state machine: checks and executes transactions and blocks.
// Pure functions of their inputs (no clock, no I/O, no unordered iteration); safe to call
// from several threads on distinct overlays.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/receipt.h"
#include "ledger/state.h"
#include "ledger/state_tree.h"

namespace cairn::ledger {

// The outcome of executing a block on top of the state of its parent.
struct ExecResult {
  std::vector<crypto::Hash256> tx_hashes;
  std::vector<Receipt> receipts;
  StateDiff diff;
  // What the writes replaced: each key of `diff` with its value before the block (nullopt:
  // absent). The chain store keeps it for a while, for proofs of past heights.
  StateDiff undo;
  // The state tree after the block (of ProcessStateTree()); its root is the header's
  // state_root. Holding it keeps the tree of this state alive for proofs and children.
  StateTree::View view;
  crypto::Hash256 state_root;
  // SetHash(set(height)) and SetHash(set(height + 1)) (ledger/governance.h).
  crypto::Hash256 validators_hash;
  crypto::Hash256 next_validators_hash;
};

struct ExecOptions {
  // Returns true when the transaction with this hash already had its signature checked
  // (e.g. at mempool admission). Unset: every signature is verified. Called concurrently
  // when verify_threads > 1, so it must be thread-safe.
  std::function<bool(const crypto::Hash256&)> signature_known_valid;
  // Threads used to verify signatures of a block (1 = inline).
  unsigned verify_threads = 1;
};

// Validity of `tx` against `state` as the next transaction of a block on chain `chain_id`:
// chain id, sender registered, nonce equal to the account's. Does NOT check the signature.
// Returns kOk or a validity code (kWrongChain, kUnknownSender, kNonceTooLow, kNonceTooHigh).
TxCode CheckTxValidity(const StateReader& state, const std::string& chain_id,
                       const Transaction& tx);

// Executes a valid tx (REQUIRES: CheckTxValidity == kOk and a good signature) as a tx of the
// block at `height`, `hash` being tx.Hash() (a gov_propose's proposal id): increments the
// sender's nonce and applies the payload, or records an execution failure (returned) with
// only the nonce increment (and, for proposal_expired, the proposal marked expired).
TxCode ExecuteTx(StateOverlay& state, const Transaction& tx, uint64_t height,
                 const crypto::Hash256& hash);

// Verifies every signature in txs (skipping known-valid hashes); returns the index of the
// first invalid one, or -1.
long FirstBadSignature(std::span<const Transaction> txs, std::span<const crypto::Hash256> hashes,
                       const ExecOptions& opts);

// Verifies each signature, spreading the work over `threads` threads; result[i] is 1 when
// txs[i]'s signature is valid.
std::vector<uint8_t> VerifyEach(std::span<const Transaction> txs, unsigned threads);
// Same, for txs[i] with i in `which` only: sets ok[i] for those (a node skips what it has
// verified before). REQUIRES: ok.size() == txs.size().
void VerifyEach(std::span<const Transaction> txs, std::span<const size_t> which, unsigned threads,
                std::vector<uint8_t>& ok);

// Executes `block` on `state` (the state after block height-1, whose tree is `parent_view`,
// of ProcessStateTree()): governance's BeginBlock (a pending member set taking effect, the
// queued proposal run), then the transactions; and updates the tree. Fails, naming the tx index and
// reason, if any tx is invalid. Does not check the header; see VerifyBlock.
Result<ExecResult> ExecuteBlock(const StateReader& state, const StateTree::View& parent_view,
                                const Block& block, const ExecOptions& opts = {});

// The header's (validators_hash, next_validators_hash) for a block at `height` whose parent
// state is `parent_state` and executed state `after`; `parent` gives them when the state holds
// no member set.
std::pair<crypto::Hash256, crypto::Hash256> SetHashesFor(const StateReader& parent_state,
                                                         const StateReader& after,
                                                         const BlockHeader& parent,
                                                         uint64_t height);

// The state root of a state written in one go (genesis): the tree of its present entries.
crypto::Hash256 StateRootOf(const StateDiff& entries);

// Everything a node checks before committing `block` on top of `parent`: chain id, height,
// prev hash, timestamp not before parent's, tx count and Merkle root, proposer signature,
// every tx, that executing it yields header.state_root, and the validator set hashes:
// validators_hash = SetHash(set(h)) from `state`, next_validators_hash = SetHash(set(h+1))
// from the executed state (ledger/governance.h); a state without set/members (bare test
// states) keeps the parent's hashes. Which proposer is allowed is the consensus
// engine's business and is not checked here. `parent_view` is the parent's state tree.
Result<ExecResult> VerifyBlock(const StateReader& state, const BlockHeader& parent,
                               const StateTree::View& parent_view, const Block& block,
                               const ExecOptions& opts = {});

// Builds a block on top of `parent` from candidate txs in order: each is checked against the
// state as it evolves and skipped (reported in `skipped`) if not valid; the header is filled
// in (roots, count, validator set hashes as VerifyBlock checks them) and signed by
// `proposer`.
struct BuiltBlock {
  Block block;
  ExecResult exec;
  std::vector<crypto::Hash256> skipped;
};
BuiltBlock BuildBlock(const StateReader& state, const BlockHeader& parent,
                      const StateTree::View& parent_view, std::vector<Transaction> candidates,
                      uint64_t timestamp_ms, const crypto::KeyPair& proposer,
                      Bytes consensus_data = {}, const ExecOptions& opts = {});

}  // namespace cairn::ledger
