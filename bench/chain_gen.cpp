// cairn-chaingen: a long chain written straight into a testnet's data dir, for the benchmarks of
// issue 17 (state sync, snapshots and pruning need a chain of 1,000,000 accounts and 100,000
// blocks, which no load run reaches in reasonable time).
//
//   cairn-chaingen --out DIR --accounts N --blocks M [--txs-per-block K] [--seed S]
//                  [--validators 1] [--observers O] [--block-interval-ms I] [--rpc-port P]
//                  [--p2p-port P]
//
// Makes a solo testnet in DIR with the one generator (config/testnet.h, as `cairnd testnet`),
// validator v0 plus O observers with empty data dirs, and then, through ledger APIs only,
// commits blocks 1..M to v0's data dir: the admin registers the N accounts (bench account i of
// seed S, bench/load.h AccountKey, so `cairn-bench --prefunded --seed S` can drive them), the
// admin funds them, then each block holds K transfers of 1 from the next account in turn to
// a seeded random one. Blocks are built by ledger::BuildBlock and signed by v0's node key, as
// the solo engine's BlockBuilder does, and committed by ChainStore::Commit (unsynced; the last
// block synced), so `cairn audit` and a node's BlockRules accept the chain.
//
// Why solo: a Raft validator refuses to start on a ledger past genesis without its engine
// state ('C' keys, node/engine_driver.cpp "consensus state lost"), which only the engine
// writes. A solo network is a real network: observers block-sync from v0 and can state-sync.
//
// Genesis time is moved back by (M + 1) block intervals, so block i is stamped
// genesis + i * interval and the head is in the past when cairnd starts (the next block must
// not be older than its parent).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "bench/load.h"
#include "config/node_config.h"
#include "config/testnet.h"
#include "crypto/key_file.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "ledger/executor.h"
#include "ledger/transaction.h"

using namespace cairn;

namespace {

using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string out;
  size_t accounts = 1000;
  uint64_t blocks = 200;
  size_t txs_per_block = 10;
  uint64_t seed = 1;
  size_t validators = 1;
  size_t observers = 1;
  uint64_t block_interval_ms = 200;
  uint16_t rpc_port = 8545;
  uint16_t p2p_port = 26656;
};

[[noreturn]] void Fail(const std::string& msg) {
  std::fprintf(stderr, "cairn-chaingen: %s\n", msg.c_str());
  std::exit(1);
}

double Seconds(SteadyClock::time_point since) {
  return std::chrono::duration<double>(SteadyClock::now() - since).count();
}

// Signs txs[i] with key_of(i) on `threads` threads: the 5,000-transaction blocks of the
// registration and funding are mostly signing. Small blocks are signed inline (starting
// threads would cost more).
template <typename KeyOf>
void SignAll(std::vector<ledger::Transaction>& txs, KeyOf key_of, unsigned threads) {
  auto work = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) txs[i].Sign(key_of(i));
  };
  if (threads <= 1 || txs.size() < 64) {
    work(0, txs.size());
    return;
  }
  std::vector<std::thread> pool;
  const size_t per = (txs.size() + threads - 1) / threads;
  for (unsigned t = 0; t < threads; ++t) {
    const size_t begin = t * per, end = std::min(txs.size(), begin + per);
    if (begin < end) pool.emplace_back(work, begin, end);
  }
  for (std::thread& th : pool) th.join();
}

class Generator {
 public:
  Generator(const Options& o, const genesis::Genesis& g, crypto::KeyPair admin,
            crypto::KeyPair proposer, ledger::ChainStore& store)
      : o_(o),
        g_(g),
        admin_(admin),
        proposer_(proposer),
        store_(store),
        rng_(o.seed),
        max_txs_(g.params.max_block_txs),
        threads_(std::max(1u, std::thread::hardware_concurrency())) {
    auto head = store_.HeaderAt(store_.head().height);
    if (!head.ok() || !head->has_value()) Fail("cannot read the head header of the new store");
    parent_ = **head;
  }

