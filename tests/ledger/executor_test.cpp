// The state machine's rules, one TEST_CASE per rule, each asserting the exact receipt code
// or block error and the resulting balances, nonces, roles and records.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "ledger_test_util.h"
#include "tests/kit/chain_fixture.h"

using namespace cairn;
using namespace cairn::ledger;
using namespace cairn::ledger::testing;

namespace {
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

std::string BlockError(const Chain& c, std::vector<Transaction> txs, const ExecOptions& o = {}) {
  auto r = c.Execute(std::move(txs), o);
  return r.ok() ? std::string("<valid>") : r.error();
}

std::string Short(const Transaction& tx) { return tx.Hash().ToHex().substr(0, 16); }
}  // namespace

TEST_CASE("a transfer moves the amount and uses the sender's nonce", "[ledger][executor]") {
  Chain c;
  auto receipts = c.Run({PayTx(c.alice, 0, c.bob, 30)});
  REQUIRE(receipts.size() == 1);
  CHECK(receipts[0] == Receipt{TxCode::kOk, 1, 0});
  CHECK(c.Get(c.alice) == Account{70, 1, Role::kMember});
  CHECK(c.Get(c.bob) == Account{80, 0, Role::kMember});
  // Several in one block, in order, including spending what was just received.
  receipts = c.Run(
      {PayTx(c.alice, 1, c.bob, 70), PayTx(c.bob, 0, c.alice, 150), PayTx(c.alice, 2, c.bob, 150)});
  CHECK(receipts ==
        std::vector<Receipt>{{TxCode::kOk, 2, 0}, {TxCode::kOk, 2, 1}, {TxCode::kOk, 2, 2}});
  CHECK(c.Get(c.alice) == Account{0, 3, Role::kMember});
  CHECK(c.Get(c.bob) == Account{150, 1, Role::kMember});
}

TEST_CASE("a transfer of the whole balance succeeds, one more unit does not",
          "[ledger][executor]") {
  Chain c;
  auto receipts = c.Run({PayTx(c.alice, 0, c.bob, 101), PayTx(c.alice, 1, c.bob, 100)});
  CHECK(receipts[0].code == TxCode::kInsufficientBalance);
  CHECK(receipts[1].code == TxCode::kOk);
  CHECK(c.Get(c.alice) == Account{0, 2, Role::kMember});
  CHECK(c.Get(c.bob) == Account{150, 0, Role::kMember});
}

TEST_CASE("insufficient balance: failed receipt, nonce used, balances unchanged",
          "[ledger][executor]") {
  Chain c;
  auto receipts = c.Run({PayTx(c.alice, 0, c.bob, 1000)});
  CHECK(receipts[0] == Receipt{TxCode::kInsufficientBalance, 1, 0});
  CHECK(c.Get(c.alice) == Account{100, 1, Role::kMember});
  CHECK(c.Get(c.bob) == Account{50, 0, Role::kMember});
}

TEST_CASE("failed transfers: zero amount, self transfer, unknown recipient", "[ledger][executor]") {
  Chain c;
  auto receipts = c.Run({PayTx(c.alice, 0, c.bob, 0), PayTx(c.alice, 1, c.alice, 10),
                         PayTx(c.alice, 2, c.stranger, 10)});
  CHECK(receipts[0] == Receipt{TxCode::kZeroAmount, 1, 0});
  CHECK(receipts[1] == Receipt{TxCode::kSelfTransfer, 1, 1});
  CHECK(receipts[2] == Receipt{TxCode::kUnknownRecipient, 1, 2});
  CHECK(c.Get(c.alice) == Account{100, 3, Role::kMember});
  CHECK(c.Get(c.bob) == Account{50, 0, Role::kMember});
  // No account was created for the unknown recipient.
  CHECK_FALSE(c.state.GetAccount(c.stranger.public_key()).has_value());
}

TEST_CASE("a transfer that would overflow the recipient's balance fails", "[ledger][executor]") {
  Chain c(/*alice_balance=*/100, /*bob_balance=*/UINT64_MAX - 5);
  auto receipts = c.Run({PayTx(c.alice, 0, c.bob, 6), PayTx(c.alice, 1, c.bob, 5)});
  CHECK(receipts[0] == Receipt{TxCode::kBalanceOverflow, 1, 0});
  CHECK(receipts[1] == Receipt{TxCode::kOk, 1, 1});
  CHECK(c.Get(c.alice) == Account{95, 2, Role::kMember});
  CHECK(c.Get(c.bob) == Account{UINT64_MAX, 0, Role::kMember});
  receipts = c.Run({PayTx(c.alice, 2, c.bob, 1)});
  CHECK(receipts[0].code == TxCode::kBalanceOverflow);
  CHECK(c.Get(c.bob).balance == UINT64_MAX);
}

