// Real cairnd processes whose stored records were damaged while they were stopped: a BFT
// validator whose consensus record ('C' 'h') was deleted refuses to start and says how to
// recover, then rejoins with --i-know-this-may-double-sign without equivocating; a node whose
// stored chain id was changed refuses to open its data dir, naming the record.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <set>

#include "ledger/kv.h"
#include "tests/integration/dev_node.h"
#include "tests/integration/temp_network.h"

using namespace cairn;
using namespace cairn::testing;
using namespace cairn::testkit;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kAll = {"v0", "v1", "v2", "v3"};

// The heights in (from, head of `on`] whose certificate holds validator `v`'s precommit.
std::set<uint64_t> SignedBy(const Network& net, const std::string& on, uint64_t v, uint64_t from) {
  auto c = net.Client(on);
  std::set<uint64_t> out;
  for (uint64_t h = from + 1; h <= Height(net, on); ++h) {
    auto b = c.Call("getBlock", {{"height", h}});
    if (!b.ok() || !b.value().contains("certificate")) continue;
    for (const json& s : b.value()["certificate"]["signatures"]) {
      if (s["validator"].get<uint64_t>() == v) out.insert(h);
    }
  }
  return out;
}

void RawEdit(const std::string& data_dir, const Bytes& key, std::optional<Bytes> value) {
  auto kv = ledger::OpenLevelDb(data_dir, /*create=*/false);
  REQUIRE(kv.ok());
  ledger::WriteBatch b;
  if (value) {
    b.Put(key, *value);
  } else {
    b.Delete(key);
  }
  REQUIRE((*kv)->Write(b, /*sync=*/true).ok());
}

bool HasKey(const std::string& data_dir, const Bytes& key) {
  auto kv = ledger::OpenLevelDb(data_dir, /*create=*/false);
  REQUIRE(kv.ok());
  auto got = (*kv)->Get(key);
  REQUIRE(got.ok());
  return got->has_value();
}

}  // namespace

TEST_CASE(
    "lost state: a BFT validator whose consensus record was deleted refuses to start, "
    "and rejoins with the override without equivocating",
    "[integration][bft][lost_state]") {
  TempNetwork net("it-lost-state", 4, 0, "bft");
  net.StartAll(kAll);
  uint64_t nonce = 0;
  // Until validator 3's precommit is in a certificate of the chain v3 holds.
  REQUIRE(Eventually(
      [&] {
        if (!SignedBy(net, "v3", 3, 0).empty()) return true;
        net.Load("v0", &nonce, 5);
        return false;
      },
      60s));

  REQUIRE(net.Stop("v3") == 0);
  const std::string home = net.Home("v3");
  const std::string data = home + "/data";
  const Bytes hard_state = {'C', 'h'};
  REQUIRE(HasKey(data, hard_state));
  RawEdit(data, hard_state, std::nullopt);

  // Refused: exit 1, the reason and both ways out on stderr, nothing written.
  {
    Process refused(CairndPath(), {"--home", home}, home + ".refused.log");
    REQUIRE(refused.Wait(30s) == 1);
    const std::string log = ReadFile(home + ".refused.log");
    INFO(log);
    CHECK_THAT(log, Catch::Contains("cairnd: consensus state lost: the engine record of this "
                                    "validator (store key 'C' 'h') is missing, but the data dir "
                                    "shows validator 3 has signed ("));
    CHECK_THAT(log, Catch::Contains("it signed the commit certificate of block"));
    CHECK_THAT(log, Catch::Contains("--i-know-this-may-double-sign"));
    CHECK_THAT(log, Catch::Contains("restore the data dir"));
    CHECK_FALSE(HasKey(data, hard_state));
  }

  // The others go on without it.
  const uint64_t before = Height(net, "v0");
  net.Load("v1", &nonce, 10);
  REQUIRE(Eventually([&] { return Height(net, "v0") > before; }, 60s));

  // With the override it starts, catches up, and signs again.
  const uint64_t restart_at = Height(net, "v0");
  {
    Process started(CairndPath(), {"--home", home, "--i-know-this-may-double-sign"},
                    home + ".override.log");
    REQUIRE(started.WaitForLine("rpc: ", 30s));
    REQUIRE(Eventually(
        [&] {
          if (!SignedBy(net, "v0", 3, restart_at).empty()) return true;
          net.Load("v2", &nonce, 5);
          return false;
        },
        90s));
    const std::string log = ReadFile(home + ".override.log");
    INFO(log);
    CHECK_THAT(log, Catch::Contains("--i-know-this-may-double-sign: starting clean, signing "
                                    "nothing until the ledger holds height"));
    CHECK_THAT(log, Catch::Contains("signing from height"));
    // No validator saw two votes of one validator for one round.
    for (const std::string& n : kAll) {
      auto ev = net.Client(n).Call("getEvidence");
      REQUIRE(ev.ok());
      INFO(n << ": " << ev.value().dump());
      CHECK(ev.value().empty());
    }
    started.Signal(SIGTERM);
    REQUIRE(started.Wait(30s) == 0);
  }
  // Its new record is on disk: an ordinary start works again.
  CHECK(HasKey(data, hard_state));
  net.StartAll({"v3"});
}

TEST_CASE("lost state: a node whose stored chain id was changed refuses its data dir",
          "[integration][lost_state]") {
  TempNetwork net("it-chain-id", 1, 0, "solo");
  net.StartAll({"v0"});
  const std::string chain = net.Status("v0")["chain_id"];
  REQUIRE(net.Stop("v0") == 0);
  const std::string home = net.Home("v0");
  std::string tampered = chain;
  tampered.back() = static_cast<char>(tampered.back() ^ 0x01);
  Bytes key = {'M'};
  for (char c : std::string("chain_id")) key.push_back(static_cast<uint8_t>(c));
  RawEdit(home + "/data", key, Bytes(tampered.begin(), tampered.end()));

  Process refused(CairndPath(), {"--home", home}, home + ".refused.log");
  REQUIRE(refused.Wait(30s) == 1);
  const std::string log = ReadFile(home + ".refused.log");
  INFO(log);
  CHECK_THAT(log, Catch::Contains("the metadata record 'M' \"chain_id\" holds \"" + tampered +
                                  "\", but the genesis"));
  CHECK_THAT(log, Catch::Contains("is of chain \"" + chain + "\""));
}
