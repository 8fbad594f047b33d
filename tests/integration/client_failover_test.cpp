// The client library (client/client.h) against four real Raft validators: a stream of
// transfers from many senders over four URLs, one node SIGKILLed in the middle. Every
// transaction the client reported accepted commits exactly once, each sender's nonces are
// contiguous, sending goes on through the other nodes, and the failover time (the kill to the
// next committed transaction of a sender whose node died) is printed.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "base/mutex.h"
#include "client/client.h"
#include "tests/integration/temp_network.h"
#include "tests/kit/keys.h"

using namespace cairn;
using namespace cairn::testing;
using nlohmann::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

const std::vector<std::string> kAll = {"v0", "v1", "v2", "v3"};
constexpr uint32_t kSenders = 32;
constexpr uint32_t kThreads = 4;
constexpr uint64_t kRounds = 120;
constexpr uint64_t kKillAtRound = 40;

crypto::KeyPair Sender(uint32_t i) { return testkit::TestKey(i, /*family=*/0xcf); }

void AddSendersToGenesis(const std::string& path) {
  json g = json::parse(testkit::ReadFile(path));
  for (uint32_t i = 0; i < kSenders; ++i) {
    g["accounts"].push_back({{"public_key", Sender(i).public_key().ToHex()},
                             {"role", "member"},
                             {"balance", "1000000"}});
  }
  std::ofstream(path, std::ios::trunc) << g.dump(2);
}

std::string UrlOf(const Network& net, const std::string& name) { return net.Client(name).url(); }

std::string LeaderName(const Network& net) {
  json g = json::parse(testkit::ReadFile(net.dir() + "/genesis.json"));
  for (const std::string& n : kAll) {
    json s = net.Status(n);
    if (s.is_null() || !s.contains("leader")) continue;
    for (const auto& v : g["validators"]) {
      if (v["public_key"] == s["leader"]) return v["name"];
    }
  }
  return "";
}

struct Accepted {
  uint32_t sender;
  uint64_t nonce;
  std::string hash;
  size_t node;
  bool after_kill;
};

}  // namespace

