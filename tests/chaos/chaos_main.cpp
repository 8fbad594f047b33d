// cairn-chaos: a 4-validator network of real cairnd processes under client load, with faults
// drawn from a printed seed (SIGKILL of one, two or all four nodes, SIGSTOP pauses), and after
// every round the checks a user relies on:
//   - no transaction the client saw committed is lost: it stays at its height and block on
//     every node;
//   - every node holds the same chain (block hashes match up to the lowest head);
//   - every data dir audits clean (`cairn audit --data-dir`, while its node is down);
//   - liveness: blocks commit again within a deadline once a quorum is up.
// The client keeps its own ledger: accepted (sendTransaction said ok), committed
// (getTransaction said committed), and resubmitted (accepted, then unknown on every node it
// asked, because the mempool holding it died: resubmitting is the client's duty, docs/CHAOS.md).
//
// Usage: cairn-chaos [--rounds N] [--seed S] [--consensus raft|bft] [--dir D] [--keep]
// Exit 0 when every check held; 1 with the failing check on stderr.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "base/mutex.h"
#include "crypto/key_file.h"
#include "tests/integration/dev_node.h"
#include "tests/integration/network.h"
#include "tests/kit/eventually.h"
#include "tests/kit/keys.h"
#include "tests/kit/process.h"
#include "tests/kit/temp_dir.h"

namespace cairn::chaos {
namespace {

using nlohmann::json;
using testing::CairndPath;
using testing::CairnPath;
using testing::Hex;
using testing::MakeTx;
using testkit::Eventually;
using testkit::Process;
using testkit::RunCommand;
using namespace std::chrono_literals;

constexpr size_t kNodes = 4;
constexpr size_t kSenders = 6;
constexpr size_t kWindow = 8;  // transactions in flight per sender
// How long a healthy quorum may take to commit again (an election, a BFT round change, a
// restart's catch-up) before liveness counts as lost.
constexpr auto kLivenessDeadline = 45s;

struct Failure {
  std::string what;
};

[[noreturn]] void Fail(const std::string& what) { throw Failure{what}; }

struct Counters {
  uint64_t rounds = 0, kills = 0, kill1 = 0, kill2 = 0, kill4 = 0, pauses = 0, audits = 0;
  uint64_t accepted = 0, committed = 0, resubmitted = 0, lost = 0;
  double worst_recovery_s = 0;
};

// The four cairnd processes, started and signalled by name.
class Cluster {
 public:
  Cluster(const std::string& dir, const std::string& consensus) : dir_(dir) {
    const uint16_t base = testing::FreePortRange(2 * kNodes);
    auto r = RunCommand(CairndPath(),
                        {"testnet", "--out", dir, "--validators", std::to_string(kNodes),
                         "--consensus", consensus, "--rpc-port", std::to_string(base), "--p2p-port",
                         std::to_string(base + kNodes), "--block-interval-ms", "50"});
    if (r.exit_code != 0) Fail("cairnd testnet failed: " + r.err);
    for (size_t i = 0; i < kNodes; ++i) {
      urls_.push_back("http://127.0.0.1:" + std::to_string(base + i));
      procs_.emplace_back();
    }
  }
  ~Cluster() {
    for (size_t i = 0; i < kNodes; ++i) {
      if (procs_[i] && procs_[i]->running()) {
        procs_[i]->Signal(SIGCONT);
        procs_[i]->Signal(SIGKILL);
        procs_[i]->Wait(10s);
      }
    }
  }

  std::string Name(size_t i) const { return "v" + std::to_string(i); }
  std::string Home(size_t i) const { return dir_ + "/" + Name(i); }
  const std::string& Url(size_t i) const { return urls_[i]; }
  const std::string& dir() const { return dir_; }

  void Start(size_t i) {
    procs_[i] = std::make_unique<Process>(CairndPath(), std::vector<std::string>{"--home", Home(i)},
                                          Home(i) + ".log");
    if (!procs_[i]->WaitForLine("rpc: ", 30s)) {
      Fail(Name(i) + " did not start; log:\n" + testkit::TailOf(Home(i) + ".log"));
    }
    up_[i] = true;
  }
  void Kill(size_t i) {
    procs_[i]->Signal(SIGKILL);
    procs_[i]->Wait(10s);
    up_[i] = false;
  }
  void Stop(size_t i) {
    procs_[i]->Signal(SIGTERM);
    if (!procs_[i]->Wait(30s)) Fail(Name(i) + " did not stop on SIGTERM within 30 s");
    up_[i] = false;
  }
  void Pause(size_t i) { procs_[i]->Signal(SIGSTOP); }
  void Resume(size_t i) { procs_[i]->Signal(SIGCONT); }
  bool up(size_t i) const { return up_[i]; }

