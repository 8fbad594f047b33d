// A small real chain for audit tests: a genesis file with one validator and a funded admin,
// blocks built with ledger::BuildBlock and committed with ChainStore::Commit into a LevelDB
// directory or a MemoryKv, and helpers that damage the stored bytes. Deterministic (seeded
// keys, fixed times). Not thread-safe.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "ledger/executor.h"
#include "ledger/kv.h"

namespace cairn::audit::testing {

inline crypto::KeyPair SeededKey(uint8_t n) {
  std::array<uint8_t, 32> seed{};
  seed[0] = n;
  seed[1] = 0xa5;
  seed[31] = 0x17;
  return crypto::KeyPair::FromSeed(crypto::PrivateKey(seed));
}

// The chain's key layout (ledger/chain_store.h): prefix byte, then a big-endian height.
inline Bytes HeightKey(char prefix, uint64_t height) {
  Bytes k(9);
  k[0] = static_cast<uint8_t>(prefix);
  for (int i = 0; i < 8; ++i) k[1 + i] = static_cast<uint8_t>(height >> (8 * (7 - i)));
  return k;
}
inline Bytes PrefixedKey(char prefix, ByteView rest) {
  Bytes k(1 + rest.size());
  k[0] = static_cast<uint8_t>(prefix);
  std::copy(rest.begin(), rest.end(), k.begin() + 1);
  return k;
}

struct AuditChain {
  crypto::KeyPair validator = SeededKey(1);
  crypto::KeyPair admin = SeededKey(2);
  crypto::KeyPair alice = SeededKey(3);
  crypto::KeyPair bob = SeededKey(4);
  genesis::Genesis genesis;
  uint64_t transactions = 0;

  AuditChain() {
    genesis.chain_id = "audit-test";
    genesis.genesis_time_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
    genesis.consensus = genesis::ConsensusKind::kSolo;
    genesis.validators.push_back({"v0", validator.public_key(), "127.0.0.1:1"});
    genesis.accounts.push_back({admin.public_key(), ledger::Role::kAdmin, 1'000'000});
  }

  ledger::Transaction Tx(const crypto::KeyPair& from, uint64_t nonce, ledger::Payload p) const {
    ledger::Transaction tx;
    tx.chain_id = genesis.chain_id;
    tx.nonce = nonce;
    tx.payload = std::move(p);
    tx.Sign(from);
    return tx;
  }

  // The transactions of blocks 1..5: registrations, transfers, records, and two that fail on
  // execution (so receipts hold failure codes).
  std::vector<std::vector<ledger::Transaction>> Blocks() const {
    using ledger::Role;
    const auto& a = alice.public_key();
    const auto& b = bob.public_key();
    Bytes doc(32, 0x3f);
    return {
        {Tx(admin, 0, ledger::RegisterAccount{a, Role::kMember}),
         Tx(admin, 1, ledger::RegisterAccount{b, Role::kMember})},
        {Tx(admin, 2, ledger::Transfer{a, 5000}), Tx(admin, 3, ledger::Transfer{b, 700})},
        {Tx(alice, 0, ledger::Put{Bytes{'d', 'o', 'c'}, doc}), Tx(bob, 0, ledger::Transfer{a, 100}),
         Tx(bob, 1, ledger::Transfer{a, 1'000'000})},  // insufficient_balance
        {},
        {Tx(alice, 1,
            ledger::RegisterAccount{SeededKey(9).public_key(), Role::kMember}),  // not_permitted
         Tx(admin, 4, ledger::SetRole{b, Role::kAdmin}), Tx(alice, 2, ledger::Transfer{b, 1})},
    };
  }

  // Builds and commits every block on `store`; returns the head height.
  uint64_t Build(ledger::ChainStore& store) {
    ledger::BlockHeader parent = genesis.Block0().header;
    uint64_t t = genesis.genesis_time_ms;
    for (auto& txs : Blocks()) {
      transactions += txs.size();
      t += 1000;
      ledger::BuiltBlock built = ledger::BuildBlock(store, parent, std::move(txs), t, validator);
      if (!built.skipped.empty()) std::abort();  // the fixture's txs must all be valid
      if (!store.Commit(built.block, built.exec).ok()) std::abort();
      parent = built.block.header;
    }
    return parent.height;
  }
};

// A fresh directory under the system temp directory, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cairn-node-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// What an audit found, for test failure messages.
inline std::string Why(const AuditReport& r) {
  return r.failure ? r.failure->ToString() : std::string("audit passed");
}

// Reads `key`, lets `edit` change the value, writes it back.
template <typename Edit>
bool EditValue(ledger::KvStore& kv, ByteView key, Edit edit) {
  auto got = kv.Get(key);
  if (!got.ok() || !got.value()) return false;
  Bytes v = std::move(*got.value());
  edit(v);
  ledger::WriteBatch b;
  b.Put(key, v);
  return kv.Write(b, /*sync=*/true).ok();
}

}  // namespace cairn::audit::testing
