// A small deterministic chain for the micro-benchmarks: funded member accounts, their
// genesis block and state, and signed transfers between them. Header-only; not thread-safe.
#pragma once

#include <stdlib.h>

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/merkle.h"
#include "ledger/account.h"
#include "ledger/block.h"
#include "ledger/executor.h"
#include "ledger/state.h"
#include "ledger/state_root.h"
#include "ledger/transaction.h"

namespace cairn::micro {

inline crypto::KeyPair Key(uint32_t n) {
  std::array<uint8_t, 32> seed{};
  for (int i = 0; i < 4; ++i) seed[i] = static_cast<uint8_t>(n >> (8 * i));
  seed[31] = 0x3b;
  return crypto::KeyPair::FromSeed(crypto::PrivateKey(seed));
}

struct Chain {
  std::string chain_id = "micro-bench";
  std::vector<crypto::KeyPair> accounts;
  crypto::KeyPair proposer = Key(0xffffff);
  ledger::StateDiff genesis_state;
  ledger::Block genesis;

  explicit Chain(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      accounts.push_back(Key(static_cast<uint32_t>(i)));
      genesis_state[ledger::AccountKey(accounts.back().public_key())] =
          ledger::Account{1'000'000'000, 0, ledger::Role::kMember}.Encode();
    }
    genesis.header.chain_id = chain_id;
    genesis.header.timestamp_ms = 1'700'000'000'000;
    genesis.header.tx_root = crypto::MerkleRoot({});
    genesis.header.state_root = ledger::NextStateRoot(crypto::Hash256(), 0, genesis_state);
  }

  ledger::MemoryState GenesisState() const {
    ledger::MemoryState s;
    s.Apply(genesis_state);
    return s;
  }

  // `count` transfers, tx j from account j % n to the next one, nonces from `state`.
  std::vector<ledger::Transaction> Transfers(const ledger::StateReader& state, size_t count) const {
    std::vector<uint64_t> nonce(accounts.size(), UINT64_MAX);
    std::vector<ledger::Transaction> txs;
    for (size_t j = 0; j < count; ++j) {
      size_t from = j % accounts.size();
      if (nonce[from] == UINT64_MAX)
        nonce[from] = state.GetAccount(accounts[from].public_key())->nonce;
      ledger::Transaction tx;
      tx.chain_id = chain_id;
      tx.nonce = nonce[from]++;
      tx.payload = ledger::Transfer{accounts[(from + 1) % accounts.size()].public_key(), 1};
      tx.Sign(accounts[from]);
      txs.push_back(std::move(tx));
    }
    return txs;
  }

  // The next block on `parent` holding `count` transfers (signatures taken as valid).
  ledger::BuiltBlock NextBlock(const ledger::StateReader& state, const ledger::BlockHeader& parent,
                               size_t count) const {
    ledger::ExecOptions opts;
    opts.signature_known_valid = [](const crypto::Hash256&) { return true; };
    return ledger::BuildBlock(state, parent, Transfers(state, count), parent.timestamp_ms + 1000,
                              proposer, {}, opts);
  }
};

// A fresh directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cairn-micro-XXXXXX").string();
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

}  // namespace cairn::micro
