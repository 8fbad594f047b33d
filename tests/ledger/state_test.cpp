// State keys, the overlay that collects a block's writes, MemoryState, and the state root.
#include <catch2/catch.hpp>

#include "base/codec.h"
#include "ledger_test_util.h"

using namespace cairn;
using namespace cairn::codec;
using namespace cairn::ledger;
using namespace cairn::ledger::testing;

TEST_CASE("state keys: 0x01 || address and 0x02 || address || key", "[ledger]") {
  const Address a = Key(1).public_key();
  Bytes ak = AccountKey(a);
  REQUIRE(ak.size() == 33);
  CHECK(ak[0] == 0x01);
  CHECK(Bytes(ak.begin() + 1, ak.end()) == Bytes(a.view().begin(), a.view().end()));
  Bytes rk = RecordKey(a, Bytes{'k', 'e', 'y'});
  REQUIRE(rk.size() == 36);
  CHECK(rk[0] == 0x02);
  CHECK(Bytes(rk.begin() + 1, rk.begin() + 33) == Bytes(a.view().begin(), a.view().end()));
  CHECK(Bytes(rk.begin() + 33, rk.end()) == Bytes{'k', 'e', 'y'});
  // Every account key sorts before every record key, so a diff lists accounts first.
  CHECK(AccountKey(Key(9).public_key()) < RecordKey(Key(1).public_key(), Bytes{0}));
}

TEST_CASE("StateOverlay reads through to its base and shadows it with writes", "[ledger]") {
  Chain c;
  StateOverlay o(c.state);
  CHECK(o.GetAccount(c.alice.public_key()) == Account{100, 0, Role::kMember});
  CHECK_FALSE(o.GetAccount(c.stranger.public_key()).has_value());
  CHECK_FALSE(o.GetRecord(c.alice.public_key(), Bytes{'k'}).has_value());
  CHECK(o.Diff().empty());

  o.PutAccount(c.alice.public_key(), Account{1, 2, Role::kAdmin});
  o.PutAccount(c.stranger.public_key(), Account{3, 0, Role::kMember});
  o.PutRecord(c.alice.public_key(), Bytes{'k'}, Bytes{'v', '1'});
  o.PutRecord(c.alice.public_key(), Bytes{'k'}, Bytes{'v', '2'});  // overwrite
  CHECK(o.GetAccount(c.alice.public_key()) == Account{1, 2, Role::kAdmin});
  CHECK(o.GetAccount(c.stranger.public_key()) == Account{3, 0, Role::kMember});
  CHECK(o.GetRecord(c.alice.public_key(), Bytes{'k'}) == Bytes{'v', '2'});
  CHECK_FALSE(o.GetRecord(c.bob.public_key(), Bytes{'k'}).has_value());
  // The base is untouched.
  CHECK(c.state.GetAccount(c.alice.public_key()) == Account{100, 0, Role::kMember});
  CHECK_FALSE(c.state.GetAccount(c.stranger.public_key()).has_value());

  StateDiff d = o.Diff();
  REQUIRE(d.size() == 3);
  CHECK(d.at(AccountKey(c.alice.public_key())) == Account{1, 2, Role::kAdmin}.Encode());
  CHECK(d.at(AccountKey(c.stranger.public_key())) == Account{3, 0, Role::kMember}.Encode());
  CHECK(d.at(RecordKey(c.alice.public_key(), Bytes{'k'})) == Bytes{'v', '2'});
  // Keys come out in byte order.
  Bytes prev;
  for (const auto& [k, v] : d) {
    CHECK(prev < k);
    prev = k;
  }

  MemoryState m = c.state;
  m.Apply(d);
  CHECK(m.GetAccount(c.alice.public_key()) == Account{1, 2, Role::kAdmin});
  CHECK(m.GetRecord(c.alice.public_key(), Bytes{'k'}) == Bytes{'v', '2'});
}

