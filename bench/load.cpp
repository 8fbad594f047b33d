#include "bench/load.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unordered_map>

#include "base/mutex.h"
#include "bench/procstat.h"
#include "crypto/hex.h"
#include "genesis/genesis.h"
#include "ledger/transaction.h"
#include "rpc/client.h"

namespace cairn::bench {
namespace {

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

rpc::Client Connect(const std::string& url) {  // the follower's
  auto c = rpc::Client::Create(url);
  if (!c.ok()) Die(c.error());
  return std::move(c.value());
}

// The refusals the lanes print to stderr: the first few only, so a misconfigured run says
// why without flooding the terminal. Thread-safe.
class RefusalLog {
 public:
  void Note(const rpc::Json& refusal) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (logged_++ < 5) std::fprintf(stderr, "refused: %s\n", refusal.dump().c_str());
  }

 private:
  Mutex mu_;
  int logged_ GUARDED_BY(mu_) = 0;
};

// One lane: submits its transactions in order through the client, at rate `rate` (0: back to
// back), until done or the duration bound. Capacity refusals are retried from the first
// refused, after the node's retry_after_ms hint (10 ms to 1 s).
void RunLane(const Load& load, size_t lane, const RunParams& p, double rate, Clock::time_point t0,
             client::Client* client, Timeline* tl, RefusalLog* refusals) {
  const std::vector<uint32_t>& txs = load.lanes[lane];
  std::vector<client::SignedTx> batch;
  size_t pos = 0;
  while (pos < txs.size()) {
    double now = Since(t0);
    if (now >= p.duration_s) {
      tl->duration_cut = true;
      break;
    }
    if (rate > 0) {
      double due = static_cast<double>(pos) / rate;
      if (due > now) {
        std::this_thread::sleep_for(std::chrono::duration<double>(due - now));
      } else {
        int64_t lag = static_cast<int64_t>((now - due) * 1e6);
        int64_t prev = tl->max_lag_us.load();
        while (lag > prev && !tl->max_lag_us.compare_exchange_weak(prev, lag)) {
        }
      }
    }
    size_t n = std::min(p.batch, txs.size() - pos);
    batch.clear();
    for (size_t i = 0; i < n; ++i) batch.push_back(load.txs[txs[pos + i]]);
    double sent_at = Since(t0);
    for (size_t i = 0; i < n; ++i) {
      double& first = tl->first_try[txs[pos + i]];
      if (first < 0) first = sent_at;
    }
    const std::vector<client::TxResult> results = client->Submit(batch);
    tl->calls++;
    size_t advance = n;
    int64_t retry_after_ms = 0;  // the node's hint (docs/RPC.md, mempool_full)
    for (size_t i = 0; i < n; ++i) {
      uint32_t idx = txs[pos + i];
      const client::TxResult& r = results[i];
      switch (r.outcome) {
        case client::Outcome::kAccepted:
          if (tl->submitted[idx] < 0) {
            tl->submitted[idx] = sent_at;
            tl->accepted++;
          }
          break;
        case client::Outcome::kRetryLater:
          advance = std::min(advance, i);
          retry_after_ms = std::max(retry_after_ms, r.retry_after_ms);
          break;
        case client::Outcome::kUnavailable:
          Die("sendTransactions: " + r.reason);
        default:
          if (i < advance) {
            tl->refused[idx] = 1;
            refusals->Note(rpc::Json{{"hash", load.txs[idx].hash.ToHex()},
                                     {"code", r.code},
                                     {"reason", r.reason},
                                     {"outcome", client::OutcomeName(r.outcome)}});
          }
      }
    }
    pos += advance;
    if (advance < n) {
      // As a client should: wait as long as the node asks (at least 10 ms, at most 1 s).
      tl->retries++;
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::clamp<int64_t>(retry_after_ms, 10, 1000)));
    }
  }
}

