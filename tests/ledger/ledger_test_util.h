// Shared fixtures for the ledger tests: deterministic keys, sample values of every encoded
// type, and a small chain (genesis state + tip header) to execute blocks against.
// Not thread-safe; each test builds its own.
#pragma once

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "ledger/account.h"
#include "ledger/block.h"
#include "ledger/executor.h"
#include "ledger/receipt.h"
#include "ledger/state.h"
#include "ledger/transaction.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/keys.h"
#include "tests/kit/make_tx.h"

namespace cairn::ledger::testing {

inline const std::string kChain = "ledger-test";

// The same seed always gives the same key, so encodings and hashes are reproducible.
inline crypto::KeyPair Key(uint32_t n) { return testkit::TestKey(n, /*family=*/0xc4); }

inline Bytes Filled(size_t n, uint8_t start = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(start + i * 7);
  return b;
}

inline Transaction SignedTx(const crypto::KeyPair& from, uint64_t nonce, Payload payload,
                            const std::string& chain = kChain) {
  return testkit::MakeTx(from, chain, nonce, std::move(payload));
}

inline Transaction PayTx(const crypto::KeyPair& from, uint64_t nonce, const crypto::KeyPair& to,
                         uint64_t amount, const std::string& chain = kChain) {
  return SignedTx(from, nonce, Transfer{to.public_key(), amount}, chain);
}

// One transaction of each payload kind plus the boundary cases of each variable field.
inline std::vector<Transaction> SampleTxs() {
  crypto::KeyPair a = Key(101), b = Key(102);
  std::vector<Transaction> out;
  out.push_back(PayTx(a, 0, b, 1));
  out.push_back(SignedTx(a, UINT64_MAX, Transfer{b.public_key(), UINT64_MAX}));
  out.push_back(SignedTx(a, 7, Put{Bytes{'k'}, Bytes{}}));
  out.push_back(SignedTx(a, 8, Put{Filled(kMaxRecordKey, 1), Filled(kMaxRecordValue, 2)}));
  out.push_back(SignedTx(a, 9, Put{Filled(3, 9), Filled(20, 3)}, "x"));
  out.push_back(SignedTx(a, 10, RegisterAccount{b.public_key(), Role::kMember}));
  out.push_back(SignedTx(a, 11, RegisterAccount{b.public_key(), Role::kAdmin},
                         std::string(kMaxChainId, 'c')));
  out.push_back(SignedTx(a, 12, SetRole{b.public_key(), Role::kAdmin}));
  out.push_back(SignedTx(a, 13, SetRole{a.public_key(), Role::kMember}));
  // Governance: each action kind, with the longest name, address and admin list.
  const crypto::PublicKey k1 = Key(103).public_key(), k2 = Key(104).public_key();
  out.push_back(SignedTx(a, 14, GovPropose{100, AddValidator{"v", k1, k2, "h:1"}}));
  out.push_back(
      SignedTx(a, 15,
               GovPropose{UINT64_MAX, AddValidator{std::string(kMaxMemberName, 'n'), k1, k1,
                                                   std::string(kMaxMemberAddress, 'a')}}));
  out.push_back(SignedTx(a, 16, GovPropose{1, RemoveMember{UINT32_MAX}}));
  out.push_back(SignedTx(a, 17, GovPropose{2, AddObserver{"o", k2, ""}}));
  out.push_back(SignedTx(a, 18, GovPropose{3, RotateKeys{7, k1, k2}}));
  out.push_back(SignedTx(a, 19, GovPropose{4, SetGovernance{1, {k1}}}));
  out.push_back(SignedTx(
      a, 20, GovPropose{5, SetGovernance{2, std::vector<crypto::PublicKey>(kMaxGovAdmins, k2)}}));
  out.push_back(SignedTx(a, 21, GovApprove{crypto::Sha256Of(AsBytes("proposal"))}));
  // Leases: the shortest and longest names, every name byte class, the u64 bounds.
  out.push_back(SignedTx(a, 22, LeaseAcquire{"l", 1}));
  out.push_back(SignedTx(a, 23, LeaseAcquire{std::string(kMaxLeaseName, 'z'), UINT64_MAX}));
  out.push_back(SignedTx(a, 24, LeaseRenew{"db/primary:0", UINT64_MAX}));
  out.push_back(SignedTx(a, 25, LeaseRelease{"AZ.az_09-x", 0}));
  return out;
}

inline BlockHeader SampleHeader(Bytes consensus_data = Filled(5, 4)) {
  BlockHeader h;
  h.chain_id = kChain;
  h.height = 42;
  h.prev_hash = crypto::Sha256Of(AsBytes("prev"));
  h.timestamp_ms = 1700000000123;
  h.proposer = Key(7).public_key();
  h.tx_root = crypto::Sha256Of(AsBytes("txs"));
  h.state_root = crypto::Sha256Of(AsBytes("state"));
  h.tx_count = 0;
  h.consensus_data = std::move(consensus_data);
  return h;
}

// A signed block holding txs[0, n) of SampleTxs() (cycled when n exceeds them).
inline Block SampleBlock(size_t n) {
  std::vector<Transaction> pool = SampleTxs();
  Block b;
  b.header = SampleHeader();
  for (size_t i = 0; i < n; ++i) b.txs.push_back(pool[i % pool.size()]);
  b.header.tx_count = static_cast<uint32_t>(n);
  b.header.tx_root = b.ComputeTxRoot();
  b.Sign(Key(7));
  return b;
}

inline std::vector<Receipt> SampleReceipts(size_t n) {
  std::vector<Receipt> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(Receipt{static_cast<TxCode>(i % 9), 1000 + i, static_cast<uint32_t>(i)});
  }
  return out;
}

