// The authenticated state tree (ledger/state_tree.h) and its proofs (ledger/state_proof.h):
// roots checked against values computed outside this code (Python's hashlib over section 2's
// definitions), the incremental tree against the naive rebuild over random batches, and every
// proof against its verifier, including one-bit flips. Randomised cases print their seed;
// rerun one with CAIRN_TEST_SEED=<seed> (or vary it with --rng-seed).
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "crypto/hex.h"
#include "ledger/state.h"
#include "ledger/state_proof.h"
#include "ledger/state_tree.h"

using namespace cairn;
using namespace cairn::ledger;
using crypto::Hash256;

namespace {

Hash256 Hex(const char* hex) { return *Hash256::FromHex(hex); }

// A key hash whose first byte is `first` and whose other bytes are zero.
Hash256 K(uint8_t first) {
  Hash256 h;
  h.data()[0] = first;
  return h;
}

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

TreeWrite Put(const Hash256& kh, std::string_view value) { return {kh, ValueHash(AsBytes(value))}; }
TreeWrite PutHash(const Hash256& kh, const Hash256& vh) { return {kh, vh}; }
TreeWrite Del(const Hash256& kh) { return {kh, std::nullopt}; }

Bytes Concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

uint64_t Seed(uint64_t base) {
  if (const char* s = std::getenv("CAIRN_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return base ^ Catch::rngSeed();
}

Hash256 RandomHash(std::mt19937_64& rng) {
  Hash256 h;
  for (size_t i = 0; i < 32; i += 8) {
    const uint64_t x = rng();
    std::memcpy(h.data() + i, &x, 8);
  }
  return h;
}

void FlipBit(Hash256& h, unsigned i) { h.data()[i / 8] ^= static_cast<uint8_t>(0x80 >> (i % 8)); }

// A copy of `base` whose bits from `from` on are random: it shares at least `from` bits.
Hash256 SharingPrefix(const Hash256& base, unsigned from, std::mt19937_64& rng) {
  Hash256 h = RandomHash(rng);
  for (unsigned i = 0; i < from; ++i) {
    if (KeyBit(h, i) != KeyBit(base, i)) FlipBit(h, i);
  }
  return h;
}

// Candidate key hashes: random ones, or clusters sharing long prefixes (down to pairs that
// differ in the last bit only, whose leaves sit at depth 256).
std::vector<Hash256> KeyUniverse(size_t n, bool clustered, std::mt19937_64& rng) {
  std::vector<Hash256> keys;
  std::set<Hash256> seen;
  while (keys.size() < n) {
    Hash256 k = RandomHash(rng);
    if (clustered && !keys.empty() && rng() % 4 != 0) {
      const Hash256& base = keys[rng() % keys.size()];
      const unsigned from = rng() % 3 == 0 ? 255 : static_cast<unsigned>(rng() % 256);
      k = SharingPrefix(base, from, rng);
    }
    if (seen.insert(k).second) keys.push_back(k);
  }
  return keys;
}

Hash256 NaiveRoot(const std::map<Hash256, Hash256>& model) {
  std::vector<TreeEntry> entries;
  for (const auto& [k, v] : model) entries.push_back({k, v});
  return RootOf(entries);
}

}  // namespace

TEST_CASE("the tree's hashes are section 2's definitions", "[ledger][state_tree]") {
  // Expected values: Python hashlib over the byte strings of section 2.
  CHECK(ValueHash(AsBytes("a")) ==
        Hex("7131686b766cf98c3c040b199da8dcf1d0a3132f07af3300fea606ba10029a8a"));
  CHECK(LeafHash(K(0x00), ValueHash(AsBytes("a"))) ==
        Hex("f5c8a6c628b75d7c201ad7ab845b2dabf641fa9ca3df00a30224e9bd57002dbd"));
  Address addr;
  std::memset(addr.data(), 0x11, 32);
  CHECK(AccountKeyHash(addr) ==
        Hex("c2ad0a997751e04066912fa490a9976d6135d221c0df197dfb8c8a7a7e04da0e"));
  CHECK(AccountKeyHash(addr) == KeyHash(AccountKey(addr)));
  CHECK(RecordKeyHash(addr, AsBytes("k")) == KeyHash(RecordKey(addr, AsBytes("k"))));
  CHECK(LeafHash(AccountKeyHash(addr), ValueHash(AsBytes("acct"))) ==
        Hex("09bc6525c7e74c94e9bc3eae20ae42a8c66485ec4b48907233de644df3055b8e"));
  CHECK(kEmptyTreeHash.IsZero());
  CHECK(StateTree::Root(StateTree::View()) == kEmptyTreeHash);
  CHECK(RootOf({}) == kEmptyTreeHash);
}

TEST_CASE("one-, two- and three-key trees have the roots computed by hand",
          "[ledger][state_tree]") {
  // k1 = 00.., k2 = 40.. (bits 01), k3 = 80.. (bit 1), k4 = 20.. (bits 001, shares 2 with k1).
  const Hash256 k1 = K(0x00), k2 = K(0x40), k3 = K(0x80), k4 = K(0x20);
  const Hash256 one = Hex("f5c8a6c628b75d7c201ad7ab845b2dabf641fa9ca3df00a30224e9bd57002dbd");
  const Hash256 two = Hex("aafff9a62b5660a30f0d554d3c783b362a91891e98528e9c2675e16fc5df05a9");
  const Hash256 three = Hex("c9b975977ea3d4c518563cb8bae85c58cc3ce0dd48e973f5c76da2986717dd27");
  const Hash256 prefix = Hex("d8c0bdb684fca7be26ff6d6f766cbf1c9badc7978d781e9b64dd7f41452fad1d");
  StateTree tree;

  const StateTree::View v1 = tree.UpdateHashed({}, {Put(k1, "a")}, 1);
  CHECK(StateTree::Root(v1) == one);
  CHECK(RootOf({{k1, ValueHash(AsBytes("a"))}}) == one);
  const StateTree::View v2 = tree.UpdateHashed(v1, {Put(k3, "c")}, 2);
  CHECK(StateTree::Root(v2) == two);
  const StateTree::View v3 = tree.UpdateHashed(v2, {Put(k2, "b")}, 3);
  CHECK(StateTree::Root(v3) == three);
  CHECK(StateTree::Root(tree.UpdateHashed({}, {Put(k3, "c"), Put(k2, "b"), Put(k1, "a")}, 1)) ==
        three);
  const StateTree::View p = tree.UpdateHashed({}, {Put(k1, "a"), Put(k4, "d")}, 1);
  CHECK(StateTree::Root(p) == prefix);

  SECTION("deletes make leaves rise to where they are alone") {
    CHECK(StateTree::Root(tree.UpdateHashed(v3, {Del(k2)}, 4)) == two);
    CHECK(StateTree::Root(tree.UpdateHashed(p, {Del(k4)}, 4)) == one);
    CHECK(StateTree::Root(tree.UpdateHashed(v3, {Del(k2), Del(k3)}, 4)) == one);
    CHECK(tree.UpdateHashed(v3, {Del(k1), Del(k2), Del(k3)}, 4).empty());
  }
  SECTION("a write of the present value, or a delete of an absent key, changes nothing") {
    const size_t live = tree.LiveNodes();
    const StateTree::View same = tree.UpdateHashed(v3, {Put(k2, "b"), Del(k4), Put(k1, "a")}, 4);
    CHECK(StateTree::Root(same) == three);
    CHECK(tree.LiveNodes() == live);  // not one node copied
    CHECK(StateTree::Root(tree.UpdateHashed(v3, {Put(k2, "B"), Put(k2, "b")}, 4)) == three);
  }
  SECTION("old views keep their roots") {
    const StateTree::View changed = tree.UpdateHashed(v3, {Put(k1, "z"), Del(k3)}, 4);
    CHECK(StateTree::Root(changed) != three);
    CHECK(StateTree::Root(v1) == one);
    CHECK(StateTree::Root(v2) == two);
    CHECK(StateTree::Root(v3) == three);
    CHECK(tree.Get(v3, k3) == ValueHash(AsBytes("c")));
    CHECK(tree.Get(changed, k3) == std::nullopt);
    CHECK(tree.Get(changed, k1) == ValueHash(AsBytes("z")));
  }
}

TEST_CASE("proofs of hand-built trees are the bytes section 5 gives", "[ledger][state_tree]") {
  const Hash256 k1 = K(0x00), k2 = K(0x40), k3 = K(0x80), k4 = K(0x20);
  const Hash256 va = ValueHash(AsBytes("a")), vc = ValueHash(AsBytes("c"));
  const Hash256 l1 = LeafHash(k1, va), l3 = LeafHash(k3, vc);
  const Hash256 l4 = LeafHash(k4, ValueHash(AsBytes("d")));
  StateTree tree;

  SECTION("the empty tree: kind 2 at depth 0, four bytes") {
    const Bytes proof = tree.ProveKeyHash({}, k1);
    CHECK(proof == Bytes{1, 2, 0, 0});
    CHECK(VerifyStateProofForKeyHash(kEmptyTreeHash, k1, nullptr, proof).ok());
    CHECK(!VerifyStateProofForKeyHash(kEmptyTreeHash, k1, &va, proof).ok());
  }
  SECTION("one key: the root is its leaf; another key is absent by it (kind 3, depth 0)") {
    const StateTree::View v = tree.UpdateHashed({}, {Put(k1, "a")}, 1);
    CHECK(tree.ProveKeyHash(v, k1) == Bytes{1, 1, 0, 0});
    CHECK(tree.ProveKeyHash(v, k3) == Concat({Bytes{1, 3, 0, 0}, k1.view(), va.view()}));
    CHECK(VerifyStateProofForKeyHash(l1, k1, &va, tree.ProveKeyHash(v, k1)).ok());
    CHECK(VerifyStateProofForKeyHash(l1, k3, nullptr, tree.ProveKeyHash(v, k3)).ok());
  }
  SECTION("two keys: each leaf at depth 1 with the other as its sibling") {
    const StateTree::View v = tree.UpdateHashed({}, {Put(k1, "a"), Put(k3, "c")}, 1);
    const Bytes proof = tree.ProveKeyHash(v, k1);
    CHECK(proof == Concat({Bytes{1, 1, 1, 0, 0x80}, l3.view()}));
    CHECK(VerifyStateProofForKeyHash(StateTree::Root(v), k1, &va, proof).ok());
    // k2 (bits 01) ends on k1's leaf, which shares its first bit.
    CHECK(tree.ProveKeyHash(v, k2) ==
          Concat({Bytes{1, 3, 1, 0, 0x80}, k1.view(), va.view(), l3.view()}));
  }
  SECTION("a shared prefix: Empty siblings are left out of the bitmap") {
    // Root = Node(Node(Node(l1, l4), Empty), Empty).
    const StateTree::View v = tree.UpdateHashed({}, {Put(k1, "a"), Put(k4, "d")}, 1);
    const Hash256 n2 = NodeHash(l1, l4), n1 = NodeHash(n2, kEmptyTreeHash);
    CHECK(StateTree::Root(v) == NodeHash(n1, kEmptyTreeHash));
    CHECK(tree.ProveKeyHash(v, k3) == Concat({Bytes{1, 2, 1, 0, 0x80}, n1.view()}));
    CHECK(tree.ProveKeyHash(v, k2) == Concat({Bytes{1, 2, 2, 0, 0x40}, n2.view()}));
    CHECK(tree.ProveKeyHash(v, k1) == Concat({Bytes{1, 1, 3, 0, 0x20}, l4.view()}));
    for (const Hash256& k : {k2, k3}) {
      CHECK(
          VerifyStateProofForKeyHash(StateTree::Root(v), k, nullptr, tree.ProveKeyHash(v, k)).ok());
    }
  }
}

TEST_CASE("decoding refuses every non-canonical proof, naming the field and offset",
          "[ledger][state_tree]") {
  const Hash256 s = K(0x55);
  auto message = [](const Bytes& b) { return StateProof::Decode(b).status().message(); };
  CHECK(message({2, 2, 0, 0}) == "proof: version: 2 is not 1 at offset 0");
  CHECK(message({1, 4, 0, 0}) == "proof: kind: 4 is not 1, 2 or 3 at offset 1");
  CHECK(message({1, 2, 0x01, 0x01}) == "proof: depth: 257 exceeds 256 at offset 2");
  CHECK(message(Concat({Bytes{1, 2, 1, 0, 0xc0}, s.view()})) ==
        "proof: bitmap: bits past depth are set at offset 4");
  CHECK(message(Concat({Bytes{1, 2, 9, 0, 0x80, 0x00}, s.view()})) ==
        "proof: bitmap: the sibling at level 9 is unset at offset 5");
  CHECK(message(Concat({Bytes{1, 2, 1, 0, 0x80}, kEmptyTreeHash.view()})) ==
        "proof: sibling: an Empty sibling is listed (its bitmap bit must be unset) at offset 5");
  CHECK(message(Concat({Bytes{1, 2, 1, 0, 0x80}, s.view(), Bytes{0}})) ==
        "proof: end: 1 trailing bytes at offset 37");
  CHECK(message(Bytes{1, 2, 1, 0, 0x80}) ==
        "proof: sibling: truncated: 1 siblings need 32 bytes, 0 left at offset 5");
  CHECK(message(Bytes{1, 3, 0, 0}) ==
        "proof: other_key_hash: truncated: needs 32 bytes, 0 left at offset 4");
  CHECK(message(Bytes(StateProof::kMaxEncodedSize + 1, 0)) ==
        "proof: 8293 bytes exceed the maximum 8292");
  CHECK(StateProof::Decode(Bytes{1, 2, 1}).status().code() == StatusCode::kInvalidArgument);
  // The largest proof: depth 256, every sibling set.
  Bytes full = {1, 1, 0, 1};
  full.resize(4 + 32, 0xff);
  for (int i = 0; i < 256; ++i) full.insert(full.end(), s.view().begin(), s.view().end());
  REQUIRE(StateProof::Decode(full).ok());
  CHECK(StateProof::Decode(full)->Encode() == full);
}

TEST_CASE("verification says why a proof fails", "[ledger][state_tree]") {
  const Hash256 k1 = K(0x00), k2 = K(0x40), k3 = K(0x80);
  const Hash256 va = ValueHash(AsBytes("a"));
  StateTree tree;
  const StateTree::View v = tree.UpdateHashed({}, {Put(k1, "a"), Put(k3, "c")}, 1);
  const Hash256 root = StateTree::Root(v);
  auto verify = [&](const Hash256& k, const Hash256* vh, const Bytes& proof) {
    return VerifyStateProofForKeyHash(root, k, vh, proof).message();
  };
  CHECK(verify(k1, nullptr, tree.ProveKeyHash(v, k1)) ==
        "proof: proves presence (kind 1) but the claim is absence");
  CHECK(verify(k2, &va, tree.ProveKeyHash(v, k2)) ==
        "proof: proves absence (kind 3) but the claim is presence");
  // A kind 3 proof naming k1's own leaf, to claim k1 absent: the hashes alone would pass.
  Bytes own = Concat({Bytes{1, 3, 1, 0, 0x80}, k1.view(), va.view(),
                      LeafHash(k3, ValueHash(AsBytes("c"))).view()});
  CHECK(verify(k1, nullptr, own) == "proof: kind 3 names the key's own leaf");
  // k3's leaf offered as the leaf on k2's path: it differs in bit 0.
  Bytes off = Concat({Bytes{1, 3, 1, 0, 0x80}, k3.view(), ValueHash(AsBytes("c")).view(),
                      LeafHash(k1, va).view()});
  CHECK(verify(k2, nullptr, off) ==
        "proof: the other leaf is off the key's path: bit 0 differs within depth 1");
  const Hash256 vz = ValueHash(AsBytes("z"));
  CHECK(verify(k1, &vz, tree.ProveKeyHash(v, k1)).rfind("proof: root mismatch: ", 0) == 0);
  CHECK(VerifyStateProofForKeyHash(root, k1, &vz, tree.ProveKeyHash(v, k1)).code() ==
        StatusCode::kRejected);
}

TEST_CASE("random batches give the naive rebuild's root, and old views keep theirs",
          "[ledger][state_tree]") {
  const uint64_t seed = Seed(0x73746174657472ull);
  CAPTURE(seed);
  std::printf("state_tree_test: random batches, seed %llu\n",
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  struct Shape {
    size_t keys;
    bool clustered;
    size_t parallel_min_writes;
  };
  const Shape shapes[] = {{1, false, 512},      {2, true, 512},   {8, true, 2},
                          {64, true, SIZE_MAX}, {300, false, 2},  {300, true, 512},
                          {5000, false, 512},   {5000, true, 512}};
  for (const Shape& shape : shapes) {
    CAPTURE(shape.keys, shape.clustered, shape.parallel_min_writes);
    const std::vector<Hash256> universe = KeyUniverse(shape.keys, shape.clustered, rng);
    StateTree tree(StateTreeOptions{shape.parallel_min_writes});
    std::map<Hash256, Hash256> model;
    std::vector<std::pair<StateTree::View, Hash256>> history;
    StateTree::View head;
    const int batches = shape.keys >= 5000 ? 12 : 30;
    for (int b = 0; b < batches; ++b) {
      CAPTURE(b);
      const size_t n = 1 + rng() % std::min<size_t>(2 * shape.keys, 3000);
      std::vector<TreeWrite> writes;
      for (size_t i = 0; i < n; ++i) {
        const Hash256& k = universe[rng() % universe.size()];
        const auto present = model.find(k);
        switch (rng() % 5) {
          case 0:  // delete (of a present or an absent key)
            writes.push_back(Del(k));
            model.erase(k);
            break;
          case 1:  // the present value again, or a delete of an absent key
            writes.push_back(present == model.end() ? Del(k) : PutHash(k, present->second));
            break;
          default: {  // insert or update
            const Hash256 v = RandomHash(rng);
            writes.push_back(PutHash(k, v));
            model[k] = v;
          }
        }
      }
      head = tree.UpdateHashed(head, writes, static_cast<uint64_t>(b + 1));
      REQUIRE(StateTree::Root(head) == NaiveRoot(model));
      history.emplace_back(head, StateTree::Root(head));
      // Reads and proofs after deletes and risen leaves, present and absent keys alike.
      for (int i = 0; i < 20; ++i) {
        const Hash256& k = universe[rng() % universe.size()];
        const auto it = model.find(k);
        CHECK(tree.Get(head, k) ==
              (it == model.end() ? std::nullopt : std::optional<Hash256>(it->second)));
        const Bytes proof = tree.ProveKeyHash(head, k);
        const Hash256* claim = it == model.end() ? nullptr : &it->second;
        CHECK(VerifyStateProofForKeyHash(StateTree::Root(head), k, claim, proof).ok());
        CHECK(StateProof::Decode(proof)->Encode() == proof);
      }
    }
    for (const auto& [view, root] : history) CHECK(StateTree::Root(view) == root);
    // Drop the views in a random order; the rest keep their roots.
    std::shuffle(history.begin(), history.end(), rng);
    while (!history.empty()) {
      history.pop_back();
      for (size_t i = 0; i < history.size(); i += 5) {
        CHECK(StateTree::Root(history[i].first) == history[i].second);
      }
    }
    head = StateTree::View();
    CHECK(tree.LiveNodes() == 0);
  }
}

TEST_CASE("state keys and values: Update over a StateDiff matches the naive root",
          "[ledger][state_tree]") {
  StateTree tree;
  StateDiff diff;
  std::vector<TreeEntry> entries;
  for (uint8_t i = 0; i < 50; ++i) {
    Address a;
    std::memset(a.data(), i, 32);
    const Bytes acct = B("account " + std::to_string(i));
    const Bytes rec = B("record " + std::to_string(i));
    diff[AccountKey(a)] = acct;
    diff[RecordKey(a, AsBytes("k"))] = rec;
    entries.push_back({AccountKeyHash(a), ValueHash(acct)});
    entries.push_back({RecordKeyHash(a, AsBytes("k")), ValueHash(rec)});
  }
  TreeUpdateStats stats;
  const StateTree::View v = tree.Update({}, diff, 0, &stats);
  CHECK(StateTree::Root(v) == RootOf(entries));
  CHECK(stats.leaf_hashes == 100);
  // 99 nodes join 100 leaves; shared prefixes add nodes with one Empty child.
  CHECK(stats.node_hashes >= 99);
  for (const auto& [key, value] : diff) {
    CHECK(VerifyStateProof(StateTree::Root(v), key, StateClaim::Present(*value), tree.Prove(v, key))
              .ok());
  }
}

TEST_CASE("every key proves present or absent, and flips of proof, value or root fail",
          "[ledger][state_tree]") {
  const uint64_t seed = Seed(0x70726f6f6673ull);
  CAPTURE(seed);
  std::printf("state_tree_test: proofs, seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  // Real state keys for the flips of values, plus clustered key hashes for deep paths.
  StateTree tree;
  StateDiff diff;
  for (uint32_t i = 0; i < 200; ++i) {
    Address a = *Address::FromBytes(RandomHash(rng).view());
    diff[AccountKey(a)] = B("acct" + std::to_string(rng()));
    if (i % 4 == 0) diff[RecordKey(a, AsBytes("r"))] = B(std::string(1 + rng() % 40, 'x'));
  }
  StateTree::View v = tree.Update({}, diff, 1);
  std::vector<TreeWrite> clustered;
  std::vector<Hash256> clustered_keys = KeyUniverse(300, /*clustered=*/true, rng);
  std::map<Hash256, Hash256> values;
  for (const Hash256& k : clustered_keys) {
    values[k] = RandomHash(rng);
    clustered.push_back(PutHash(k, values[k]));
  }
  v = tree.UpdateHashed(v, clustered, 2);
  const Hash256 root = StateTree::Root(v);

  SECTION("present keys by state key, with flips") {
    int flipped = 0;
    for (const auto& [key, value] : diff) {
      const Bytes proof = tree.Prove(v, key);
      REQUIRE(VerifyStateProof(root, key, StateClaim::Present(*value), proof).ok());
      CHECK(!VerifyStateProof(root, key, StateClaim::Absent(), proof).ok());
      CHECK(StateProof::Decode(proof)->Encode() == proof);
      if (flipped++ >= 8) continue;  // flips cost ~proof bits x path hashes; 8 keys suffice
      for (size_t bit = 0; bit < proof.size() * 8; ++bit) {
        Bytes bad = proof;
        bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        CHECK(!VerifyStateProof(root, key, StateClaim::Present(*value), bad).ok());
      }
      for (size_t bit = 0; bit < value->size() * 8; ++bit) {
        Bytes bad = *value;
        bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        CHECK(!VerifyStateProof(root, key, StateClaim::Present(bad), proof).ok());
      }
      for (unsigned bit = 0; bit < 256; ++bit) {
        Hash256 bad = root;
        FlipBit(bad, bit);
        CHECK(!VerifyStateProof(bad, key, StateClaim::Present(*value), proof).ok());
      }
    }
  }
  SECTION("present and absent key hashes, deep paths, with flips of absence proofs") {
    std::vector<Hash256> absent;
    for (const Hash256& k : clustered_keys) {
      Hash256 near = k;
      FlipBit(near, 255);  // the neighbour at depth 256, or a key ending on k's leaf
      if (!values.count(near)) absent.push_back(near);
      absent.push_back(SharingPrefix(k, static_cast<unsigned>(rng() % 256), rng));
    }
    for (int i = 0; i < 100; ++i) absent.push_back(RandomHash(rng));
    unsigned max_depth = 0;
    for (const Hash256& k : clustered_keys) {
      const Bytes proof = tree.ProveKeyHash(v, k);
      const Hash256& vh = values[k];
      REQUIRE(VerifyStateProofForKeyHash(root, k, &vh, proof).ok());
      CHECK(!VerifyStateProofForKeyHash(root, k, nullptr, proof).ok());
      Result<StateProof> p = StateProof::Decode(proof);
      REQUIRE(p.ok());
      CHECK(p->Encode() == proof);
      max_depth = std::max<unsigned>(max_depth, p->depth);
      // The same leaf as a kind 3 proof of its own key's absence is refused.
      StateProof own = *p;
      own.kind = StateProofKind::kAbsentOtherLeaf;
      own.other_key_hash = k;
      own.other_value_hash = vh;
      CHECK(VerifyStateProofForKeyHash(root, k, nullptr, own.Encode()).message() ==
            "proof: kind 3 names the key's own leaf");
    }
    CHECK(max_depth >= 200);  // the clusters did force long shared prefixes
    int kinds[4] = {0, 0, 0, 0};
    int flipped = 0;
    for (const Hash256& k : absent) {
      if (values.count(k)) continue;
      const Bytes proof = tree.ProveKeyHash(v, k);
      REQUIRE(VerifyStateProofForKeyHash(root, k, nullptr, proof).ok());
      const Hash256 some = RandomHash(rng);
      CHECK(!VerifyStateProofForKeyHash(root, k, &some, proof).ok());
      Result<StateProof> p = StateProof::Decode(proof);
      REQUIRE(p.ok());
      CHECK(p->Encode() == proof);
      CHECK(p->kind != StateProofKind::kPresent);
      ++kinds[static_cast<int>(p->kind)];
      if (flipped++ >= 12) continue;
      for (size_t bit = 0; bit < proof.size() * 8; ++bit) {
        Bytes bad = proof;
        bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        CHECK(!VerifyStateProofForKeyHash(root, k, nullptr, bad).ok());
      }
    }
    CHECK(kinds[2] > 0);
    CHECK(kinds[3] > 0);
  }
}

TEST_CASE("views built and dropped on several threads, and no node outlives its views",
          "[ledger][state_tree]") {
  const uint64_t seed = Seed(0x7468726561647aull);
  CAPTURE(seed);
  std::printf("state_tree_test: threads, seed %llu\n", static_cast<unsigned long long>(seed));
  StateTree tree(StateTreeOptions{64});
  std::mt19937_64 rng(seed);
  const std::vector<Hash256> keys = KeyUniverse(2000, /*clustered=*/true, rng);
  std::map<Hash256, Hash256> base_model;
  std::vector<TreeWrite> genesis;
  for (const Hash256& k : keys) {
    base_model[k] = RandomHash(rng);
    genesis.push_back(PutHash(k, base_model[k]));
  }
  StateTree::View base = tree.UpdateHashed({}, genesis, 0);
  // Each thread builds candidate blocks on the shared base (as BFT validates several
  // candidates of one height), keeps some, drops the rest, and checks the roots.
  std::vector<std::vector<std::pair<StateTree::View, Hash256>>> kept(2);
  std::vector<int> failures(2, 0);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 r(seed + static_cast<uint64_t>(t) + 1);
        for (int round = 0; round < 20; ++round) {
          std::map<Hash256, Hash256> model = base_model;
          std::vector<TreeWrite> writes;
          for (int i = 0; i < 200; ++i) {
            const Hash256& k = keys[r() % keys.size()];
            if (r() % 3 == 0) {
              writes.push_back(Del(k));
              model.erase(k);
            } else {
              const Hash256 v = RandomHash(r);
              writes.push_back(PutHash(k, v));
              model[k] = v;
            }
          }
          StateTree::View v = tree.UpdateHashed(base, writes, 1);
          const Hash256 expected = NaiveRoot(model);
          if (StateTree::Root(v) != expected) ++failures[t];
          if (round % 2 == 0) kept[t].emplace_back(std::move(v), expected);
        }
      });
    }
  }
  CHECK(failures == std::vector<int>{0, 0});
  for (const auto& per_thread : kept) {
    for (const auto& [view, root] : per_thread) CHECK(StateTree::Root(view) == root);
  }
  // Views may be dropped on another thread than the one that built them.
  std::jthread([&] { kept.clear(); }).join();
  CHECK(StateTree::Root(base) == NaiveRoot(base_model));
  CHECK(tree.LiveNodes() > 0);
  StateTree::View copy = base;
  StateTree::View moved = std::move(copy);
  base = StateTree::View();
  CHECK(StateTree::Root(moved) == NaiveRoot(base_model));
  moved = StateTree::View();
  CHECK(tree.LiveNodes() == 0);
}

