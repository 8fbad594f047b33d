// EngineStore: the consensus engine's durable state and the evidence it reported, under the
// 'C' prefix of the chain's key-value store (the layout is in ledger/chain_store.h), and the
// bytes of the blocks its log records carry, once, under the chain store's 'K' prefix, where
// ChainStore::Commit adopts them. The node persists each Ready through it BEFORE sending
// that Ready's messages.
// Thread-safety: the loop thread persists; Load* run before the loop starts. Evidence writes
// (loop thread) and scans (startup) never overlap.
#pragma once

#include <cstdint>
#include <functional>

#include "base/status.h"
#include "consensus/engine.h"
#include "crypto/sha256.h"
#include "ledger/kv.h"

namespace cairn::node {

class EngineStore {
 public:
  explicit EngineStore(ledger::KvStore& kv) : kv_(kv) {}

  // The last hard state and every log record, in index order (empty on first boot), each
  // with its block put back.
  Result<consensus::DurableState> Load() const;
  // Writes a Ready's hard state, truncation and appended records in one synced batch. A
  // record's block (LogRecord::block_hash) goes under 'K' unless the ledger holds it already;
  // truncation deletes the bodies of truncated blocks that did not commit.
  Status Persist(const consensus::Ready& ready);
  // Deletes the hard state and every log record, in one synced batch: the driver's way to
  // start an engine clean once the operator has accepted that its state is lost (evidence
  // is kept). After it, Load() returns what a first boot sees.
  Status ClearEngineState();
  // Drops log records at or below `through` (the ledger holds those blocks durably, and
  // keeps their bodies). Best effort and unsynced: a crash leaves records the engine skips
  // on restart.
  void Discard(uint64_t through);

  // Evidence of misbehaviour, by sha256 of its encoding. Unsynced: evidence is not needed
  // for safety and must stay off the commit path.
  Status PutEvidence(const crypto::Hash256& id, uint64_t recorded_ms, ByteView evidence);
  // Calls fn for every stored piece; undecodable records are skipped.
  Status ScanEvidence(const std::function<void(uint64_t recorded_ms, ByteView evidence)>& fn) const;

 private:
  ledger::KvStore& kv_;
};

}  // namespace cairn::node
