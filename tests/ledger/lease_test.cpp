// Leases (ledger/lease.h, docs/PROTOCOL.md §3, docs/LEASES.md): one TEST_CASE per rule and
// receipt code, expiry exactly at expires_at, tokens across holders, the encodings, the
// mempool's bad_ttl refusal, and a seeded property test against a naive model.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <random>

#include "ledger/lease.h"
#include "ledger/mempool.h"
#include "ledger_test_util.h"

using namespace cairn;
using namespace cairn::ledger;
using namespace cairn::ledger::testing;

namespace {

// Three member accounts on a bare state; every block is built with BuildBlock and checked with
// VerifyBlock on the same parent before it is applied, so both paths agree on every block.
struct LeaseChain {
  std::vector<crypto::KeyPair> keys;
  crypto::KeyPair proposer = testkit::TestKey(0, 0x71);
  MemoryState state;
  BlockHeader head;
  StateTree::View view;
  std::map<crypto::PublicKey, uint64_t> nonces;
  StateDiff last_diff;

  LeaseChain() {
    StateDiff diff;
    for (uint32_t i = 0; i < 3; ++i) {
      keys.push_back(testkit::TestKey(i, 0x70));
      diff[AccountKey(keys.back().public_key())] = Account{0, 0, Role::kMember}.Encode();
    }
    state.Apply(diff);
    head.chain_id = kChain;
    head.state_root = StateRootOf(diff);
    view = testkit::TreeOf(state);
  }

  Transaction Tx(size_t who, Payload p) {
    return SignedTx(keys[who], nonces[keys[who].public_key()]++, std::move(p));
  }
  Transaction Acquire(size_t who, std::string name, uint64_t ttl) {
    return Tx(who, LeaseAcquire{std::move(name), ttl});
  }
  Transaction Renew(size_t who, std::string name, uint64_t token) {
    return Tx(who, LeaseRenew{std::move(name), token});
  }
  Transaction Release(size_t who, std::string name, uint64_t token) {
    return Tx(who, LeaseRelease{std::move(name), token});
  }

  // Builds, verifies and applies the next block (height head.height + 1); its receipt codes.
  std::vector<TxCode> Run(std::vector<Transaction> txs) {
    BuiltBlock built =
        BuildBlock(state, head, view, std::move(txs), head.timestamp_ms + 1000, proposer);
    REQUIRE(built.skipped.empty());
    auto verified = VerifyBlock(state, head, view, built.block);
    REQUIRE(verified.ok());
    CHECK(verified->state_root == built.exec.state_root);
    state.Apply(built.exec.diff);
    last_diff = built.exec.diff;
    head = built.block.header;
    view = built.exec.view;
    std::vector<TxCode> codes;
    for (const Receipt& r : built.exec.receipts) codes.push_back(r.code);
    return codes;
  }
  TxCode RunOne(Transaction tx) { return Run({std::move(tx)}).at(0); }
  void EmptyUntil(uint64_t height) {
    while (head.height < height) Run({});
  }
  Lease Get(const std::string& name) const {
    auto l = ReadLease(state, name);
    REQUIRE(l);
    return *l;
  }
  const crypto::PublicKey& Pub(size_t who) const { return keys[who].public_key(); }
};

}  // namespace

TEST_CASE("lease_acquire of a free name: token 1, held while height < expires_at",
          "[ledger][lease]") {
  LeaseChain c;
  CHECK_FALSE(ReadLease(c.state, "db"));
  REQUIRE(c.RunOne(c.Acquire(0, "db", 3)) == TxCode::kOk);  // height 1
  const Lease l = c.Get("db");
  CHECK(l.holder == c.Pub(0));
  CHECK(l.token == 1);
  CHECK(l.expires_at == 1 + 3);
  CHECK(l.ttl_blocks == 3);
  CHECK(l.HeldAt(1));
  CHECK(l.HeldAt(3));
  CHECK_FALSE(l.HeldAt(4));
  // The record is the system record "lease/db", and it enters the state root.
  CHECK(c.last_diff.count(SystemKey("lease/db")) == 1);
  CHECK(c.last_diff.at(SystemKey("lease/db")) == l.Encode());
}