TEST_CASE("StateOverlay::Absorb folds a child's writes into the parent", "[ledger]") {
  Chain c;
  StateOverlay parent(c.state);
  parent.PutAccount(c.alice.public_key(), Account{1, 1, Role::kMember});
  parent.PutRecord(c.bob.public_key(), Bytes{'a'}, Bytes{'1'});
  StateOverlay child(parent);
  CHECK(child.GetAccount(c.alice.public_key()) == Account{1, 1, Role::kMember});
  child.PutAccount(c.alice.public_key(), Account{2, 2, Role::kMember});
  child.PutRecord(c.bob.public_key(), Bytes{'b'}, Bytes{'2'});
  CHECK(parent.GetAccount(c.alice.public_key()) == Account{1, 1, Role::kMember});
  parent.Absorb(child);
  CHECK(parent.GetAccount(c.alice.public_key()) == Account{2, 2, Role::kMember});
  CHECK(parent.GetRecord(c.bob.public_key(), Bytes{'a'}) == Bytes{'1'});
  CHECK(parent.GetRecord(c.bob.public_key(), Bytes{'b'}) == Bytes{'2'});
  CHECK(parent.Diff().size() == 3);
}

TEST_CASE("MemoryState applies writes and deletions", "[ledger]") {
  MemoryState m;
  const Address a = Key(1).public_key();
  StateDiff d;
  d[AccountKey(a)] = Account{7, 1, Role::kAdmin}.Encode();
  d[RecordKey(a, Bytes{'x'})] = Bytes{};
  m.Apply(d);
  CHECK(m.GetAccount(a) == Account{7, 1, Role::kAdmin});
  CHECK(m.GetRecord(a, Bytes{'x'}) == Bytes{});  // an empty value is a value, not absence
  CHECK(m.entries().size() == 2);
  StateDiff del;
  del[RecordKey(a, Bytes{'x'})] = std::nullopt;
  m.Apply(del);
  CHECK_FALSE(m.GetRecord(a, Bytes{'x'}).has_value());
  CHECK(m.entries().size() == 1);
}

TEST_CASE("the state root is the tree of every present entry and nothing else", "[ledger]") {
  StateDiff d;
  for (uint32_t i = 0; i < 5; ++i) {
    d[AccountKey(Key(i).public_key())] = Account{i * 10, i, Role::kMember}.Encode();
  }
  d[RecordKey(Key(0).public_key(), Bytes{'k'})] = Bytes{'v'};
  const crypto::Hash256 root = StateRootOf(d);

  SECTION("it is the tree's root of the entries (docs/PROTOCOL.md §7)") {
    std::vector<TreeEntry> entries;
    for (const auto& [k, v] : d) entries.push_back(TreeEntry{KeyHash(k), ValueHash(*v)});
    CHECK(root == RootOf(entries));
    CHECK(root == StateTree::Root(ProcessStateTree().Update(StateTree::View(), d, 0)));
  }
  SECTION("changing, adding, or removing any entry changes it") {
    for (const auto& [k, v] : d) {
      StateDiff changed = d;
      changed[k]->back() ^= 1;
      CHECK(StateRootOf(changed) != root);
      StateDiff removed = d;
      removed.erase(k);
      CHECK(StateRootOf(removed) != root);
    }
    StateDiff added = d;
    added[RecordKey(Key(1).public_key(), Bytes{'n'})] = Bytes{};
    CHECK(StateRootOf(added) != root);
  }
  SECTION("a deletion is an absent entry; an empty value is present") {
    StateDiff empty_value{{Bytes{1}, Bytes{}}};
    StateDiff deletion{{Bytes{1}, std::nullopt}};
    CHECK(StateRootOf(deletion) == kEmptyTreeHash);
    CHECK(StateRootOf(empty_value) != kEmptyTreeHash);
  }
  SECTION("moving a byte between key and value changes it") {
    StateDiff a{{Bytes{1, 2}, Bytes{3}}};
    StateDiff b{{Bytes{1}, Bytes{2, 3}}};
    CHECK(StateRootOf(a) != StateRootOf(b));
  }
  SECTION("a write of the present value changes nothing") {
    const StateTree::View v = ProcessStateTree().Update(StateTree::View(), d, 0);
    CHECK(StateTree::Root(ProcessStateTree().Update(v, d, 1)) == root);
    CHECK(StateTree::Root(ProcessStateTree().Update(v, {}, 1)) == root);
  }
}
