// The audit's per-chain walk state (internal to audit/): the walk that reads blocks ahead and
// hands them to the parallel checks (walk.cpp, verify_pool.cpp), the per-block checks and
// replay (block_checks.cpp), and the comparison of what a data dir stored with the replay
// (store_checks.cpp). Not thread-safe: one Auditor per audit, driven from one thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "audit/verify_pool.h"
#include "base/bytes.h"
#include "chain/block_rules.h"
#include "ledger/block.h"
#include "ledger/chain_store.h"
#include "ledger/state.h"

namespace cairn::audit::internal {

class BlockSource;

// What a data dir keeps, from its raw 'M' records (docs/design/state-sync.md section 2).
struct KeptRanges {
  uint64_t head = 0;
  bool head_known = false;    // the head record's height decoded
  uint64_t blocks_from = 1;   // 'M' "blocks_from"; absent: 1
  uint64_t headers_from = 1;  // 'M' "headers_from"; absent: 1
  std::optional<uint64_t> undo_from;
  std::optional<uint64_t> synced_at;  // 'M' "synced_at": the height a state sync started from
  bool import_in_progress = false;    // 'M' "import": a snapshot import has not finished
  // Whether the dir lacks blocks below its head: the audit starts from a proven state.
  bool pruned() const { return blocks_from > 1 || headers_from > 1; }
};
// Reads the records above; an error names the record that does not decode.
Result<KeptRanges> ReadKeptRanges(const ledger::KvStore& kv);

// Checks blocks in height order from genesis, replaying each on the state after its parent.
// Results go to the report it was given; the first failure is recorded there and stops it.
class Auditor {
 public:
  // `store` and `kv`: the data dir's chain store and its key-value store, whose indexes and
  // state are compared with the replay; both null for an RPC audit.
  Auditor(const genesis::Genesis& genesis, const AuditOptions& options, AuditReport& report,
          const ledger::ChainStore* store, const ledger::KvStore* kv);

  uint64_t next_height() const { return next_height_; }
  const AuditReport& report() const { return report_; }
  const chain::BlockRules& rules() const { return rules_; }

  // Block 0, as stored: exactly the genesis file's block. Then applies the genesis state.
  bool CheckGenesis(const Bytes& bytes);
  // The block at next_height(), its parallel checks done (VerifyPool::Wait): chain::BlockRules
  // on the state after the parent, then the stored indexes; applies it when it passes.
  bool CheckBlock(const Checked& c);

  // A pruned or state-synced data dir (kept.pruned()), instead of CheckGenesis: block 0 and
  // every kept header up to the state base (hash links from genesis, proposer signatures
  // and BFT certificates where the set is known), the state there rebuilt from the stored
  // state and the undo records and proven against that header's state_root (ledger::RootOf).
  // Leaves the auditor at the base: the walk replays the blocks above it. Fills
  // report.coverage, whose lines DescribeCoverage writes once the audit is over.
  bool StartFromKeptState(const KeptRanges& kept);
  void DescribeCoverage();

  // After the walk: the tree of the replayed state built from scratch (ledger::RootOf, not
  // the incremental update every block was checked with) has the last header's state_root.
  bool CheckTreeAtEnd();
  // Data dir: the head record, nothing stored above it, and the stored state entry for entry.
  bool CheckStoreAtEnd();
  // Data dir, after the walk: every 'M' record read raw (format, genesis, chain id against the
  // genesis file, the head record against the last block that checked out; unknown names).
  // Head damage is reported at a height: the last good block, or the missing one above it.
  bool CheckMetadata();
  // Data dir: every consensus record ('C' 'h', 'C' 'l', 'C' 'e') decodes for this chain's
  // engine, as a restarting validator will need it to.
  bool CheckEngineRecords();
  // Data dir: no key outside the prefixes of ledger/chain_store.h.
  bool CheckLayout();

  // Records the failure in the report; always false, so callers can `return Fail(...)`.
  bool Fail(AuditFailure f);
  bool Fail(AuditCheck check, std::optional<uint64_t> height, std::string detail);

 private:
  static AuditCheck AuditCheckOf(chain::Verdict v);
  static std::string DetailOf(const chain::Checked& checked);
  // What the node stored beside block `b`: its receipts, each tx's index entry, its hash index.
  bool CheckStoredIndexes(const ledger::Block& b, const crypto::Hash256& hash,
                          const std::vector<crypto::Hash256>& tx_hashes,
                          const std::vector<ledger::Receipt>& receipts);
  // Block h's undo record, when stored, against what the replay's writes replaced.
  bool CheckStoredUndo(uint64_t h, const ledger::StateDiff& undo);
  void Accept(const ledger::Block& b, const crypto::Hash256& hash);
  // A kept header and its proposer signature, when the record holds one: from the block at
  // or above blocks_from, else from the header-only record ('P').
  struct KeptHeader {
    ledger::BlockHeader header;
    std::optional<crypto::Signature> proposer_sig;
  };
  Result<std::optional<KeptHeader>> ReadKeptHeader(uint64_t h, uint64_t blocks_from) const;
  // The kept headers [from, to], each after `parent` (nullopt: the first is not linked,
  // headers below it are not kept). Returns the last; nullopt after a failure.
  std::optional<ledger::BlockHeader> CheckKeptHeaders(
      std::optional<ledger::BlockHeader> parent, uint64_t from, uint64_t to, uint64_t blocks_from,
      const std::vector<std::vector<ledger::Member>>& known_sets);
  // The state after `base`: the stored 'S' entries with the undo records of head..base+1
  // applied (each restores what its block overwrote). An error names the record.
  Status RebuildState(uint64_t base, uint64_t head, ledger::MemoryState* out);

  // Merges the stored state scan (key order) with the replayed entries (the same order).
  bool CompareState();
  // The 'U' keys are exactly the heights above `from` ('M' "undo_from") up to the head.
  bool CheckUndoHeights(uint64_t from);

  const genesis::Genesis& genesis_;
  const AuditOptions& options_;
  AuditReport& report_;
  const ledger::ChainStore* store_;  // null: no stored indexes to compare (RPC, or not opened)
  const ledger::KvStore* kv_;        // the store's key-value store when store_ is set
  const chain::BlockRules rules_;
  ledger::MemoryState state_;
  ledger::StateTree::View view_;  // state_'s tree, advanced by each replayed block
  ledger::BlockHeader parent_;
  uint64_t next_height_ = 0;
  uint64_t replay_from_ = 0;  // the first height replayed (above the state base when pruned)
};

// Reads `source` from genesis to its target (or to the first missing block when it has none)
// a bounded window ahead of the replay, runs each block's parallel checks on
// options.verify_threads threads and checks the blocks in height order with `auditor`. False
// at the first failure, which is the lowest failing height whatever the threads did.
bool Walk(Auditor& auditor, BlockSource& source, const AuditOptions& options);

}  // namespace cairn::audit::internal
