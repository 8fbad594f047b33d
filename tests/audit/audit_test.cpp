// The audit on a real chain store: it passes an intact chain and names the first inconsistent
// height (and what is wrong) for each kind of damage, without ever writing to the store.
#include <catch2/catch.hpp>
#include <filesystem>

#include "audit/audit.h"
#include "crypto/hex.h"
#include "tests/audit/audit_fixture.h"

using namespace cairn;
using namespace cairn::audit;
using namespace cairn::audit::testing;

namespace {

// A chain committed to a LevelDB directory, closed again so the audit can open it.
struct DiskChain {
  TempDir dir;
  AuditChain chain;
  uint64_t head = 0;
  crypto::Hash256 head_hash;
  crypto::Hash256 state_root;

  DiskChain() {
    auto store = ledger::OpenChainStore(data(), chain.genesis.Block0(),
                                        chain.genesis.InitialState(), /*create=*/true);
    REQUIRE(store.ok());
    head = chain.Build(**store);
    head_hash = (*store)->head().hash;
    state_root = (*store)->head().state_root;
  }
  std::string data() const { return dir.path() + "/data"; }

  // Opens the store's LevelDB directly, lets `fn` damage it, and closes it.
  template <typename Fn>
  void Damage(Fn fn) {
    auto kv = ledger::OpenLevelDb(data(), /*create=*/false);
    REQUIRE(kv.ok());
    fn(**kv);
  }
};

// A chain committed to a MemoryKv: fast enough to damage and audit hundreds of times.
struct MemChain {
  AuditChain chain;
  ledger::MemoryKv kv;  // shares its contents with the copy the ChainStore owns
  uint64_t head = 0;

  MemChain() {
    auto store = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(kv),
                                          chain.genesis.Block0(), chain.genesis.InitialState());
    REQUIRE(store.ok());
    head = chain.Build(**store);
  }
};

std::vector<std::pair<Bytes, Bytes>> Dump(const ledger::KvStore& kv) {
  std::vector<std::pair<Bytes, Bytes>> out;
  REQUIRE(kv.Scan({}, {}, [&](ByteView k, ByteView v) {
              out.emplace_back(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
              return true;
            }).ok());
  return out;
}

void RequireFailure(const AuditReport& r, AuditCheck check, std::optional<uint64_t> height) {
  INFO(Why(r));
  REQUIRE_FALSE(r.ok());
  CHECK(AuditCheckName(r.failure->check) == AuditCheckName(check));
  CHECK(r.failure->height == height);
}

}  // namespace

TEST_CASE("audit passes an intact chain and summarises it", "[audit]") {
  DiskChain c;
  AuditReport r = AuditDataDir(c.data(), c.chain.genesis);
  INFO(Why(r));
  REQUIRE(r.ok());
  CHECK(r.source == c.data());
  CHECK(r.chain_id == "audit-test");
  CHECK(r.genesis_hash == c.chain.genesis.Block0().Hash());
  CHECK_FALSE(r.genesis_from_node);
  CHECK(r.blocks == c.head + 1);
  CHECK(r.head_height == c.head);
  CHECK(r.transactions == c.chain.transactions);
  CHECK(r.head_hash == c.head_hash);
  CHECK(r.state_root == c.state_root);
  // admin, alice, bob accounts, alice's record, and genesis's set/members and gov/config.
  CHECK(r.state_entries == 6);
  CHECK(r.store_checked);
}

TEST_CASE("audit never writes: an audited store is byte-for-byte unchanged", "[audit]") {
  MemChain c;
  auto before = Dump(c.kv);
  REQUIRE(AuditStore(c.kv, c.chain.genesis).ok());
  CHECK(Dump(c.kv) == before);

  SECTION("and an empty store is refused, not initialised") {
    ledger::MemoryKv empty;
    AuditReport r = AuditStore(empty, c.chain.genesis);
    RequireFailure(r, AuditCheck::kSource, std::nullopt);
    CHECK(Dump(empty).empty());
  }
  SECTION("and a missing data dir is refused, not created") {
    TempDir dir;
    const std::string missing = dir.path() + "/nothing-here";
    AuditReport r = AuditDataDir(missing, c.chain.genesis);
    RequireFailure(r, AuditCheck::kSource, std::nullopt);
    CHECK_FALSE(std::filesystem::exists(missing));
  }
}

TEST_CASE("audit names the height of a block with one byte altered on disk", "[audit]") {
  DiskChain c;
  const uint64_t h = GENERATE(2, 3, 5);  // 5 is the head: the store then no longer opens
  const size_t offset = GENERATE(0, 40, 120, 250);
  c.Damage([&](ledger::KvStore& kv) {
    REQUIRE(EditValue(kv, HeightKey('B', h), [&](Bytes& v) { v[offset % v.size()] ^= 0x01; }));
  });
  AuditReport r = AuditDataDir(c.data(), c.chain.genesis);
  INFO("height " << h << " offset " << offset << ": " << Why(r));
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->height == h);
  CHECK(r.blocks == h);  // every block below it passed
  CHECK(r.head_height == h - 1);
}

