// LightTrust on a BFT chain whose set changes twice (tests/kit/bft_changing_chain.h): the
// target header is proven from the genesis set alone, and every lie a peer can tell on the way
// (a set that does not hash right, a certificate of the wrong keys, a page hiding a change) is
// refused without losing what was proven.
#include <catch2/catch.hpp>

#include "chain/block_rules.h"
#include "ledger/kv.h"
#include "node/light_trust.h"
#include "node/set_history.h"
#include "tests/kit/bft_changing_chain.h"

using namespace cairn;
using cairn::node::LightTrust;
using Kind = LightTrust::Need::Kind;

namespace {

struct Fixture {
  testkit::ChangingChain chain;
  std::unique_ptr<ledger::ChainStore> store;
  std::unique_ptr<chain::BlockRules> rules;

  Fixture() {
    auto s = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), chain.genesis.Block0(),
                                      chain.genesis.InitialState());
    REQUIRE(s.ok());
    store = std::move(s.value());
    chain.Build(*store);
    rules = std::make_unique<chain::BlockRules>(chain.genesis);
  }
  LightTrust::Certified At(uint64_t h) const {
    return {chain.blocks.at(h - 1).header, chain.certificates.at(h - 1)};
  }
  std::vector<LightTrust::Certified> Range(uint64_t low, uint64_t high) const {
    std::vector<LightTrust::Certified> out;
    for (uint64_t h = low; h <= high; ++h) out.push_back(At(h));
    return out;
  }
  LightTrust Trust(uint64_t target) const {
    return LightTrust(*rules, chain.genesis.Block0().header, target);
  }
};

}  // namespace

TEST_CASE("light trust: a header under the genesis set is proven by its certificate alone") {
  Fixture f;
  LightTrust t = f.Trust(2);
  LightTrust::Need n = t.next();
  REQUIRE(n.kind == Kind::kHeaders);
  CHECK(n.low == 2);
  CHECK(n.high == 2);
  REQUIRE(t.AddHeaders(f.Range(2, 2)).ok());
  REQUIRE(t.done());
  CHECK(t.proven().first.Hash() == f.chain.blocks[1].Hash());
  CHECK(t.headers_seen() == 1);
  CHECK(t.certificates_checked() == 1);
  CHECK(t.followed().empty());
  CHECK(t.next().kind == Kind::kNone);
}

TEST_CASE("light trust: a header two set changes after genesis is proven by walking them") {
  Fixture f;
  LightTrust t = f.Trust(7);
  REQUIRE(t.AddHeaders(f.Range(7, 7)).ok());
  CHECK_FALSE(t.done());  // set(7) is not the genesis set
  LightTrust::Need n = t.next();
  REQUIRE(n.kind == Kind::kHeaders);
  CHECK(n.low == 1);
  CHECK(n.high == 7);
  REQUIRE(t.AddHeaders(f.Range(1, 7)).ok());
  n = t.next();
  REQUIRE(n.kind == Kind::kSet);
  CHECK(n.set_height == 3);
  CHECK(n.set_hash == ledger::SetHash(f.chain.SetAt(3)));
  REQUIRE(t.AddSet(3, f.chain.SetAt(3)).ok());
  n = t.next();
  REQUIRE(n.kind == Kind::kSet);
  CHECK(n.set_height == 6);
  REQUIRE(t.AddSet(6, f.chain.SetAt(6)).ok());
  REQUIRE(t.done());
  CHECK(t.proven().first.Hash() == f.chain.blocks[6].Hash());
  CHECK(t.proven().second == f.chain.certificates[6]);
  REQUIRE(t.followed().size() == 2);
  CHECK(t.followed()[1] == f.chain.SetAt(6));
  // The target, and where the set changes: 2 and 3, 5 and 6, then 7 by the set of 6.
  CHECK(t.certificates_checked() == 5);
}

