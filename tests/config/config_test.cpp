// config.json as an operator meets it: every integer key refuses values outside its range
// with the key and the range in the message, strings and addresses are checked, and a
// directory or a FIFO given as the file is named for what it is, without blocking.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "config/node_config.h"
#include "config/testnet.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::config;
using nlohmann::json;
using testkit::TempDir;

namespace {

// {"rpc": {"threads": v}} from "rpc.threads".
json WithKey(std::string_view dotted, const json& v) {
  const size_t dot = dotted.find('.');
  if (dot == std::string_view::npos) return json{{std::string(dotted), v}};
  return json{{std::string(dotted.substr(0, dot)), {{std::string(dotted.substr(dot + 1)), v}}}};
}

Result<NodeConfig> Parse(const json& j) { return NodeConfig::FromJson(j.dump(), "/home"); }

std::string ErrorOf(const json& j) {
  auto c = Parse(j);
  return c.ok() ? "(accepted)" : c.error();
}

// Every integer in `j`, as "block.key" paths.
void IntegerKeys(const json& j, const std::string& prefix, std::vector<std::string>* out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_object()) {
      IntegerKeys(*it, prefix + it.key() + ".", out);
    } else if (it->is_number_integer()) {
      out->push_back(prefix + it.key());
    }
  }
}

}  // namespace

TEST_CASE("every integer key has a range, and both ends of it are accepted", "[config]") {
  std::vector<std::string> keys;
  IntegerKeys(json::parse(NodeConfig().ToJson()), "", &keys);
  REQUIRE(keys.size() >= 12);
  for (const std::string& key : keys) {
    INFO(key);
    bool ranged = false;
    for (const UintRange& r : UintRanges()) ranged |= r.key == key;
    CHECK(ranged);
  }
  // rpc.max_inflight_bytes must hold one largest body and answer: the keys it is compared
  // with are set to what each end needs, so every end is reachable.
  auto with_rpc_budget = [](json j, const UintRange& r, uint64_t v) {
    const std::string key(r.key);
    if (key == "rpc.max_inflight_bytes" && v < NodeConfig().rpc_max_response_bytes) {
      j["rpc"]["max_body_bytes"] = v < 1024 ? v : 1024;
      j["rpc"]["max_response_bytes"] = 64 << 10;
    } else if ((key == "rpc.max_body_bytes" || key == "rpc.max_response_bytes") &&
               v > NodeConfig().rpc_max_inflight_bytes) {
      j["rpc"]["max_inflight_bytes"] = v;
    }
    return j;
  };
  for (const UintRange& r : UintRanges()) {
    INFO(r.key);
    auto at_min = Parse(with_rpc_budget(WithKey(r.key, r.min), r, r.min));
    REQUIRE(at_min.ok());
    CHECK(r.get(*at_min) == r.min);
    auto at_max = Parse(with_rpc_budget(WithKey(r.key, r.max), r, r.max));
    REQUIRE(at_max.ok());
    CHECK(r.get(*at_max) == r.max);
    // The defaults are inside their ranges too.
    const uint64_t def = r.get(NodeConfig());
    CHECK(def >= r.min);
    CHECK(def <= r.max);
  }
}

TEST_CASE("a value past either end of its range names the key and the range", "[config]") {
  for (const UintRange& r : UintRanges()) {
    INFO(r.key);
    const std::string range = "allowed " + std::to_string(r.min) + " to " + std::to_string(r.max);
    const std::string above = ErrorOf(WithKey(r.key, r.max + 1));
    CHECK_THAT(above, Catch::StartsWith("config: " + std::string(r.key) + ": "));
    CHECK_THAT(above, Catch::Contains(std::to_string(r.max + 1)) && Catch::Contains(range));
    if (r.min > 0) {
      const std::string below = ErrorOf(WithKey(r.key, r.min - 1));
      CHECK_THAT(below, Catch::StartsWith("config: " + std::string(r.key) + ": "));
      CHECK_THAT(below, Catch::Contains(std::to_string(r.min - 1) + " is out of range") &&
                            Catch::Contains(range));
    }
    // Not an unsigned integer at all: the same message shape.
    for (const json& bad : {json(-1), json(1.5), json("2"), json(true), json(1e30)}) {
      INFO(bad.dump());
      CHECK_THAT(
          ErrorOf(WithKey(r.key, bad)),
          Catch::StartsWith("config: " + std::string(r.key) + ": ") && Catch::Contains(range));
    }
  }
}

