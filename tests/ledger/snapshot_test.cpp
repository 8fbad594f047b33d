// ledger/snapshot.h: snapshots of random states build, verify chunk by chunk and against the
// root; any flipped byte, a moved chunk and malformed manifests are refused; the subtree and
// fold rules agree with RootOf on chosen key hashes (long shared prefixes, risen leaves);
// KvStore::Pin hides later writes. Randomised cases print their seed; rerun one with
// CAIRN_TEST_SEED=<seed>.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "ledger/account.h"
#include "ledger/kv.h"
#include "ledger/snapshot.h"
#include "ledger/state.h"
#include "ledger/state_proof.h"
#include "ledger/state_tree.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::ledger;
using crypto::Hash256;

namespace {

uint64_t Seed(uint64_t base) {
  if (const char* s = std::getenv("CAIRN_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return base ^ Catch::rngSeed();
}

Bytes RandomBytes(std::mt19937_64& rng, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

Bytes StateKv(ByteView state_key) {
  Bytes k(1 + state_key.size());
  k[0] = 'S';
  std::memcpy(k.data() + 1, state_key.data(), state_key.size());
  return k;
}

// A random state of `n` entries (accounts and records) written into `kv` under 'S', with
// some non-state keys around it that the snapshot must ignore. Returns the entries.
std::map<Bytes, Bytes> RandomState(std::mt19937_64& rng, size_t n, MemoryKv& kv) {
  std::map<Bytes, Bytes> state;
  WriteBatch b;
  while (state.size() < n) {
    Bytes key;
    Bytes value;
    if (rng() % 3 != 0) {
      key = AccountKey(*Address::FromBytes(RandomBytes(rng, 32)));
      value = Account{rng(), rng() % 1000, Role::kMember}.Encode();
    } else {
      Bytes rk = RandomBytes(rng, 1 + rng() % kMaxRecordKey);
      key = RecordKey(*Address::FromBytes(RandomBytes(rng, 32)), rk);
      value = RandomBytes(rng, rng() % 200);
    }
    b.Put(StateKv(key), value);
    state.emplace(std::move(key), std::move(value));
  }
  b.Put(Bytes{'M', 'x'}, Bytes{1});
  b.Put(Bytes{'U', 0, 0, 0, 0, 0, 0, 0, 1}, Bytes{2, 3});
  REQUIRE(kv.Write(b, /*sync=*/true).ok());
  return state;
}

Hash256 RootOfState(const std::map<Bytes, Bytes>& state) {
  std::vector<TreeEntry> entries;
  for (const auto& [k, v] : state) entries.push_back(TreeEntry{KeyHash(k), ValueHash(v)});
  return RootOf(std::move(entries));
}

struct Built {
  Manifest manifest;
  Bytes manifest_bytes;
  std::map<uint32_t, Bytes> chunks;
};

Built Build(const KvReader& kv, uint64_t height, const Hash256& root,
            const SnapshotBuildOptions& opts = {}) {
  Built out;
  uint32_t last = 0;
  bool first = true;
  Status s = BuildSnapshot(
      kv, height, root,
      [&](uint32_t index, Bytes chunk) {
        // Chunks arrive in index order, each once.
        CHECK((first || index > last));
        first = false;
        last = index;
        CHECK(chunk.size() <= kMaxChunkBytes);
        out.chunks.emplace(index, std::move(chunk));
        return Status::Ok();
      },
      &out.manifest_bytes, opts);
  INFO(s.message());
  REQUIRE(s.ok());
  auto m = Manifest::Decode(out.manifest_bytes);
  INFO(m.status().message());
  REQUIRE(m.ok());
  out.manifest = std::move(m.value());
  REQUIRE(out.manifest.Encode() == out.manifest_bytes);
  return out;
}

}  // namespace

TEST_CASE("snapshots of random states verify chunk by chunk and against the root",
          "[ledger][snapshot]") {
  const uint64_t seed = Seed(0x736e617073686f74ull);
  CAPTURE(seed);
  std::printf("snapshot_test: random states, seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  struct Shape {
    size_t entries;
    size_t target;      // target_chunk_bytes
    size_t max_memory;  // max_memory_bytes
  };
  const Shape shapes[] = {{0, kTargetChunkBytes, 64u << 20},
                          {1, kTargetChunkBytes, 64u << 20},
                          {2, kTargetChunkBytes, 64u << 20},
                          {1000, kTargetChunkBytes, 64u << 20},
                          {1000, 4096, 20000},
                          {1000, 300, 1},
                          {50000, kTargetChunkBytes, 64u << 20},
                          {50000, 200'000, 1u << 20}};
  for (const Shape& shape : shapes) {
    CAPTURE(shape.entries, shape.target, shape.max_memory);
    MemoryKv kv;
    const auto state = RandomState(rng, shape.entries, kv);
    const Hash256 root = RootOfState(state);
    SnapshotBuildOptions opts;
    opts.target_chunk_bytes = shape.target;
    opts.max_memory_bytes = shape.max_memory;
    const uint64_t height = 7 + shape.entries;
    Built b = Build(kv, height, root, opts);
    const Manifest& m = b.manifest;
    CHECK(m.height == height);
    CHECK(m.entries == state.size());
    REQUIRE(VerifyManifest(m, height, root).ok());
    CHECK(FoldSlots(m.slots, m.bits) == root);
    // The smallest bits whose chunks all fit the target (or 16).
    for (const SnapshotSlot& s : m.slots) {
      if (m.bits < 16) CHECK(s.size <= shape.target);
    }
    if (shape.entries <= 2) CHECK(m.bits == 0);
    if (shape.entries == 50000 && shape.target == kTargetChunkBytes) CHECK(m.bits == 4);
    if (shape.target == 300) CHECK(m.bits == 16);

    // Every non-empty slot has its chunk, which verifies and gives back exactly the state.
    std::map<Bytes, Bytes> rebuilt;
    size_t non_empty = 0;
    for (uint32_t i = 0; i < m.slots.size(); ++i) {
      if (m.slots[i].count == 0) {
        CHECK(b.chunks.count(i) == 0);
        continue;
      }
      ++non_empty;
      REQUIRE(b.chunks.count(i) == 1);
      auto entries = VerifyChunk(m, i, b.chunks.at(i));
      INFO(entries.status().message());
      REQUIRE(entries.ok());
      for (auto& e : *entries) rebuilt.emplace(e.key, e.value);
    }
    CHECK(non_empty == b.chunks.size());
    CHECK(rebuilt == state);

    // A chunk served under another index fails.
    if (b.chunks.size() >= 2) {
      auto it = b.chunks.begin();
      const uint32_t i = it->first;
      const uint32_t j = std::next(it)->first;
      auto moved = VerifyChunk(m, j, it->second);
      REQUIRE_FALSE(moved.ok());
      CHECK(moved.error().find("chunk " + std::to_string(j) + ": ") == 0);
      CHECK_FALSE(VerifyChunk(m, i, std::next(it)->second).ok());
    }
    // Against another root or height, the manifest fails.
    Hash256 other = root;
    other.data()[5] ^= 1;
    CHECK_FALSE(VerifyManifest(m, height, other).ok());
    CHECK_FALSE(VerifyManifest(m, height + 1, root).ok());
  }
}

TEST_CASE("a flipped byte anywhere in a chunk or a manifest is refused", "[ledger][snapshot]") {
  const uint64_t seed = Seed(0x666c6970ull);
  CAPTURE(seed);
  std::printf("snapshot_test: flips, seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  MemoryKv kv;
  const auto state = RandomState(rng, 40, kv);
  const Hash256 root = RootOfState(state);
  SnapshotBuildOptions opts;
  opts.target_chunk_bytes = 1500;  // several chunks, a manifest of bits 4
  Built b = Build(kv, 9, root, opts);
  REQUIRE(b.manifest.bits == 4);

  for (const auto& [index, chunk] : b.chunks) {
    for (size_t i = 0; i < chunk.size(); ++i) {
      Bytes bad = chunk;
      bad[i] ^= static_cast<uint8_t>(1 + rng() % 255);
      auto got = VerifyChunk(b.manifest, index, bad);
      CAPTURE(index, i);
      REQUIRE_FALSE(got.ok());
      CHECK(got.error().rfind("chunk " + std::to_string(index) + ": ", 0) == 0);
    }
    // Cut or extended: the size is checked before anything is decoded.
    Bytes longer = chunk;
    longer.push_back(0);
    auto got = VerifyChunk(b.manifest, index, longer);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().find("size") != std::string::npos);
    CHECK_FALSE(VerifyChunk(b.manifest, index, ByteView(chunk).first(chunk.size() - 1)).ok());
  }
  for (size_t i = 0; i < b.manifest_bytes.size(); ++i) {
    Bytes bad = b.manifest_bytes;
    bad[i] ^= static_cast<uint8_t>(1 + rng() % 255);
    auto m = Manifest::Decode(bad);
    CAPTURE(i);
    if (m.ok()) {
      Status s = VerifyManifest(*m, 9, root);
      if (s.ok()) {
        // Only a slot's chunk_hash is not committed to by the root (it is a hash of the
        // chunk, which the root covers through the subtree): such a manifest passes, and then
        // the honest chunk of that slot fails its first check instead.
        const size_t in = i - kManifestHeaderBytes;
        REQUIRE(i >= kManifestHeaderBytes);
        REQUIRE(in % kSlotBytes >= 40);
        const uint32_t slot = static_cast<uint32_t>(in / kSlotBytes);
        REQUIRE(b.chunks.count(slot) == 1);
        auto got = VerifyChunk(*m, slot, b.chunks.at(slot));
        REQUIRE_FALSE(got.ok());
        CHECK(got.error().find("chunk_hash") != std::string::npos);
      } else {
        CHECK(s.message().rfind("manifest: ", 0) == 0);
      }
    } else {
      CHECK(m.error().rfind("manifest: ", 0) == 0);
    }
  }
}

TEST_CASE("manifest decoding is strict and bounded before it allocates", "[ledger][snapshot]") {
  Manifest m;
  m.height = 3;
  m.bits = 0;
  m.slots.resize(1);
  const Bytes ok = m.Encode();
  REQUIRE(Manifest::Decode(ok).ok());

  SECTION("bits outside {0,4,8,12,16}") {
    Bytes bad = ok;
    bad[4 + 1 + 8 + 32] = 3;
    auto got = Manifest::Decode(bad);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().find("bits") != std::string::npos);
  }
  SECTION("a length other than bits implies, before any slot is read") {
    Bytes bad = ok;
    bad[4 + 1 + 8 + 32] = 16;  // would need 4.7 MB of slots
    auto got = Manifest::Decode(bad);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().find("makes it") != std::string::npos);
    Bytes huge(kMaxManifestBytes + 1, 0);
    CHECK_FALSE(Manifest::Decode(huge).ok());
  }
  SECTION("a slot over kMaxChunkBytes, one that cannot hold its count, an empty one with a hash") {
    Manifest s = m;
    s.slots[0] = SnapshotSlot{1, static_cast<uint32_t>(kMaxChunkBytes + 1), Hash256(), Hash256()};
    s.slots[0].subtree.data()[0] = 1;
    s.entries = 1;
    s.bytes = s.slots[0].size;
    auto got = Manifest::Decode(s.Encode());
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().find("exceeds") != std::string::npos);
    s.slots[0].size = 30;  // 10 bytes past the header: one entry at most
    s.slots[0].count = 2;
    s.entries = 2;
    s.bytes = 30;
    got = Manifest::Decode(s.Encode());
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().find("cannot fit") != std::string::npos);
    Manifest e = m;
    e.slots[0].chunk_hash.data()[0] = 1;
    CHECK_FALSE(Manifest::Decode(e.Encode()).ok());
  }
  SECTION("sums that disagree with the slots") {
    Manifest s = m;
    s.entries = 1;
    auto got = Manifest::Decode(s.Encode());
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().find("entries") != std::string::npos);
  }
  SECTION("wrong magic or version, trailing bytes") {
    Bytes bad = ok;
    bad[0] = 'X';
    CHECK_FALSE(Manifest::Decode(bad).ok());
    bad = ok;
    bad[4] = 2;
    CHECK_FALSE(Manifest::Decode(bad).ok());
    bad = ok;
    bad.push_back(0);
    CHECK_FALSE(Manifest::Decode(bad).ok());
  }
  SECTION("the empty state's manifest verifies against the Empty root") {
    CHECK(VerifyManifest(m, 3, kEmptyTreeHash).ok());
  }
}

