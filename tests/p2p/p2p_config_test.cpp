// The p2p admission keys of config.json: defaults equal p2p::HostOptions's, values out of
// range are refused with an error naming the key, and ToJson writes them back.
#include <catch2/catch.hpp>

#include "config/node_config.h"
#include "p2p/host.h"

using namespace cairn;

namespace {

Result<config::NodeConfig> Parse(const std::string& p2p_body) {
  return config::NodeConfig::FromJson("{\"p2p\": {" + p2p_body + "}}", "/tmp");
}

}  // namespace

TEST_CASE("p2p admission keys default to the host's defaults", "[config][p2p]") {
  auto c = Parse("");
  REQUIRE(c.ok());
  const p2p::HostOptions o;
  CHECK(c->p2p_max_inbound == o.max_inbound);
  CHECK(c->p2p_max_pending == o.max_pending_inbound);
  CHECK(c->p2p_max_pending_per_ip == o.max_pending_per_ip);
  CHECK(c->p2p_handshake_timeout_ms == static_cast<uint64_t>(o.handshake_timeout.count()));
}

TEST_CASE("p2p admission keys are read, range-checked, and written back", "[config][p2p]") {
  auto c = Parse(
      "\"max_inbound\": 10, \"max_pending\": 16, \"max_pending_per_ip\": 2, "
      "\"handshake_timeout_ms\": 1500");
  REQUIRE(c.ok());
  CHECK(c->p2p_max_inbound == 10);
  CHECK(c->p2p_max_pending == 16);
  CHECK(c->p2p_max_pending_per_ip == 2);
  CHECK(c->p2p_handshake_timeout_ms == 1500);
  auto again = config::NodeConfig::FromJson(c->ToJson(), "/tmp");
  REQUIRE(again.ok());
  CHECK(again->p2p_max_pending_per_ip == 2);
  CHECK(again->p2p_handshake_timeout_ms == 1500);

  // The messages are config/'s for every integer key (tests/config checks each range's
  // ends); these pin the p2p keys and the one rule across two of them.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"\"max_inbound\": 0", "p2p.max_inbound: 0 is out of range (allowed 1 to 4096)"},
      {"\"max_inbound\": 100000",
       "p2p.max_inbound: 100000 is not an integer in range (allowed 1 to 4096)"},
      {"\"max_pending\": 0", "p2p.max_pending: 0 is out of range (allowed 1 to 4096)"},
      {"\"max_pending\": 5000",
       "p2p.max_pending: 5000 is not an integer in range (allowed 1 to 4096)"},
      {"\"max_pending_per_ip\": 0",
       "p2p.max_pending_per_ip: 0 is out of range (allowed 1 to 4096)"},
      {"\"handshake_timeout_ms\": 10",
       "p2p.handshake_timeout_ms: 10 is out of range (allowed 100 to 60000)"},
      {"\"handshake_timeout_ms\": 3600000",
       "p2p.handshake_timeout_ms: 3600000 is not an integer in range (allowed 100 to 60000)"},
      {"\"max_pending\": -1", "p2p.max_pending: -1 is not an integer in range (allowed 1 to 4096)"},
      {"\"max_pending\": 5000000000",
       "p2p.max_pending: 5000000000 is not an integer in range (allowed 1 to 4096)"},
  };

  for (const auto& [body, error] : bad) {
    INFO(body);
    auto r = Parse(body);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "config: " + error);
  }
}