// A registered admin, two funded members and one key that is not an account, at height 0.
struct Chain {
  crypto::KeyPair admin = Key(1), alice = Key(2), bob = Key(3), stranger = Key(4);
  crypto::KeyPair proposer = Key(9);
  MemoryState state;
  BlockHeader tip;

  explicit Chain(uint64_t alice_balance = 100, uint64_t bob_balance = 50) {
    StateDiff d;
    d[AccountKey(admin.public_key())] = Account{1000, 0, Role::kAdmin}.Encode();
    d[AccountKey(alice.public_key())] = Account{alice_balance, 0, Role::kMember}.Encode();
    d[AccountKey(bob.public_key())] = Account{bob_balance, 0, Role::kMember}.Encode();
    state.Apply(d);
    tip.chain_id = kChain;
    tip.height = 0;
    tip.timestamp_ms = 1000;
    tip.state_root = StateRootOf(d);
  }

  // A block on top of tip holding exactly txs (not built through BuildBlock, so it may hold
  // invalid transactions), with a consistent header and proposer signature.
  Block MakeBlock(std::vector<Transaction> txs) const {
    Block b;
    b.header.chain_id = tip.chain_id;
    b.header.height = tip.height + 1;
    b.header.prev_hash = tip.Hash();
    b.header.timestamp_ms = tip.timestamp_ms + 1;
    b.txs = std::move(txs);
    b.header.tx_count = static_cast<uint32_t>(b.txs.size());
    b.header.tx_root = b.ComputeTxRoot();
    b.Sign(proposer);
    return b;
  }

  Result<ExecResult> Execute(std::vector<Transaction> txs, const ExecOptions& opts = {}) const {
    return ExecuteBlock(state, cairn::testkit::TreeOf(state), MakeBlock(std::move(txs)), opts);
  }

  // Executes txs as the next block, which must be valid, and commits its state.
  std::vector<Receipt> Run(std::vector<Transaction> txs) {
    Block b = MakeBlock(std::move(txs));
    auto r = ExecuteBlock(state, cairn::testkit::TreeOf(state), b);
    INFO(r.status().message());
    REQUIRE(r.ok());
    state.Apply(r->diff);
    b.header.state_root = r->state_root;
    tip = b.header;
    return r->receipts;
  }

  Account Get(const crypto::KeyPair& k) const {
    auto a = state.GetAccount(k.public_key());
    REQUIRE(a.has_value());
    return *a;
  }
};

}  // namespace cairn::ledger::testing

namespace cairn::ledger::testing {

// Decodes with one decoder and re-encodes the value (or returns the decode error), so a
// test can check "exactly one encoding per value" for every type the same way.
using Recoder = Result<Bytes> (*)(ByteView);

inline Result<Bytes> RecodeTx(ByteView b) {
  auto d = Transaction::Decode(b);
  if (!d.ok()) return d.status();
  return d->Encode();
}
inline Result<Bytes> RecodeHeader(ByteView b) {
  auto d = BlockHeader::Decode(b);
  if (!d.ok()) return d.status();
  return d->Encode();
}
inline Result<Bytes> RecodeBlock(ByteView b) {
  auto d = Block::Decode(b);
  if (!d.ok()) return d.status();
  return d->Encode();
}
inline Result<Bytes> RecodeAccount(ByteView b) {
  auto d = Account::Decode(b);
  if (!d.ok()) return d.status();
  return d->Encode();
}
inline Result<Bytes> RecodeReceipts(ByteView b) {
  auto d = DecodeReceipts(b);
  if (!d.ok()) return d.status();
  return EncodeReceipts(*d);
}

struct Sample {
  std::string name;
  Bytes bytes;
  Recoder recode;
  std::string error_prefix;  // every error of this decoder starts with it
};

// Valid encodings of every decodable type, covering each payload kind and boundary size.
inline std::vector<Sample> AllSamples() {
  std::vector<Sample> out;
  std::vector<Transaction> txs = SampleTxs();
  for (size_t i = 0; i < txs.size(); ++i) {
    out.push_back({"tx " + std::to_string(i), txs[i].Encode(), RecodeTx, "tx: "});
  }
  out.push_back({"header", SampleHeader().Encode(), RecodeHeader, "block header: "});
  out.push_back(
      {"header without consensus data", SampleHeader({}).Encode(), RecodeHeader, "block header: "});
  for (size_t n : {0, 1, 5}) {
    out.push_back(
        {"block of " + std::to_string(n), SampleBlock(n).Encode(), RecodeBlock, "block: "});
  }
  out.push_back({"account", Account{12345, 6, Role::kAdmin}.Encode(), RecodeAccount, "account: "});
  for (size_t n : {0, 1, 9}) {
    out.push_back({std::to_string(n) + " receipts", EncodeReceipts(SampleReceipts(n)),
                   RecodeReceipts, "receipts: "});
  }
  return out;
}

}  // namespace cairn::ledger::testing