  // `cairn audit` of a stopped node's data dir; "" when it passes, else its output.
  std::string Audit(size_t i) const {
    auto r = RunCommand(
        CairnPath(),
        {"audit", "--data-dir", Home(i) + "/data", "--genesis", dir_ + "/genesis.json"}, 120s);
    return r.exit_code == 0 ? "" : r.out + r.err;
  }

 private:
  std::string dir_;
  std::vector<std::string> urls_;
  std::vector<std::unique_ptr<Process>> procs_;
  bool up_[kNodes] = {};
};

rpc::Client ClientFor(const std::string& url, std::chrono::milliseconds timeout) {
  rpc::ClientOptions o;
  o.connect_timeout = timeout;
  o.request_timeout = timeout;
  auto c = rpc::Client::Create(url, o);
  if (!c.ok()) Fail(c.status().message());
  return std::move(c.value());
}

uint64_t HeightOf(const std::string& url) {
  auto c = ClientFor(url, 2s);
  auto r = c.Call("getStatus");
  return r.ok() ? r.value()["height"].get<uint64_t>() : 0;
}

// Block hashes [from, to] of one node, in pages.
std::vector<std::string> HashesOf(const std::string& url, uint64_t from, uint64_t to) {
  auto c = ClientFor(url, 10s);
  std::vector<std::string> out;
  for (uint64_t lo = from; lo <= to; lo += 200) {
    const uint64_t hi = std::min(to, lo + 199);
    auto r = c.Call("getBlocks", {{"from", lo}, {"to", hi}});
    if (!r.ok()) Fail(url + " getBlocks: " + r.status().message());
    for (const json& h : r.value()) out.push_back(h["hash"]);
  }
  if (out.size() != to - from + 1) Fail(url + ": getBlocks returned too few headers");
  return out;
}

// The client: senders with their own nonces, several transactions in flight each, through
// whichever node answers. It records what it was told and when.
class Client {
 public:
  struct Committed {
    uint64_t height;
    std::string block_hash;
  };

  Client(const Cluster& cluster, uint64_t seed) : cluster_(cluster), rng_(seed) {}

