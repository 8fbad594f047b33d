// cairn-bench: a load generator for a running Cairn network.
//
// Registers and funds --accounts accounts from the admin key, pre-signs --txs transfers
// between them (signing is not what we measure), submits them with sendTransactions in
// batches to every --rpc URL (round robin) as fast as the nodes accept them, and follows
// committed blocks on the first URL to time each transaction from submission to commit.
// Prints a table, or JSON with --json. Bounded in count and in time (--timeout).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "crypto/hex.h"
#include "crypto/key_file.h"
#include "ledger/transaction.h"
#include "rpc/client.h"

using namespace cairn;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

struct Options {
  std::vector<std::string> rpc = {"http://127.0.0.1:8545"};
  std::string key_file;
  size_t accounts = 100;
  size_t txs = 5000;
  size_t batch = 500;
  double timeout_s = 120;
  bool json_out = false;
  uint64_t seed = 1;
};

crypto::KeyPair AccountKey(uint64_t seed, size_t i) {
  std::array<uint8_t, 32> s{};
  for (int b = 0; b < 8; ++b) s[b] = static_cast<uint8_t>(seed >> (8 * b));
  for (int b = 0; b < 8; ++b) s[8 + b] = static_cast<uint8_t>(i >> (8 * b));
  s[31] = 0xbe;
  return crypto::KeyPair::FromSeed(crypto::PrivateKey(s));
}

ledger::Transaction Sign(const crypto::KeyPair& k, const std::string& chain, uint64_t nonce,
                         ledger::Payload p) {
  ledger::Transaction tx;
  tx.chain_id = chain;
  tx.nonce = nonce;
  tx.payload = std::move(p);
  tx.Sign(k);
  return tx;
}

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "cairn-bench: %s\n", msg.c_str());
  std::exit(1);
}

rpc::Client Connect(const std::string& url) {
  auto c = rpc::Client::Create(url);
  if (!c.ok()) Die(c.error());
  return std::move(c.value());
}

json CallOrDie(rpc::Client& c, const std::string& method, const json& params) {
  auto r = c.Call(method, params);
  if (!r.ok()) Die(method + ": " + r.status().message());
  return r.value();
}