  void Run() {
    const uint64_t per_phase = (o_.accounts + max_txs_ - 1) / max_txs_;
    if (o_.blocks < 2 * per_phase + 1) {
      Fail("--blocks " + std::to_string(o_.blocks) + " is too few: registering and funding " +
           std::to_string(o_.accounts) + " accounts takes " + std::to_string(2 * per_phase) +
           " blocks of " + std::to_string(max_txs_) + " transactions");
    }
    start_ = last_print_ = SteadyClock::now();
    nonces_.assign(o_.accounts, 0);
    DeriveKeys();
    // Each account gets an even share of half the admin's balance: enough for every transfer.
    auto admin_account = store_.GetAccount(admin_.public_key());
    if (!admin_account) Fail("the genesis admin account is missing");
    const uint64_t funding = admin_account->balance / 2 / o_.accounts;
    if (funding == 0) Fail("the admin's balance cannot fund that many accounts");

    for (size_t first = 0; first < o_.accounts; first += max_txs_) {
      const size_t n = std::min<size_t>(max_txs_, o_.accounts - first);
      std::vector<ledger::Transaction> txs(n);
      for (size_t i = 0; i < n; ++i) {
        txs[i].chain_id = g_.chain_id;
        txs[i].nonce = admin_nonce_++;
        txs[i].payload =
            ledger::RegisterAccount{keys_[first + i].public_key(), ledger::Role::kMember};
      }
      SignAll(
          txs, [&](size_t) -> const crypto::KeyPair& { return admin_; }, threads_);
      Commit(std::move(txs), "register");
    }
    for (size_t first = 0; first < o_.accounts; first += max_txs_) {
      const size_t n = std::min<size_t>(max_txs_, o_.accounts - first);
      std::vector<ledger::Transaction> txs(n);
      for (size_t i = 0; i < n; ++i) {
        txs[i].chain_id = g_.chain_id;
        txs[i].nonce = admin_nonce_++;
        txs[i].payload = ledger::Transfer{keys_[first + i].public_key(), funding};
      }
      SignAll(
          txs, [&](size_t) -> const crypto::KeyPair& { return admin_; }, threads_);
      Commit(std::move(txs), "fund");
    }
    std::uniform_int_distribution<size_t> pick(0, o_.accounts - 1);
    while (parent_.height < o_.blocks) {
      std::vector<ledger::Transaction> txs(o_.txs_per_block);
      std::vector<size_t> senders(o_.txs_per_block);
      for (size_t i = 0; i < txs.size(); ++i) {
        // Senders in turn, so no account sends twice in a block and every account is touched.
        senders[i] = next_sender_;
        next_sender_ = (next_sender_ + 1) % o_.accounts;
        txs[i].chain_id = g_.chain_id;
        txs[i].nonce = nonces_[senders[i]]++;
        txs[i].payload = ledger::Transfer{keys_[pick(rng_)].public_key(), 1};
      }
      SignAll(
          txs, [&](size_t i) -> const crypto::KeyPair& { return keys_[senders[i]]; }, threads_);
      Commit(std::move(txs), "transfer");
    }
    Print("done", /*force=*/true);
  }

 private:
  // Every account's key pair, derived once (about 100 bytes each: 100 MB for 1M accounts)
  // rather than once per transaction that names it.
  void DeriveKeys() {
    keys_.resize(o_.accounts, admin_);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads_; ++t) {
      pool.emplace_back([this, t] {
        for (size_t i = t; i < keys_.size(); i += threads_)
          keys_[i] = bench::AccountKey(o_.seed, i);
      });
    }
    for (std::thread& th : pool) th.join();
    std::printf("chaingen: derived %zu account keys in %.1f s\n", keys_.size(), Seconds(start_));
  }

  void Commit(std::vector<ledger::Transaction> txs, const char* phase) {
    const size_t count = txs.size();
    ledger::ExecOptions opts;
    // Signed here a moment ago; the audit and every syncing node verify them all.
    opts.signature_known_valid = [](const crypto::Hash256&) { return true; };
    const uint64_t height = parent_.height + 1;
    const uint64_t timestamp = g_.genesis_time_ms + height * o_.block_interval_ms;
    ledger::BuiltBlock built = ledger::BuildBlock(store_, parent_, store_.HeadView(),
                                                  std::move(txs), timestamp, proposer_, {}, opts);
    if (!built.skipped.empty()) {
      Fail("block " + std::to_string(height) + " (" + phase +
           "): " + std::to_string(built.skipped.size()) + " transactions were skipped");
    }
    if (Status s = store_.StateReadError(); !s.ok()) Fail("state read: " + s.message());
    // One synced write at the end makes the whole chain durable (LevelDB's log is ordered).
    const bool last = height == o_.blocks;
    if (Status s = store_.Commit(built.block, built.exec, /*sync=*/last); !s.ok()) {
      Fail("commit of block " + std::to_string(height) + ": " + s.message());
    }
    parent_ = built.block.header;
    txs_ += count;
    Print(phase, /*force=*/false);
  }

  void Print(const char* phase, bool force) {
    const auto now = SteadyClock::now();
    if (!force && now - last_print_ < std::chrono::seconds(5)) return;
    last_print_ = now;
    const double s = Seconds(start_);
    std::printf("chaingen: %s: block %llu/%llu, %llu txs, %.0f s, %.0f blocks/s, %.0f tx/s\n",
                phase, static_cast<unsigned long long>(parent_.height),
                static_cast<unsigned long long>(o_.blocks), static_cast<unsigned long long>(txs_),
                s, parent_.height / std::max(s, 1e-3), txs_ / std::max(s, 1e-3));
    std::fflush(stdout);
  }

  const Options& o_;
  const genesis::Genesis& g_;
  crypto::KeyPair admin_;
  crypto::KeyPair proposer_;
  ledger::ChainStore& store_;
  std::mt19937_64 rng_;
  const size_t max_txs_;
  const unsigned threads_;
  ledger::BlockHeader parent_;
  uint64_t admin_nonce_ = 0;
  std::vector<crypto::KeyPair> keys_;
  std::vector<uint64_t> nonces_;
  size_t next_sender_ = 0;
  uint64_t txs_ = 0;
  SteadyClock::time_point start_, last_print_;
};

