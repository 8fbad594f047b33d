#include <catch2/catch.hpp>

#include "ledger/executor.h"
#include "ledger/mempool.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/keys.h"
#include "tests/kit/make_tx.h"

using namespace cairn;
using namespace cairn::ledger;

namespace {
const std::string kChain = "mempool-test";

crypto::KeyPair Key(uint8_t n) { return testkit::TestKey(n, /*family=*/0x5a); }

BlockHeader Parent() {
  BlockHeader h;
  h.chain_id = kChain;
  return h;
}

struct Fixture {
  MemoryState state;
  crypto::KeyPair admin = Key(1), alice = Key(2), bob = Key(3), stranger = Key(4);
  Fixture() {
    StateDiff d;
    d[AccountKey(admin.public_key())] = Account{1000, 0, Role::kAdmin}.Encode();
    d[AccountKey(alice.public_key())] = Account{100, 0, Role::kMember}.Encode();
    d[AccountKey(bob.public_key())] = Account{100, 0, Role::kMember}.Encode();
    state.Apply(d);
  }
  Transaction Tx(const crypto::KeyPair& from, uint64_t nonce, Payload p,
                 const std::string& chain = kChain) {
    return testkit::MakeTx(from, chain, nonce, std::move(p));
  }
  Transaction Pay(const crypto::KeyPair& from, uint64_t nonce, uint64_t amount) {
    const crypto::KeyPair& to = from.public_key() == bob.public_key() ? alice : bob;
    return Tx(from, nonce, Transfer{to.public_key(), amount});
  }
};
}  // namespace

TEST_CASE("mempool admission refuses each bad transaction with its code", "[mempool]") {
  Fixture f;
  Mempool pool(kChain, MempoolLimits{});
  CHECK(pool.Add(f.Pay(f.alice, 0, 10), f.state, 0).code == TxCode::kOk);

  Transaction dup = f.Pay(f.alice, 0, 10);
  CHECK(pool.Add(dup, f.state, 0).code == TxCode::kAlreadyKnown);
  CHECK(pool.Add(f.Pay(f.alice, 0, 11), f.state, 0).code == TxCode::kAlreadyKnown);
  CHECK(
      pool.Add(f.Tx(f.alice, 1, Transfer{f.bob.public_key(), 1}, "other-chain"), f.state, 0).code ==
      TxCode::kWrongChain);
  CHECK(pool.Add(f.Pay(f.stranger, 0, 1), f.state, 0).code == TxCode::kUnknownSender);
  CHECK(pool.Add(f.Pay(f.alice, 65, 1), f.state, 0).code == TxCode::kNonceTooHigh);
  CHECK(pool.Add(f.Tx(f.alice, 1, RegisterAccount{f.stranger.public_key(), Role::kMember}), f.state,
                 0)
            .code == TxCode::kNotPermitted);
  // 10 pending + 91 > 100.
  Admission broke = pool.Add(f.Pay(f.alice, 1, 91), f.state, 0);
  CHECK(broke.code == TxCode::kInsufficientBalance);
  CHECK_THAT(broke.detail, Catch::Contains("10 pending"));
  Transaction forged = f.Pay(f.alice, 1, 5);
  forged.signature.data()[3] ^= 1;
  CHECK(pool.Add(forged, f.state, 0).code == TxCode::kBadSignature);
  CHECK(pool.size() == 1);

  // Once nonce 0 commits, it is too low.
  MemoryState after = f.state;
  StateDiff d;
  d[AccountKey(f.alice.public_key())] = Account{90, 1, Role::kMember}.Encode();
  after.Apply(d);
  CHECK(pool.Add(f.Pay(f.alice, 0, 3), after, 1).code == TxCode::kNonceTooLow);
}

TEST_CASE("mempool selects per-sender nonce order, first come first served", "[mempool]") {
  Fixture f;
  Mempool pool(kChain, MempoolLimits{});
  // alice's nonce 1 arrives before nonce 0; bob's 0 arrives between.
  Transaction a1 = f.Pay(f.alice, 1, 1), b0 = f.Pay(f.bob, 0, 1), a0 = f.Pay(f.alice, 0, 1),
              a3 = f.Pay(f.alice, 3, 1);
  for (auto* tx : {&a1, &b0, &a0, &a3}) REQUIRE(pool.Add(*tx, f.state, 0).ok());
  auto picked = pool.Select(10, f.state);
  // b0 is the earliest executable; then alice's chain 0,1; a3 waits behind the nonce-2 gap.
  REQUIRE(picked.size() == 3);
  CHECK(picked[0] == b0);
  CHECK(picked[1] == a0);
  CHECK(picked[2] == a1);
  CHECK(pool.Select(1, f.state).size() == 1);

  // What Select returns is a valid block: BuildBlock skips nothing.
  auto built = BuildBlock(f.state, Parent(), cairn::testkit::TreeOf(f.state), picked, 1, f.admin);
  CHECK(built.skipped.empty());
  CHECK(built.block.txs.size() == 3);

  // After the block commits, included txs leave; a3 stays, still queued.
  MemoryState next = f.state;
  next.Apply(built.exec.diff);
  pool.OnCommitted(built.block.txs, built.exec.tx_hashes, next, 1);
  CHECK(pool.size() == 1);
  CHECK(pool.Contains(a3.Hash()));
  CHECK(pool.Select(10, next).empty());
  Transaction a2 = f.Pay(f.alice, 2, 1);
  REQUIRE(pool.Add(a2, next, 1).ok());
  auto more = pool.Select(10, next);
  REQUIRE(more.size() == 2);
  CHECK(more[0] == a2);
  CHECK(more[1] == a3);
}