namespace {

using Store = std::map<TreeNodeKey, TreeRecord>;

// Every record key reachable from the root record of `version`.
void Reach(const Store& store, const TreeNodeKey& key, std::set<TreeNodeKey>* out) {
  out->insert(key);
  const auto it = store.find(key);
  if (it == store.end() || it->second.kind != TreeRecord::Kind::kPage) return;
  for (unsigned i = 0; i < 16; ++i) {
    if ((it->second.exists & (1u << i)) == 0) continue;
    TreeNodeKey child{it->second.version[i], key.nibbles};
    child.nibbles.push_back(static_cast<uint8_t>(i));
    Reach(store, child, out);
  }
}

}  // namespace

TEST_CASE("emitted pages load back to every retained root, and GC keeps exactly those",
          "[ledger][state_tree]") {
  const uint64_t seed = Seed(0x7061676573ull);
  CAPTURE(seed);
  std::printf("state_tree_test: pages, seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  constexpr uint64_t kWindow = 4;  // storage.state_history_blocks
  for (const auto& [keys, clustered] :
       {std::pair<size_t, bool>{1, false}, {3, true}, {64, true}, {400, true}, {2000, false}}) {
    CAPTURE(keys, clustered);
    const std::vector<Hash256> universe = KeyUniverse(keys, clustered, rng);
    StateTree tree;
    Store store;
    std::map<uint64_t, std::vector<TreeNodeKey>> stale;  // by the version that made it stale
    std::map<uint64_t, Hash256> roots;
    std::map<Hash256, Hash256> model;
    const TreeRecordReader read = [&](const TreeNodeKey& k) -> const TreeRecord* {
      const auto it = store.find(k);
      return it == store.end() ? nullptr : &it->second;
    };
    StateTree::View head;
    TreeBatch batch;         // reused, as a store would
    uint64_t collected = 0;  // every stale list <= this has been applied
    for (uint64_t v = 0; v <= 40; ++v) {
      CAPTURE(v);
      std::vector<TreeWrite> writes;
      const size_t n = 1 + rng() % std::min<size_t>(2 * keys, 600);
      for (size_t i = 0; i < n; ++i) {
        const Hash256& k = universe[rng() % universe.size()];
        if (rng() % 4 == 0) {
          writes.push_back(Del(k));
          model.erase(k);
        } else {
          const Hash256 val = RandomHash(rng);
          writes.push_back(PutHash(k, val));
          model[k] = val;
        }
      }
      StateTree::View next = tree.UpdateHashed(head, writes, v);
      REQUIRE(StateTree::Root(next) == NaiveRoot(model));
      tree.Emit(head, v == 0 ? std::nullopt : std::optional<uint64_t>(v - 1), next, v, &batch);
      for (const TreeNodeKey& k : batch.stale) CHECK(store.count(k) == 1);
      for (const auto& [k, r] : batch.records) CHECK(store.emplace(k, r).second);
      stale[v] = batch.stale;
      head = std::move(next);
      roots[v] = StateTree::Root(head);
      // GC (section 3): a list made stale by block s may go once s <= head - W.
      while (collected + kWindow < v) {
        ++collected;
        for (const TreeNodeKey& k : stale[collected]) store.erase(k);
      }
      const uint64_t oldest = v >= kWindow ? v - kWindow : 0;
      std::set<TreeNodeKey> reachable;
      for (uint64_t h = oldest; h <= v; ++h) {
        Result<StateTree::View> loaded = tree.Load(read, h);
        REQUIRE(loaded.ok());
        CHECK(StateTree::Root(*loaded) == roots[h]);
        Reach(store, TreeNodeKey{h, {}}, &reachable);
      }
      // Nothing leaks: every stored record is reachable from a retained root. (Versions
      // below the window that GC has not reached yet still hold their root records.)
      std::set<TreeNodeKey> stored;
      for (const auto& [k, r] : store) {
        if (k.version >= oldest || !k.nibbles.empty()) stored.insert(k);
      }
      std::set<TreeNodeKey> retained_roots_too = reachable;
      CHECK(stored == retained_roots_too);
    }
    // A loaded view is a view like any other: it updates to the same root.
    Result<StateTree::View> loaded = tree.Load(read, 40);
    REQUIRE(loaded.ok());
    const std::vector<TreeWrite> last = {PutHash(universe[0], RandomHash(rng)),
                                         Del(universe[universe.size() / 2])};
    CHECK(StateTree::Root(tree.UpdateHashed(*loaded, last, 41)) ==
          StateTree::Root(tree.UpdateHashed(head, last, 41)));
    // Damage is reported, and a failed load keeps no node.
    if (!model.empty()) {
      const size_t live = tree.LiveNodes();
      for (auto& [k, r] : store) {
        if (r.kind != TreeRecord::Kind::kPage || k.version != 40) continue;
        const unsigned slot = static_cast<unsigned>(std::countr_zero(r.exists));
        FlipBit(r.hash[slot], 3);
        Result<StateTree::View> bad = tree.Load(read, 40);
        CHECK(bad.code() == StatusCode::kCorruption);
        FlipBit(r.hash[slot], 3);
        break;
      }
      for (auto& [k, r] : store) {
        // A leaf of a retained version, so loading that version reaches it.
        if (r.kind != TreeRecord::Kind::kLeaf || k.nibbles.empty() || k.version < 36) continue;
        const Hash256 saved = r.key_hash;
        r.key_hash.data()[0] ^= 0xf0;  // first nibble changed: off the record's path
        CHECK(tree.Load(read, k.version).error() == "state tree: the leaf at version " +
                                                        std::to_string(k.version) +
                                                        " is off its key's path");
        r.key_hash = saved;
        break;
      }
      store.erase(TreeNodeKey{40, {}});
      CHECK(tree.Load(read, 40).code() == StatusCode::kNotFound);
      CHECK(tree.LiveNodes() == live);
    }
    loaded = Status::NotFound("dropped");
    head = StateTree::View();
    CHECK(tree.LiveNodes() == 0);
  }
}