TEST_CASE("lease_acquire: bad_ttl outside [1, 100000], before lease_held", "[ledger][lease]") {
  LeaseChain c;
  CHECK(c.RunOne(c.Acquire(0, "a", 0)) == TxCode::kBadTtl);
  CHECK(c.RunOne(c.Acquire(0, "a", kMaxLeaseTtl + 1)) == TxCode::kBadTtl);
  CHECK(c.RunOne(c.Acquire(0, "a", UINT64_MAX)) == TxCode::kBadTtl);
  CHECK_FALSE(ReadLease(c.state, "a"));
  // A failure writes only the sender's account (its nonce).
  CHECK(c.last_diff.size() == 1);
  CHECK(c.RunOne(c.Acquire(0, "a", kMaxLeaseTtl)) == TxCode::kOk);
  CHECK(c.Get("a").expires_at == c.head.height + kMaxLeaseTtl);
  // Held by account 0 now: bad_ttl is still what a bad ttl gets (the table's order).
  CHECK(c.RunOne(c.Acquire(1, "a", 0)) == TxCode::kBadTtl);
  CHECK(c.RunOne(c.Acquire(1, "a", 5)) == TxCode::kLeaseHeld);
}

TEST_CASE("lease_acquire: lease_held for another account and for the holder itself",
          "[ledger][lease]") {
  LeaseChain c;
  REQUIRE(c.RunOne(c.Acquire(0, "db", 10)) == TxCode::kOk);
  CHECK(c.RunOne(c.Acquire(1, "db", 10)) == TxCode::kLeaseHeld);
  CHECK(c.last_diff.size() == 1);
  CHECK(c.RunOne(c.Acquire(0, "db", 10)) == TxCode::kLeaseHeld);
  const Lease l = c.Get("db");
  CHECK(l.holder == c.Pub(0));
  CHECK(l.token == 1);
  CHECK(l.expires_at == 11);
}

TEST_CASE("two acquires of one name in one block: the first wins, the second is lease_held",
          "[ledger][lease]") {
  LeaseChain c;
  auto codes = c.Run({c.Acquire(1, "x", 5), c.Acquire(0, "x", 5)});
  CHECK(codes == std::vector<TxCode>{TxCode::kOk, TxCode::kLeaseHeld});
  CHECK(c.Get("x").holder == c.Pub(1));
}

TEST_CASE("expiry is exactly at expires_at: lease_held one block before, ok at it",
          "[ledger][lease]") {
  LeaseChain c;
  REQUIRE(c.RunOne(c.Acquire(0, "db", 3)) == TxCode::kOk);  // height 1, expires_at 4
  c.EmptyUntil(2);
  CHECK(c.RunOne(c.Acquire(1, "db", 3)) == TxCode::kLeaseHeld);  // height 3
  CHECK(c.head.height == 3);
  CHECK(c.RunOne(c.Acquire(1, "db", 3)) == TxCode::kOk);  // height 4 = expires_at
  const Lease l = c.Get("db");
  CHECK(l.holder == c.Pub(1));
  CHECK(l.token == 2);
  CHECK(l.expires_at == 7);
}

TEST_CASE("an expired lease's holder may acquire it again, with a new token", "[ledger][lease]") {
  LeaseChain c;
  REQUIRE(c.RunOne(c.Acquire(0, "db", 1)) == TxCode::kOk);  // height 1, expires_at 2
  CHECK(c.RunOne(c.Acquire(0, "db", 1)) == TxCode::kOk);    // height 2
  CHECK(c.Get("db").token == 2);
}

