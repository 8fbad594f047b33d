// The audit's per-chain walk state (internal to audit/): the signature pass over a page
// (signatures.cpp), the per-block checks and replay (block_checks.cpp), and the comparison of
// what a data dir stored with the replay (store_checks.cpp). Not thread-safe: one Auditor per
// audit, driven from one thread (VerifySignatures fans out internally and joins).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "base/bytes.h"
#include "chain/block_rules.h"
#include "ledger/block.h"
#include "ledger/chain_store.h"
#include "ledger/state.h"

namespace cairn::audit::internal {

// A decoded block of a page with its signature checks done.
struct Checked {
  ledger::Block block;
  Bytes certificate;  // as stored beside the block; empty when none
  std::vector<crypto::Hash256> tx_hashes;
  long first_bad_tx = -1;
  bool proposer_sig_ok = false;
};

// Verifies every transaction signature and every proposer signature of `page` on `threads`
// threads (strided items; each writes only its own slots).
void VerifySignatures(std::vector<Checked>& page, unsigned threads);

// Checks blocks in height order from genesis, replaying each on the state after its parent.
// Results go to the report it was given; the first failure is recorded there and stops it.
class Auditor {
 public:
  // `store` and `kv`: the data dir's chain store and its key-value store, whose indexes and
  // state are compared with the replay; both null for an RPC audit.
  Auditor(const genesis::Genesis& genesis, const AuditOptions& options, AuditReport& report,
          const ledger::ChainStore* store, const ledger::KvStore* kv);

  uint64_t next_height() const { return next_height_; }

  // Checks `blocks`, the blocks at next_height() on, in order; false at the first failure.
  bool CheckPage(std::vector<Bytes> blocks, std::vector<Bytes> certificates);

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
  bool CheckGenesis(const Bytes& bytes);
  // chain::BlockRules::Check on the state after the parent, then the stored indexes.
  bool CheckBlock(const Checked& c);
  static AuditCheck AuditCheckOf(chain::Verdict v);
  static std::string DetailOf(const chain::Checked& checked);
  // What the node stored beside block `b`: its receipts, each tx's index entry, its hash index.
  bool CheckStoredIndexes(const ledger::Block& b, const crypto::Hash256& hash,
                          const std::vector<crypto::Hash256>& tx_hashes,
                          const std::vector<ledger::Receipt>& receipts);
  void Accept(const ledger::Block& b, const crypto::Hash256& hash);
  // Merges the stored state scan (key order) with the replayed entries (the same order).
  bool CompareState();

  const genesis::Genesis& genesis_;
  const AuditOptions& options_;
  AuditReport& report_;
  const ledger::ChainStore* store_;  // null: no stored indexes to compare (RPC, or not opened)
  const ledger::KvStore* kv_;        // the store's key-value store when store_ is set
  const chain::BlockRules rules_;
  ledger::MemoryState state_;
  ledger::BlockHeader parent_;
  uint64_t next_height_ = 0;
};

}  // namespace cairn::audit::internal