TEST_CASE("light trust: a page answered in parts walks the same") {
  Fixture f;
  LightTrust t = f.Trust(7);
  REQUIRE(t.AddHeaders(f.Range(7, 7)).ok());
  REQUIRE(t.AddHeaders(f.Range(1, 2)).ok());  // a short answer: the lowest heights first
  LightTrust::Need n = t.next();
  REQUIRE(n.kind == Kind::kHeaders);
  CHECK(n.low == 3);
  REQUIRE(t.AddHeaders(f.Range(3, 4)).ok());
  REQUIRE(t.next().kind == Kind::kSet);
  REQUIRE(t.AddSet(3, f.chain.SetAt(3)).ok());
  REQUIRE(t.next().kind == Kind::kHeaders);
  CHECK(t.next().low == 5);
  REQUIRE(t.AddHeaders(f.Range(5, 7)).ok());
  REQUIRE(t.AddSet(6, f.chain.SetAt(6)).ok());
  CHECK(t.done());
  CHECK(t.AddHeaders(f.Range(1, 1)).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("light trust: a set that does not hash to what the certified header names is refused") {
  Fixture f;
  LightTrust t = f.Trust(7);
  REQUIRE(t.AddHeaders(f.Range(7, 7)).ok());
  REQUIRE(t.AddHeaders(f.Range(1, 7)).ok());
  std::vector<ledger::Member> wrong = f.chain.SetAt(3);
  wrong.back().consensus_key = testkit::ChainKey(99).public_key();
  Status s = t.AddSet(3, wrong);
  CHECK(s.code() == StatusCode::kRejected);
  CHECK_FALSE(t.blame_headers());
  CHECK(s.message().find("set(3)") != std::string::npos);
  // Still waiting for set(3): the honest answer completes the walk.
  REQUIRE(t.next().kind == Kind::kSet);
  CHECK(t.next().set_height == 3);
  REQUIRE(t.AddSet(3, f.chain.SetAt(3)).ok());
  REQUIRE(t.AddSet(6, f.chain.SetAt(6)).ok());
  CHECK(t.done());
  // Heights not asked are the caller's error, not a peer's lie.
  CHECK(f.Trust(7).AddSet(3, f.chain.SetAt(3)).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("light trust: a certificate of the wrong keys is refused and the walk starts over") {
  Fixture f;
  SECTION("the target under the genesis set") {
    LightTrust t = f.Trust(2);
    LightTrust::Certified forged = f.At(2);
    // Signed by 0, 1 and 3 but with 3's slot signed by id 4's key (not a genesis validator).
    forged.second = f.chain.Certificate(f.chain.blocks[1], f.chain.sets[1], {0, 1, 3}, {{3, 4}});
    Status s = t.AddHeaders(std::vector<LightTrust::Certified>{forged});
    CHECK(s.code() == StatusCode::kRejected);
    CHECK(s.message().find("certificate") != std::string::npos);
    CHECK_FALSE(t.done());
    REQUIRE(t.AddHeaders(f.Range(2, 2)).ok());
    CHECK(t.done());
  }
  SECTION("the header before a change") {
    LightTrust t = f.Trust(7);
    REQUIRE(t.AddHeaders(f.Range(7, 7)).ok());
    std::vector<LightTrust::Certified> page = f.Range(1, 7);
    page[1].second = f.chain.Certificate(f.chain.blocks[1], f.chain.sets[1], {0, 1});  // no quorum
    Status s = t.AddHeaders(page);
    CHECK(s.code() == StatusCode::kRejected);
    CHECK(t.next().kind == Kind::kHeaders);
    CHECK(t.next().low == 1);
    REQUIRE(t.AddHeaders(f.Range(1, 7)).ok());
    REQUIRE(t.AddSet(3, f.chain.SetAt(3)).ok());
    REQUIRE(t.AddSet(6, f.chain.SetAt(6)).ok());
    CHECK(t.done());
  }
  SECTION("the change header itself, found out once its set arrives") {
    LightTrust t = f.Trust(7);
    REQUIRE(t.AddHeaders(f.Range(7, 7)).ok());
    std::vector<LightTrust::Certified> page = f.Range(1, 7);
    page[2].second = f.chain.certificates[3];  // block 4's certificate under block 3
    REQUIRE(t.AddHeaders(page).ok());
    Status s = t.AddSet(3, f.chain.SetAt(3));
    CHECK(s.code() == StatusCode::kRejected);
    CHECK(t.blame_headers());
    // Back to the header page above the last proven one (2): set(3) was not kept.
    REQUIRE(t.next().kind == Kind::kHeaders);
    CHECK(t.next().low == 3);
    REQUIRE(t.AddHeaders(f.Range(3, 7)).ok());
    REQUIRE(t.AddSet(3, f.chain.SetAt(3)).ok());
    REQUIRE(t.AddSet(6, f.chain.SetAt(6)).ok());
    CHECK(t.done());
  }
}

TEST_CASE("light trust: a page that hides a set change is refused") {
  Fixture f;
  LightTrust t = f.Trust(7);
  REQUIRE(t.AddHeaders(f.Range(7, 7)).ok());
  // Header 3 claims the genesis set still governs: the walk goes on with it and the genesis
  // set cannot prove the header before the next change (5, certified by set(5)).
  std::vector<LightTrust::Certified> page = f.Range(1, 7);
  page[2].first.validators_hash = page[1].first.validators_hash;
  page[3].first.validators_hash = page[1].first.validators_hash;
  page[4].first.validators_hash = page[1].first.validators_hash;
  Status s = t.AddHeaders(page);
  CHECK(s.code() == StatusCode::kRejected);
  CHECK_FALSE(t.done());
  CHECK(t.next().low == 1);
}

TEST_CASE(
    "light trust: a forgery after a change in the same page is the page sender's, not the set's") {
  Fixture f;
  LightTrust t = f.Trust(7);
  REQUIRE(t.AddHeaders(f.Range(7, 7)).ok());
  std::vector<LightTrust::Certified> page = f.Range(1, 7);
  page[4].second = f.chain.Certificate(f.chain.blocks[4], f.chain.sets[4], {0, 1});  // no quorum
  REQUIRE(t.AddHeaders(page).ok());
  Status s = t.AddSet(3, f.chain.SetAt(3));
  CHECK(s.code() == StatusCode::kRejected);
  CHECK(t.blame_headers());
  // set(3) is kept: the walk goes on from header 3 with another page.
  REQUIRE(t.next().kind == Kind::kHeaders);
  CHECK(t.next().low == 4);
  REQUIRE(t.AddHeaders(f.Range(4, 7)).ok());
  REQUIRE(t.AddSet(6, f.chain.SetAt(6)).ok());
  CHECK(t.done());
}

TEST_CASE("light trust: every page's top header is proven with it, so a page answers for itself") {
  Fixture f;
  LightTrust t = f.Trust(7);
  REQUIRE(t.AddHeaders(f.Range(7, 7)).ok());
  std::vector<LightTrust::Certified> page = f.Range(1, 2);
  page[1].second = f.chain.certificates[0];  // block 1's certificate under block 2
  CHECK(t.AddHeaders(page).code() == StatusCode::kRejected);
  CHECK(t.next().low == 1);
  REQUIRE(t.AddHeaders(f.Range(1, 2)).ok());
  CHECK(t.trusted_height() == 2);
  CHECK(t.next().low == 3);
}

TEST_CASE(
    "set history: a set is kept by its hash, read back, and a damaged record is never served") {
  Fixture f;
  ledger::MemoryKv kv;
  const std::vector<ledger::Member> set = f.chain.SetAt(3);
  const crypto::Hash256 hash = ledger::SetHash(set);
  CHECK_FALSE(node::FindSet(kv, hash));
  REQUIRE(node::RememberSet(kv, set).ok());
  auto got = node::FindSet(kv, hash);
  REQUIRE(got);
  CHECK(ledger::SetHash(*got) == hash);
  CHECK(got->size() == set.size());
  // Damage: the record no longer hashes to its key, so it reads as absent, and storing the
  // set again repairs it.
  Bytes key(1 + hash.view().size(), 'V');
  std::copy(hash.view().begin(), hash.view().end(), key.begin() + 1);
  auto raw = kv.Get(key);
  REQUIRE(raw.ok());
  REQUIRE(raw->has_value());
  Bytes bad = **raw;
  bad.back() ^= 1;
  ledger::WriteBatch b;
  b.Put(key, bad);
  REQUIRE(kv.Write(b, true).ok());
  CHECK_FALSE(node::FindSet(kv, hash));
  REQUIRE(node::RememberSet(kv, set).ok());
  CHECK(node::FindSet(kv, hash));
  // An empty set is not kept.
  REQUIRE(node::RememberSet(kv, std::vector<ledger::Member>{}).ok());
}
