// VerifyBlock and BuildBlock: what a node checks before committing a block, how a proposer
// builds one from candidate transactions, and that execution is deterministic.
#include <catch2/catch.hpp>

#include <functional>

#include "crypto/merkle.h"
#include "ledger_test_util.h"
#include "tests/kit/chain_fixture.h"

using namespace cairn;
using namespace cairn::ledger;
using namespace cairn::ledger::testing;

namespace {
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

void CheckSameResult(const ExecResult& a, const ExecResult& b) {
  CHECK(a.tx_hashes == b.tx_hashes);
  CHECK(a.receipts == b.receipts);
  CHECK(a.diff == b.diff);
  CHECK(a.state_root == b.state_root);
}

std::string VerifyError(const Chain& c, const Block& b) {
  auto r = VerifyBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), b);
  return r.ok() ? std::string("<valid>") : r.error();
}

BuiltBlock BuildOn(const Chain& c, std::vector<Transaction> txs, const ExecOptions& o = {}) {
  return BuildBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), std::move(txs),
                    c.tip.timestamp_ms + 10, c.proposer, {}, o);
}
}  // namespace

TEST_CASE("a block built by BuildBlock verifies and commits its state", "[ledger][executor]") {
  Chain c;
  BuiltBlock built = BuildOn(c, {PayTx(c.alice, 0, c.bob, 10), PayTx(c.bob, 0, c.alice, 500),
                                 SignedTx(c.alice, 1, Put{Bytes{'k'}, Bytes{'v'}})});
  const Block& b = built.block;
  CHECK(built.skipped.empty());
  CHECK(b.header.chain_id == kChain);
  CHECK(b.header.height == 1);
  CHECK(b.header.prev_hash == c.tip.Hash());
  CHECK(b.header.timestamp_ms == c.tip.timestamp_ms + 10);
  CHECK(b.header.proposer == c.proposer.public_key());
  CHECK(b.header.tx_count == 3);
  CHECK(b.header.tx_root == b.ComputeTxRoot());
  CHECK(b.header.state_root == built.exec.state_root);
  CHECK(b.VerifyProposerSignature());
  CHECK(built.exec.receipts == std::vector<Receipt>{{TxCode::kOk, 1, 0},
                                                    {TxCode::kInsufficientBalance, 1, 1},
                                                    {TxCode::kOk, 1, 2}});

  auto v = VerifyBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), b);
  INFO(v.status().message());
  REQUIRE(v.ok());
  CheckSameResult(*v, built.exec);
  // It survives the wire.
  auto decoded = Block::Decode(b.Encode());
  REQUIRE(decoded.ok());
  auto v2 = VerifyBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), *decoded);
  REQUIRE(v2.ok());
  CheckSameResult(*v2, built.exec);

  // The next block builds and verifies on top of it.
  c.state.Apply(v->diff);
  c.tip = b.header;
  BuiltBlock next = BuildOn(c, {PayTx(c.alice, 2, c.bob, 1)});
  CHECK(next.block.header.height == 2);
  CHECK(VerifyBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), next.block).ok());
}