TEST_CASE("rpc.max_inflight_bytes below one largest body or answer is refused, naming both",
          "[config]") {
  CHECK(ErrorOf(json::parse(R"({"rpc": {"max_inflight_bytes": 5242879}})")) ==
        "config: rpc.max_inflight_bytes: 5242879 is below rpc.max_body_bytes 5242880; raise it "
        "to at least 5242880");
  CHECK(ErrorOf(json::parse(R"({"rpc": {"max_response_bytes": 536870912}})")) ==
        "config: rpc.max_inflight_bytes: 268435456 is below rpc.max_response_bytes 536870912; "
        "raise it to at least 536870912");
  auto equal =
      Parse(json::parse(R"({"rpc": {"max_inflight_bytes": 1048576, "max_body_bytes": 1048576,)"
                        R"( "max_response_bytes": 1048576}})"));
  REQUIRE(equal.ok());
  CHECK(equal->rpc_max_inflight_bytes == 1u << 20);
  CHECK(NodeConfig().rpc_max_inflight_bytes == 256u << 20);
  // Set after parsing, Validate says the same.
  NodeConfig c;
  c.rpc_max_response_bytes = 512u << 20;
  CHECK_THAT(c.Validate().message(), Catch::StartsWith("config: rpc.max_inflight_bytes: "));
}

TEST_CASE("rpc.threads 100000 is refused at load instead of aborting at startup", "[config]") {
  CHECK(ErrorOf(json::parse(R"({"rpc": {"threads": 100000}})")) ==
        "config: rpc.threads: 100000 is not an integer in range (allowed 1 to 256)");
  // Set after parsing (as a command-line override is), Validate says the same.
  NodeConfig c;
  c.rpc_threads = 100000;
  CHECK(c.Validate().message() == "config: rpc.threads: 100000 is out of range (allowed 1 to 256)");
}

TEST_CASE("strings, addresses and peers are checked", "[config]") {
  CHECK_THAT(ErrorOf({{"name", ""}}), Catch::StartsWith("config: name: must be 1 to 64 bytes"));
  CHECK_THAT(ErrorOf({{"name", std::string(65, 'n')}}), Catch::StartsWith("config: name:"));
  CHECK_THAT(ErrorOf({{"name", "a\nb"}}), Catch::Contains("control characters"));
  CHECK(Parse({{"name", std::string(64, 'n')}}).ok());
  for (const char* key : {"data_dir", "key_file", "genesis_file"}) {
    INFO(key);
    CHECK_THAT(ErrorOf({{key, ""}}), Catch::StartsWith(std::string("config: ") + key + ":"));
    CHECK_THAT(ErrorOf({{key, std::string("a\0b", 3)}}), Catch::Contains("NUL"));
    CHECK_THAT(ErrorOf({{key, std::string(4097, 'p')}}), Catch::Contains("4096 bytes"));
    CHECK_THAT(ErrorOf({{key, 7}}), Catch::Contains("must be a string"));
  }
  CHECK_THAT(ErrorOf({{"log_level", "loud"}}), Catch::StartsWith("config: log_level:"));
  for (const char* key : {"rpc.listen", "p2p.listen"}) {
    INFO(key);
    for (const char* bad : {"8545", ":8545", "127.0.0.1:", "127.0.0.1:65536", "h:8a"}) {
      CHECK_THAT(ErrorOf(WithKey(key, bad)), Catch::StartsWith(std::string("config: ") + key));
    }
    CHECK(Parse(WithKey(key, "[::1]:0")).ok());
  }
  const std::string id(64, 'a');
  CHECK(Parse(json::parse(R"({"p2p": {"peers": [{"address": "10.0.0.2:26656", "node_id": ")" + id +
                          "\"}]}}"))
            .ok());
  CHECK_THAT(ErrorOf(json::parse(R"({"p2p": {"peers": [{"address": "10.0.0.2:26656"}]}})")),
             Catch::StartsWith("config: p2p.peers[0].node_id: must be 64 hex digits"));
  CHECK_THAT(
      ErrorOf(json::parse(R"({"p2p": {"peers": [{"address": "x", "node_id": ")" + id + "\"}]}}")),
      Catch::StartsWith("config: p2p.peers[0].address: must be host:port"));
  json many = json::array();
  for (size_t i = 0; i <= kMaxPeers; ++i) many.push_back({{"address", "h:1"}, {"node_id", id}});
  CHECK_THAT(ErrorOf({{"p2p", {{"peers", many}}}}),
             Catch::StartsWith("config: p2p.peers: more than the 1024 peers allowed"));
  CHECK_THAT(ErrorOf({{"rpc", {{"thread", 2}}}}), Catch::Contains("rpc.thread: unknown key"));
}