TEST_CASE("lease_renew: the holder with its token, before expiry, extends by the stored ttl",
          "[ledger][lease]") {
  LeaseChain c;
  REQUIRE(c.RunOne(c.Acquire(0, "db", 5)) == TxCode::kOk);  // height 1, expires_at 6
  c.EmptyUntil(3);
  CHECK(c.RunOne(c.Renew(0, "db", 1)) == TxCode::kOk);  // height 4
  Lease l = c.Get("db");
  CHECK(l.expires_at == 4 + 5);
  CHECK(l.token == 1);  // a renewal keeps the token
  CHECK(l.holder == c.Pub(0));
  CHECK(c.last_diff.count(SystemKey("lease/db")) == 1);
  // Renewable in the last block it is held (height 8 < 9) ...
  c.EmptyUntil(7);
  CHECK(c.RunOne(c.Renew(0, "db", 1)) == TxCode::kOk);
  CHECK(c.Get("db").expires_at == 8 + 5);
}

TEST_CASE("lease_renew failures: not_holder, wrong_token, lease_expired, in that order",
          "[ledger][lease]") {
  LeaseChain c;
  CHECK(c.RunOne(c.Renew(0, "never", 0)) == TxCode::kNotHolder);  // never acquired
  REQUIRE(c.RunOne(c.Acquire(0, "db", 2)) == TxCode::kOk);        // height 2, expires_at 4
  CHECK(c.RunOne(c.Renew(1, "db", 1)) == TxCode::kNotHolder);     // another account
  CHECK(c.RunOne(c.Renew(0, "db", 2)) == TxCode::kWrongToken);    // height 4: expired too
  CHECK(c.head.height == 4);
  CHECK(c.RunOne(c.Renew(0, "db", 1)) == TxCode::kLeaseExpired);  // height 5
  CHECK(c.last_diff.size() == 1);
  CHECK(c.Get("db").expires_at == 4);
  // Once another holds it, the old holder is no holder.
  REQUIRE(c.RunOne(c.Acquire(1, "db", 10)) == TxCode::kOk);
  CHECK(c.RunOne(c.Renew(0, "db", 1)) == TxCode::kNotHolder);
  CHECK(c.RunOne(c.Renew(0, "db", 2)) == TxCode::kNotHolder);
  CHECK(c.RunOne(c.Renew(1, "db", 1)) == TxCode::kWrongToken);
  CHECK(c.RunOne(c.Renew(1, "db", 2)) == TxCode::kOk);
}

TEST_CASE("lease_release frees at once: the next acquire, even in the same block, gets token + 1",
          "[ledger][lease]") {
  LeaseChain c;
  REQUIRE(c.RunOne(c.Acquire(0, "db", 100)) == TxCode::kOk);             // height 1
  auto codes = c.Run({c.Release(0, "db", 1), c.Acquire(1, "db", 100)});  // height 2
  CHECK(codes == std::vector<TxCode>{TxCode::kOk, TxCode::kOk});
  Lease l = c.Get("db");
  CHECK(l.holder == c.Pub(1));
  CHECK(l.token == 2);
  REQUIRE(c.RunOne(c.Release(1, "db", 2)) == TxCode::kOk);  // height 3
  l = c.Get("db");
  CHECK(l.released());
  CHECK(l.holder.IsZero());
  CHECK(l.token == 2);  // kept: the counter survives the release
  CHECK(l.expires_at == 3);
  CHECK_FALSE(l.HeldAt(3));
  // A released lease has no holder to renew or release it.
  CHECK(c.RunOne(c.Renew(1, "db", 2)) == TxCode::kNotHolder);
  CHECK(c.RunOne(c.Release(1, "db", 2)) == TxCode::kNotHolder);
  CHECK(c.RunOne(c.Acquire(2, "db", 1)) == TxCode::kOk);
  CHECK(c.Get("db").token == 3);
}