TEST_CASE("audit catches a flip of any byte of any stored block", "[audit]") {
  MemChain c;
  for (uint64_t h = 1; h <= c.head; ++h) {
    auto orig = c.kv.Get(HeightKey('B', h));
    REQUIRE(orig.ok());
    REQUIRE(orig.value());
    const Bytes original = **orig;
    for (size_t i = 0; i < original.size(); ++i) {
      Bytes damaged = original;
      damaged[i] ^= 0x80;
      ledger::WriteBatch b;
      b.Put(HeightKey('B', h), damaged);
      REQUIRE(c.kv.Write(b, true).ok());
      AuditReport r = AuditStore(c.kv, c.chain.genesis);
      INFO("height " << h << " byte " << i << " of " << original.size() << ": " << Why(r));
      REQUIRE_FALSE(r.ok());
      REQUIRE(r.failure->height == h);
    }
    ledger::WriteBatch restore;
    restore.Put(HeightKey('B', h), original);
    REQUIRE(c.kv.Write(restore, true).ok());
  }
  REQUIRE(AuditStore(c.kv, c.chain.genesis).ok());
}

TEST_CASE("audit names the key and head height of a corrupted state entry", "[audit]") {
  DiskChain c;
  const Bytes alice_key = PrefixedKey('S', ledger::AccountKey(c.chain.alice.public_key()));
  const std::string alice = c.chain.alice.public_key().ToHex();

  SECTION("a changed balance byte") {
    c.Damage([&](ledger::KvStore& kv) {
      REQUIRE(EditValue(kv, alice_key, [](Bytes& v) { v[0] ^= 0x01; }));
    });
    AuditReport r = AuditDataDir(c.data(), c.chain.genesis);
    RequireFailure(r, AuditCheck::kState, c.head);
    CHECK_THAT(r.failure->detail, Catch::Contains("account " + alice));
    CHECK_THAT(r.failure->detail, Catch::Contains("head height " + std::to_string(c.head)));
    CHECK(r.blocks == c.head + 1);  // every block replayed fine; only the stored state is wrong
  }
  SECTION("a deleted entry") {
    c.Damage([&](ledger::KvStore& kv) {
      ledger::WriteBatch b;
      b.Delete(alice_key);
      REQUIRE(kv.Write(b, true).ok());
    });
    AuditReport r = AuditDataDir(c.data(), c.chain.genesis);
    RequireFailure(r, AuditCheck::kState, c.head);
    CHECK_THAT(r.failure->detail,
               Catch::Contains("account " + alice + ": in the replayed state but not stored"));
  }
  SECTION("an entry no block wrote") {
    const crypto::PublicKey stranger = SeededKey(77).public_key();
    c.Damage([&](ledger::KvStore& kv) {
      ledger::WriteBatch b;
      b.Put(PrefixedKey('S', ledger::AccountKey(stranger)),
            ledger::Account{1'000'000'000, 0, ledger::Role::kAdmin}.Encode());
      REQUIRE(kv.Write(b, true).ok());
    });
    AuditReport r = AuditDataDir(c.data(), c.chain.genesis);
    RequireFailure(r, AuditCheck::kState, c.head);
    CHECK_THAT(r.failure->detail, Catch::Contains("account " + stranger.ToHex() + ": stored"));
  }
}

TEST_CASE("audit catches a transaction re-signed by another key", "[audit]") {
  DiskChain c;
  const uint64_t h = 3;
  const crypto::KeyPair mallory = SeededKey(66);
  auto resign = [&](bool fix_root, const crypto::KeyPair* block_signer, uint64_t height) {
    c.Damage([&](ledger::KvStore& kv) {
      REQUIRE(EditValue(kv, HeightKey('B', height), [&](Bytes& v) {
        auto block = ledger::Block::Decode(v);
        REQUIRE(block.ok());
        block->txs[0].Sign(mallory);  // a valid signature, by someone else
        if (fix_root) block->header.tx_root = block->ComputeTxRoot();
        if (block_signer) block->Sign(*block_signer);
        v = block->Encode();
      }));
    });
  };

  SECTION("the tx root no longer matches") {
    resign(false, nullptr, h);
    RequireFailure(AuditDataDir(c.data(), c.chain.genesis), AuditCheck::kTxRoot, h);
  }
  SECTION("with the root fixed, the old proposer signature no longer verifies") {
    resign(true, nullptr, h);
    RequireFailure(AuditDataDir(c.data(), c.chain.genesis), AuditCheck::kProposerSignature, h);
  }
  SECTION("re-signed by a key that is not a validator") {
    resign(true, &mallory, h);
    RequireFailure(AuditDataDir(c.data(), c.chain.genesis), AuditCheck::kProposer, h);
  }
  SECTION("re-signed by the validator itself, the replay refuses the unknown sender") {
    resign(true, &c.chain.validator, c.head);  // the head: nothing later links to its hash
    AuditReport r = AuditDataDir(c.data(), c.chain.genesis);
    RequireFailure(r, AuditCheck::kExecution, c.head);
    CHECK_THAT(r.failure->detail, Catch::Contains("unknown_sender"));
  }
}

TEST_CASE("audit refuses a chain whose genesis differs from the genesis file", "[audit]") {
  DiskChain c;
  genesis::Genesis other = c.chain.genesis;
  SECTION("another balance") { other.accounts[0].balance += 1; }
  SECTION("another validator") { other.validators[0].public_key = SeededKey(50).public_key(); }
  SECTION("another chain id") { other.chain_id = "audit-test-2"; }
  AuditReport r = AuditDataDir(c.data(), other);
  RequireFailure(r, AuditCheck::kGenesis, 0);
  CHECK_THAT(r.failure->detail, Catch::Contains(other.Block0().Hash().ToHex()));
  CHECK(r.blocks == 0);
}

TEST_CASE("audit compares the stored receipts, tx index and block index", "[audit]") {
  DiskChain c;
  const uint64_t h = 3;
  SECTION("a receipt code changed") {
    c.Damage([&](ledger::KvStore& kv) {
      // Receipts := count:u32 (code:u8 height:u64 index:u32)*: the last tx's code.
      REQUIRE(EditValue(kv, HeightKey('R', h), [](Bytes& v) { v[4 + 2 * 13] = 0; }));
    });
    AuditReport r = AuditDataDir(c.data(), c.chain.genesis);
    RequireFailure(r, AuditCheck::kReceipts, h);
    CHECK_THAT(r.failure->detail, Catch::Contains("receipt of tx 2: stored ok"));
    CHECK_THAT(r.failure->detail, Catch::Contains("insufficient_balance"));
  }
  SECTION("a tx missing from the tx index") {
    const crypto::Hash256 tx = c.chain.Blocks()[h - 1][1].Hash();
    c.Damage([&](ledger::KvStore& kv) {
      ledger::WriteBatch b;
      b.Delete(PrefixedKey('T', tx.view()));
      REQUIRE(kv.Write(b, true).ok());
    });
    AuditReport r = AuditDataDir(c.data(), c.chain.genesis);
    RequireFailure(r, AuditCheck::kTxIndex, h);
    CHECK_THAT(r.failure->detail, Catch::Contains("tx 1"));
  }
  SECTION("a block missing from the hash index") {
    c.Damage([&](ledger::KvStore& kv) {
      auto block = kv.Get(HeightKey('B', h));
      REQUIRE(block.ok());
      auto decoded = ledger::Block::Decode(**block);
      REQUIRE(decoded.ok());
      ledger::WriteBatch b;
      b.Delete(PrefixedKey('H', decoded->Hash().view()));
      REQUIRE(kv.Write(b, true).ok());
    });
    RequireFailure(AuditDataDir(c.data(), c.chain.genesis), AuditCheck::kBlockIndex, h);
  }
  SECTION("a missing block below the head") {
    c.Damage([&](ledger::KvStore& kv) {
      ledger::WriteBatch b;
      b.Delete(HeightKey('B', h));
      REQUIRE(kv.Write(b, true).ok());
    });
    AuditReport r = AuditDataDir(c.data(), c.chain.genesis);
    RequireFailure(r, AuditCheck::kRead, h);
    CHECK_THAT(r.failure->detail, Catch::Contains("missing"));
  }
  SECTION("a block stored above the head") {
    c.Damage([&](ledger::KvStore& kv) {
      auto head = kv.Get(HeightKey('B', c.head));
      REQUIRE(head.ok());
      ledger::WriteBatch b;
      b.Put(HeightKey('B', c.head + 1), **head);
      REQUIRE(kv.Write(b, true).ok());
    });
    RequireFailure(AuditDataDir(c.data(), c.chain.genesis), AuditCheck::kHead, c.head + 1);
  }
}

TEST_CASE("audit reports with the failing check and height on one line", "[audit]") {
  AuditFailure f{AuditCheck::kTxSignature, 5, "tx 0 (3f2a): signature by ab does not verify"};
  CHECK(f.ToString() == "height 5: tx_signature: tx 0 (3f2a): signature by ab does not verify");
  AuditFailure g{AuditCheck::kSource, std::nullopt, "dir: does not exist"};
  CHECK(g.ToString() == "source: dir: does not exist");
  CHECK(AuditCheckName(AuditCheck::kProposerSignature) == "proposer_signature");
}