TEST_CASE("a wrong nonce makes the block invalid, naming the tx and the reason",
          "[ledger][executor]") {
  Chain c;
  c.Run({PayTx(c.alice, 0, c.bob, 1)});
  SECTION("too low, across blocks") {
    Transaction tx = PayTx(c.alice, 0, c.bob, 1);
    CHECK_THAT(BlockError(c, {tx}), Equals("block 2: tx 0 (" + Short(tx) + "): nonce_too_low"));
  }
  SECTION("too low, repeated within a block") {
    Transaction tx = PayTx(c.alice, 1, c.bob, 1);
    Transaction again = PayTx(c.alice, 1, c.bob, 2);
    CHECK_THAT(BlockError(c, {tx, again}),
               Equals("block 2: tx 1 (" + Short(again) + "): nonce_too_low"));
  }
  SECTION("too high") {
    Transaction gap = PayTx(c.alice, 2, c.bob, 1);
    CHECK_THAT(BlockError(c, {PayTx(c.bob, 0, c.alice, 1), gap}),
               Equals("block 2: tx 1 (" + Short(gap) + "): nonce_too_high"));
    CHECK_THAT(BlockError(c, {PayTx(c.alice, UINT64_MAX, c.bob, 1)}), Contains("nonce_too_high"));
  }
  SECTION("a failed execution still uses the nonce") {
    auto r = c.Execute({PayTx(c.alice, 1, c.bob, 999), PayTx(c.alice, 2, c.bob, 1)});
    REQUIRE(r.ok());
    CHECK(r->receipts[0].code == TxCode::kInsufficientBalance);
    CHECK(r->receipts[1].code == TxCode::kOk);
  }
}

TEST_CASE("a tx from an unregistered sender makes the block invalid", "[ledger][executor]") {
  Chain c;
  Transaction tx = PayTx(c.stranger, 0, c.bob, 1);
  CHECK_THAT(BlockError(c, {PayTx(c.alice, 0, c.bob, 1), tx}),
             Equals("block 1: tx 1 (" + Short(tx) + "): unknown_sender"));
}

TEST_CASE("a tx for another chain makes the block invalid", "[ledger][executor]") {
  Chain c;
  Transaction tx = PayTx(c.alice, 0, c.bob, 1, "other-chain");
  REQUIRE(tx.VerifySignature());
  CHECK_THAT(BlockError(c, {tx}), Equals("block 1: tx 0 (" + Short(tx) + "): wrong_chain"));
}

TEST_CASE("a bad signature makes the block invalid, naming the tx index", "[ledger][executor]") {
  Chain c;
  Transaction forged = PayTx(c.alice, 1, c.bob, 1);
  std::get<Transfer>(forged.payload).amount = 90;  // altered after signing
  std::vector<Transaction> txs = {PayTx(c.alice, 0, c.bob, 1), forged, PayTx(c.bob, 0, c.alice, 1)};
  CHECK_THAT(BlockError(c, txs), Equals("block 1: tx 1 (" + Short(forged) + "): bad_signature"));
  // Signatures are checked before anything else, so a later tx's bad signature is reported
  // even when an earlier tx is otherwise invalid.
  Transaction unsigned_tx = PayTx(c.bob, 0, c.alice, 1);
  unsigned_tx.signature = crypto::Signature();
  CHECK_THAT(BlockError(c, {PayTx(c.alice, 5, c.bob, 1), unsigned_tx}),
             Equals("block 1: tx 1 (" + Short(unsigned_tx) + "): bad_signature"));
  // A signature by the wrong key.
  Transaction wrong_key = PayTx(c.bob, 0, c.alice, 1);
  wrong_key.sender = c.alice.public_key();
  CHECK_THAT(BlockError(c, {wrong_key}), Contains("tx 0 ") && Contains("bad_signature"));
}