TEST_CASE("VerifyBlock rejects each header inconsistency with a message naming it",
          "[ledger][executor]") {
  Chain c;
  const Block good = BuildOn(c, {PayTx(c.alice, 0, c.bob, 10)}).block;
  REQUIRE(VerifyBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), good).ok());
  // Each edit is re-signed, so only the edited property is wrong.
  auto resigned = [&](const std::function<void(Block&)>& edit) {
    Block b = good;
    edit(b);
    b.Sign(c.proposer);
    return VerifyError(c, b);
  };
  SECTION("chain id") {
    CHECK_THAT(resigned([](Block& b) { b.header.chain_id = "other"; }),
               Equals("block 1: chain id \"other\" is not \"" + kChain + "\""));
  }
  SECTION("height") {
    CHECK_THAT(resigned([](Block& b) { b.header.height = 2; }),
               Equals("block 2: height does not follow parent height 0"));
    CHECK_THAT(resigned([](Block& b) { b.header.height = 0; }), Contains("height"));
  }
  SECTION("prev hash") {
    CHECK_THAT(resigned([](Block& b) { b.header.prev_hash.data()[0] ^= 1; }),
               StartsWith("block 1: prev_hash ") && Contains("is not the parent's hash"));
  }
  SECTION("timestamp before the parent's") {
    CHECK_THAT(resigned([&](Block& b) { b.header.timestamp_ms = c.tip.timestamp_ms - 1; }),
               Equals("block 1: timestamp 999 is before the parent's 1000"));
  }
  SECTION("timestamp equal to the parent's is allowed") {
    CHECK_THAT(resigned([&](Block& b) { b.header.timestamp_ms = c.tip.timestamp_ms; }),
               Equals("<valid>"));
  }
  SECTION("tx_count") {
    CHECK_THAT(resigned([](Block& b) { b.header.tx_count = 2; }),
               Equals("block 1: tx_count 2 but the block holds 1 transactions"));
    CHECK_THAT(resigned([](Block& b) { b.header.tx_count = 0; }),
               Equals("block 1: tx_count 0 but the block holds 1 transactions"));
  }
  SECTION("tx_root") {
    CHECK_THAT(resigned([](Block& b) { b.header.tx_root.data()[3] ^= 1; }),
               Equals("block 1: tx_root does not match the transactions"));
    // A tx swapped for another with the header unchanged.
    CHECK_THAT(resigned([&](Block& b) { b.txs[0] = PayTx(c.alice, 0, c.bob, 11); }),
               Equals("block 1: tx_root does not match the transactions"));
  }
  SECTION("proposer signature") {
    Block b = good;
    b.proposer_sig.data()[0] ^= 1;
    CHECK_THAT(VerifyError(c, b), Equals("block 1: bad proposer signature"));
    Block changed = good;
    changed.header.consensus_data = Bytes{1};  // not re-signed
    CHECK_THAT(VerifyError(c, changed), Equals("block 1: bad proposer signature"));
    Block other_proposer = good;
    other_proposer.header.proposer = c.alice.public_key();
    CHECK_THAT(VerifyError(c, other_proposer), Equals("block 1: bad proposer signature"));
  }
  SECTION("state root") {
    CHECK_THAT(resigned([](Block& b) { b.header.state_root.data()[0] ^= 1; }),
               StartsWith("block 1: state_root ") && Contains("differs from executed"));
  }
  SECTION("an invalid tx") {
    Transaction bad = PayTx(c.alice, 3, c.bob, 1);
    CHECK_THAT(resigned([&](Block& b) {
                 b.txs.push_back(bad);
                 b.header.tx_count = 2;
                 b.header.tx_root = b.ComputeTxRoot();
               }),
               Equals("block 1: tx 1 (" + bad.Hash().ToHex().substr(0, 16) + "): nonce_too_high"));
  }
}

TEST_CASE("VerifyBlock checks the state root against the executed state", "[ledger][executor]") {
  Chain c;
  Block b = BuildOn(c, {PayTx(c.alice, 0, c.bob, 10)}).block;
  b.header.state_root.data()[0] ^= 1;
  b.Sign(c.proposer);
  auto r = VerifyBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), b);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Contains("state_root") && Contains("differs from executed"));
}

TEST_CASE("VerifyBlock refuses validator set hashes other than the parent's",
          "[ledger][executor]") {
  // A state without set/members (this bare chain) keeps the parent's hashes; a state with one
  // is checked against SetHash(set(h)) in tests/ledger/governance_test.cpp.
  Chain c;
  for (bool next : {false, true}) {
    Block b = BuildOn(c, {}).block;
    (next ? b.header.next_validators_hash : b.header.validators_hash).data()[0] ^= 1;
    b.Sign(c.proposer);
    auto r = VerifyBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), b);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Contains(next ? "next_validators_hash" : "validators_hash"));
  }
}

TEST_CASE("BuildBlock skips invalid candidates and reports them", "[ledger][executor]") {
  Chain c;
  Transaction ok0 = PayTx(c.alice, 0, c.bob, 10);
  Transaction gap = PayTx(c.alice, 2, c.bob, 1);  // nonce 1 not yet used
  Transaction forged = PayTx(c.bob, 0, c.alice, 1);
  forged.signature.data()[1] ^= 1;
  Transaction unknown = PayTx(c.stranger, 0, c.alice, 1);
  Transaction wrong_chain = PayTx(c.bob, 0, c.alice, 1, "elsewhere");
  Transaction replay = ok0;  // same nonce again
  Transaction ok1 = PayTx(c.alice, 1, c.bob, 10);
  Transaction failing = PayTx(c.bob, 0, c.alice, 9999);  // valid; fails in execution
  BuiltBlock built = BuildOn(c, {ok0, gap, forged, unknown, wrong_chain, replay, ok1, failing});

  CHECK(built.skipped == std::vector<crypto::Hash256>{gap.Hash(), forged.Hash(), unknown.Hash(),
                                                      wrong_chain.Hash(), replay.Hash()});
  REQUIRE(built.block.txs.size() == 3);
  CHECK(built.block.txs[0] == ok0);
  CHECK(built.block.txs[1] == ok1);
  CHECK(built.block.txs[2] == failing);
  CHECK(built.exec.tx_hashes ==
        std::vector<crypto::Hash256>{ok0.Hash(), ok1.Hash(), failing.Hash()});
  // Receipt indexes are positions in the block, not in the candidate list.
  CHECK(built.exec.receipts == std::vector<Receipt>{{TxCode::kOk, 1, 0},
                                                    {TxCode::kOk, 1, 1},
                                                    {TxCode::kInsufficientBalance, 1, 2}});
  auto v = VerifyBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), built.block);
  INFO(v.status().message());
  REQUIRE(v.ok());
  CheckSameResult(*v, built.exec);
}