TEST_CASE("lease_release failures: not_holder, wrong_token, lease_expired", "[ledger][lease]") {
  LeaseChain c;
  CHECK(c.RunOne(c.Release(0, "never", 0)) == TxCode::kNotHolder);
  REQUIRE(c.RunOne(c.Acquire(0, "db", 2)) == TxCode::kOk);  // height 2, expires_at 4
  CHECK(c.RunOne(c.Release(1, "db", 1)) == TxCode::kNotHolder);
  CHECK(c.RunOne(c.Release(0, "db", 7)) == TxCode::kWrongToken);
  CHECK(c.RunOne(c.Release(0, "db", 1)) == TxCode::kLeaseExpired);  // height 5
  CHECK(c.Get("db").holder == c.Pub(0));  // an expired record keeps its last holder
}

TEST_CASE("leases are independent per name, and names are case-sensitive bytes",
          "[ledger][lease]") {
  LeaseChain c;
  auto codes = c.Run({c.Acquire(0, "a", 5), c.Acquire(1, "A", 5), c.Acquire(2, "a/b", 5)});
  CHECK(codes == std::vector<TxCode>{TxCode::kOk, TxCode::kOk, TxCode::kOk});
  CHECK(c.Get("a").holder == c.Pub(0));
  CHECK(c.Get("A").holder == c.Pub(1));
  CHECK(c.Get("a/b").holder == c.Pub(2));
}

TEST_CASE("lease names: 1..128 bytes of A-Z a-z 0-9 . _ - / :, else the tx does not decode",
          "[ledger][lease][codec]") {
  CHECK(IsValidLeaseName("a"));
  CHECK(IsValidLeaseName(std::string(kMaxLeaseName, 'Z')));
  CHECK(IsValidLeaseName("db/primary:5432_x-y.z"));
  CHECK_FALSE(IsValidLeaseName(""));
  CHECK_FALSE(IsValidLeaseName(std::string(kMaxLeaseName + 1, 'a')));
  for (char bad : {' ', '\0', '\n', '"', '\\', '*', '@', '%', '\x7f', '\xc3'}) {
    CAPTURE(static_cast<int>(static_cast<unsigned char>(bad)));
    CHECK_FALSE(IsValidLeaseName(std::string("a") + bad));
  }
  const crypto::KeyPair k = Key(1);
  // A valid encoding, then its name's first byte replaced by a space.
  Transaction tx = SignedTx(k, 0, LeaseAcquire{"ab", 5});
  Bytes enc = tx.Encode();
  const size_t name_at = 1 + 4 + kChain.size() + 32 + 8 + 1 + 4;
  REQUIRE(enc[name_at] == 'a');
  enc[name_at] = ' ';
  auto d = Transaction::Decode(enc);
  REQUIRE_FALSE(d.ok());
  CHECK_THAT(d.error(), Catch::Matchers::StartsWith("tx: lease_acquire.name: holds a byte"));
  // Length 0 and 129 are refused by the length bound, before any byte is read.
  for (Payload p : {Payload(LeaseRenew{"", 1}), Payload(LeaseRelease{std::string(129, 'a'), 1})}) {
    auto back = Transaction::Decode(SignedTx(k, 0, p).Encode());
    CHECK_FALSE(back.ok());
  }
}

TEST_CASE("Lease record: encoding and exact decoding", "[ledger][lease][codec]") {
  Lease l{Key(3).public_key(), 7, 99, 12};
  Bytes enc = l.Encode();
  CHECK(enc.size() == 32 + 8 + 8 + 8);
  auto back = Lease::Decode(enc);
  REQUIRE(back.ok());
  CHECK(*back == l);
  Bytes longer = enc;
  longer.push_back(0);
  CHECK_FALSE(Lease::Decode(longer).ok());
  CHECK_FALSE(Lease::Decode(ByteView(enc).first(enc.size() - 1)).ok());
}