TEST_CASE("a same-nonce transaction committed elsewhere evicts ours", "[mempool]") {
  Fixture f;
  Mempool pool(kChain, MempoolLimits{});
  Transaction ours = f.Pay(f.alice, 0, 5), theirs = f.Pay(f.alice, 0, 6);
  REQUIRE(pool.Add(ours, f.state, 0).ok());
  auto built = BuildBlock(f.state, Parent(), cairn::testkit::TreeOf(f.state), {theirs}, 1, f.admin);
  MemoryState next = f.state;
  next.Apply(built.exec.diff);
  pool.OnCommitted(built.block.txs, built.exec.tx_hashes, next, 1);
  CHECK(pool.size() == 0);
}

TEST_CASE("mempool full: executable evicts the newest queued, otherwise refused", "[mempool]") {
  Fixture f;
  MempoolLimits limits;
  limits.max_txs = 3;
  Mempool pool(kChain, limits);
  Transaction a0 = f.Pay(f.alice, 0, 1), a5 = f.Pay(f.alice, 5, 1), a7 = f.Pay(f.alice, 7, 1);
  for (auto* tx : {&a0, &a5, &a7}) REQUIRE(pool.Add(*tx, f.state, 0).ok());
  // Queued newcomer: refused.
  Admission full = pool.Add(f.Pay(f.alice, 9, 1), f.state, 0);
  CHECK(full.code == TxCode::kMempoolFull);
  // Executable newcomer: evicts the most recently admitted queued tx (a7).
  Transaction b0 = f.Pay(f.bob, 0, 1);
  CHECK(pool.Add(b0, f.state, 0).ok());
  CHECK(pool.size() == 3);
  CHECK_FALSE(pool.Contains(a7.Hash()));
  CHECK(pool.Contains(a5.Hash()));
  // a1 is executable (follows a0): evicts a5.
  CHECK(pool.Add(f.Pay(f.alice, 1, 1), f.state, 0).ok());
  CHECK_FALSE(pool.Contains(a5.Hash()));
  // Nothing queued left: even an executable newcomer is refused, nothing is evicted.
  CHECK(pool.Add(f.Pay(f.alice, 2, 1), f.state, 0).code == TxCode::kMempoolFull);
  CHECK(pool.size() == 3);
}

TEST_CASE("mempool enforces byte and per-sender limits and expiry", "[mempool]") {
  Fixture f;
  MempoolLimits limits;
  limits.max_per_sender = 2;
  limits.ttl_blocks = 5;
  Mempool pool(kChain, limits);
  REQUIRE(pool.Add(f.Pay(f.alice, 0, 1), f.state, 0).ok());
  REQUIRE(pool.Add(f.Pay(f.alice, 1, 1), f.state, 2).ok());
  CHECK(pool.Add(f.Pay(f.alice, 2, 1), f.state, 2).code == TxCode::kSenderQueueFull);
  CHECK(pool.bytes() > 0);
  pool.OnCommitted({}, {}, f.state, 4);
  CHECK(pool.size() == 2);
  pool.OnCommitted({}, {}, f.state, 5);  // the tx admitted at 0 expires
  CHECK(pool.size() == 1);
  pool.OnCommitted({}, {}, f.state, 7);
  CHECK(pool.size() == 0);
  CHECK(pool.bytes() == 0);

  MempoolLimits tiny;
  tiny.max_bytes = 200;
  Mempool small(kChain, tiny);
  REQUIRE(small.Add(f.Pay(f.alice, 0, 1), f.state, 0).ok());
  CHECK(small.Add(f.Pay(f.bob, 0, 1), f.state, 0).code == TxCode::kMempoolFull);
}

