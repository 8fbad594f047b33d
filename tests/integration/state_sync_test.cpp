// State sync between real cairnd processes (issue 17): a 4-validator Raft network under load
// takes snapshots every few blocks; a fresh observer joins from them with a trust point read
// from a validator's RPC, then agrees with the validators block for block. Also: one server's
// chunk files corrupted on disk, and a joiner SIGKILLed in the middle.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/integration/temp_network.h"

using namespace cairn;
using namespace cairn::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kValidators = {"v0", "v1", "v2", "v3"};

// A generated network with snapshots on every validator; `bytes_per_sec` throttles serving.
void ConfigureSnapshots(TempNetwork& net, uint64_t bytes_per_sec = 32u << 20) {
  for (const std::string& v : kValidators) {
    net.EditConfig(v, [&](json& c) {
      c["snapshot"] = {{"interval", 10},
                       {"keep", 20},
                       {"target_chunk_bytes", 4096},
                       {"serve_chunks_per_sec", 1000},
                       {"serve_bytes_per_sec", bytes_per_sec}};
    });
  }
}

// Writes new records (a key per nonce) through v0 until stopped, so blocks keep coming and
// the state grows. Errors are ignored: the load only has to exist, the test checks the chain.
struct Load {
  explicit Load(TempNetwork& net, int batch = 100, std::chrono::milliseconds pace = 100ms)
      : net(net) {
    thread = std::thread([this, batch, pace] {
      auto client = this->net.Client("v0");
      uint64_t nonce = 0;
      while (!stop) {
        json txs = json::array();
        for (uint64_t n = nonce; n < nonce + static_cast<uint64_t>(batch); ++n) {
          Bytes key(8);
          for (int b = 0; b < 8; ++b) key[b] = static_cast<uint8_t>(n >> (8 * b));
          txs.push_back(Hex(MakeTx(this->net.admin(), this->net.chain_id(), n,
                                   ledger::Put{key, Bytes(32, 0x11)})));
        }
        // The nonce moves past what was admitted, so a refused tail is sent again.
        auto r = client.Call("sendTransactions", {{"txs", txs}});
        if (r.ok() && r.value().contains("results")) {
          for (const json& one : r.value()["results"]) {
            if (!one.contains("hash") || one.contains("error")) break;
            ++nonce;
          }
        }
        std::this_thread::sleep_for(pace);  // pacing the load, not synchronisation
      }
    });
  }
  ~Load() { Stop(); }
  void Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  TempNetwork& net;
  std::atomic<bool> stop{false};
  std::thread thread;
};

// A trust point from v0: its head, once it is past `min_height` (two snapshots taken).
std::pair<uint64_t, std::string> TrustPoint(TempNetwork& net, uint64_t min_height) {
  REQUIRE(Eventually([&] { return Height(net, "v0") >= min_height; }, 40s));
  json s = net.Status("v0");
  REQUIRE_FALSE(s.is_null());
  return {s["height"].get<uint64_t>(), s["head_hash"].get<std::string>()};
}

std::vector<std::string> SyncArgs(const std::pair<uint64_t, std::string>& trust) {
  return {"--state-sync", "--trust-height", std::to_string(trust.first), "--trust-hash",
          trust.second};
}

// Every header `name` has equals v0's at that height (headers 1..its head: backfilled below
// its snapshot, block-synced above).
void AgreesWithV0(TempNetwork& net, const std::string& name) {
  const uint64_t head = Height(net, name);
  REQUIRE(head > 0);
  REQUIRE(Eventually([&] { return Height(net, "v0") >= head; }, 20s));
  auto a = net.Client(name);
  auto b = net.Client("v0");
  for (uint64_t from = 1; from <= head; from += 100) {
    const uint64_t count = std::min<uint64_t>(100, head - from + 1);
    auto x = a.Call("getHeaders", {{"from", from}, {"count", count}});
    auto y = b.Call("getHeaders", {{"from", from}, {"count", count}});
    INFO(name << " from " << from << ": " << x.status().message());
    REQUIRE(x.ok());
    REQUIRE(y.ok());
    REQUIRE(x.value().size() == count);
    for (size_t i = 0; i < count; ++i) {
      INFO("height " << from + i);
      CHECK(x.value()[i]["header"] == y.value()[i]["header"]);
    }
  }
}

std::string PublicKeyOf(TempNetwork& net, const std::string& name) {
  json g = json::parse(testkit::ReadFile(net.dir() + "/genesis.json"));
  for (const auto& v : g["validators"]) {
    if (v["name"] == name) return v["public_key"];
  }
  return "";
}

}  // namespace