TEST_CASE("subtree hashes and the slot fold agree with RootOf on chosen key hashes",
          "[ledger][snapshot]") {
  const uint64_t seed = Seed(0x666f6c64ull);
  CAPTURE(seed);
  std::printf("snapshot_test: fold, seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  auto hash_with_prefix = [&](std::initializer_list<uint8_t> prefix) {
    Hash256 h;
    for (size_t i = 0; i < 32; ++i) h.data()[i] = static_cast<uint8_t>(rng());
    size_t i = 0;
    for (uint8_t p : prefix) h.data()[i++] = p;
    return h;
  };
  auto value = [&] { return ValueHash(Bytes{static_cast<uint8_t>(rng())}); };
  std::vector<std::vector<TreeEntry>> cases;
  // One entry: the leaf rises from any slot to the root.
  cases.push_back({{hash_with_prefix({0x7a, 0x13}), value()}});
  // Two entries sharing 24 bits: one slot at every bits, its subtree a chain of nodes.
  cases.push_back({{hash_with_prefix({0xab, 0xcd, 0xe0}), value()},
                   {hash_with_prefix({0xab, 0xcd, 0xe1}), value()}});
  // Two entries differing at bit 0: two slots whose leaves do not rise past the root.
  cases.push_back({{hash_with_prefix({0x00}), value()}, {hash_with_prefix({0x80}), value()}});
  // A leaf alone under a shared prefix next to a pair: the lone leaf rises to depth 9.
  cases.push_back({{hash_with_prefix({0x55, 0x00}), value()},
                   {hash_with_prefix({0x55, 0x80, 0x01}), value()},
                   {hash_with_prefix({0x55, 0x80, 0x02}), value()}});
  // Many random ones plus a clustered group.
  std::vector<TreeEntry> many;
  for (int i = 0; i < 300; ++i) many.push_back({hash_with_prefix({}), value()});
  for (int i = 0; i < 20; ++i) many.push_back({hash_with_prefix({0x12, 0x34, 0x56}), value()});
  cases.push_back(many);

  for (auto& entries : cases) {
    std::sort(entries.begin(), entries.end(),
              [](const TreeEntry& a, const TreeEntry& b) { return a.key_hash < b.key_hash; });
    const Hash256 root = RootOf(entries);
    CHECK(SubtreeHash(entries, 0) == root);
    for (unsigned bits = 0; bits <= 16; bits += 4) {
      CAPTURE(entries.size(), bits);
      std::vector<SnapshotSlot> slots(size_t{1} << bits);
      std::vector<std::vector<TreeEntry>> by_slot(slots.size());
      for (const TreeEntry& e : entries) by_slot[KeyHashPrefix(e.key_hash, bits)].push_back(e);
      for (size_t i = 0; i < slots.size(); ++i) {
        slots[i].count = static_cast<uint32_t>(by_slot[i].size());
        slots[i].subtree = SubtreeHash(by_slot[i], bits);
        if (by_slot[i].size() == 1) {
          CHECK(slots[i].subtree == LeafHash(by_slot[i][0].key_hash, by_slot[i][0].value_hash));
        }
      }
      CHECK(FoldSlots(slots, bits) == root);
    }
  }
}