void Follow(const Load& load, const RunParams& p, Clock::time_point t0,
            const std::atomic<int>& lanes_running, const std::atomic<double>& send_end,
            Timeline* tl, std::atomic<bool>* done) {
  std::unordered_map<crypto::Hash256, uint32_t, crypto::Hash256Hasher> index;
  index.reserve(load.txs.size());
  for (uint32_t i = 0; i < load.txs.size(); ++i) index.emplace(load.txs[i].hash, i);
  rpc::Client client = Connect(p.follow);
  uint64_t last = p.start_height;
  uint64_t committed = 0;
  for (;;) {
    auto st = client.Call("getStatus");
    if (!st.ok()) Die("getStatus on " + p.follow + ": " + st.status().message());
    uint64_t head = st.value().value("height", uint64_t{0});
    for (uint64_t h = last + 1; h <= head; ++h) {
      auto b = client.Call("getBlock", {{"height", h}});
      if (!b.ok()) Die("getBlock " + std::to_string(h) + ": " + b.status().message());
      BlockSeen seen{Since(t0), h, 0, 0};
      for (const auto& th : b.value()["txs"]) {
        ++seen.txs;
        auto hash = crypto::Hash256::FromHex(th.get<std::string>());
        if (!hash) continue;
        auto it = index.find(*hash);
        if (it == index.end() || tl->committed[it->second] >= 0) continue;
        tl->committed[it->second] = seen.t;
        ++seen.bench_txs;
        ++committed;
      }
      tl->blocks.push_back(seen);
    }
    last = head;
    if (lanes_running.load() == 0) {
      if (committed >= tl->accepted.load()) break;
      if (Since(t0) > send_end.load() + p.drain_timeout_s) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  *done = true;
}

void Sample(const RunParams& p, Clock::time_point t0, const std::atomic<bool>& done, Timeline* tl) {
  while (!done.load()) {
    CpuSample s;
    s.t = Since(t0);
    for (pid_t pid : p.pids) {
      auto ps = ReadProc(pid);
      s.cpu_s.push_back(ps ? ps->cpu_s : -1);
    }
    auto self = ReadProc(getpid());
    s.self_cpu_s = self ? self->cpu_s : 0;
    tl->samples.push_back(std::move(s));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

void Die(const std::string& msg) {
  std::fprintf(stderr, "cairn-bench: %s\n", msg.c_str());
  std::fflush(stdout);
  std::_Exit(1);
}

crypto::KeyPair AccountKey(uint64_t seed, size_t i) {
  std::array<uint8_t, 32> s{};
  for (int b = 0; b < 8; ++b) s[b] = static_cast<uint8_t>(seed >> (8 * b));
  for (int b = 0; b < 8; ++b) s[8 + b] = static_cast<uint8_t>(i >> (8 * b));
  s[31] = 0xbe;
  return crypto::KeyPair::FromSeed(crypto::PrivateKey(s));
}

void AddGenesisAccounts(const std::string& path, size_t accounts, uint64_t seed, uint64_t balance) {
  auto g = genesis::Genesis::Load(path);
  if (!g.ok()) Die(g.error());
  for (size_t i = 0; i < accounts; ++i) {
    g->accounts.push_back({AccountKey(seed, i).public_key(), ledger::Role::kMember, balance});
  }
  if (Status s = g->Validate(); !s.ok()) Die("genesis with bench accounts: " + s.message());
  std::string tmp = path + ".bench-tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << g->ToJson();
    if (!f) Die("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) Die("cannot replace " + path + ": " + ec.message());
}

double MeasureVerifyRate(double seconds) {
  crypto::KeyPair k = AccountKey(0xfeed, 0);
  ledger::Transaction tx;
  tx.chain_id = "verify-rate";
  tx.payload = ledger::Transfer{AccountKey(0xfeed, 1).public_key(), 1};
  tx.Sign(k);
  Bytes msg = tx.SigningBytes();
  auto t0 = Clock::now();
  uint64_t n = 0;
  bool all_ok = true;
  while (Since(t0) < seconds) {
    for (int i = 0; i < 64; ++i) all_ok &= crypto::Verify(tx.sender, msg, tx.signature);
    n += 64;
  }
  if (!all_ok) Die("the verification benchmark's signature does not verify");
  return static_cast<double>(n) / Since(t0);
}

Load PrepareLoad(const std::vector<crypto::KeyPair>& keys, std::vector<uint64_t> nonces,
                 const std::string& chain_id, size_t txs, const client::Ring& ring,
                 size_t lanes_per_node, unsigned threads) {
  const size_t m = keys.size();
  const size_t lanes = ring.size() * lanes_per_node;
  Load load;
  load.txs.resize(txs);
  load.lanes.resize(lanes);
  load.lane_senders.resize(lanes);
  for (size_t l = 0; l < lanes; ++l) load.lane_node.push_back(l / lanes_per_node);
  // Account a's lane: the next lane, in turn, of its home node.
  std::vector<size_t> lane_of(m);
  std::vector<size_t> seen(ring.size(), 0);
  for (size_t a = 0; a < m; ++a) {
    const size_t home = ring.Home(keys[a].public_key());
    lane_of[a] = home * lanes_per_node + seen[home]++ % lanes_per_node;
    load.lane_senders[lane_of[a]].push_back(keys[a].public_key());
  }
  threads = std::max(1u, threads);
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      for (size_t i = w; i < txs; i += threads) {
        size_t from = i % m;
        ledger::Transaction tx;
        tx.chain_id = chain_id;
        tx.nonce = nonces[from] + i / m;
        tx.payload = ledger::Transfer{keys[(from + 1) % m].public_key(), 1};
        tx.Sign(keys[from]);
        load.txs[i] = client::SignedTx::Of(tx);
      }
    });
  }
  for (auto& t : workers) t.join();
  for (size_t i = 0; i < txs; ++i) load.lanes[lane_of[i % m]].push_back(static_cast<uint32_t>(i));
  return load;
}

void RunLoad(const Load& load, const RunParams& p, Timeline* tl) {
  const size_t lanes = load.lanes.size();
  std::atomic<int> lanes_running{static_cast<int>(lanes)};
  std::atomic<double> send_end{0};
  std::atomic<bool> done{false};
  RefusalLog refusals;
  client::Options options;
  options.seed = 1;
  auto made = client::Client::Create(p.rpc, options);
  if (!made.ok()) Die(made.error());
  client::Client& client = **made;
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (size_t l = 0; l < lanes; ++l) {
    threads.emplace_back([&, l] {
      RunLane(load, l, p, p.rate / static_cast<double>(lanes), t0, &client, tl, &refusals);
      double now = Since(t0);
      double prev = send_end.load();
      while (now > prev && !send_end.compare_exchange_weak(prev, now)) {
      }
      lanes_running--;
      // Until the follower is done: what a node that died held of this lane's senders goes
      // to their next node (a no-op while every home node is up).
      while (!done.load()) {
        client.ResendMoved(load.lane_senders[l]);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  std::thread sampler([&] { Sample(p, t0, done, tl); });
  Follow(load, p, t0, lanes_running, send_end, tl, &done);
  for (auto& t : threads) t.join();
  sampler.join();
  tl->send_end = send_end.load();
}

}  // namespace cairn::bench
