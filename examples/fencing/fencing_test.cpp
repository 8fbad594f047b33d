// The fencing example: the stale writer is refused, by the token order alone and by the
// getLease check against a real chain store's proof.
#include <catch2/catch.hpp>

#include "crypto/hex.h"
#include "examples/fencing/fencing.h"
#include "ledger/lease.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::examples::fencing;

TEST_CASE("a write with a lower token than one already seen is refused", "[fencing]") {
  testkit::TempDir dir("fencing");
  auto store = FencedStore::Open(dir.Sub("state"));
  REQUIRE(store.ok());
  REQUIRE(store->Write("db/primary", 1, "from A").ok());   // A holds token 1
  REQUIRE(store->Write("db/primary", 1, "A again").ok());  // the same holder, again
  REQUIRE(store->Write("db/primary", 2, "from B").ok());   // B took over: token 2
  Status stale = store->Write("db/primary", 1, "A wakes up");
  CHECK(stale.code() == StatusCode::kRejected);
  CHECK(stale.message() == "stale fencing token 1 for \"db/primary\": token 2 already wrote it");
  CHECK(store->Read("db/primary") == "from B");
  // Resources are fenced independently.
  CHECK(store->Write("other", 1, "x").ok());
  // The order survives a restart of the service.
  auto again = FencedStore::Open(dir.Sub("state"));
  REQUIRE(again.ok());
  CHECK(again->HighestToken("db/primary") == 2);
  CHECK(again->Read("db/primary") == "from B");
  CHECK(again->Write("db/primary", 1, "late").code() == StatusCode::kRejected);
  CHECK(again->Write("bad name", 9, "").code() == StatusCode::kInvalidArgument);
}

TEST_CASE("VerifyLeaseAnswer: the holder's current token passes, a stale one is refused",
          "[fencing]") {
  testkit::ChainFixture fx(3, "fencing");
  const crypto::KeyPair& a = fx.accounts[0];
  const crypto::KeyPair& b = fx.accounts[1];
  auto store =
      ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), fx.genesis, fx.genesis_state);
  REQUIRE(store.ok());
  auto commit = [&](ledger::Transaction tx) {
    auto parent = (*store)->HeaderAt((*store)->head().height);
    REQUIRE(parent.ok());
    REQUIRE(testkit::CommitChain(**store, **parent, {{std::move(tx)}}, fx.proposer).ok());
  };
  // What getLease {name, proof: true} answers, built from the store as the node does.
  auto answer = [&](std::string_view name) {
    const Bytes key = ledger::SystemKey(ledger::LeaseRecordName(name));
    auto p = (*store)->ProveState(key, std::nullopt);
    REQUIRE(p.ok());
    auto h = (*store)->HeaderAt(p->height);
    REQUIRE(h.ok());
    nlohmann::json j{{"height", p->height},
                     {"proof", crypto::ToHex(p->proof)},
                     {"header", crypto::ToHex((*h)->Encode())},
                     {"value", nullptr}};
    if (p->value) j["value"] = crypto::ToHex(*p->value);
    return j;
  };
  commit(fx.Sign(a, 0, ledger::LeaseAcquire{"db", 2}));  // height 1: A, token 1, expires 3
  CHECK(VerifyLeaseAnswer(answer("db"), "db", a.public_key(), 1).ok());
  CHECK(VerifyLeaseAnswer(answer("db"), "db", b.public_key(), 1).code() == StatusCode::kRejected);
  CHECK(VerifyLeaseAnswer(answer("never"), "never", a.public_key(), 1).code() ==
        StatusCode::kRejected);
  commit(fx.Sign(b, 0, ledger::LeaseAcquire{"db", 2}));  // height 2: still A's: lease_held
  commit(fx.Sign(b, 1, ledger::LeaseAcquire{"db", 5}));  // height 3: B, token 2
  Status stale = VerifyLeaseAnswer(answer("db"), "db", a.public_key(), 1);
  CHECK(stale.code() == StatusCode::kRejected);
  CHECK(VerifyLeaseAnswer(answer("db"), "db", b.public_key(), 2).ok());
  CHECK(VerifyLeaseAnswer(answer("db"), "db", b.public_key(), 1).code() == StatusCode::kRejected);
  // An answer for another name, or with a doctored value, does not verify for this one.
  nlohmann::json forged = answer("db");
  CHECK_FALSE(VerifyLeaseAnswer(forged, "db2", b.public_key(), 2).ok());
  ledger::Lease fake{a.public_key(), 9, 100, 5};
  forged["value"] = crypto::ToHex(fake.Encode());
  CHECK_FALSE(VerifyLeaseAnswer(forged, "db", a.public_key(), 9).ok());
}
