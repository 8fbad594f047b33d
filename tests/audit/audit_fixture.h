// A small real chain for audit tests: a genesis file with one validator and a funded admin,
// blocks built with ledger::BuildBlock and committed with ChainStore::Commit into a LevelDB
// directory or a MemoryKv, and helpers that damage the stored bytes. Deterministic (seeded
// keys, fixed times). Not thread-safe.
#pragma once

#include <string>
#include <vector>

#include "audit/audit.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "ledger/executor.h"
#include "ledger/kv.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/temp_dir.h"

namespace cairn::audit::testing {

using testkit::EditValue;
using testkit::HeightKey;
using testkit::PrefixedKey;
using testkit::TempDir;

// The audit tests' keys (testkit::TestKey, family 0x17).
inline crypto::KeyPair SeededKey(uint8_t n) { return testkit::TestKey(n, /*family=*/0x17); }

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
    return testkit::MakeTx(from, genesis.chain_id, nonce, std::move(p));
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

  // Builds and commits every block on `store`, 1 s apart; returns the head height.
  uint64_t Build(ledger::ChainStore& store) {
    auto blocks = Blocks();
    for (const auto& txs : blocks) transactions += txs.size();
    auto head = testkit::CommitChain(store, genesis.Block0().header, std::move(blocks), validator);
    if (!head.ok()) std::abort();  // the fixture's transactions must all apply
    return *head;
  }
};

// What an audit found, for test failure messages.
inline std::string Why(const AuditReport& r) {
  return r.failure ? r.failure->ToString() : std::string("audit passed");
}

}  // namespace cairn::audit::testing