TEST_CASE("BuildBlock of no candidates gives a valid empty block", "[ledger][executor]") {
  Chain c;
  BuiltBlock built = BuildOn(c, {});
  CHECK(built.block.txs.empty());
  CHECK(built.block.header.tx_count == 0);
  CHECK(built.block.header.tx_root == crypto::MerkleRoot({}));
  CHECK(built.block.header.state_root == c.tip.state_root);  // no write, same state
  CHECK(VerifyBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), built.block).ok());
}

TEST_CASE("BuildBlock never goes back in time and carries consensus data", "[ledger][executor]") {
  Chain c;
  BuiltBlock built = BuildBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), {},
                                /*timestamp_ms=*/5, c.proposer, Bytes{7, 7});
  CHECK(built.block.header.timestamp_ms == c.tip.timestamp_ms);
  CHECK(built.block.header.consensus_data == Bytes{7, 7});
  CHECK(VerifyBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), built.block).ok());
}

TEST_CASE("BuildBlock trusts signature_known_valid, VerifyBlock without it does not",
          "[ledger][executor]") {
  Chain c;
  Transaction forged = PayTx(c.alice, 0, c.bob, 1);
  forged.signature.data()[1] ^= 1;
  ExecOptions trust;
  trust.signature_known_valid = [](const crypto::Hash256&) { return true; };
  BuiltBlock built = BuildOn(c, {forged}, trust);
  CHECK(built.skipped.empty());
  CHECK(built.block.txs.size() == 1);
  CHECK(VerifyBlock(c.state, c.tip, cairn::testkit::TreeOf(c.state), built.block, trust).ok());
  CHECK_THAT(VerifyError(c, built.block), Contains("tx 0") && Contains("bad_signature"));
}

TEST_CASE("execution is deterministic", "[ledger][executor]") {
  std::vector<Transaction> txs;
  Chain a, b;  // built independently from the same genesis
  REQUIRE(a.state.entries() == b.state.entries());
  crypto::KeyPair dave = Key(30);
  txs.push_back(SignedTx(a.admin, 0, RegisterAccount{dave.public_key(), Role::kMember}));
  txs.push_back(PayTx(a.alice, 0, dave, 40));
  txs.push_back(PayTx(dave, 0, a.bob, 15));
  txs.push_back(SignedTx(a.bob, 0, Put{Bytes{'z'}, Bytes{'1'}}));
  txs.push_back(SignedTx(a.alice, 1, Put{Bytes{'a'}, Bytes{'2'}}));
  txs.push_back(PayTx(a.bob, 1, a.alice, 1000));
  txs.push_back(SignedTx(a.admin, 1, SetRole{a.bob.public_key(), Role::kAdmin}));
  Block block = a.MakeBlock(txs);
  ExecOptions four;
  four.verify_threads = 4;
  auto r1 = ExecuteBlock(a.state, cairn::testkit::TreeOf(a.state), block);
  auto r2 = ExecuteBlock(a.state, cairn::testkit::TreeOf(a.state), block);
  auto r3 = ExecuteBlock(b.state, cairn::testkit::TreeOf(b.state), block, four);
  REQUIRE(r1.ok());
  REQUIRE(r2.ok());
  REQUIRE(r3.ok());
  CheckSameResult(*r1, *r2);
  CheckSameResult(*r1, *r3);
}

TEST_CASE("the state root is the tree of the state after the block", "[ledger][executor]") {
  Chain base;
  const std::vector<Transaction> txs = {PayTx(base.alice, 0, base.bob, 10)};
  auto r = base.Execute(txs);
  REQUIRE(r.ok());

  SECTION("a different starting balance changes the written account and the root") {
    Chain richer(/*alice_balance=*/101);
    richer.tip.state_root = base.tip.state_root;  // same previous root, different state
    auto r2 = richer.Execute(txs);
    REQUIRE(r2.ok());
    CHECK(r2->diff != r->diff);
    CHECK(r2->state_root != r->state_root);
  }
  SECTION("it is the root of the whole state built from scratch") {
    MemoryState after = base.state;
    after.Apply(r->diff);
    CHECK(r->state_root == StateTree::Root(cairn::testkit::TreeOf(after)));
  }
  SECTION("changing any account in the diff changes the root") {
    for (const auto& [key, value] : r->diff) {
      StateDiff d = r->diff;
      Account a = Account::Decode(*value).value();
      a.balance += 1;
      d[key] = a.Encode();
      MemoryState after = base.state;
      after.Apply(d);
      CHECK(StateTree::Root(cairn::testkit::TreeOf(after)) != r->state_root);
    }
  }
  SECTION("a failed transfer still changes the root through the nonce") {
    auto failed = base.Execute({PayTx(base.alice, 0, base.bob, 1000)});
    REQUIRE(failed.ok());
    CHECK(failed->diff.size() == 1);
    CHECK(failed->state_root != base.tip.state_root);
  }
}
