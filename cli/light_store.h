// LightStore: the light client's headers it has verified (docs/CLI.md "light sync"), one
// directory per chain, <dir>/headers, records appended and synced. Solo and Raft: every header
// from 1 up (each linked to the one before and signed by its proposer). BFT: any headers, each
// with the certificate that made it trusted. Genesis is never stored: it is computed from the
// genesis file. Not thread-safe: one command uses one store, and an open store holds an
// exclusive lock (<dir>/lock), so a second cairn on the same store is refused, not interleaved.
// <dir>/set keeps the validator set the newest header names once it differs from genesis.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/governance.h"

namespace cairn::cli {

struct TrustedHeader {
  Bytes encoded;  // the header's canonical bytes
  ledger::BlockHeader header;
  Bytes proof;  // solo, Raft: the proposer signature (64 bytes); BFT: the certificate
};

class LightStore {
 public:
  // $HOME/.cairn/light/<genesis hash hex> (the directory need not exist).
  static std::string DefaultDir(const crypto::Hash256& genesis_hash);

  // Creates `dir` if needed and reads its headers. `linked`: the store must hold heights
  // 1, 2, ... each linked to the one before (solo, Raft). A final record cut short (a crash
  // while appending) is dropped; anything else malformed is an error naming the offset.
  static Result<LightStore> Open(const std::string& dir, bool linked);

  const std::string& dir() const { return dir_; }
  // The newest trusted height; 0 when the store holds only genesis.
  uint64_t height() const { return headers_.empty() ? 0 : headers_.back().header.height; }
  size_t size() const { return headers_.size(); }
  // The trusted header at `height`, or null (above height(), or a gap in a BFT store).
  const TrustedHeader* Find(uint64_t height) const;

  // Appends verified headers and syncs the file before returning.
  // REQUIRES: each was verified by audit::HeaderTrust; heights above height(), increasing
  // (and, when linked, height() + 1, + 2, ...).
  Status Append(std::vector<TrustedHeader> headers);

  // The validator set saved with SaveSet (<dir>/set): the set the newest header names, once
  // the light client followed a set change; nullopt when none was saved or the file does not
  // decode. The caller checks it against that header (audit::HeaderTrust::Hold) before using
  // it, and can do without it (a sync follows the set again from the newest header).
  const std::optional<std::vector<ledger::Member>>& saved_set() const { return saved_set_; }
  // Replaces <dir>/set (written aside, synced, renamed). REQUIRES: `set` was accepted by
  // audit::HeaderTrust::Follow or Hold.
  Status SaveSet(const std::vector<ledger::Member>& set);

 private:
  LightStore(std::string dir, bool linked) : dir_(std::move(dir)), linked_(linked) {}
  std::string path() const { return dir_ + "/headers"; }

  std::string dir_;
  bool linked_ = false;
  std::shared_ptr<int> lock_fd_;        // flock'ed <dir>/lock, closed with the last copy
  std::vector<TrustedHeader> headers_;  // by height
  std::optional<std::vector<ledger::Member>> saved_set_;
};

}  // namespace cairn::cli