  // Registers and funds the senders through v0 (all nodes up).
  void Setup() {
    auto admin = crypto::ReadKeyFile(cluster_.dir() + "/admin_key.json");
    if (!admin.ok()) Fail(admin.status().message());
    auto c = ClientFor(cluster_.Url(0), 10s);
    chain_ = c.Call("getStatus").value()["chain_id"];
    uint64_t nonce = 0;
    std::string last;
    for (size_t i = 0; i < kSenders; ++i) {
      senders_.push_back(Sender{testkit::TestKey(static_cast<uint32_t>(i), 0xc4), i, 0, {}});
      for (const auto& tx :
           {MakeTx(*admin, chain_, nonce++,
                   ledger::RegisterAccount{senders_[i].key.public_key(), ledger::Role::kMember}),
            MakeTx(*admin, chain_, nonce++,
                   ledger::Transfer{senders_[i].key.public_key(), 1'000'000'000})}) {
        auto r = c.Call("sendTransaction", {{"tx", Hex(tx)}});
        if (!r.ok()) Fail("setup: " + r.status().message());
        last = tx.Hash().ToHex();
      }
    }
    for (size_t i = 0; i < kNodes; ++i) {
      auto ci = ClientFor(cluster_.Url(i), 10s);
      if (!testing::WaitCommitted(ci, last, 60s)) Fail("setup transactions did not commit");
    }
  }

  void Run(std::atomic<bool>& stop) {
    while (!stop) {
      for (Sender& s : senders_) Drive(s);
      // Pacing, not synchronisation: a few hundred calls a second is load enough for four
      // nodes on a shared machine.
      std::this_thread::sleep_for(30ms);
    }
  }
  // From now on only what is in flight is driven to commit; nothing new is sent.
  void Drain() { draining_ = true; }

  // The ledger so far (copies; the load may still run).
  std::map<std::string, Committed> committed() const {
    MutexLock lock(&mu_);
    return committed_;
  }
  void AddTo(Counters& c) const {
    MutexLock lock(&mu_);
    c.accepted = accepted_;
    c.committed = committed_.size();
    c.resubmitted = resubmitted_;
  }
  size_t inflight() const {
    MutexLock lock(&mu_);
    return inflight_;
  }

 private:
  struct InFlight {
    ledger::Transaction tx;
    std::string hash;
    bool accepted = false;
    std::chrono::steady_clock::time_point sent;
  };
  struct Sender {
    crypto::KeyPair key;
    size_t index;
    uint64_t next_nonce;
    std::deque<InFlight> window;
  };

  // One pass over one sender: learn what committed, resubmit what vanished, fill the window.
  void Drive(Sender& s) {
    const size_t node = rng_() % kNodes;
    if (std::chrono::steady_clock::now() < shunned_until_[node]) return;
    auto c = ClientFor(cluster_.Url(node), 1s);
    auto fail = [&] { shunned_until_[node] = std::chrono::steady_clock::now() + 1s; };
    while (!s.window.empty()) {
      InFlight& f = s.window.front();
      auto r = c.Call("getTransaction", {{"hash", f.hash}});
      if (!r.ok()) return fail();
      const json& v = r.value();
      if (v["status"] == "committed") {
        MutexLock lock(&mu_);
        committed_[f.hash] = Committed{v["height"].get<uint64_t>(), v["block_hash"]};
        s.window.pop_front();
        --inflight_;
        continue;
      }
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    for (InFlight& f : s.window) {
      // Accepted but not committed after a while, and unknown here: the node that held it may
      // have died (or this one restarted). Send it again.
      if (now - f.sent < 4s) continue;
      auto r = c.Call("getTransaction", {{"hash", f.hash}});
      if (!r.ok()) return fail();
      if (r.value()["status"] == "pending") continue;
      if (r.value()["status"] == "committed") break;  // picked up on the next pass
      auto sent = c.Call("sendTransaction", {{"tx", Hex(f.tx)}});
      f.sent = now;
      if (sent.is_transport_error()) return fail();
      if (sent.ok()) {
        MutexLock lock(&mu_);
        if (f.accepted) ++resubmitted_;
        if (!f.accepted) ++accepted_;
        f.accepted = true;
      }
    }
    while (!draining_ && s.window.size() < kWindow) {
      InFlight f;
      const size_t to = (s.index + 1 + rng_() % (kSenders - 1)) % kSenders;
      f.tx =
          MakeTx(s.key, chain_, s.next_nonce, ledger::Transfer{senders_[to].key.public_key(), 1});
      f.hash = f.tx.Hash().ToHex();
      f.sent = now;
      auto r = c.Call("sendTransaction", {{"tx", Hex(f.tx)}});
      // The nonce is spent whatever the answer: a timeout may still have been admitted (and
      // committed), so these exact bytes are what the client must keep and resend. Signing a
      // new transaction for the nonce instead would leave this one's twin committed and the
      // new one refused nonce_too_low for ever (a bug this driver had, seen as a stall).
      ++s.next_nonce;
      {
        MutexLock lock(&mu_);
        f.accepted = r.ok();
        if (r.ok()) ++accepted_;
        s.window.push_back(std::move(f));
        ++inflight_;
      }
      if (r.is_transport_error()) return fail();
      // A refusal (nonce_too_high from a node still catching up, mempool_full) leaves it in
      // the window unaccepted; the pass above sends it again.
    }
  }

  const Cluster& cluster_;
  std::mt19937_64 rng_;  // the load thread's own
  std::string chain_;
  std::vector<Sender> senders_;
  std::chrono::steady_clock::time_point shunned_until_[kNodes] = {};
  std::atomic<bool> draining_{false};
  mutable Mutex mu_;
  std::map<std::string, Committed> committed_ GUARDED_BY(mu_);
  uint64_t accepted_ GUARDED_BY(mu_) = 0;
  uint64_t resubmitted_ GUARDED_BY(mu_) = 0;
  size_t inflight_ GUARDED_BY(mu_) = 0;
};

class Chaos {
 public:
  Chaos(Cluster& cluster, Client& client, uint64_t seed)
      : cluster_(cluster), client_(client), rng_(seed) {}

  void Round(uint64_t r, Counters& n) {
    enum Kind { kKill1, kKill2, kKillAll, kPause1, kPause2 };
    const Kind kind = static_cast<Kind>(rng_() % 5);
    std::vector<size_t> who = {0, 1, 2, 3};
    std::shuffle(who.begin(), who.end(), rng_);
    const size_t count = kind == kKill1 || kind == kPause1 ? 1 : kind == kKillAll ? 4 : 2;
    who.resize(count);
    const auto hold = std::chrono::milliseconds(300 + rng_() % 2500);
    const bool pause = kind == kPause1 || kind == kPause2;
    std::ostringstream line;
    line << "round " << r << ": " << (pause ? "SIGSTOP" : "SIGKILL");
    for (size_t i : who) line << " " << cluster_.Name(i);
    line << " for " << hold.count() << " ms";
    std::cout << line.str() << std::flush;

    for (size_t i : who) pause ? cluster_.Pause(i) : cluster_.Kill(i);
    if (pause) {
      n.pauses += count;
    } else {
      n.kills += count;
      (count == 1 ? n.kill1 : count == 2 ? n.kill2 : n.kill4)++;
    }
    std::this_thread::sleep_for(hold);  // the fault lasts this long: pacing, not a wait
    if (!pause) {
      for (size_t i : who) {
        std::string bad = cluster_.Audit(i);
        ++n.audits;
        if (!bad.empty()) Fail(cluster_.Name(i) + " audit failed after SIGKILL:\n" + bad);
      }
    }
    if (count == 1) {
      // A quorum (3 of 4) is up: it must commit without the fourth.
      std::vector<size_t> rest;
      for (size_t i = 0; i < kNodes; ++i) {
        if (i != who[0]) rest.push_back(i);
      }
      CheckLiveness(rest, n, "with " + cluster_.Name(who[0]) + " down");
    }
    for (size_t i : who) pause ? cluster_.Resume(i) : cluster_.Start(i);
    CheckLiveness({0, 1, 2, 3}, n, "after recovery");
    CheckChains(n);
    ++n.rounds;
    client_.AddTo(n);
    std::cout << "; ok (heights " << checked_through_ << ", committed " << n.committed
              << ", resubmitted " << n.resubmitted << ")" << std::endl;
  }

  // Every node in `nodes` moves past the highest head any of them has now.
  void CheckLiveness(const std::vector<size_t>& nodes, Counters& n, const std::string& when) {
    uint64_t top = 0;
    for (size_t i : nodes) top = std::max(top, HeightOf(cluster_.Url(i)));
    const auto t0 = std::chrono::steady_clock::now();
    const size_t before = client_.committed().size();
    bool ok = Eventually(
        [&] {
          for (size_t i : nodes) {
            if (HeightOf(cluster_.Url(i)) <= top) return false;
          }
          return client_.committed().size() > before;
        },
        kLivenessDeadline, 100ms);
    if (!ok) {
      Fail("liveness " + when + ": no node set passed height " + std::to_string(top) + " within " +
           std::to_string(kLivenessDeadline.count()) + " s");
    }
    n.worst_recovery_s =
        std::max(n.worst_recovery_s,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  // The same chain everywhere, and every committed transaction still where it was reported.
  void CheckChains(Counters& n) {
    uint64_t min_h = UINT64_MAX;
    for (size_t i = 0; i < kNodes; ++i) min_h = std::min(min_h, HeightOf(cluster_.Url(i)));
    if (min_h > checked_through_) {
      auto ref = HashesOf(cluster_.Url(0), checked_through_ + 1, min_h);
      for (size_t i = 1; i < kNodes; ++i) {
        auto other = HashesOf(cluster_.Url(i), checked_through_ + 1, min_h);
        for (size_t k = 0; k < ref.size(); ++k) {
          if (other[k] != ref[k]) {
            Fail("chains differ at height " + std::to_string(checked_through_ + 1 + k) + ": v0 " +
                 ref[k] + ", " + cluster_.Name(i) + " " + other[k]);
          }
        }
      }
      for (size_t k = 0; k < ref.size(); ++k) canonical_[checked_through_ + 1 + k] = ref[k];
      checked_through_ = min_h;
    }
    // Old heights may not change either: a sample of them on every node, each round.
    for (int s = 0; s < 8 && checked_through_ > 0; ++s) {
      const uint64_t h = 1 + rng_() % checked_through_;
      for (size_t i = 0; i < kNodes; ++i) {
        if (HashesOf(cluster_.Url(i), h, h)[0] != canonical_[h]) {
          Fail(cluster_.Name(i) + " changed its block at height " + std::to_string(h));
        }
      }
    }
    CheckCommitted(n, /*all=*/false);
  }

  // Transactions the client saw committed (new ones, or all): committed at the same height
  // and block on every node, and that block is the canonical one.
  void CheckCommitted(Counters& n, bool all) {
    auto committed = client_.committed();
    std::vector<std::pair<std::string, Client::Committed>> to_check;
    for (const auto& [hash, where] : committed) {
      if (all || !checked_txs_.count(hash)) to_check.emplace_back(hash, where);
    }
    // One batch request per 200 transactions and node: the ledger grows by thousands a round.
    // A node still catching up (just restarted or woken) is held only to heights it has; a
    // transaction above some node's head is checked again next round.
    std::set<std::string> above_a_head;
    for (size_t i = 0; i < kNodes; ++i) {
      const uint64_t head = HeightOf(cluster_.Url(i));
      auto c = ClientFor(cluster_.Url(i), 30s);
      for (size_t lo = 0; lo < to_check.size(); lo += 200) {
        const size_t hi = std::min(to_check.size(), lo + 200);
        std::vector<std::pair<std::string, json>> calls;
        for (size_t k = lo; k < hi; ++k) {
          calls.emplace_back("getTransaction", json{{"hash", to_check[k].first}});
        }
        auto r = c.CallBatch(calls);
        if (!r.ok()) Fail(cluster_.Name(i) + " getTransaction batch: " + r.status().message());
        for (size_t k = lo; k < hi; ++k) {
          const auto& [hash, where] = to_check[k];
          if (where.height > head) {
            above_a_head.insert(hash);
            continue;
          }
          const rpc::RpcResult& one = r.value()[k - lo];
          if (!one.ok()) Fail(cluster_.Name(i) + " getTransaction: " + one.error().message);
          const json& v = one.value();
          if (v["status"] != "committed" || v["height"].get<uint64_t>() != where.height ||
              v["block_hash"] != where.block_hash) {
            ++n.lost;
            Fail("committed transaction " + hash + " (height " + std::to_string(where.height) +
                 ") lost: " + cluster_.Name(i) + " says " + v.dump());
          }
        }
      }
    }
    for (const auto& [hash, where] : to_check) {
      auto it = canonical_.find(where.height);
      if (it != canonical_.end() && it->second != where.block_hash) {
        ++n.lost;
        Fail("committed transaction " + hash +
             " lost: its block is not the chain's block at height " + std::to_string(where.height));
      }
      if (!above_a_head.count(hash)) checked_txs_.insert(hash);
    }
    if (all && !above_a_head.empty()) {
      Fail(std::to_string(above_a_head.size()) +
           " committed transactions lie above some node's head at the end");
    }
  }

  uint64_t checked_through() const { return checked_through_; }

 private:
  Cluster& cluster_;
  Client& client_;
  std::mt19937_64 rng_;
  uint64_t checked_through_ = 0;
  std::map<uint64_t, std::string> canonical_;
  std::set<std::string> checked_txs_;
};

std::string NetnsNote() {
  auto r = RunCommand("/usr/bin/unshare", {"-rn", "true"}, 5s);
  return r.exit_code == 0
             ? "partitions: skipped (network namespaces are available here, but this driver runs "
               "every node on one loopback; partitions are not built yet)"
             : "partitions: skipped (no network namespaces: " + r.err + ")";
}

int Main(int argc, char** argv) {
  uint64_t rounds = 5;
  uint64_t seed = std::random_device{}();
  std::string consensus = "raft";
  std::string dir;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--rounds") {
      rounds = std::stoull(next());
    } else if (a == "--seed") {
      seed = std::stoull(next());
    } else if (a == "--consensus") {
      consensus = next();
    } else if (a == "--dir") {
      dir = next();
    } else if (a == "--keep") {
      keep = true;
    } else {
      std::cerr << "usage: cairn-chaos [--rounds N] [--seed S] [--consensus raft|bft] [--dir D] "
                   "[--keep]\n";
      return 2;
    }
  }
  if (consensus != "raft" && consensus != "bft") {
    std::cerr << "--consensus must be raft or bft\n";
    return 2;
  }
  std::unique_ptr<testkit::TempDir> tmp;
  if (dir.empty()) {
    tmp = std::make_unique<testkit::TempDir>("chaos");
    dir = tmp->path();
  }
  std::cout << "chaos: " << consensus << ", 4 validators, " << rounds << " rounds, seed " << seed
            << " (replay: cairn-chaos --consensus " << consensus << " --rounds " << rounds
            << " --seed " << seed << ")\n"
            << NetnsNote() << std::endl;
  Counters n;
  const auto t0 = std::chrono::steady_clock::now();
  int rc = 0;
  try {
    Cluster cluster(dir + "/net", consensus);
    for (size_t i = 0; i < kNodes; ++i) cluster.Start(i);
    Client client(cluster, seed ^ 0x9e3779b97f4a7c15ULL);
    client.Setup();
    std::atomic<bool> stop{false};
    std::exception_ptr load_error;  // written before load_failed is set
    std::atomic<bool> load_failed{false};
    std::thread load([&] {
      try {
        client.Run(stop);
      } catch (...) {
        load_error = std::current_exception();
        load_failed = true;
      }
    });
    struct Joiner {
      std::atomic<bool>& stop;
      std::thread& t;
      ~Joiner() {
        stop = true;
        if (t.joinable()) t.join();
      }
    } joiner{stop, load};
    Chaos chaos(cluster, client, seed);
    try {
      for (uint64_t r = 1; r <= rounds; ++r) chaos.Round(r, n);
      // The client stops sending; what it has in flight must commit.
      client.Drain();
      if (!Eventually([&] { return client.inflight() == 0 || load_failed; }, 120s, 100ms)) {
        Fail(std::to_string(client.inflight()) +
             " transactions still not committed 120 s "
             "after the last round");
      }
      stop = true;
      load.join();
      if (load_error) std::rethrow_exception(load_error);
      // Every node reaches the same head, then the whole ledger is checked on each.
      if (!Eventually(
              [&] {
                std::set<uint64_t> heads;
                for (size_t i = 0; i < kNodes; ++i) heads.insert(HeightOf(cluster.Url(i)));
                return heads.size() == 1;
              },
              60s, 200ms)) {
        Fail("the nodes did not reach one head within 60 s of the last commit");
      }
      chaos.CheckChains(n);
      chaos.CheckCommitted(n, /*all=*/true);
      for (size_t i = 0; i < kNodes; ++i) cluster.Stop(i);
      for (size_t i = 0; i < kNodes; ++i) {
        std::string bad = cluster.Audit(i);
        ++n.audits;
        if (!bad.empty()) Fail(cluster.Name(i) + " audit failed at the end:\n" + bad);
      }
      client.AddTo(n);
    } catch (const Failure& f) {
      std::cout << std::endl;
      std::cerr << "chaos FAILED (seed " << seed << "): " << f.what << std::endl;
      client.AddTo(n);
      keep = true;
      rc = 1;
    }
  } catch (const Failure& f) {
    std::cerr << "chaos FAILED (seed " << seed << "): " << f.what << std::endl;
    keep = true;
    rc = 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "chaos result: consensus " << consensus << " seed " << seed << " rounds " << n.rounds
            << " kills " << n.kills << " (one " << n.kill1 << ", two " << n.kill2 << ", all "
            << n.kill4 << ") pauses " << n.pauses << " audits " << n.audits << " accepted "
            << n.accepted << " committed " << n.committed << " resubmitted " << n.resubmitted
            << " lost " << n.lost << " worst_recovery_s " << n.worst_recovery_s << " elapsed_s "
            << static_cast<uint64_t>(secs) << (rc ? " FAILED" : " ok") << std::endl;
  if (keep && tmp) {
    std::cout << "kept: " << dir << std::endl;
    setenv("CAIRN_KEEP_TEST_DIRS", "1", 1);
  }
  return rc;
}

}  // namespace
}  // namespace cairn::chaos

int main(int argc, char** argv) { return cairn::chaos::Main(argc, argv); }
