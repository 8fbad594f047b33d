// ChainStore::Open against damaged metadata records: each is refused with an error that names
// the record, and nothing is written.
#include <catch2/catch.hpp>

#include "ledger/chain_store.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::ledger;
using cairn::testkit::ChainFixture;
using cairn::testkit::PrefixedKey;
using cairn::testkit::TempDir;

namespace {

Bytes MetaKey(std::string_view name) { return PrefixedKey('M', AsBytes(name)); }

void RawPut(KvStore& kv, const Bytes& key, const Bytes& value) {
  WriteBatch b;
  b.Put(key, value);
  REQUIRE(kv.Write(b, /*sync=*/true).ok());
}

}  // namespace

TEST_CASE("Open refuses a stored chain id that is not the genesis's, naming the record",
          "[store][chain]") {
  ChainFixture fx;
  TempDir dir;
  const std::string path = dir.Sub("chain");
  REQUIRE(OpenChainStore(path, fx.genesis, fx.genesis_state, /*create=*/true).ok());
  const std::string genesis_chain = fx.genesis.header.chain_id;
  // One byte changed, as the tamper campaign did ("cairn-dev" -> "cairn-dew").
  std::string tampered = genesis_chain;
  tampered.back() = static_cast<char>(tampered.back() ^ 0x01);
  {
    auto raw = OpenLevelDb(path, /*create=*/false);
    REQUIRE(raw.ok());
    RawPut(**raw, MetaKey("chain_id"), Bytes(tampered.begin(), tampered.end()));
  }
  auto store = OpenChainStore(path, fx.genesis, fx.genesis_state, /*create=*/false);
  REQUIRE_FALSE(store.ok());
  CHECK(store.code() == StatusCode::kCorruption);
  INFO(store.error());
  CHECK_THAT(store.error(), Catch::Contains("'M' \"chain_id\" holds \"" + tampered + "\""));
  CHECK_THAT(store.error(), Catch::Contains("of chain \"" + genesis_chain + "\""));
  CHECK_THAT(store.error(), Catch::Contains("damaged"));

  // Restoring the record is the whole repair.
  {
    auto raw = OpenLevelDb(path, /*create=*/false);
    REQUIRE(raw.ok());
    RawPut(**raw, MetaKey("chain_id"), Bytes(genesis_chain.begin(), genesis_chain.end()));
  }
  CHECK(OpenChainStore(path, fx.genesis, fx.genesis_state, /*create=*/false).ok());
}

TEST_CASE("Open refuses an empty or over-long stored chain id", "[store][chain]") {
  ChainFixture fx;
  MemoryKv kv;
  REQUIRE(ChainStore::Open(std::make_unique<MemoryKv>(kv), fx.genesis, fx.genesis_state).ok());
  const Bytes value = GENERATE(Bytes{}, Bytes(65, 'x'));
  RawPut(kv, MetaKey("chain_id"), value);
  auto store = ChainStore::Open(std::make_unique<MemoryKv>(kv), fx.genesis, fx.genesis_state);
  REQUIRE_FALSE(store.ok());
  CHECK_THAT(store.error(), Catch::Contains("'M' \"chain_id\""));
}
