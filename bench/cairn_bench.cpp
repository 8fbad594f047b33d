// cairn-bench: a load generator for a running Cairn network (issue #7).
//
//   cairn-bench genesis --genesis FILE --accounts M [--seed S]
//       adds M funded bench accounts to a generated testnet's genesis, before its nodes start
//   cairn-bench --rpc URL[,URL...] [--rpc URL ...] (--prefunded | --key ADMIN_KEY) [options]
//       runs the load and prints the report (table, and JSON with --json FILE)
//
// Setup (untimed): the accounts come from the genesis (--prefunded) or are registered and
// funded by the admin key over RPC; then N transfers are pre-signed. The timed window submits
// them through the client library (client/client.h: each account to its node by consistent
// hashing, failed over to the next when that node dies) with sendTransactions to every node
// (open loop at --rate tx/s, or as fast as accepted),
// bounded by --duration, and follows committed blocks on --follow to time each transaction
// from submission to commit. Exit status: 0 ok, 1 error, 2 accepted transactions were not
// committed (lost), 3 nothing committed.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/load.h"
#include "bench/procstat.h"
#include "bench/report.h"
#include "bench/sweep.h"
#include "client/client.h"
#include "crypto/hex.h"
#include "crypto/key_file.h"
#include "genesis/genesis.h"
#include "ledger/transaction.h"
#include "rpc/client.h"

using namespace cairn;
using namespace cairn::bench;
using nlohmann::json;