TEST_CASE(
    "client failover: a node SIGKILLed under a stream, every accepted transaction "
    "commits exactly once and sending goes on",
    "[integration][client][raft]") {
  const uint64_t seed = 20261206;
  std::printf("client failover test: seed %llu\n", static_cast<unsigned long long>(seed));
  TempNetwork net("it-client", 4, 0, "raft");
  AddSendersToGenesis(net.dir() + "/genesis.json");
  net.StartAll(kAll);
  REQUIRE(Eventually([&] { return !LeaderName(net).empty(); }, 30s));

  std::vector<std::string> urls;
  for (const std::string& n : kAll) urls.push_back(UrlOf(net, n));
  client::Options o;
  o.seed = seed;
  o.rpc.connect_timeout = 1s;
  o.rpc.request_timeout = 10s;
  auto made = client::Client::Create(urls, o);
  REQUIRE(made.ok());
  client::Client& c = **made;

  // The victim: a follower, so the time measured is the client's failover, not an election;
  // CAIRN_CLIENT_KILL_LEADER=1 kills the leader instead (BENCHMARKS.md "Client routing").
  const std::string leader = LeaderName(net);
  const char* kill_leader = std::getenv("CAIRN_CLIENT_KILL_LEADER");
  const bool leader_dies = kill_leader != nullptr && std::string(kill_leader) == "1";
  std::string victim = leader_dies ? leader : (leader == "v1" ? "v2" : "v1");
  const std::string victim_url = UrlOf(net, victim);
  size_t victim_index = 0;
  for (size_t i = 0; i < c.nodes().size(); ++i) {
    if (c.nodes()[i] == victim_url) victim_index = i;
  }
  std::set<uint32_t> affected;
  for (uint32_t s = 0; s < kSenders; ++s) {
    if (c.ring().Home(Sender(s).public_key()) == victim_index) affected.insert(s);
  }
  std::printf("client failover test: leader %s, killing %s, home of %zu of %u senders\n",
              leader.c_str(), victim.c_str(), affected.size(), kSenders);
  REQUIRE(!affected.empty());

  std::atomic<uint64_t> min_round{0};
  std::atomic<bool> killed{false};
  SteadyClock::time_point kill_time;
  Mutex mu;
  std::vector<Accepted> accepted;
  std::vector<std::string> bad;  // outcomes other than accepted or retry
  // The first nonce each affected sender submitted after the kill (for the failover time).
  std::map<uint32_t, uint64_t> first_after_kill;
  const std::string chain = net.chain_id();

  auto sender_thread = [&](uint32_t t) {
    std::vector<uint32_t> mine;
    for (uint32_t s = t; s < kSenders; s += kThreads) mine.push_back(s);
    std::vector<uint64_t> next(mine.size(), 0);
    for (uint64_t round = 0; round < kRounds; ++round) {
      std::vector<client::SignedTx> batch;
      for (size_t k = 0; k < mine.size(); ++k) {
        const uint32_t s = mine[k];
        auto tx = testkit::MakeTx(Sender(s), chain, next[k],
                                  ledger::Transfer{Sender((s + 1) % kSenders).public_key(), 1});
        batch.push_back(client::SignedTx::Of(tx));
      }
      const bool after = killed.load();
      auto results = c.Submit(batch);
      MutexLock lock(&mu);
      for (size_t k = 0; k < mine.size(); ++k) {
        const client::TxResult& r = results[k];
        if (r.outcome == client::Outcome::kAccepted) {
          accepted.push_back({mine[k], next[k], batch[k].hash.ToHex(), r.node, after});
          if (after && affected.count(mine[k]) && !first_after_kill.count(mine[k])) {
            first_after_kill[mine[k]] = next[k];
          }
          ++next[k];
        } else if (r.outcome != client::Outcome::kRetryLater) {
          bad.push_back(std::string(client::OutcomeName(r.outcome)) + " " + r.reason);
        }
      }
      if (t == 0) min_round = round;
      std::this_thread::sleep_for(20ms);  // pacing: a steady stream, not synchronisation
    }
  };
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < kThreads; ++t) threads.emplace_back(sender_thread, t);

  REQUIRE(Eventually([&] { return min_round.load() >= kKillAtRound; }, 60s, 5ms));
  kill_time = SteadyClock::now();
  killed = true;
  net.Kill(victim);

  // Watch a survivor for the first commit of an affected sender's post-kill transaction.
  const std::string watch = victim == "v0" ? "v3" : "v0";
  auto watcher = net.Client(watch);
  double failover_ms = -1;
  REQUIRE(Eventually(
      [&] {
        std::map<uint32_t, uint64_t> want;
        {
          MutexLock lock(&mu);
          want = first_after_kill;
        }
        for (const auto& [s, nonce] : want) {
          auto a = watcher.Call("getAccount", {{"address", Sender(s).public_key().ToHex()}});
          if (a.ok() && a.value()["nonce"].get<uint64_t>() > nonce) {
            failover_ms =
                std::chrono::duration<double, std::milli>(SteadyClock::now() - kill_time).count();
            return true;
          }
        }
        return false;
      },
      60s, 5ms));
  std::printf(
      "client failover: %.0f ms from SIGKILL of %s to the next committed transaction of "
      "a sender it was home to\n",
      failover_ms, victim.c_str());

  for (auto& t : threads) t.join();
  {
    MutexLock lock(&mu);
    INFO("first bad outcome: " << (bad.empty() ? "" : bad.front()));
    CHECK(bad.empty());
  }
  const auto totals = c.Totals();
  std::printf("client failover: %zu accepted, %llu senders failed over, %llu resent, %llu lost\n",
              accepted.size(), static_cast<unsigned long long>(totals.failovers),
              static_cast<unsigned long long>(totals.resent),
              static_cast<unsigned long long>(totals.lost));
  CHECK_FALSE(c.Stats()[victim_index].healthy);
  CHECK(totals.lost == 0);

  // Sending went on for the victim's senders, through the other nodes.
  size_t affected_after = 0;
  for (const Accepted& a : accepted) {
    if (a.after_kill && affected.count(a.sender)) {
      ++affected_after;
      CHECK(a.node != victim_index);
    }
  }
  CHECK(affected_after > 0);

  // Every accepted transaction commits: what the victim held and had not relayed is resent.
  std::vector<ledger::Address> all;
  for (uint32_t s = 0; s < kSenders; ++s) all.push_back(Sender(s).public_key());
  std::map<uint32_t, uint64_t> count_of;
  for (const Accepted& a : accepted) count_of[a.sender] = std::max(count_of[a.sender], a.nonce + 1);
  REQUIRE(Eventually(
      [&] {
        c.ResendMoved(all);
        for (uint32_t s = 0; s < kSenders; ++s) {
          auto a = watcher.Call("getAccount", {{"address", Sender(s).public_key().ToHex()}});
          if (!a.ok() || a.value()["nonce"].get<uint64_t>() != count_of[s]) return false;
        }
        return true;
      },
      90s, 100ms));

  // Exactly once: each accepted hash is in exactly one block of the survivor's chain, and each
  // sender's committed nonce is the number of its accepted transactions (nonces contiguous from
  // 0, nothing applied twice or in their place).
  std::map<std::string, int> in_chain;
  const uint64_t head = watcher.Call("getStatus").value()["height"].get<uint64_t>();
  for (uint64_t h = 1; h <= head; ++h) {
    auto b = watcher.Call("getBlock", {{"height", h}});
    REQUIRE(b.ok());
    for (const auto& t : b.value()["txs"]) ++in_chain[t.get<std::string>()];
  }
  std::map<uint32_t, std::set<uint64_t>> nonces;
  size_t found = 0;
  for (const Accepted& a : accepted) {
    INFO("sender " << a.sender << " nonce " << a.nonce << " hash " << a.hash);
    CHECK(in_chain[a.hash] == 1);
    found += in_chain[a.hash] == 1;
    CHECK(nonces[a.sender].insert(a.nonce).second);  // accepted once per nonce
    auto t = watcher.Call("getTransaction", {{"hash", a.hash}});
    REQUIRE(t.ok());
    CHECK(t.value()["status"] == "committed");
    CHECK(t.value()["receipt"]["result"] == "ok");
  }
  for (const auto& [s, ns] : nonces) {
    CHECK(*ns.rbegin() + 1 == ns.size());  // 0..k-1, no gap
  }
  std::printf("client failover: %zu of %zu accepted transactions found committed once\n", found,
              accepted.size());

  // The CLI takes the same list: with the dead node first, cairn still answers, sends (to
  // the admin's node, or the next when that is the dead one) and follows (polling).
  const std::string list = victim_url + "," + UrlOf(net, watch);
  auto sent =
      testkit::RunCommand(CairnPath(), {"--rpc", list, "--json", "send", "transfer", "--key",
                                        net.AdminKeyPath(), "--to", Sender(0).public_key().ToHex(),
                                        "--amount", "1", "--wait", "--timeout", "60"});
  INFO(sent.err);
  CHECK(sent.exit_code == 0);
  CHECK(sent.out.find("\"committed\"") != std::string::npos);
  auto followed = testkit::RunCommand(CairnPath(), {"--rpc", list, "--json", "follow", "--from",
                                                    "1", "--count", "1", "--timeout", "60"});
  INFO(followed.err);
  CHECK(followed.exit_code == 0);
  CHECK(followed.out.find("\"height\"") != std::string::npos);
  auto cli = testkit::RunCommand(
      CairnPath(), {"--rpc", victim_url + "," + UrlOf(net, watch), "--json", "status"});
  INFO(cli.err);
  CHECK(cli.exit_code == 0);
  CHECK(cli.out.find("\"height\"") != std::string::npos);
}
