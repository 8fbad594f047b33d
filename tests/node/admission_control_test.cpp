// Admission tied to commit capacity (issue 13): the bound follows the measured commit rate
// from a floor, clients past it are refused with a retry hint before any signature is
// checked, and peers are held only to the mempool's own limits.
#include <catch2/catch.hpp>

#include "api/methods.h"
#include "ledger/kv.h"
#include "node/admission_control.h"
#include "node/tx_pool.h"
#include "tests/kit/keys.h"

namespace cairn::node {
namespace {

using testkit::TestKey;

TEST_CASE("the admission bound follows the commit rate from its floor", "[node][admission]") {
  ManualClock clock(1'000'000);
  AdmissionControl::Options o;
  o.window_ms = 2000;
  o.floor_txs = 1000;
  o.horizon_ms = 5000;
  AdmissionControl ac(o, clock);
  CHECK(ac.CommitRate() == 0);
  CHECK(ac.Bound() == 1000);          // idle: the floor
  CHECK(ac.RetryAfterMs(5) == 1000);  // nothing commits: try again in a second

  // 4,000 tx/s for five seconds: the pool may hold two seconds of it.
  for (int i = 0; i < 50; ++i) {
    clock.Advance(100);
    ac.OnCommitted(400, clock.UnixMs());
  }
  CHECK(ac.CommitRate() == Approx(4000));
  CHECK(ac.Bound() == 8000);
  // 8,000 pending, 80% of the bound is 6,400: 1,600 more than that drain in 400 ms.
  CHECK(ac.RetryAfterMs(8000) == 400);
  CHECK(ac.RetryAfterMs(6000) == 50);          // below the target: the shortest hint
  CHECK(ac.RetryAfterMs(10'000'000) == 5000);  // never more than five seconds

  // Commits stop (a stalled network): the rate decays over the horizon, back to the floor.
  clock.Advance(2550);  // the commits of the last 2.5 s of the load remain in the horizon
  CHECK(ac.CommitRate() == Approx(2000));
  clock.Advance(2500);
  CHECK(ac.CommitRate() == 0);
  CHECK(ac.Bound() == 1000);

  // Blocks proposed long ago (block sync catching up) say nothing about the rate now.
  ManualClock later(1'000'000, 1'000'000);
  AdmissionControl syncing(o, later);
  syncing.OnCommitted(100000, later.UnixMs() - 60'000);
  CHECK(syncing.CommitRate() == 0);
  syncing.OnCommitted(500, later.UnixMs() - 1'000);
  CHECK(syncing.CommitRate() == Approx(100));

  o.window_ms = 0;  // off
  AdmissionControl off(o, clock);
  CHECK(off.Bound() == SIZE_MAX);
}

struct PoolFixture {
  genesis::Genesis genesis;
  crypto::KeyPair admin = TestKey(0, 0xad), bob = TestKey(1, 0xad);
  std::unique_ptr<ledger::ChainStore> store;
  ManualClock clock{1'000'000};

  explicit PoolFixture(uint32_t validators = 1) {
    genesis.chain_id = "admission";
    genesis.consensus =
        validators == 1 ? genesis::ConsensusKind::kSolo : genesis::ConsensusKind::kRaft;
    genesis.params.max_block_txs = 10;  // the bound's floor: two blocks, 20 transactions
    for (uint32_t i = 0; i < validators; ++i) {
      genesis.validators.push_back(
          {"n" + std::to_string(i), TestKey(i, 0x01).public_key(), "127.0.0.1:1"});
    }
    genesis.accounts.push_back({admin.public_key(), ledger::Role::kAdmin, 1'000'000});
    genesis.accounts.push_back({bob.public_key(), ledger::Role::kMember, 0});
    auto s = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), genesis.Block0(),
                                      genesis.InitialState());
    REQUIRE(s.ok());
    store = std::move(s.value());
  }
  ledger::Transaction Pay(uint64_t nonce) const {
    ledger::Transaction tx;
    tx.chain_id = genesis.chain_id;
    tx.nonce = nonce;
    tx.payload = ledger::Transfer{bob.public_key(), 1};
    tx.Sign(admin);
    return tx;
  }
  std::vector<ledger::Transaction> Pays(uint64_t from, uint64_t to) const {
    std::vector<ledger::Transaction> out;
    for (uint64_t n = from; n < to; ++n) out.push_back(Pay(n));
    return out;
  }
};

TEST_CASE("clients past the admission bound are refused with a retry hint, unverified",
          "[node][admission]") {
  PoolFixture f;
  TxPool pool(f.genesis, *f.store, ledger::MempoolLimits{}, f.clock);
  REQUIRE(pool.admission().Bound() == 20);

  // One call of 30: the first 20 fit, the other 10 are refused before their signatures.
  uint64_t before = ledger::SignatureVerifications();
  auto first = pool.Admit(f.Pays(0, 30), TxPool::Source::kClient);
  CHECK(ledger::SignatureVerifications() - before == 20);
  for (size_t i = 0; i < first.size(); ++i) {
    INFO("transaction " << i);
    if (i < 20) {
      CHECK(first[i].ok());
    } else {
      CHECK(first[i].code == ledger::TxCode::kMempoolFull);
      CHECK(first[i].retry_after_ms > 0);
      CHECK(first[i].hash == f.Pay(i).Hash());
    }
  }
  CHECK(pool.size() == 20);

  // The next call is refused whole, without a single verification, and says why.
  before = ledger::SignatureVerifications();
  auto second = pool.Admit(f.Pays(20, 40), TxPool::Source::kClient);
  CHECK(ledger::SignatureVerifications() == before);
  for (const ledger::Admission& a : second) REQUIRE(a.code == ledger::TxCode::kMempoolFull);
  CHECK(second[0].detail.find("retry in") != std::string::npos);
  rpc::RpcError err = api::AdmissionError(second[0]);
  REQUIRE(err.data.has_value());
  CHECK((*err.data)["reason"] == "mempool_full");
  CHECK((*err.data)["retry_after_ms"] == second[0].retry_after_ms);

  // A validator's gossip is not held to the client bound: what it admitted must reach the
  // proposer. Only the mempool's own limits apply to it.
  auto relayed = pool.Admit(f.Pays(20, 40), TxPool::Source::kValidatorPeer);
  for (const ledger::Admission& a : relayed) CHECK(a.ok());
  CHECK(pool.size() == 40);

  // Blocks commit 20 transactions every 100 ms (200 tx/s): the bound rises to 2 s of that.
  std::vector<ledger::Transaction> none;
  std::vector<crypto::Hash256> no_hashes;
  for (int i = 0; i < 50; ++i) {
    f.clock.Advance(100);
    std::vector<ledger::Transaction> block(20, f.Pay(999));
    pool.OnCommitted(block, no_hashes, 1, f.clock.UnixMs());
  }
  CHECK(pool.admission().Bound() == 400);
  auto third = pool.Admit(f.Pays(40, 60), TxPool::Source::kClient);
  for (const ledger::Admission& a : third) CHECK(a.ok());
}

TEST_CASE("each of N validators takes its share of the room in one client call",
          "[node][admission]") {
  // All validators admit from their clients at once and hear of each other's admissions only
  // by gossip: a call takes a third of the room, so three cannot overshoot the bound 3x.
  PoolFixture f(3);
  TxPool pool(f.genesis, *f.store, ledger::MempoolLimits{}, f.clock);
  REQUIRE(pool.admission().Bound() == 20);
  // Gossip into an empty pool is not held to the client bound at all.
  auto relayed = pool.Admit(f.Pays(0, 2), TxPool::Source::kValidatorPeer);
  for (const ledger::Admission& a : relayed) CHECK(a.ok());
  auto call = pool.Admit(f.Pays(2, 30), TxPool::Source::kClient);
  size_t admitted = 0;
  for (const ledger::Admission& a : call) admitted += a.ok();
  CHECK(admitted == 6);  // ceil((20 - 2) / 3)
  // Calls repeat until the bound is reached, from one node alone.
  while (pool.size() < 20) {
    const uint64_t next = pool.size();  // the pool holds nonces 0 .. size - 1
    REQUIRE(pool.Admit(f.Pays(next, next + 10), TxPool::Source::kClient).front().ok());
  }
  CHECK(pool.size() == 20);
  CHECK(pool.Admit(f.Pays(20, 21), TxPool::Source::kClient).front().code ==
        ledger::TxCode::kMempoolFull);
}

TEST_CASE("the admission bound counts what can commit, and can be turned off",
          "[node][admission]") {
  PoolFixture f(3);
  {
    // 30 transactions behind a nonce gap (nonce 0 missing) hold no place under the bound:
    // otherwise they would lock every client out, the one who would fill the gap too.
    TxPool pool(f.genesis, *f.store, ledger::MempoolLimits{}, f.clock);
    for (const ledger::Admission& a : pool.Admit(f.Pays(1, 31), TxPool::Source::kValidatorPeer))
      REQUIRE(a.ok());
    REQUIRE(pool.size() == 30);
    auto filler = pool.Admit(f.Pays(0, 1), TxPool::Source::kClient);
    CHECK(filler.front().ok());
  }
  {
    // Off (0): three validators and an empty pool, and clients are held to nothing but the
    // mempool's own limits.
    ledger::MempoolLimits off;
    off.admission_window_ms = 0;
    TxPool pool(f.genesis, *f.store, off, f.clock);
    auto admitted = pool.Admit(f.Pays(0, 40), TxPool::Source::kClient);
    for (const ledger::Admission& a : admitted) CHECK(a.ok());
  }
}

TEST_CASE("a call refused whole still names a wrong chain and what is already pending",
          "[node][admission]") {
  PoolFixture f;
  TxPool pool(f.genesis, *f.store, ledger::MempoolLimits{}, f.clock);
  REQUIRE(pool.Admit(f.Pays(0, 20), TxPool::Source::kClient).back().ok());  // at the bound
  ledger::Transaction elsewhere = f.Pay(20);
  elsewhere.chain_id = "elsewhere";
  elsewhere.Sign(f.admin);
  std::vector<ledger::Transaction> call = {f.Pay(3), elsewhere, f.Pay(21)};
  auto out = pool.Admit(call, TxPool::Source::kClient);
  CHECK(out[0].code == ledger::TxCode::kAlreadyKnown);
  CHECK(out[1].code == ledger::TxCode::kWrongChain);
  CHECK(out[2].code == ledger::TxCode::kMempoolFull);
  for (size_t i = 0; i < call.size(); ++i) CHECK(out[i].hash == call[i].Hash());
}

}  // namespace
}  // namespace cairn::node