uint64_t DirBytes(const std::filesystem::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"cairn-chaingen: a solo testnet whose validator's data dir holds a long chain"};
  app.add_option("--out", o.out, "the testnet directory (must not exist or be empty)")->required();
  app.add_option("--accounts", o.accounts, "accounts registered and funded")
      ->check(CLI::Range(size_t{2}, size_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--blocks", o.blocks, "height of the chain's head")
      ->check(CLI::Range(uint64_t{3}, uint64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--txs-per-block", o.txs_per_block, "transfers per block after the funding")
      ->check(CLI::Range(size_t{0}, size_t{5000}))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "bench account seed and transfer recipients")
      ->capture_default_str();
  app.add_option("--validators", o.validators, "validators (1: solo; see the file's comment)")
      ->check(CLI::Range(size_t{1}, size_t{1}))
      ->capture_default_str();
  app.add_option("--observers", o.observers, "observers, with empty data dirs")
      ->capture_default_str();
  app.add_option("--block-interval-ms", o.block_interval_ms, "blocks' spacing and the config's")
      ->check(CLI::Range(uint64_t{1}, uint64_t{60'000}))
      ->capture_default_str();
  app.add_option("--rpc-port", o.rpc_port, "node i's RPC port is this + i")->capture_default_str();
  app.add_option("--p2p-port", o.p2p_port, "node i's p2p port is this + i")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  crypto::Init();

  config::TestnetOptions t;
  t.validators = o.validators;
  t.observers = o.observers;
  t.consensus = genesis::ConsensusKind::kSolo;
  t.rpc_port = o.rpc_port;
  t.p2p_port = o.p2p_port;
  t.block_interval_ms = o.block_interval_ms;
  auto net = config::GenerateTestnet(o.out, t);
  if (!net.ok()) Fail(net.error());

  auto g = genesis::Genesis::Load(net->genesis_path);
  if (!g.ok()) Fail(g.error());
  const uint64_t now_ms =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  const uint64_t span = (o.blocks + 1) * o.block_interval_ms;
  if (span >= now_ms) Fail("--blocks x --block-interval-ms reaches before 1970");
  g->genesis_time_ms = now_ms - span;
  std::filesystem::remove(net->genesis_path);
  if (Status s = g->Save(net->genesis_path); !s.ok()) Fail(s.message());

  auto admin = crypto::ReadKeyFile(net->admin_key_path);
  if (!admin.ok()) Fail(admin.error());
  const config::TestnetNode& v0 = net->nodes.front();
  auto cfg = config::NodeConfig::Load(v0.home + "/config.json");
  if (!cfg.ok()) Fail(cfg.error());
  auto proposer = crypto::ReadKeyFile(cfg->Resolve(cfg->key_file));
  if (!proposer.ok()) Fail(proposer.error());
  const std::string data_dir = cfg->Resolve(cfg->data_dir);

  const auto t0 = SteadyClock::now();
  {
    auto store = ledger::OpenChainStore(data_dir, g->Block0(), g->InitialState(), /*create=*/true);
    if (!store.ok()) Fail("data dir " + data_dir + ": " + store.error());
    std::printf("chaingen: %zu accounts, %llu blocks, %zu transfers a block, seed %llu, into %s\n",
                o.accounts, static_cast<unsigned long long>(o.blocks), o.txs_per_block,
                static_cast<unsigned long long>(o.seed), data_dir.c_str());
    Generator gen(o, *g, *admin, *proposer, **store);
    gen.Run();
  }
  const double secs = Seconds(t0);
  std::printf("chaingen: wrote %llu blocks in %.1f s; data dir %s is %.1f MiB\n",
              static_cast<unsigned long long>(o.blocks), secs, data_dir.c_str(),
              DirBytes(data_dir) / 1048576.0);
  for (const config::TestnetNode& n : net->nodes) {
    std::printf("chaingen: node %s home %s rpc %s%s\n", n.name.c_str(), n.home.c_str(),
                n.rpc_url.c_str(), n.validator ? " (validator, holds the chain)" : "");
  }
  return 0;
}
