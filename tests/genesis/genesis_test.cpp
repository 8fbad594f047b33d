#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "genesis/genesis.h"
#include "ledger/executor.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::genesis;
using nlohmann::json;

namespace {
json ValidJson() {
  auto v = crypto::KeyPair::FromSeed(crypto::PrivateKey()).public_key();
  std::array<uint8_t, 32> s{};
  s[0] = 1;
  auto admin = crypto::KeyPair::FromSeed(crypto::PrivateKey(s)).public_key();
  return json{
      {"chain_id", "cairn-test"},
      {"genesis_time", "2026-01-01T00:00:00Z"},
      {"consensus", "solo"},
      {"validators", {{{"name", "v0"}, {"public_key", v.ToHex()}, {"address", "127.0.0.1:26656"}}}},
      {"accounts", {{{"public_key", admin.ToHex()}, {"role", "admin"}, {"balance", "1000000"}}}}};
}
std::string ErrorOf(const json& j) {
  auto g = Genesis::FromJson(j.dump());
  return g.ok() ? "" : g.error();
}
}  // namespace

TEST_CASE("a valid genesis parses and builds a deterministic block 0", "[genesis]") {
  auto g = Genesis::FromJson(ValidJson().dump());
  REQUIRE(g.ok());
  CHECK(g->chain_id == "cairn-test");
  CHECK(g->genesis_time_ms == 1767225600000ull);
  CHECK(g->consensus == ConsensusKind::kSolo);
  ledger::Block b0 = g->Block0();
  CHECK(b0.header.height == 0);
  CHECK(b0.header.prev_hash.IsZero());
  CHECK(b0.header.timestamp_ms == g->genesis_time_ms);
  CHECK(b0.header.state_root == ledger::StateRootOf(g->InitialState()));
  // Same file, differently formatted: same genesis hash.
  auto again = Genesis::FromJson(ValidJson().dump(4));
  REQUIRE(again.ok());
  CHECK(again->Block0().Hash() == b0.Hash());
  // ToJson round-trips to the same chain.
  auto round = Genesis::FromJson(g->ToJson());
  REQUIRE(round.ok());
  CHECK(round->Block0().Hash() == b0.Hash());
  // Addresses are operational and not part of the chain's identity; balances are.
  json moved = ValidJson();
  moved["validators"][0]["address"] = "10.0.0.1:9000";
  CHECK(Genesis::FromJson(moved.dump())->Block0().Hash() == b0.Hash());
  json richer = ValidJson();
  richer["accounts"][0]["balance"] = "1000001";
  CHECK(Genesis::FromJson(richer.dump())->Block0().Hash() != b0.Hash());
}

TEST_CASE("genesis validation errors name the field", "[genesis]") {
  json j = ValidJson();
  CHECK_THAT(Genesis::FromJson("{").error(), Catch::Contains("not valid JSON"));
  j = ValidJson();
  j["chain_id"] = "bad chain!";
  CHECK_THAT(ErrorOf(j), Catch::Contains("chain_id"));
  j = ValidJson();
  j.erase("genesis_time");
  CHECK_THAT(ErrorOf(j), Catch::Contains("genesis_time"));
  j = ValidJson();
  j["genesis_time"] = "2026-02-30T00:00:00Z";
  CHECK_THAT(ErrorOf(j), Catch::Contains("genesis_time"));
  j = ValidJson();
  j["consensus"] = "paxos";
  CHECK_THAT(ErrorOf(j), Catch::Contains("consensus"));
  j = ValidJson();
  j["validators"][0]["public_key"] = "abcd";
  CHECK_THAT(ErrorOf(j), Catch::Contains("validators[0].public_key"));
  j = ValidJson();
  j["validators"].push_back(j["validators"][0]);
  j["validators"][1]["name"] = "v1";
  j["consensus"] = "raft";
  CHECK_THAT(ErrorOf(j), Catch::Contains("validators[1].public_key") && Catch::Contains("twice"));
  j = ValidJson();
  j["validators"].push_back(j["validators"][0]);
  CHECK_THAT(ErrorOf(j), Catch::Contains("solo consensus takes exactly one validator"));
  j = ValidJson();
  j["validators"][0]["address"] = "localhost";
  CHECK_THAT(ErrorOf(j), Catch::Contains("validators[0].address"));
  j = ValidJson();
  j["accounts"][0]["role"] = "member";
  CHECK_THAT(ErrorOf(j), Catch::Contains("admin"));
  j = ValidJson();
  j["accounts"][0]["role"] = "owner";
  CHECK_THAT(ErrorOf(j), Catch::Contains("accounts[0].role"));
  j = ValidJson();
  j["accounts"][0]["balance"] = "-5";
  CHECK_THAT(ErrorOf(j), Catch::Contains("accounts[0].balance"));
  j = ValidJson();
  j["accounts"][0]["balance"] = "18446744073709551616";
  CHECK_THAT(ErrorOf(j), Catch::Contains("accounts[0].balance"));
  j = ValidJson();
  j["accounts"].push_back(j["accounts"][0]);
  CHECK_THAT(ErrorOf(j), Catch::Contains("accounts[1].public_key"));
  j = ValidJson();
  j["unexpected"] = 1;
  CHECK_THAT(ErrorOf(j), Catch::Contains("unexpected: unknown field"));
  j = ValidJson();
  j["params"] = {{"max_block_txs", 0}};
  CHECK_THAT(ErrorOf(j), Catch::Contains("params.max_block_txs"));
}