TEST_CASE("snapshot test vector: a fixed three-account state (PROTOCOL.md section 10)",
          "[ledger][snapshot]") {
  MemoryKv kv;
  WriteBatch b;
  std::vector<TreeEntry> entries;
  for (uint8_t n : {1, 2, 3}) {
    Bytes addr(32, n);
    const Bytes key = AccountKey(*Address::FromBytes(addr));
    const Bytes value = Account{1000u * n, n, Role::kMember}.Encode();
    b.Put(StateKv(key), value);
    entries.push_back(TreeEntry{KeyHash(key), ValueHash(value)});
  }
  REQUIRE(kv.Write(b, true).ok());
  const Hash256 root = RootOf(entries);
  Built built = Build(kv, 5, root);
  REQUIRE(built.manifest.bits == 0);
  REQUIRE(built.chunks.size() == 1);
  const Bytes& chunk = built.chunks.at(0);
  std::printf(
      "snapshot vector: state_root %s\n  manifest %s\n  manifest hash %s\n"
      "  chunk (%zu B) hash %s\n",
      root.ToHex().c_str(), crypto::ToHex(built.manifest_bytes).c_str(),
      built.manifest.Hash().ToHex().c_str(), chunk.size(), crypto::Sha256Of(chunk).ToHex().c_str());
  CHECK(root.ToHex() == "075fe67d9d4ed94d3f5c79bcdd308820189426677f91c7726195ecf65e249ed8");
  CHECK(built.manifest.Hash().ToHex() ==
        "7ea921728a1c4348a5e4061895955b6e78ea05cc8c69fb10150cff09bf3685a4");
  CHECK(crypto::Sha256Of(chunk).ToHex() ==
        "0aab91eb28671202562cba6a4d5a9d16e32de0022951b7289162fb0ec709583d");
}