TEST_CASE("signature_known_valid skips verification for the hashes it vouches for",
          "[ledger][executor]") {
  Chain c;
  Transaction forged = PayTx(c.alice, 0, c.bob, 1);
  forged.signature.data()[0] ^= 1;
  ExecOptions trust_all;
  trust_all.signature_known_valid = [](const crypto::Hash256&) { return true; };
  CHECK(c.Execute({forged}, trust_all).ok());
  ExecOptions trust_other;
  trust_other.signature_known_valid = [&](const crypto::Hash256& h) { return h != forged.Hash(); };
  CHECK_THAT(BlockError(c, {forged}, trust_other), Contains("bad_signature"));
}

TEST_CASE("multi-threaded signature checks find the same first bad tx", "[ledger][executor]") {
  // 400 transactions: enough for FirstBadSignature to use all 4 threads.
  constexpr int kTxs = 400;
  std::vector<Transaction> txs;
  const crypto::KeyPair from = Key(1), to = Key(2);
  for (int i = 0; i < kTxs; ++i) txs.push_back(PayTx(from, i, to, 1));
  std::vector<crypto::Hash256> hashes;
  for (const Transaction& tx : txs) hashes.push_back(tx.Hash());
  ExecOptions one, four;
  four.verify_threads = 4;
  CHECK(FirstBadSignature(txs, hashes, one) == -1);
  CHECK(FirstBadSignature(txs, hashes, four) == -1);

  const uint64_t seed = 0x7468726561647321ull ^ Catch::rngSeed();
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 12; ++round) {
    // Rounds 0 and 1 break only the last or the first tx; the rest break 1-4 random ones.
    std::set<int> broken;
    if (round == 0) {
      broken = {kTxs - 1};
    } else if (round == 1) {
      broken = {0};
    } else {
      const int n = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < n; ++k) broken.insert(static_cast<int>(rng() % kTxs));
    }
    std::vector<Transaction> bad = txs;
    for (int i : broken) bad[i].signature.data()[rng() % 64] ^= 0x04;
    const long expected = *broken.begin();
    CAPTURE(round, expected);
    CHECK(FirstBadSignature(bad, hashes, one) == expected);
    CHECK(FirstBadSignature(bad, hashes, four) == expected);
  }
}

TEST_CASE("ExecuteBlock with 4 verify threads reports the same bad tx", "[ledger][executor]") {
  Chain c(/*alice_balance=*/1000000);
  std::vector<Transaction> txs;
  for (int i = 0; i < 300; ++i) txs.push_back(PayTx(c.alice, i, c.bob, 1));
  txs[250].signature.data()[7] ^= 1;
  txs[130].signature.data()[7] ^= 1;
  ExecOptions four;
  four.verify_threads = 4;
  const std::string expected = "block 1: tx 130 (" + Short(txs[130]) + "): bad_signature";
  CHECK_THAT(BlockError(c, txs), Equals(expected));
  CHECK_THAT(BlockError(c, txs, four), Equals(expected));
  txs[130] = PayTx(c.alice, 130, c.bob, 1);
  txs[250] = PayTx(c.alice, 250, c.bob, 1);
  auto single = c.Execute(txs);
  auto multi = c.Execute(txs, four);
  REQUIRE(single.ok());
  REQUIRE(multi.ok());
  CHECK(single->state_root == multi->state_root);
  CHECK(single->receipts == multi->receipts);
}

TEST_CASE("register and set_role by a member are refused with not_permitted",
          "[ledger][executor]") {
  Chain c;
  auto receipts =
      c.Run({SignedTx(c.alice, 0, RegisterAccount{c.stranger.public_key(), Role::kAdmin}),
             SignedTx(c.alice, 1, SetRole{c.alice.public_key(), Role::kAdmin}),
             SignedTx(c.alice, 2, SetRole{c.bob.public_key(), Role::kAdmin})});
  CHECK(receipts == std::vector<Receipt>{{TxCode::kNotPermitted, 1, 0},
                                         {TxCode::kNotPermitted, 1, 1},
                                         {TxCode::kNotPermitted, 1, 2}});
  CHECK_FALSE(c.state.GetAccount(c.stranger.public_key()).has_value());
  CHECK(c.Get(c.alice) == Account{100, 3, Role::kMember});
  CHECK(c.Get(c.bob).role == Role::kMember);
}

