// Account state as the state machine sees it: a read interface over committed state, and
// an overlay that collects one block's writes into a sorted StateDiff.
// StateReader implementations must be safe for concurrent reads; StateOverlay is
// single-threaded.
#pragma once

#include <map>
#include <optional>
#include <string_view>

#include "base/bytes.h"
#include "ledger/account.h"

namespace cairn::ledger {

// State keys, as stored and as hashed into the state root:
//   AccountKey := 0x01 address:fixed[32]
//   RecordKey  := 0x02 address:fixed[32] key[1..128]
//   SystemKey  := 0x03 name[1..134] (governance and membership, ledger/governance.h; leases,
//                                   "lease/" name[1..128], ledger/lease.h)
Bytes AccountKey(const Address& a);
Bytes RecordKey(const Address& a, ByteView key);
Bytes SystemKey(std::string_view name);

class StateReader {
 public:
  virtual ~StateReader() = default;
  virtual std::optional<Account> GetAccount(const Address& a) const = 0;
  virtual std::optional<Bytes> GetRecord(const Address& a, ByteView key) const = 0;
  // The system record `name` (SystemKey), or nullopt when absent.
  virtual std::optional<Bytes> GetSystem(std::string_view name) const = 0;
};

// The writes of one block, by state key in byte order (the order the state root hashes
// them in). nullopt marks a deletion (only system records are deleted, e.g. "set/pending").
using StateDiff = std::map<Bytes, std::optional<Bytes>>;

// A StateReader over `base` plus pending writes. REQUIRES: base outlives the overlay.
class StateOverlay : public StateReader {
 public:
  explicit StateOverlay(const StateReader& base) : base_(base) {}

  std::optional<Account> GetAccount(const Address& a) const override;
  std::optional<Bytes> GetRecord(const Address& a, ByteView key) const override;
  std::optional<Bytes> GetSystem(std::string_view name) const override;

  void PutAccount(const Address& a, const Account& acct) { accounts_[a] = acct; }
  void PutRecord(const Address& a, ByteView key, ByteView value);
  void PutSystem(std::string_view name, Bytes value) {
    system_[SystemKey(name)] = std::move(value);
  }
  void DeleteSystem(std::string_view name) { system_[SystemKey(name)] = std::nullopt; }

  // Every write so far, encoded, in state-key order.
  StateDiff Diff() const;
  // Folds another overlay's writes into this one (used to commit a tx's writes).
  void Absorb(const StateOverlay& child);

  // From now on, remembers the value each key had in `base` when first read through this
  // overlay (which also spares repeated base reads), so Undo() knows what the block's writes
  // replaced without reading them again. The block's overlay captures; per-transaction
  // children read through it and need not.
  void CaptureBaseReads() { capture_ = true; }
  // For every key in Diff(): its value in `base` (nullopt: absent), in state-key order.
  // Keys written without being read are read from `base` here.
  StateDiff Undo() const;

 private:
  const StateReader& base_;
  std::map<Address, Account> accounts_;
  std::map<Bytes, Bytes> records_;                // by RecordKey
  std::map<Bytes, std::optional<Bytes>> system_;  // by SystemKey; nullopt: deleted
  bool capture_ = false;
  mutable std::map<Address, std::optional<Account>> base_accounts_;
  mutable std::map<Bytes, std::optional<Bytes>> base_records_;  // by RecordKey
  mutable std::map<Bytes, std::optional<Bytes>> base_system_;   // by SystemKey
};

// A StateReader over a fixed map, for tests and for building genesis.
class MemoryState : public StateReader {
 public:
  std::optional<Account> GetAccount(const Address& a) const override;
  std::optional<Bytes> GetRecord(const Address& a, ByteView key) const override;
  std::optional<Bytes> GetSystem(std::string_view name) const override;
  void Apply(const StateDiff& diff);
  const std::map<Bytes, Bytes>& entries() const { return entries_; }

 private:
  std::map<Bytes, Bytes> entries_;
};

}  // namespace cairn::ledger