TEST_CASE("a pinned store does not see later writes", "[ledger][kv][snapshot]") {
  auto check = [](KvStore& kv) {
    WriteBatch b;
    b.Put(Bytes{'a'}, Bytes{1});
    b.Put(Bytes{'b'}, Bytes{2});
    REQUIRE(kv.Write(b, /*sync=*/true).ok());
    std::unique_ptr<KvSnapshot> pin = kv.Pin();
    WriteBatch later;
    later.Put(Bytes{'a'}, Bytes{9});
    later.Delete(Bytes{'b'});
    later.Put(Bytes{'c'}, Bytes{3});
    REQUIRE(kv.Write(later, /*sync=*/false).ok());
    CHECK(**kv.Get(Bytes{'a'}) == Bytes{9});
    CHECK(**pin->Get(Bytes{'a'}) == Bytes{1});
    CHECK(**pin->Get(Bytes{'b'}) == Bytes{2});
    CHECK_FALSE(pin->Get(Bytes{'c'})->has_value());
    std::string seen;
    REQUIRE(pin->Scan({}, {},
                      [&](ByteView k, ByteView) {
                        seen.push_back(static_cast<char>(k[0]));
                        return true;
                      })
                .ok());
    CHECK(seen == "ab");
    seen.clear();
    REQUIRE(pin->Scan(Bytes{'b'}, Bytes{'c'},
                      [&](ByteView k, ByteView) {
                        seen.push_back(static_cast<char>(k[0]));
                        return true;
                      })
                .ok());
    CHECK(seen == "b");
  };
  SECTION("MemoryKv") {
    MemoryKv kv;
    check(kv);
  }
  SECTION("LevelDB") {
    testkit::TempDir dir;
    auto kv = OpenLevelDb(dir.path() + "/db", /*create=*/true);
    REQUIRE(kv.ok());
    check(**kv);
  }
}