TEST_CASE("an admin registers an account with its role and zero balance", "[ledger][executor]") {
  Chain c;
  crypto::KeyPair dave = Key(20), erin = Key(21);
  auto receipts = c.Run({SignedTx(c.admin, 0, RegisterAccount{dave.public_key(), Role::kMember}),
                         SignedTx(c.admin, 1, RegisterAccount{erin.public_key(), Role::kAdmin}),
                         // The new accounts can take part in the same block.
                         PayTx(c.alice, 0, dave, 10), PayTx(dave, 0, c.bob, 4),
                         SignedTx(erin, 0, SetRole{dave.public_key(), Role::kAdmin})});
  for (const Receipt& r : receipts) CHECK(r.code == TxCode::kOk);
  CHECK(c.Get(dave) == Account{6, 1, Role::kAdmin});
  CHECK(c.Get(erin) == Account{0, 1, Role::kAdmin});
  CHECK(c.Get(c.admin) == Account{1000, 2, Role::kAdmin});
  CHECK(c.Get(c.bob).balance == 54);

  // Fresh registration: exactly zero balance and nonce, the role asked for.
  Chain d;
  d.Run({SignedTx(d.admin, 0, RegisterAccount{dave.public_key(), Role::kMember})});
  CHECK(d.Get(dave) == Account{0, 0, Role::kMember});
}

TEST_CASE("registering an existing account fails with account_exists", "[ledger][executor]") {
  Chain c;
  auto receipts =
      c.Run({SignedTx(c.admin, 0, RegisterAccount{c.alice.public_key(), Role::kAdmin}),
             SignedTx(c.admin, 1, RegisterAccount{c.admin.public_key(), Role::kMember})});
  CHECK(receipts[0] == Receipt{TxCode::kAccountExists, 1, 0});
  CHECK(receipts[1] == Receipt{TxCode::kAccountExists, 1, 1});
  CHECK(c.Get(c.alice) == Account{100, 0, Role::kMember});  // balance and role kept
  CHECK(c.Get(c.admin) == Account{1000, 2, Role::kAdmin});
}

TEST_CASE("set_role changes an account's role, an unknown account fails", "[ledger][executor]") {
  Chain c;
  auto receipts = c.Run({SignedTx(c.admin, 0, SetRole{c.alice.public_key(), Role::kAdmin}),
                         SignedTx(c.alice, 0, SetRole{c.bob.public_key(), Role::kAdmin}),
                         SignedTx(c.admin, 1, SetRole{c.stranger.public_key(), Role::kAdmin})});
  CHECK(receipts[0].code == TxCode::kOk);
  CHECK(receipts[1].code == TxCode::kOk);  // alice is an admin from the previous tx on
  CHECK(receipts[2] == Receipt{TxCode::kUnknownAccount, 1, 2});
  CHECK(c.Get(c.alice) == Account{100, 1, Role::kAdmin});
  CHECK(c.Get(c.bob) == Account{50, 0, Role::kAdmin});
  CHECK_FALSE(c.state.GetAccount(c.stranger.public_key()).has_value());
  CHECK(c.Get(c.admin).nonce == 2);
}

TEST_CASE("an admin can demote itself, and loses admin rights at once", "[ledger][executor]") {
  Chain c;
  auto receipts =
      c.Run({SignedTx(c.admin, 0, SetRole{c.admin.public_key(), Role::kMember}),
             SignedTx(c.admin, 1, RegisterAccount{c.stranger.public_key(), Role::kMember})});
  CHECK(receipts[0].code == TxCode::kOk);
  CHECK(receipts[1].code == TxCode::kNotPermitted);
  CHECK(c.Get(c.admin) == Account{1000, 2, Role::kMember});
  CHECK_FALSE(c.state.GetAccount(c.stranger.public_key()).has_value());
}