TEST_CASE("a written config reads back the same", "[config]") {
  NodeConfig c;
  c.home = "/home";
  c.rpc_threads = 7;
  c.mempool.ttl_blocks = 0;
  c.peers.push_back({"10.0.0.2:26656", std::string(64, 'b')});
  auto back = NodeConfig::FromJson(c.ToJson(), "/home");
  REQUIRE(back.ok());
  CHECK(back->ToJson() == c.ToJson());
}

TEST_CASE("a directory or a FIFO given as config.json is named for what it is", "[config]") {
  TempDir dir("config");
  auto as_dir = NodeConfig::Load(dir.path());
  REQUIRE_FALSE(as_dir.ok());
  CHECK(as_dir.error() == "config: " + dir.path() + " is a directory, not a file");

  const std::string fifo = dir.Sub("config.json");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Nobody writes to it: a blocking open would wait forever. On a regression, open a writer
  // so the reader returns and the test fails instead of hanging.
  auto loading = std::async(std::launch::async, [&] { return NodeConfig::Load(fifo); });
  const bool returned = loading.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  if (!returned) ::close(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK));
  REQUIRE(returned);
  auto as_fifo = loading.get();
  REQUIRE_FALSE(as_fifo.ok());
  CHECK(as_fifo.error() == "config: " + fifo + " is a FIFO (named pipe), not a file");

  const std::string missing = dir.Sub("absent.json");
  CHECK(NodeConfig::Load(missing).error() == "config: " + missing + ": does not exist");

  const std::string big = dir.Sub("big.json");
  std::ofstream(big) << std::string(kMaxConfigFileBytes + 1, ' ');
  CHECK_THAT(NodeConfig::Load(big).error(), Catch::Contains("more than the 1048576"));
}

TEST_CASE("loopback hosts, and warnings for the ones other hosts reach", "[config]") {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) {
    INFO(h);
    CHECK(IsLoopbackHost(h));
  }
  for (const char* h : {"0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "example.com", "128.0.0.1"}) {
    INFO(h);
    CHECK_FALSE(IsLoopbackHost(h));
  }
  NodeConfig c;
  CHECK(ExposureWarnings(c).empty());
  c.rpc_listen = "0.0.0.0:8545";
  auto w = ExposureWarnings(c);
  REQUIRE(w.size() == 1);
  CHECK_THAT(w[0], Catch::StartsWith("rpc.listen is 0.0.0.0:8545, reachable from other hosts") &&
                       Catch::Contains("no TLS and no authentication") &&
                       Catch::Contains("docs/OPERATIONS.md"));
  c.p2p_listen = "[::]:26656";
  w = ExposureWarnings(c);
  REQUIRE(w.size() == 2);
  CHECK_THAT(w[1], Catch::StartsWith("p2p.listen is [::]:26656, reachable from other hosts"));
}

TEST_CASE("testnet --host moves p2p only, and RPC stays on loopback unless --rpc-host",
          "[config]") {
  TempDir dir("testnet");
  TestnetOptions o;
  o.validators = 2;
  o.host = "0.0.0.0";
  auto r = GenerateTestnet(dir.Sub("net"), o);
  REQUIRE(r.ok());
  auto cfg = NodeConfig::Load(r->nodes[1].home + "/config.json");
  REQUIRE(cfg.ok());
  CHECK(cfg->rpc_listen == "127.0.0.1:8546");
  CHECK(cfg->p2p_listen == "0.0.0.0:26657");
  CHECK(r->nodes[1].rpc_url == "http://127.0.0.1:8546");
  REQUIRE(r->warnings.size() == 1);
  CHECK_THAT(r->warnings[0], Catch::StartsWith("p2p.listen is 0.0.0.0:26656"));

  o.rpc_host = "0.0.0.0";
  r = GenerateTestnet(dir.Sub("open"), o);
  REQUIRE(r.ok());
  cfg = NodeConfig::Load(r->nodes[0].home + "/config.json");
  REQUIRE(cfg.ok());
  CHECK(cfg->rpc_listen == "0.0.0.0:8545");
  CHECK(r->nodes[0].rpc_url == "http://127.0.0.1:8545");  // where a client on this host dials
  REQUIRE(r->warnings.size() == 2);
  CHECK_THAT(r->warnings[0], Catch::StartsWith("rpc.listen is 0.0.0.0:8545"));

  // A bad host writes nothing.
  o.rpc_host = "";
  auto bad = GenerateTestnet(dir.Sub("bad"), o);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error(), Catch::StartsWith("testnet: config: rpc.listen"));
  CHECK_FALSE(std::filesystem::exists(dir.Sub("bad")));
}