// Submits txs (in order) in batches; returns per-tx submission times. Retries refusals that
// are about capacity (mempool_full, sender_queue_full) until accepted or the deadline.
std::vector<Clock::time_point> Submit(std::vector<rpc::Client>& clients,
                                      const std::vector<ledger::Transaction>& txs, size_t batch,
                                      Clock::time_point deadline, size_t* refused) {
  std::vector<Clock::time_point> at(txs.size());
  size_t next_client = 0;
  for (size_t start = 0; start < txs.size();) {
    size_t end = std::min(txs.size(), start + batch);
    json hex = json::array();
    for (size_t i = start; i < end; ++i) hex.push_back(crypto::ToHex(txs[i].Encode()));
    auto now = Clock::now();
    rpc::Client& c = clients[next_client++ % clients.size()];
    auto r = c.Call("sendTransactions", {{"txs", hex}});
    if (!r.ok()) Die("sendTransactions: " + r.status().message());
    const json& results = r.value()["results"];
    size_t accepted_prefix = 0;
    bool retry = false;
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i].contains("error")) {
        at[start + i] = now;
        if (!retry) ++accepted_prefix;
        continue;
      }
      std::string reason = results[i]["error"]["data"]["reason"];
      if (reason == "mempool_full" || reason == "sender_queue_full" || reason == "nonce_too_high") {
        retry = true;
        continue;
      }
      if (reason == "already_known") {
        if (at[start + i] == Clock::time_point()) at[start + i] = now;
        if (!retry) ++accepted_prefix;
        continue;
      }
      ++*refused;
      std::fprintf(stderr, "refused: %s\n", results[i]["error"].dump().c_str());
      if (!retry) ++accepted_prefix;
    }
    start += accepted_prefix;
    if (retry) {
      if (Clock::now() > deadline) Die("timed out submitting (mempool stays full)");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // back-pressure
    }
  }
  return at;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  crypto::Init();
  Options o;
  CLI::App app{"cairn-bench: load generator for a Cairn network"};
  app.add_option("--rpc", o.rpc, "node RPC URLs (transactions are spread over them)");
  app.add_option("--key", o.key_file, "funded admin key file")->required();
  app.add_option("--accounts", o.accounts, "accounts to register and fund")->capture_default_str();
  app.add_option("--txs", o.txs, "transfers to submit in the timed window")->capture_default_str();
  app.add_option("--batch", o.batch, "transactions per sendTransactions call")
      ->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "give up after this many seconds")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed for the accounts' keys")->capture_default_str();
  app.add_flag("--json", o.json_out, "print the report as JSON");
  CLI11_PARSE(app, argc, argv);

  auto admin = crypto::ReadKeyFile(o.key_file);
  if (!admin.ok()) Die(admin.error());
  std::vector<rpc::Client> clients;
  for (const std::string& u : o.rpc) clients.push_back(Connect(u));
  rpc::Client follower = Connect(o.rpc.front());
  json status = CallOrDie(follower, "getStatus", json::object());
  std::string chain = status["chain_id"];
  auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));

  // Setup (not timed): register and fund the accounts.
  uint64_t admin_nonce =
      CallOrDie(follower, "getAccount", {{"address", admin->public_key().ToHex()}})["next_nonce"];
  std::vector<crypto::KeyPair> keys;
  std::vector<ledger::Transaction> setup;
  for (size_t i = 0; i < o.accounts; ++i) {
    keys.push_back(AccountKey(o.seed, i));
    setup.push_back(Sign(*admin, chain, admin_nonce++,
                         ledger::RegisterAccount{keys.back().public_key(), ledger::Role::kMember}));
    setup.push_back(Sign(*admin, chain, admin_nonce++,
                         ledger::Transfer{keys.back().public_key(), 1'000'000'000}));
  }
  size_t refused = 0;
  std::vector<rpc::Client> first;
  first.push_back(Connect(o.rpc.front()));
  Submit(first, setup, o.batch, deadline, &refused);
  std::string last_setup = setup.back().Hash().ToHex();
  while (CallOrDie(follower, "getTransaction", {{"hash", last_setup}})["status"] != "committed") {
    if (Clock::now() > deadline) Die("setup transactions did not commit");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // Pre-sign the load.
  std::vector<uint64_t> nonces(o.accounts);
  for (size_t i = 0; i < o.accounts; ++i) {
    nonces[i] = CallOrDie(follower, "getAccount",
                          {{"address", keys[i].public_key().ToHex()}})["next_nonce"];
  }
  std::vector<ledger::Transaction> load;
  load.reserve(o.txs);
  for (size_t i = 0; i < o.txs; ++i) {
    size_t from = i % o.accounts, to = (i + 1) % o.accounts;
    load.push_back(
        Sign(keys[from], chain, nonces[from]++, ledger::Transfer{keys[to].public_key(), 1}));
  }
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < load.size(); ++i) index[load[i].Hash().ToHex()] = i;
  uint64_t start_height = CallOrDie(follower, "getStatus", json::object())["height"];

  // Timed window: submit on this thread, follow blocks on another.
  auto t0 = Clock::now();
  std::vector<Clock::time_point> committed_at(load.size());
  size_t committed = 0;
  uint64_t blocks = 0, last_height = start_height;
  std::atomic<bool> done_submitting{false};
  std::vector<Clock::time_point> submitted_at;
  std::thread submitter([&] {
    submitted_at = Submit(clients, load, o.batch, deadline, &refused);
    done_submitting = true;
  });
  while (committed < load.size() - refused && Clock::now() < deadline) {
    json st = CallOrDie(follower, "getStatus", json::object());
    uint64_t head = st["height"];
    for (uint64_t h = last_height + 1; h <= head; ++h) {
      json b = CallOrDie(follower, "getBlock", {{"height", h}});
      auto now = Clock::now();
      ++blocks;
      for (const auto& th : b["txs"]) {
        auto it = index.find(th.get<std::string>());
        if (it != index.end() && committed_at[it->second] == Clock::time_point()) {
          committed_at[it->second] = now;
          ++committed;
        }
      }
    }
    last_height = head;
    if (committed < load.size()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  submitter.join();
  auto t1 = Clock::now();
  std::vector<double> lat;
  Clock::time_point last_commit = t0;
  for (size_t i = 0; i < load.size(); ++i) {
    if (committed_at[i] == Clock::time_point() || submitted_at[i] == Clock::time_point()) continue;
    lat.push_back(
        std::chrono::duration<double, std::milli>(committed_at[i] - submitted_at[i]).count());
    last_commit = std::max(last_commit, committed_at[i]);
  }
  double window = std::chrono::duration<double>(last_commit - t0).count();
  size_t lost = load.size() - refused - committed;
  json report = {{"txs", load.size()},
                 {"committed", committed},
                 {"refused", refused},
                 {"accepted_not_committed", lost},
                 {"window_s", window},
                 {"tps", window > 0 ? committed / window : 0},
                 {"blocks", blocks},
                 {"txs_per_block", blocks ? double(committed) / blocks : 0},
                 {"latency_ms",
                  {{"p50", Percentile(lat, 50)},
                   {"p95", Percentile(lat, 95)},
                   {"p99", Percentile(lat, 99)},
                   {"max", Percentile(lat, 100)}}},
                 {"elapsed_s", std::chrono::duration<double>(t1 - t0).count()}};
  if (o.json_out) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    std::printf(
        "transactions   %zu submitted, %zu committed, %zu refused, %zu accepted but not "
        "committed\n",
        load.size(), committed, refused, lost);
    std::printf("throughput     %.0f tx/s over %.2f s\n", report["tps"].get<double>(), window);
    std::printf("blocks         %llu (%.1f tx/block)\n", static_cast<unsigned long long>(blocks),
                report["txs_per_block"].get<double>());
    std::printf("latency (ms)   p50 %.1f  p95 %.1f  p99 %.1f  max %.1f\n", Percentile(lat, 50),
                Percentile(lat, 95), Percentile(lat, 99), Percentile(lat, 100));
  }
  return lost == 0 ? 0 : 2;
}