namespace {

// bench's steady clock, not cairn::Clock (base/clock.h, which client/client.h brings in).
using Clock = bench::Clock;

struct Options {
  std::vector<std::string> rpc;
  std::string follow;
  std::string key_file;
  bool prefunded = false;
  size_t accounts = 200;
  uint64_t seed = 1;
  size_t txs = 0;
  size_t max_txs = 2'000'000;
  double rate = 0;
  double duration_s = 60;
  double drain_timeout_s = 60;
  size_t batch = 0;
  size_t conns_per_node = 0;
  double trim = 0.1;
  double verifications_per_tx = 0;
  double verify_seconds = 1.0;
  std::vector<std::string> pid_specs;
  std::string pid_file;
  std::string json_file;
  std::string scenario = "custom";
  std::string sweep;    // factors of `capacity`, one step each (bench/sweep.h)
  double capacity = 0;  // tx/s the sweep's factors multiply
};

rpc::Client Connect(const std::string& url) {
  auto c = rpc::Client::Create(url);
  if (!c.ok()) Die(c.error());
  return std::move(c.value());
}

json CallOrDie(rpc::Client& c, const std::string& method, const json& params = nullptr) {
  auto r = c.Call(method, params);
  if (!r.ok()) Die(method + " on " + c.url() + ": " + r.status().message());
  return r.value();
}

// getAccount for many addresses in JSON-RPC batches; null where the account does not exist.
std::vector<json> GetAccounts(rpc::Client& c, const std::vector<crypto::KeyPair>& keys) {
  std::vector<json> out;
  for (size_t start = 0; start < keys.size(); start += 500) {
    std::vector<std::pair<std::string, json>> calls;
    for (size_t i = start; i < std::min(keys.size(), start + 500); ++i) {
      calls.emplace_back("getAccount", json{{"address", keys[i].public_key().ToHex()}});
    }
    auto r = c.CallBatch(calls);
    if (!r.ok()) Die("getAccount batch: " + r.error());
    for (auto& one : *r) out.push_back(one.ok() ? one.value() : json());
  }
  return out;
}

// Registers and funds the accounts from the admin key (one node; not timed).
void RegisterOverRpc(rpc::Client& c, const std::string& key_file, const std::string& chain,
                     const std::vector<crypto::KeyPair>& keys) {
  auto admin = crypto::ReadKeyFile(key_file);
  if (!admin.ok()) Die(admin.error());
  uint64_t nonce =
      CallOrDie(c, "getAccount", {{"address", admin->public_key().ToHex()}})["next_nonce"];
  std::vector<std::string> hex;
  std::string last;
  for (const crypto::KeyPair& k : keys) {
    for (int step = 0; step < 2; ++step) {
      ledger::Transaction tx;
      tx.chain_id = chain;
      tx.nonce = nonce++;
      if (step == 0) {
        tx.payload = ledger::RegisterAccount{k.public_key(), ledger::Role::kMember};
      } else {
        tx.payload = ledger::Transfer{k.public_key(), 1'000'000'000};
      }
      tx.Sign(*admin);
      hex.push_back(crypto::ToHex(tx.Encode()));
      last = tx.Hash().ToHex();
    }
  }
  auto deadline = Clock::now() + std::chrono::seconds(120);
  for (size_t pos = 0; pos < hex.size();) {
    json batch = json::array();
    for (size_t i = pos; i < std::min(hex.size(), pos + 500); ++i) batch.push_back(hex[i]);
    json res = CallOrDie(c, "sendTransactions", {{"txs", batch}})["results"];
    size_t ok = 0;
    for (const json& r : res) {
      std::string reason = r.contains("error") ? r["error"]["data"].value("reason", "") : "";
      if (!reason.empty() && reason != "already_known") break;
      ++ok;
    }
    pos += ok;
    if (ok < res.size()) {
      if (Clock::now() > deadline) Die("setup: the admin's transactions are not being admitted");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  while (CallOrDie(c, "getTransaction", {{"hash", last}})["status"] != "committed") {
    if (Clock::now() > deadline) Die("setup transactions did not commit within 120 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Transactions per sendTransactions call at `rate` over `lanes`: at a fixed rate a batch
// every ~20 ms per lane keeps submission close to uniform; flat out, 1,000.
size_t StepBatch(double rate, size_t lanes) {
  if (rate <= 0) return 1000;
  return std::clamp<size_t>(static_cast<size_t>(rate * 0.02 / static_cast<double>(lanes)), 1, 1000);
}

void WriteJson(const std::string& path, const json& j) {
  std::ofstream f(path, std::ios::trunc);
  f << j.dump(2) << "\n";
  if (!f) Die("cannot write " + path);
}

void ReadPidFile(const std::string& path, std::vector<std::string>* specs) {
  std::ifstream f(path);
  if (!f) Die("cannot read --pid-file " + path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::replace(line.begin(), line.end(), ' ', '=');
    specs->push_back(line);
  }
}

int Run(Options o) {
  // Each --rpc may be a comma-separated list, as cairn's --rpc.
  std::vector<std::string> urls;
  for (const std::string& r : o.rpc) {
    auto list = client::Client::ParseUrlList(r);
    if (!list.ok()) Die("--rpc: " + list.error());
    for (std::string& u : *list) {
      if (std::find(urls.begin(), urls.end(), u) == urls.end()) urls.push_back(std::move(u));
    }
  }
  o.rpc = std::move(urls);
  if (o.rpc.empty()) o.rpc.push_back("http://127.0.0.1:8545");
  if (o.follow.empty()) o.follow = o.rpc.front();
  if (!o.prefunded && o.key_file.empty()) Die("give --key ADMIN_KEY or --prefunded");
  if (o.accounts < 2) Die("--accounts must be at least 2");
  if (!o.sweep.empty()) {
    if (ParseSweepFactors(o.sweep).empty())
      Die("--sweep: expected rising positive factors such as 0.25,0.5,1,2,3");
    if (!(o.capacity > 0)) Die("--sweep needs --capacity (tx/s the factors multiply)");
    if (o.json_file == "-") Die("--sweep prints its table; give --json a file");
  }
  if (!o.pid_file.empty()) ReadPidFile(o.pid_file, &o.pid_specs);
  std::vector<std::string> pid_names;
  std::vector<pid_t> pids;
  for (const std::string& s : o.pid_specs) {
    auto p = ParsePidSpec(s);
    if (!p) Die("--pid: expected NAME=PID, got '" + s + "'");
    pid_names.push_back(p->first);
    pids.push_back(p->second);
  }
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (o.conns_per_node == 0) {
    // Admission is one synchronous call per batch: at full rate several calls in flight per
    // node keep its RPC threads and verifiers busy; at a fixed rate two keep a slow call from
    // delaying the schedule.
    o.conns_per_node = o.rate > 0 || !o.sweep.empty() ? 2 : 4;
  }
  size_t lanes = o.rpc.size() * o.conns_per_node;
  if (o.batch == 0 && o.sweep.empty()) o.batch = StepBatch(o.rate, lanes);

  rpc::Client follower = Connect(o.follow);
  json status = CallOrDie(follower, "getStatus");
  if (o.verifications_per_tx <= 0) {
    // BFT: every validator verifies each transaction once; Raft and solo: only the validator
    // that admits it from a client (docs/CONSENSUS.md, "Raft and BFT compared").
    o.verifications_per_tx = 1;
    if (genesis::ParseConsensusKind(status.value("consensus", "")) ==
        genesis::ConsensusKind::kBft) {
      o.verifications_per_tx = static_cast<double>(CallOrDie(follower, "getValidators").size());
    }
  }
  // The machine's ceiling, measured while the network is idle.
  double load_before = LoadAverage1();
  double verify_rate = MeasureVerifyRate(o.verify_seconds);
  double ceiling = verify_rate * cores / o.verifications_per_tx;
  if (o.txs == 0) {
    // Enough for the whole --duration: the offered load, or the most the ceiling allows.
    double want = (o.rate > 0 ? o.rate : 1.1 * ceiling) * o.duration_s;
    o.txs = std::min(o.max_txs, static_cast<size_t>(want) + 1);
  }

  std::string chain = status["chain_id"];
  for (const std::string& u : o.rpc) {
    rpc::Client c = Connect(u);
    if (CallOrDie(c, "getStatus")["chain_id"] != chain) Die(u + " serves another chain");
  }

  auto t_setup = Clock::now();
  std::vector<crypto::KeyPair> keys;
  for (size_t i = 0; i < o.accounts; ++i) keys.push_back(AccountKey(o.seed, i));
  if (!o.prefunded) RegisterOverRpc(follower, o.key_file, chain, keys);
  double setup_s = std::chrono::duration<double>(Clock::now() - t_setup).count();

  // One timed load at `rate` (0: as fast as accepted) from the accounts' current nonces:
  // pre-signs `txs` transfers, submits them for at most `duration` seconds, then drains.
  auto run_at = [&](double rate, double duration, size_t txs, size_t batch, double* presign_s) {
    std::vector<uint64_t> nonces;
    for (const json& a : GetAccounts(follower, keys)) {
      if (a.is_null()) {
        Die("a bench account is not registered" +
            std::string(o.prefunded ? ": run `cairn-bench genesis` on the genesis file first"
                                    : ""));
      }
      nonces.push_back(a.value("next_nonce", uint64_t{0}));
    }
    auto t_sign = Clock::now();
    std::fprintf(stderr, "cairn-bench: pre-signing %zu transfers from %zu accounts...\n", txs,
                 o.accounts);
    Load load = PrepareLoad(keys, nonces, chain, txs, client::Ring(o.rpc), o.conns_per_node, cores);
    *presign_s = std::chrono::duration<double>(Clock::now() - t_sign).count();
    RunParams p;
    p.rpc = o.rpc;
    p.follow = o.follow;
    p.rate = rate;
    p.duration_s = duration;
    p.drain_timeout_s = o.drain_timeout_s;
    p.batch = batch;
    p.start_height = CallOrDie(follower, "getStatus")["height"];
    p.pids = pids;
    std::fprintf(
        stderr, "cairn-bench: load running at %s (at most %.0f s, then up to %.0f s drain)\n",
        rate > 0 ? (std::to_string(static_cast<long>(rate)) + " tx/s").c_str() : "full rate",
        duration, o.drain_timeout_s);
    auto tl = std::make_unique<Timeline>(txs);
    RunLoad(load, p, tl.get());
    return tl;
  };

  if (!o.sweep.empty()) {
    std::vector<double> factors = ParseSweepFactors(o.sweep);
    json steps = json::array();
    for (double f : factors) {
      double rate = f * o.capacity;
      size_t txs = std::min(o.max_txs, static_cast<size_t>(rate * o.duration_s) + 1);
      size_t batch = o.batch ? o.batch : StepBatch(rate, lanes);
      double presign_s = 0;
      auto tl = run_at(rate, o.duration_s, txs, batch, &presign_s);
      steps.push_back(SweepStep(*tl, f, rate, o.trim));
      std::fprintf(stderr, "cairn-bench: step %.2fx: %.0f offered, %.0f committed/s, p99 %.0f ms\n",
                   f, rate, steps.back()["goodput_tps"].get<double>(),
                   steps.back()["latency_ms"]["p99"].get<double>());
    }
    json sweep = SweepReport(o.scenario, o.capacity, ceiling, steps);
    sweep["setup_s"] = setup_s;
    sweep["config"] = {{"rpc", o.rpc},
                       {"step_duration_s", o.duration_s},
                       {"conns_per_node", o.conns_per_node},
                       {"accounts", o.accounts},
                       {"verifications_per_tx", o.verifications_per_tx},
                       {"ed25519_verify_per_s_core", verify_rate},
                       {"cores", cores},
                       {"load_avg_1m_before", load_before},
                       {"load_avg_1m_after", LoadAverage1()}};
    PrintSweepTable(sweep);
    if (!o.json_file.empty()) WriteJson(o.json_file, sweep);
    if (sweep["lost"].get<size_t>() > 0) return 2;
    return sweep["peak_goodput_tps"].get<double>() > 0 ? 0 : 3;
  }

  double presign_s = 0;
  auto tl_owner = run_at(o.rate, o.duration_s, o.txs, o.batch, &presign_s);
  const Timeline& tl = *tl_owner;

  ReportInputs in;
  in.scenario = o.scenario;
  in.config = {{"rpc", o.rpc},
               {"follow", o.follow},
               {"rate", o.rate},
               {"duration_s", o.duration_s},
               {"drain_timeout_s", o.drain_timeout_s},
               {"batch", o.batch},
               {"conns_per_node", o.conns_per_node},
               {"lanes", lanes},
               {"accounts", o.accounts},
               {"prefunded", o.prefunded},
               {"txs", o.txs}};
  in.pid_names = pid_names;
  in.pids = pids;
  in.trim = o.trim;
  in.verify_per_s_core = verify_rate;
  in.cores = cores;
  in.verifications_per_tx = o.verifications_per_tx;
  in.load_avg_before = load_before;
  in.load_avg_after = LoadAverage1();
  in.setup_s = setup_s;
  in.presign_s = presign_s;
  json report = BuildReport(tl, in);

  if (o.json_file == "-") {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    PrintTable(report);
    if (!o.json_file.empty()) WriteJson(o.json_file, report);
  }
  if (report["txs"]["lost"].get<size_t>() > 0) return 2;
  if (report["txs"]["committed"].get<size_t>() == 0) return 3;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  crypto::Init();
  Options o;
  CLI::App app{"cairn-bench: load generator for a Cairn network (BENCHMARKS.md)"};
  app.require_subcommand(0, 1);
  app.add_option("--rpc", o.rpc,
                 "node RPC URL, repeated or comma-separated: each account's transactions go to "
                 "its node by consistent hashing (docs/CLIENT.md)");
  app.add_option("--follow", o.follow,
                 "URL whose committed blocks time the transactions "
                 "(default: the first --rpc)");
  app.add_option("--key", o.key_file, "funded admin key: registers and funds the accounts");
  app.add_flag("--prefunded", o.prefunded,
               "the accounts are in the genesis already (cairn-bench genesis)");
  app.add_option("--accounts", o.accounts, "sending accounts")->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the accounts' keys")->capture_default_str();
  app.add_option("--txs", o.txs,
                 "transfers to pre-sign; 0: rate x duration, or 1.1 x ceiling x duration at "
                 "full rate")
      ->capture_default_str();
  app.add_option("--max-txs", o.max_txs, "cap on the automatic --txs (memory)")
      ->capture_default_str();
  app.add_option("--rate", o.rate, "offered load in tx/s over all nodes; 0: as fast as accepted")
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "stop submitting after this many seconds")
      ->capture_default_str();
  app.add_option("--drain-timeout", o.drain_timeout_s,
                 "then wait at most this long for accepted transactions to commit")
      ->capture_default_str();
  app.add_option("--batch", o.batch,
                 "transactions per sendTransactions call; 0: 1000, or ~20 ms of load at --rate")
      ->capture_default_str();
  app.add_option("--conns-per-node", o.conns_per_node,
                 "submitting connections per node; 0: 4 at full rate, 2 at --rate")
      ->capture_default_str();
  app.add_option("--trim", o.trim, "fraction of the load period cut from each end")
      ->capture_default_str();
  app.add_option("--verifications-per-tx", o.verifications_per_tx,
                 "Ed25519 verifications of each tx across the network (default: the number "
                 "of validators on a BFT chain, else 1)");
  app.add_option("--verify-seconds", o.verify_seconds, "length of the verification measurement")
      ->capture_default_str();
  app.add_option("--pid", o.pid_specs, "NAME=PID of a node process to measure, repeated");
  app.add_option("--pid-file", o.pid_file, "file of 'NAME PID' or 'NAME=PID' lines");
  app.add_option("--json", o.json_file, "also write the report as JSON to FILE ('-': stdout only)");
  app.add_option("--scenario", o.scenario, "name in the report")->capture_default_str();
  app.add_option("--sweep", o.sweep,
                 "goodput sweep: comma-separated factors of --capacity, one step of --duration "
                 "seconds each, drained in between (e.g. 0.25,0.5,0.75,1,1.5,2,3)");
  app.add_option("--capacity", o.capacity, "tx/s the --sweep factors multiply");

  std::string genesis_path;
  size_t genesis_accounts = 200;
  uint64_t genesis_seed = 1, balance = 1'000'000'000;
  CLI::App* gen = app.add_subcommand("genesis", "add funded bench accounts to a genesis file");
  gen->add_option("--genesis", genesis_path, "genesis.json to extend in place")->required();
  gen->add_option("--accounts", genesis_accounts, "accounts")->capture_default_str();
  gen->add_option("--seed", genesis_seed, "seed of their keys")->capture_default_str();
  gen->add_option("--balance", balance, "balance of each")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (gen->parsed()) {
    AddGenesisAccounts(genesis_path, genesis_accounts, genesis_seed, balance);
    std::printf("added %zu bench accounts (seed %llu) to %s\n", genesis_accounts,
                static_cast<unsigned long long>(genesis_seed), genesis_path.c_str());
    return 0;
  }
  try {
    return Run(std::move(o));
  } catch (const std::exception& e) {
    Die(std::string("internal error: ") + e.what());
  }
}