TEST_CASE("state sync: a fresh observer joins a loaded Raft network from snapshots and agrees",
          "[integration][statesync]") {
  TempNetwork net("it-statesync", 4, 1, "raft");
  ConfigureSnapshots(net);
  net.StartAll(kValidators);
  Load load(net);
  const auto trust = TrustPoint(net, 25);
  const auto start = std::chrono::steady_clock::now();
  net.Launch("o0", SyncArgs(trust));
  REQUIRE(net.WaitServing("o0", 50s));
  const auto synced = std::chrono::steady_clock::now();
  std::printf("state sync of o0 (to serving RPC): %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(synced - start).count()));
  const std::string log = net.Log("o0");
  CHECK(log.find("state sync: snapshot at height") != std::string::npos);
  CHECK(log.find("restored and its root checked") != std::string::npos);
  // It follows the chain from there by block sync, under load.
  REQUIRE(Eventually([&] { return Height(net, "o0") > trust.first + 5; }, 30s));
  load.Stop();
  REQUIRE(Eventually([&] { return Height(net, "o0") == Height(net, "v0"); }, 30s));
  AgreesWithV0(net, "o0");
  // getStatus says how it joined: at a snapshot, bodies from just above it, every header.
  json st = net.Status("o0");
  REQUIRE(st["state_synced_at"].is_number());
  CHECK(st["state_synced_at"].get<uint64_t>() <= trust.first);
  CHECK(st["blocks_from"].get<uint64_t>() == st["state_synced_at"].get<uint64_t>() + 1);
  CHECK(st["headers_from"] == 1);
  CHECK(net.Status("v0")["state_synced_at"].is_null());
  CHECK(net.Status("v0")["blocks_from"] == 1);
}

TEST_CASE("state sync: a BFT observer joins with no trust point, proving the header from genesis",
          "[integration][statesync]") {
  TempNetwork net("it-statesync-bft", 4, 1, "bft");
  ConfigureSnapshots(net);
  net.StartAll(kValidators);
  Load load(net);
  REQUIRE(Eventually([&] { return Height(net, "v0") >= 25; }, 40s));
  net.Launch("o0", {"--state-sync"});
  REQUIRE(net.WaitServing("o0", 50s));
  const std::string log = net.Log("o0");
  CHECK(log.find("proven by its commit certificate from the genesis validator set") !=
        std::string::npos);
  CHECK(log.find("restored and its root checked") != std::string::npos);
  REQUIRE(Eventually([&] { return Height(net, "o0") > 30; }, 30s));
  load.Stop();
  REQUIRE(Eventually([&] { return Height(net, "o0") == Height(net, "v0"); }, 30s));
  AgreesWithV0(net, "o0");
}

TEST_CASE("state sync: chunks corrupted on one server's disk are detected, and the others serve",
          "[integration][statesync]") {
  TempNetwork net("it-statesync-bad", 4, 1, "raft");
  ConfigureSnapshots(net);
  net.StartAll(kValidators);
  const auto trust = [&] {
    Load load(net, 20, 200ms);
    return TrustPoint(net, 25);
  }();
  // The load has stopped, so no block (and no snapshot) comes any more. Wait until every
  // validator has finished writing and they all offer the same newest snapshot: then v1 is
  // among the servers of the one the joiner picks.
  REQUIRE(Eventually(
      [&] {
        std::set<std::string> newest;
        for (const std::string& v : kValidators) {
          std::string best;
          uint64_t best_h = 0;
          for (const auto& d :
               std::filesystem::directory_iterator(net.Home(v) + "/data/snapshots")) {
            const std::string name = d.path().filename().string();
            if (name.ends_with(".tmp")) return false;
            if (std::stoull(name) > best_h) best_h = std::stoull(name), best = name;
          }
          newest.insert(best);
        }
        return newest.size() == 1 && !newest.begin()->empty();
      },
      30s));
  // Every chunk v1 has written so far gets one byte flipped.
  size_t corrupted = 0;
  for (const auto& d : std::filesystem::recursive_directory_iterator(net.Home("v1"))) {
    const std::string name = d.path().filename().string();
    if (name.rfind("chunk-", 0) != 0 || d.path().parent_path().string().ends_with(".tmp")) {
      continue;
    }
    std::fstream io(d.path(), std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(-1, std::ios::end);
    char last = 0;
    io.read(&last, 1);
    io.seekp(-1, std::ios::end);
    last = static_cast<char>(last ^ 0x5a);
    io.write(&last, 1);
    ++corrupted;
  }
  REQUIRE(corrupted > 0);
  net.Launch("o0", SyncArgs(trust));
  REQUIRE(net.WaitServing("o0", 50s));
  const std::string log = net.Log("o0");
  const std::string bad = "peer " + PublicKeyOf(net, "v1") + " served a bad part";
  INFO(log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  CHECK(log.find(bad) != std::string::npos);
  CHECK(log.find("restored and its root checked") != std::string::npos);
  REQUIRE(Eventually([&] { return Height(net, "o0") >= Height(net, "v0"); }, 30s));
  AgreesWithV0(net, "o0");
}

TEST_CASE("state sync: a joiner killed in the middle resumes and completes",
          "[integration][statesync]") {
  TempNetwork net("it-statesync-kill", 4, 1, "raft");
  // 4 KiB/s per server, and a light load (a state of 16 chunks of ~2.5 KB): each server
  // serves a chunk or two at once, then drops requests until its budget refills, and a
  // dropped request waits out its 10 s timeout: the joiner is killed in that wait.
  ConfigureSnapshots(net, 4096);
  net.StartAll(kValidators);
  const auto trust = [&] {
    Load load(net, 20, 200ms);
    return TrustPoint(net, 25);
  }();
  net.Launch("o0", SyncArgs(trust));
  // Killed once a chunk is in (each is logged as it is written), and before the last.
  REQUIRE(Eventually([&] { return net.Log("o0").find("state sync: chunk ") != std::string::npos; },
                     30s));
  net.Kill("o0");
  INFO(net.Log("o0"));
  REQUIRE(net.Log("o0").find("restored and its root checked") == std::string::npos);
  net.Launch("o0", SyncArgs(trust));
  REQUIRE(net.WaitServing("o0", 50s));
  const std::string log = net.Log("o0");
  INFO(log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  CHECK(log.find("resuming the import") != std::string::npos);
  CHECK(log.find("restored and its root checked") != std::string::npos);
  REQUIRE(Eventually([&] { return Height(net, "o0") >= Height(net, "v0"); }, 30s));
  AgreesWithV0(net, "o0");
}