TEST_CASE("every cheap check refuses a forged transaction before its signature is verified",
          "[mempool]") {
  Fixture f;
  Mempool pool(kChain, MempoolLimits{});
  REQUIRE(pool.Add(f.Pay(f.alice, 0, 10), f.state, 0).ok());
  // Forged: a valid-looking transaction whose signature is garbage. Each is refused by the
  // check named, and the number of Ed25519 verifications does not move.
  auto forge = [](Transaction tx) {
    tx.signature.data()[0] ^= 0x55;
    return tx;
  };
  MemoryState later = f.state;
  StateDiff d;
  d[AccountKey(f.bob.public_key())] = Account{100, 3, Role::kMember}.Encode();
  later.Apply(d);
  // No decoded transaction is this large, but one built in-process can be.
  Transaction oversized = f.Tx(f.alice, 1, Put{Bytes{'k'}, Bytes(kMaxTxSize, 'v')});
  struct Case {
    const char* name;
    Transaction tx;
    TxCode code;
  };
  std::vector<Case> cases = {
      {"oversized", forge(oversized), TxCode::kMalformed},
      {"wrong chain", forge(f.Tx(f.alice, 1, Transfer{f.bob.public_key(), 1}, "other-chain")),
       TxCode::kWrongChain},
      {"duplicate of a pending nonce", forge(f.Pay(f.alice, 0, 11)), TxCode::kAlreadyKnown},
      {"unknown sender", forge(f.Pay(f.stranger, 0, 1)), TxCode::kUnknownSender},
      {"nonce used", forge(f.Pay(f.bob, 2, 1)), TxCode::kNonceTooLow},
      {"nonce beyond the window", forge(f.Pay(f.alice, 65, 1)), TxCode::kNonceTooHigh},
      {"admin-only from a member",
       forge(f.Tx(f.alice, 1, RegisterAccount{f.stranger.public_key(), Role::kMember})),
       TxCode::kNotPermitted},
      {"balance", forge(f.Pay(f.alice, 1, 91)), TxCode::kInsufficientBalance},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const uint64_t before = SignatureVerifications();
    CHECK(pool.Precheck(c.tx, c.tx.Hash(), later).code == c.code);
    CHECK(pool.Add(c.tx, later, 0).code == c.code);
    CHECK(SignatureVerifications() == before);
  }
  // A pending transaction sent again: refused by hash, no verification.
  Transaction pending = f.Pay(f.alice, 0, 10);
  const uint64_t before = SignatureVerifications();
  CHECK(pool.Add(pending, later, 0).code == TxCode::kAlreadyKnown);
  CHECK(SignatureVerifications() == before);

  // Only a forgery that passes every cheap check costs one verification, and it is refused.
  Transaction forged = forge(f.Pay(f.alice, 1, 5));
  CHECK(pool.Precheck(forged, forged.Hash(), later).ok());
  CHECK(SignatureVerifications() == before);
  CHECK(pool.Add(forged, later, 0).code == TxCode::kBadSignature);
  CHECK(SignatureVerifications() == before + 1);
  // A caller that verified it itself answers the same refusal.
  CHECK(BadSignature(forged.Hash()).code == TxCode::kBadSignature);
  CHECK(pool.size() == 1);
}

TEST_CASE("a full pool and a full sender queue refuse before the signature is verified",
          "[mempool]") {
  // Under overload most refusals are capacity refusals: each must cost lookups, not an
  // Ed25519 verification, or refusing the excess starves the block pipeline (issue 13).
  Fixture f;
  auto forge = [](Transaction tx) {
    tx.signature.data()[0] ^= 0x55;
    return tx;
  };
  MempoolLimits limits;
  limits.max_txs = 2;
  limits.max_per_sender = 1;
  Mempool pool(kChain, limits);
  REQUIRE(pool.Add(f.Pay(f.alice, 0, 1), f.state, 0).ok());
  const uint64_t before = SignatureVerifications();
  Transaction alice1 = forge(f.Pay(f.alice, 1, 1));
  CHECK(pool.Precheck(alice1, alice1.Hash(), f.state).code == TxCode::kSenderQueueFull);
  CHECK(pool.Add(alice1, f.state, 0).code == TxCode::kSenderQueueFull);
  REQUIRE(pool.Add(f.Pay(f.bob, 0, 1), f.state, 0).ok());  // verified: +1
  Transaction admin0 = forge(f.Pay(f.admin, 0, 1));
  CHECK(pool.Precheck(admin0, admin0.Hash(), f.state).code == TxCode::kMempoolFull);
  CHECK(pool.Add(admin0, f.state, 0).code == TxCode::kMempoolFull);
  CHECK(SignatureVerifications() == before + 1);
}

TEST_CASE("a transaction left behind a gap by an expiry can be evicted", "[mempool]") {
  Fixture f;
  MempoolLimits limits;
  limits.max_txs = 3;
  limits.ttl_blocks = 5;
  Mempool pool(kChain, limits);
  Transaction a0 = f.Pay(f.alice, 0, 1), a1 = f.Pay(f.alice, 1, 1);
  REQUIRE(pool.Add(a0, f.state, 0).ok());
  REQUIRE(pool.Add(a1, f.state, 3).ok());  // executable when admitted: a0 is pending
  REQUIRE(pool.Add(f.Pay(f.bob, 0, 1), f.state, 3).ok());
  pool.OnCommitted({}, {}, f.state, 5);  // a0 expires; a1 now waits behind a gap
  REQUIRE_FALSE(pool.Contains(a0.Hash()));
  REQUIRE(pool.Contains(a1.Hash()));
  REQUIRE(pool.Add(f.Pay(f.admin, 0, 1), f.state, 5).ok());  // full again: 3 pending
  // An executable newcomer evicts a1, the only queued one.
  Transaction b1 = f.Pay(f.bob, 1, 1);
  CHECK(pool.Add(b1, f.state, 5).ok());
  CHECK_FALSE(pool.Contains(a1.Hash()));
  CHECK(pool.Contains(b1.Hash()));
  CHECK(pool.size() == 3);
}