TEST_CASE("put writes a record in the sender's namespace", "[ledger][executor]") {
  Chain c;
  const Bytes key{'d', 'o', 'c'};
  Block b = c.MakeBlock({SignedTx(c.alice, 0, Put{key, Bytes{'v', '1'}}),
                         SignedTx(c.bob, 0, Put{key, Bytes{'b'}}),
                         SignedTx(c.alice, 1, Put{key, Bytes{'v', '2'}}),
                         SignedTx(c.alice, 2, Put{Bytes{'e'}, Bytes{}})});
  auto r = ExecuteBlock(c.state, cairn::testkit::TreeOf(c.state), b);
  REQUIRE(r.ok());
  for (const Receipt& rc : r->receipts) CHECK(rc.code == TxCode::kOk);
  // Visible through an overlay over the parent state...
  StateOverlay overlay(c.state);
  CHECK_FALSE(overlay.GetRecord(c.alice.public_key(), key).has_value());
  MemoryState after = c.state;
  after.Apply(r->diff);
  StateOverlay over_after(after);
  CHECK(over_after.GetRecord(c.alice.public_key(), key) == Bytes{'v', '2'});
  // ...and in MemoryState once applied; each sender has its own namespace.
  CHECK(after.GetRecord(c.alice.public_key(), key) == Bytes{'v', '2'});
  CHECK(after.GetRecord(c.bob.public_key(), key) == Bytes{'b'});
  CHECK(after.GetRecord(c.alice.public_key(), Bytes{'e'}) == Bytes{});
  CHECK_FALSE(after.GetRecord(c.admin.public_key(), key).has_value());
  CHECK(after.GetAccount(c.alice.public_key()) == Account{100, 3, Role::kMember});
  // The diff holds exactly the two senders and the three distinct records.
  CHECK(r->diff.size() == 5);
  CHECK(r->diff.count(RecordKey(c.alice.public_key(), key)) == 1);
}

TEST_CASE("ExecuteBlock does not modify the state it reads", "[ledger][executor]") {
  Chain c;
  const auto before = c.state.entries();
  auto r =
      c.Execute({PayTx(c.alice, 0, c.bob, 10),
                 SignedTx(c.admin, 0, RegisterAccount{c.stranger.public_key(), Role::kAdmin})});
  REQUIRE(r.ok());
  CHECK(c.state.entries() == before);
}

TEST_CASE("an empty block changes nothing, not even the root", "[ledger][executor]") {
  Chain c;
  auto r = c.Execute({});
  REQUIRE(r.ok());
  CHECK(r->diff.empty());
  CHECK(r->receipts.empty());
  CHECK(r->tx_hashes.empty());
  CHECK(r->state_root == c.tip.state_root);
}

TEST_CASE("ExecResult lists tx hashes, receipts with height and index, the diff and root",
          "[ledger][executor]") {
  Chain c;
  std::vector<Transaction> txs = {PayTx(c.alice, 0, c.bob, 10), PayTx(c.bob, 0, c.alice, 999)};
  Block b = c.MakeBlock(txs);
  auto r = ExecuteBlock(c.state, cairn::testkit::TreeOf(c.state), b);
  REQUIRE(r.ok());
  CHECK(r->tx_hashes == std::vector<crypto::Hash256>{txs[0].Hash(), txs[1].Hash()});
  CHECK(r->receipts ==
        std::vector<Receipt>{{TxCode::kOk, 1, 0}, {TxCode::kInsufficientBalance, 1, 1}});
  StateDiff expected;
  expected[AccountKey(c.alice.public_key())] = Account{90, 1, Role::kMember}.Encode();
  expected[AccountKey(c.bob.public_key())] = Account{60, 1, Role::kMember}.Encode();
  CHECK(r->diff == expected);
  MemoryState after = c.state;
  after.Apply(expected);
  CHECK(r->state_root == StateTree::Root(cairn::testkit::TreeOf(after)));
}

TEST_CASE("CheckTxValidity returns the validity code", "[ledger][executor]") {
  Chain c;
  CHECK(CheckTxValidity(c.state, kChain, PayTx(c.alice, 0, c.bob, 1)) == TxCode::kOk);
  CHECK(CheckTxValidity(c.state, "other", PayTx(c.alice, 0, c.bob, 1)) == TxCode::kWrongChain);
  CHECK(CheckTxValidity(c.state, kChain, PayTx(c.stranger, 0, c.bob, 1)) == TxCode::kUnknownSender);
  CHECK(CheckTxValidity(c.state, kChain, PayTx(c.alice, 1, c.bob, 1)) == TxCode::kNonceTooHigh);
  c.Run({PayTx(c.alice, 0, c.bob, 1)});
  CHECK(CheckTxValidity(c.state, kChain, PayTx(c.alice, 0, c.bob, 1)) == TxCode::kNonceTooLow);
  // Validity does not depend on the signature or on whether execution would succeed.
  Transaction bad = PayTx(c.alice, 1, c.bob, 1000000);
  bad.signature = crypto::Signature();
  CHECK(CheckTxValidity(c.state, kChain, bad) == TxCode::kOk);
}