TEST_CASE("mempool: an acquire with a bad ttl is refused bad_ttl before its signature",
          "[ledger][lease][mempool]") {
  LeaseChain c;
  Mempool pool(kChain, MempoolLimits{});
  for (uint64_t ttl : {uint64_t{0}, kMaxLeaseTtl + 1}) {
    Transaction tx = c.Acquire(0, "db", ttl);
    tx.signature = crypto::Signature();  // forged: the cheap check answers first
    const uint64_t before = SignatureVerifications();
    Admission a = pool.Add(tx, c.state, 0);
    CHECK(a.code == TxCode::kBadTtl);
    CHECK(SignatureVerifications() == before);
    c.nonces[c.Pub(0)]--;
  }
  CHECK(pool.Add(c.Acquire(0, "db", kMaxLeaseTtl), c.state, 0).ok());
}

// Random acquires, renews and releases by three accounts over 300 blocks against a naive model
// (a map of name -> holder, token, expiry): every receipt agrees, and each name's token only
// grows, by one per successful acquire.
TEST_CASE("leases agree with a naive model and tokens only grow", "[ledger][lease][property]") {
  const uint32_t seed = std::random_device{}();
  std::printf("lease property test seed %u\n", seed);
  CAPTURE(seed);
  std::mt19937 rng(seed);
  LeaseChain c;
  struct Model {
    size_t holder = 0;  // 0: none; else account + 1
    uint64_t token = 0;
    uint64_t expires_at = 0;
    uint64_t ttl = 0;
  };
  std::map<std::string, Model> model;
  const std::vector<std::string> names = {"a", "b"};
  uint64_t acquisitions = 0;
  for (int block = 0; block < 300; ++block) {
    const uint64_t h = c.head.height + 1;
    std::vector<Transaction> txs;
    std::vector<TxCode> want;
    const int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      const size_t who = rng() % 3;
      const std::string& name = names[rng() % names.size()];
      Model& m = model[name];
      const bool held = m.holder != 0 && h < m.expires_at;
      const int op = static_cast<int>(rng() % 3);
      if (op == 0) {
        const uint64_t ttl = 1 + rng() % 6;
        txs.push_back(c.Acquire(who, name, ttl));
        if (held) {
          want.push_back(TxCode::kLeaseHeld);
        } else {
          want.push_back(TxCode::kOk);
          m = Model{who + 1, m.token + 1, h + ttl, ttl};
          ++acquisitions;
        }
        continue;
      }
      // A guess at the token: mostly the current one, sometimes one off.
      const uint64_t token = m.token + (rng() % 4 == 0 ? 1 : 0);
      txs.push_back(op == 1 ? c.Renew(who, name, token) : c.Release(who, name, token));
      if (m.holder != who + 1) {
        want.push_back(TxCode::kNotHolder);
      } else if (token != m.token) {
        want.push_back(TxCode::kWrongToken);
      } else if (h >= m.expires_at) {
        want.push_back(TxCode::kLeaseExpired);
      } else {
        want.push_back(TxCode::kOk);
        if (op == 1) {
          m.expires_at = h + m.ttl;
        } else {
          m.holder = 0;
          m.expires_at = h;
        }
      }
    }
    std::map<std::string, uint64_t> tokens_before;
    for (const auto& name : names) {
      auto l = ReadLease(c.state, name);
      tokens_before[name] = l ? l->token : 0;
    }
    REQUIRE(c.Run(std::move(txs)) == want);
    for (const auto& name : names) {
      auto l = ReadLease(c.state, name);
      const Model& m = model[name];
      if (!l) {
        CHECK(m.token == 0);
        continue;
      }
      CHECK(l->token >= tokens_before[name]);
      CHECK(l->token == m.token);
      CHECK(l->expires_at == m.expires_at);
      CHECK(l->holder == (m.holder == 0 ? crypto::PublicKey() : c.Pub(m.holder - 1)));
    }
  }
  CHECK(model["a"].token + model["b"].token == acquisitions);
  CHECK(acquisitions > 20);
}
