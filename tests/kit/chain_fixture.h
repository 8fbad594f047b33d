// A real chain for tests and micro-benchmarks: a genesis block with funded member accounts,
// signed transfers between them, the next block built on a state, blocks committed to a
// ChainStore, an audit that replays a stored chain from genesis, and the store's raw keys for
// tests that damage it on purpose. Deterministic (seeded keys, fixed times). Not thread-safe.
#pragma once

#include <string>
#include <vector>

#include "ledger/chain_store.h"
#include "ledger/executor.h"
#include "ledger/kv.h"
#include "tests/kit/keys.h"
#include "tests/kit/make_tx.h"

namespace cairn::testkit {

// The families of ChainFixture's keys (TestKey).
inline constexpr uint8_t kAccountKeys = 0x5c;
inline constexpr uint8_t kProposerKeys = 0xb0;

struct ChainFixture {
  std::string chain_id;
  std::vector<crypto::KeyPair> accounts;  // members, each funded with `balance`
  crypto::KeyPair proposer = TestKey(0, kProposerKeys);
  ledger::StateDiff genesis_state;
  ledger::Block genesis;

  // REQUIRES: num_accounts >= 2.
  explicit ChainFixture(size_t num_accounts = 8, std::string chain = "test-chain",
                        uint64_t balance = 1'000'000'000,
                        uint64_t genesis_time_ms = 1'700'000'000'000);

  ledger::MemoryState GenesisMemoryState() const;

  ledger::Transaction Sign(const crypto::KeyPair& from, uint64_t nonce,
                           ledger::Payload payload) const;

  // `count` transfers of `amount`: account (first + j) % n pays the next account; nonces
  // continue from `state`.
  std::vector<ledger::Transaction> Transfers(const ledger::StateReader& state, size_t count,
                                             uint64_t amount = 1, size_t first = 0) const;

  // The block after `parent` holding `txs`, 1 s later. Signatures are taken as valid:
  // the fixture made them (VerifyBlock still checks them on replay).
  ledger::BuiltBlock NextBlock(const ledger::StateReader& state, const ledger::BlockHeader& parent,
                               std::vector<ledger::Transaction> txs) const;
  ledger::BuiltBlock NextBlock(const ledger::StateReader& state, const ledger::BlockHeader& parent,
                               size_t count, size_t first = 0) const;
};

// The state tree of `state` (a test's parent view): a ChainStore's head view, or a
// MemoryState's entries built into a tree. Aborts on any other StateReader.
ledger::StateTree::View TreeOf(const ledger::StateReader& state);

// Builds each of `blocks` on the one before (the first on `parent`), 1 s apart and signed by
// `proposer`, and commits it to `store`. Returns the head height, or an error when a
// transaction was skipped (a fixture's transactions must all apply) or a commit failed.
Result<uint64_t> CommitChain(ledger::ChainStore& store, ledger::BlockHeader parent,
                             std::vector<std::vector<ledger::Transaction>> blocks,
                             const crypto::KeyPair& proposer);

// Replays every block of `store` from genesis on a MemoryState, checking each with
// VerifyBlock (so every header's state root equals the replayed one), its receipts and tx
// index, that nothing is stored above the head, and finally that the stored state equals
// the replayed state entry for entry. Returns the first discrepancy.
Status AuditStore(const ledger::ChainStore& store, const ChainFixture& fx);

// Raw keys as ledger/chain_store.h lays them out: a prefix byte, then a big-endian height or
// the rest of the key.
Bytes HeightKey(char prefix, uint64_t height);
Bytes PrefixedKey(char prefix, ByteView rest);

// Reads `key`, lets `edit` change the value, writes it back (synced); false when the key is
// absent or a read or write fails.
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

}  // namespace cairn::testkit
