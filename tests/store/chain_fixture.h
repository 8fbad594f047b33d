// Test fixture for anything that needs a real chain: a genesis block with funded accounts,
// signed transfers between them, the next block built on a state, a temporary directory,
// and an audit that replays a stored chain from genesis. Deterministic (seeded keys, fixed
// times). Not thread-safe; header-only so any test target linking cairn_ledger can use it.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "crypto/merkle.h"
#include "ledger/chain_store.h"
#include "ledger/executor.h"
#include "ledger/state_root.h"

namespace cairn::ledger::testing {

// The deterministic key number `n` of family `family` (families keep fixtures apart).
inline crypto::KeyPair TestKey(uint32_t n, uint8_t family = 0x5c) {
  std::array<uint8_t, 32> seed{};
  for (int i = 0; i < 4; ++i) seed[i] = static_cast<uint8_t>(n >> (8 * i));
  seed[4] = family;
  seed[5] = 0xc4;
  return crypto::KeyPair::FromSeed(crypto::PrivateKey(seed));
}

struct ChainFixture {
  std::string chain_id;
  std::vector<crypto::KeyPair> accounts;  // members, each funded with `balance`
  crypto::KeyPair proposer = TestKey(0, 0xb0);
  StateDiff genesis_state;
  Block genesis;

  // REQUIRES: num_accounts >= 2.
  explicit ChainFixture(size_t num_accounts = 8, std::string chain = "test-chain",
                        uint64_t balance = 1'000'000'000,
                        uint64_t genesis_time_ms = 1'700'000'000'000)
      : chain_id(std::move(chain)) {
    for (size_t i = 0; i < num_accounts; ++i) {
      accounts.push_back(TestKey(static_cast<uint32_t>(i)));
      genesis_state[AccountKey(accounts.back().public_key())] =
          Account{balance, 0, Role::kMember}.Encode();
    }
    BlockHeader& h = genesis.header;
    h.chain_id = chain_id;
    h.height = 0;
    h.timestamp_ms = genesis_time_ms;
    h.tx_root = crypto::MerkleRoot({});
    h.state_root = NextStateRoot(crypto::Hash256(), 0, genesis_state);
  }

  MemoryState GenesisMemoryState() const {
    MemoryState s;
    s.Apply(genesis_state);
    return s;
  }

  Transaction Sign(const crypto::KeyPair& from, uint64_t nonce, Payload payload) const {
    Transaction tx;
    tx.chain_id = chain_id;
    tx.nonce = nonce;
    tx.payload = std::move(payload);
    tx.Sign(from);
    return tx;
  }

  // `count` transfers of `amount`: account (first + j) % n pays the next account; nonces
  // continue from `state`.
  std::vector<Transaction> Transfers(const StateReader& state, size_t count, uint64_t amount = 1,
                                     size_t first = 0) const {
    std::map<size_t, uint64_t> next_nonce;
    std::vector<Transaction> txs;
    txs.reserve(count);
    for (size_t j = 0; j < count; ++j) {
      size_t from = (first + j) % accounts.size();
      auto [it, fresh] = next_nonce.try_emplace(from, 0);
      if (fresh) {
        auto acct = state.GetAccount(accounts[from].public_key());
        it->second = acct ? acct->nonce : 0;
      }
      const Address& to = accounts[(from + 1) % accounts.size()].public_key();
      txs.push_back(Sign(accounts[from], it->second++, Transfer{to, amount}));
    }
    return txs;
  }

  // The block after `parent` holding `txs`, 1 s later. Signatures are taken as valid:
  // the fixture made them (VerifyBlock still checks them on replay).
  BuiltBlock NextBlock(const StateReader& state, const BlockHeader& parent,
                       std::vector<Transaction> txs) const {
    ExecOptions opts;
    opts.signature_known_valid = [](const crypto::Hash256&) { return true; };
    return BuildBlock(state, parent, std::move(txs), parent.timestamp_ms + 1000, proposer, {},
                      opts);
  }
  BuiltBlock NextBlock(const StateReader& state, const BlockHeader& parent, size_t count,
                       size_t first = 0) const {
    return NextBlock(state, parent, Transfers(state, count, 1, first));
  }
};

// Replays every block of `store` from genesis on a MemoryState, checking each with
// VerifyBlock (so every header's state root equals the replayed one), its receipts and tx
// index, that nothing is stored above the head, and finally that the stored state equals
// the replayed state entry for entry. Returns the first discrepancy.
inline Status AuditStore(const ChainStore& store, const ChainFixture& fx) {
  const Head head = store.head();
  if (store.genesis_hash() != fx.genesis.Hash()) return Status::Error("genesis hash differs");
  MemoryState state = fx.GenesisMemoryState();
  BlockHeader parent = fx.genesis.header;
  for (uint64_t h = 1; h <= head.height; ++h) {
    const std::string at = "height " + std::to_string(h) + ": ";
    auto block = store.BlockAt(h);
    if (!block.ok()) return block.status().Wrap(at);
    if (!block.value()) return Status::Error(at + "block missing");
    auto exec = VerifyBlock(state, parent, **block);
    if (!exec.ok()) return exec.status().Wrap(at + "replay");
    auto receipts = store.ReceiptsAt(h);
    if (!receipts.ok() || !receipts.value() || **receipts != exec->receipts) {
      return Status::Error(at + "stored receipts differ from the replay");
    }
    for (size_t i = 0; i < exec->tx_hashes.size(); ++i) {
      auto loc = store.FindTx(exec->tx_hashes[i]);
      if (!loc.ok() || !loc.value() || loc.value()->height != h || loc.value()->index != i) {
        return Status::Error(at + "tx " + std::to_string(i) + " missing from the tx index");
      }
    }
    state.Apply(exec->diff);
    parent = block.value()->header;
  }
  if (parent.Hash() != head.hash) return Status::Error("head hash is not the last block's");
  if (parent.state_root != head.state_root) return Status::Error("head state root differs");
  auto above = store.BlockAt(head.height + 1);
  if (!above.ok() || above.value()) return Status::Error("a block is stored above the head");
  auto receipts_above = store.ReceiptsAt(head.height + 1);
  if (!receipts_above.ok() || receipts_above.value()) {
    return Status::Error("receipts are stored above the head");
  }
  std::map<Bytes, Bytes> stored;
  Status scan = store.ScanState([&](ByteView k, ByteView v) {
    stored.emplace(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  });
  if (!scan.ok()) return scan;
  if (stored != state.entries()) {
    return Status::Error("stored state (" + std::to_string(stored.size()) +
                         " entries) differs from the replayed state (" +
                         std::to_string(state.entries().size()) + " entries)");
  }
  return Status::Ok();
}

// A fresh directory under the system temp directory, removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cairn-store-XXXXXX").string();
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
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace cairn::ledger::testing