TEST_CASE("total supply may not overflow", "[genesis]") {
  json j = ValidJson();
  std::array<uint8_t, 32> s{};
  s[0] = 2;
  j["accounts"].push_back(
      {{"public_key", crypto::KeyPair::FromSeed(crypto::PrivateKey(s)).public_key().ToHex()},
       {"role", "member"},
       {"balance", "18446744073709551615"}});
  CHECK_THAT(ErrorOf(j), Catch::Contains("total supply"));
}

TEST_CASE("RFC 3339 times parse and format without locale", "[genesis]") {
  CHECK(*ParseRfc3339Ms("1970-01-01T00:00:00Z") == 0);
  CHECK(*ParseRfc3339Ms("2000-02-29T12:34:56.789Z") == 951827696789ull);
  CHECK(FormatRfc3339Ms(951827696789ull) == "2000-02-29T12:34:56.789Z");
  CHECK_FALSE(ParseRfc3339Ms("2001-02-29T00:00:00Z").ok());
  CHECK_FALSE(ParseRfc3339Ms("2026-01-01 00:00:00Z").ok());
  CHECK_FALSE(ParseRfc3339Ms("2026-01-01T00:00:00+01:00").ok());
  for (uint64_t ms : {0ull, 1767225600000ull, 4102444799999ull}) {
    CHECK(*ParseRfc3339Ms(FormatRfc3339Ms(ms)) == ms);
  }
}

TEST_CASE("engine names parse to the kind ConsensusName prints, and nothing else does",
          "[genesis]") {
  for (ConsensusKind k : {ConsensusKind::kSolo, ConsensusKind::kRaft, ConsensusKind::kBft}) {
    CHECK(ParseConsensusKind(ConsensusName(k)) == k);
  }
  CHECK(ParseConsensusKind("raft") == ConsensusKind::kRaft);
  CHECK_FALSE(ParseConsensusKind("BFT").has_value());
  CHECK_FALSE(ParseConsensusKind("pbft").has_value());
  CHECK_FALSE(ParseConsensusKind("").has_value());
  CHECK_FALSE(ParseConsensusKind("solo ").has_value());
}

TEST_CASE("a directory or a FIFO given as genesis.json is named, without blocking", "[genesis]") {
  testkit::TempDir dir("genesis");
  auto as_dir = Genesis::Load(dir.path());
  REQUIRE_FALSE(as_dir.ok());
  // Not "not valid JSON": the operator pointed at the wrong thing.
  CHECK(as_dir.error() == "genesis: " + dir.path() + " is a directory, not a file");

  const std::string fifo = dir.Sub("genesis.json");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto loading = std::async(std::launch::async, [&] { return Genesis::Load(fifo); });
  const bool returned = loading.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  if (!returned) ::close(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK));  // unblock, then fail
  REQUIRE(returned);
  CHECK(loading.get().error() == "genesis: " + fifo + " is a FIFO (named pipe), not a file");

  const std::string missing = dir.Sub("absent.json");
  CHECK(Genesis::Load(missing).error() == "genesis: " + missing + ": does not exist");

  // A regular file still loads, through a symlink too.
  const std::string real = dir.Sub("real.json");
  std::ofstream(real) << ValidJson().dump();
  REQUIRE(::symlink(real.c_str(), dir.Sub("link.json").c_str()) == 0);
  CHECK(Genesis::Load(dir.Sub("link.json")).ok());
}

TEST_CASE("genesis seeds set/members and gov/config with the documented defaults",
          "[genesis][governance]") {
  auto key = [](uint8_t n) {
    std::array<uint8_t, 32> s{};
    s[0] = n;
    s[31] = 0x77;
    return crypto::KeyPair::FromSeed(crypto::PrivateKey(s)).public_key();
  };
  json j = ValidJson();
  j["consensus"] = "raft";
  j["validators"].push_back({{"name", "v1"}, {"public_key", key(1).ToHex()}});
  j["observers"] = json::array({{{"name", "o0"}, {"public_key", key(2).ToHex()}}});
  j["accounts"].push_back({{"public_key", key(3).ToHex()}, {"role", "admin"}});
  j["accounts"].push_back({{"public_key", key(4).ToHex()}, {"role", "member"}});
  j["accounts"].push_back({{"public_key", key(5).ToHex()}, {"role", "admin"}});
  auto g = Genesis::FromJson(j.dump());
  REQUIRE(g.ok());
  ledger::MemoryState state;
  state.Apply(g->InitialState());

  // Ids in file order, validators first; no addresses in state (they stay operational).
  auto members = ledger::ReadMembers(state);
  REQUIRE(members);
  CHECK(members->next_id == 3);
  REQUIRE(members->members.size() == 3);
  CHECK(members->members[1].id == 1);
  CHECK(members->members[1].name == "v1");
  CHECK(members->members[1].consensus_key == key(1));
  CHECK(members->members[2].kind == ledger::MemberKind::kObserver);
  CHECK(members->members[0].address.empty());
  CHECK(g->Block0().header.validators_hash == ledger::SetHash(*ledger::ValidatorSetAt(state, 1)));

  // Default: every admin account, threshold floor(3 / 2) + 1 = 2.
  auto config = ledger::ReadGovConfig(state);
  REQUIRE(config);
  CHECK(config->threshold == 2);
  CHECK(config->admins.size() == 3);
  CHECK(config->admins[1] == key(3));

  // Explicit, round-tripped through ToJson.
  j["governance"] = {{"admins", {key(4).ToHex(), key(5).ToHex()}}, {"threshold", 1}};
  auto explicit_gov = Genesis::FromJson(j.dump());
  REQUIRE(explicit_gov.ok());
  CHECK(explicit_gov->GovernanceConfig() == ledger::GovConfig{1, {key(4), key(5)}});
  auto round = Genesis::FromJson(explicit_gov->ToJson());
  REQUIRE(round.ok());
  CHECK(round->Block0().Hash() == explicit_gov->Block0().Hash());
  CHECK(explicit_gov->Block0().Hash() != g->Block0().Hash());  // gov/config is in the state root

  // No admins: no governance record at all.
  j["governance"] = {{"admins", json::array()}};
  auto ungoverned = Genesis::FromJson(j.dump());
  REQUIRE(ungoverned.ok());
  CHECK_FALSE(ungoverned->GovernanceConfig());
  ledger::MemoryState bare;
  bare.Apply(ungoverned->InitialState());
  CHECK_FALSE(ledger::ReadGovConfig(bare));
  CHECK(ledger::ReadMembers(bare));
}

TEST_CASE("genesis governance errors name the field", "[genesis][governance]") {
  json j = ValidJson();
  const std::string admin = j["accounts"][0]["public_key"];
  j["governance"] = {{"admins", {admin}}, {"threshold", 2}};
  CHECK(ErrorOf(j) == "genesis: governance.threshold: 2 exceeds the 1 admins");
  j["governance"] = {{"admins", {admin, admin}}};
  CHECK(ErrorOf(j) == "genesis: governance.admins: " + admin + " is listed twice");
  j["governance"] = {{"admins", {"zz"}}};
  CHECK(ErrorOf(j) == "genesis: governance.admins[0]: must be 64 hex digits");
  j["governance"] = {{"threshold", 0}};
  CHECK(ErrorOf(j) == "genesis: governance.threshold: must be an integer in [1, 64]");
  j["governance"] = {{"admins", json::array()}, {"threshold", 1}};
  CHECK(ErrorOf(j) == "genesis: governance.threshold: set, but there are no admins");
  j["governance"] = {{"quorum", 1}};
  CHECK(ErrorOf(j) == "genesis: governance.quorum: unknown field");
  j["governance"] = 3;
  CHECK(ErrorOf(j) == "genesis: governance: must be an object");
}
