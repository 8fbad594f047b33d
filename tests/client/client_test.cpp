// client::Client against fake nodes (tests/client/fake_node.h): routing, failover with resend,
// syncing nodes, least-outstanding reads, and probes on a fake clock.
#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "base/clock.h"
#include "client/client.h"
#include "tests/client/fake_node.h"
#include "tests/kit/eventually.h"
#include "tests/kit/keys.h"
#include "tests/kit/make_tx.h"

using namespace cairn;
using namespace cairn::client;
using namespace cairn::client::testing;
using namespace std::chrono_literals;

namespace {

const std::string kChain = "client-test";

crypto::KeyPair Key(uint32_t n) { return testkit::TestKey(n, /*family=*/0xc1); }

SignedTx Tx(uint32_t sender, uint64_t nonce) {
  return SignedTx::Of(testkit::MakeTx(Key(sender), kChain, nonce,
                                      ledger::Transfer{Key(sender + 1000).public_key(), 1}));
}

// Nonces [from, to) of each of `senders`.
std::vector<SignedTx> Txs(uint32_t senders, uint64_t from, uint64_t to) {
  std::vector<SignedTx> out;
  for (uint32_t s = 0; s < senders; ++s) {
    for (uint64_t n = from; n < to; ++n) out.push_back(Tx(s, n));
  }
  return out;
}

std::unique_ptr<Client> MustCreate(const std::vector<std::string>& urls, Options o = {}) {
  o.rpc.connect_timeout = 1s;
  o.rpc.request_timeout = 5s;
  auto c = Client::Create(urls, o);
  REQUIRE(c.ok());
  return std::move(c.value());
}

size_t IndexOf(const Client& c, const std::string& url) {
  for (size_t i = 0; i < c.nodes().size(); ++i) {
    if (c.nodes()[i] == url) return i;
  }
  FAIL("no node " << url);
  return 0;
}

}  // namespace

TEST_CASE("client: URL lists parse, and a bad URL is refused at creation", "[client]") {
  auto l = Client::ParseUrlList("http://a:1, http://b:2,http://c:3");
  REQUIRE(l.ok());
  CHECK(*l == std::vector<std::string>{"http://a:1", "http://b:2", "http://c:3"});
  CHECK_FALSE(Client::ParseUrlList("http://a:1,,http://b:2").ok());
  CHECK_FALSE(Client::ParseUrlList("").ok());
  CHECK_FALSE(Client::Create({"http://a:1", "ftp://b"}).ok());
  CHECK_FALSE(Client::Create({}).ok());
}

TEST_CASE("client: each sender's transactions go to its home node, in nonce order", "[client]") {
  FakeChain chain;
  FakeNode a(&chain), b(&chain), c(&chain);
  auto client = MustCreate({a.url(), b.url(), c.url()});
  // Given out of order: the client sorts each sender's by nonce.
  std::vector<SignedTx> txs = Txs(30, 0, 4);
  std::reverse(txs.begin(), txs.end());
  auto results = client->Submit(txs);
  REQUIRE(results.size() == txs.size());
  std::set<size_t> used;
  for (size_t i = 0; i < txs.size(); ++i) {
    INFO(i);
    REQUIRE(results[i].outcome == Outcome::kAccepted);
    CHECK(results[i].node == client->ring().Home(txs[i].sender));
    used.insert(results[i].node);
  }
  CHECK(used.size() == 3);  // 30 senders spread over all three
  CHECK(a.Received() + b.Received() + c.Received() == txs.size());
  // The same bytes again: already known, checked by hash, still accepted.
  auto again = client->Submit(txs);
  for (const TxResult& r : again) CHECK(r.outcome == Outcome::kAccepted);
  CHECK(client->Totals().failovers == 0);
}

TEST_CASE(
    "client: a node that dies fails its senders over, and their unconfirmed "
    "transactions are resent, and nothing is applied twice",
    "[client][failover]") {
  FakeChain chain;
  auto a = std::make_unique<FakeNode>(&chain);
  FakeNode b(&chain), c(&chain);
  auto client = MustCreate({a->url(), b.url(), c.url()});
  const size_t ia = IndexOf(*client, a->url());
  const uint32_t kSenders = 40;

  // Nonces 0..4 accepted everywhere; then a commits only nonces 0 and 1 of its senders (the
  // others stay in its mempool) and dies, losing them.
  auto first = Txs(kSenders, 0, 5);
  for (const TxResult& r : client->Submit(first)) REQUIRE(r.outcome == Outcome::kAccepted);
  std::vector<uint32_t> on_a;
  for (uint32_t s = 0; s < kSenders; ++s) {
    if (client->ring().Home(Key(s).public_key()) == ia) {
      on_a.push_back(s);
      REQUIRE(chain.TryCommit(*ledger::Transaction::Decode(*crypto::FromHex(Tx(s, 0).hex))));
      REQUIRE(chain.TryCommit(*ledger::Transaction::Decode(*crypto::FromHex(Tx(s, 1).hex))));
    }
  }
  REQUIRE(on_a.size() >= 5);
  a->Stop();

  // Nonces 5..9: the calls to a fail, a is marked down, and its senders' 0..9 go to their
  // next node: 0 and 1 are found committed (nonce_too_low, then getTransaction), 2..9 admitted.
  auto second = Txs(kSenders, 5, 10);
  auto results = client->Submit(second);
  for (size_t i = 0; i < second.size(); ++i) {
    INFO(i);
    REQUIRE(results[i].outcome == Outcome::kAccepted);
    const auto rank = client->ring().Rank(second[i].sender);
    // Deterministic failover: the second node of the sender's ranking.
    CHECK(results[i].node == (rank[0] == ia ? rank[1] : rank[0]));
  }
  const auto stats = client->Stats();
  CHECK_FALSE(stats[ia].healthy);
  CHECK(client->Totals().failovers == on_a.size());
  CHECK(client->Totals().resent == on_a.size() * 5);  // nonces 0..4 of each

  b.CommitAll();
  c.CommitAll();
  // Every sender's nonces 0..9 committed exactly once, each by the hash the client signed.
  std::map<std::string, std::vector<uint64_t>> nonces;
  std::set<std::string> hashes;
  for (const auto& e : chain.Log()) {
    nonces[e.sender].push_back(e.nonce);
    CHECK(hashes.insert(e.hash).second);
  }
  REQUIRE(nonces.size() == kSenders);
  for (const auto& [sender, ns] : nonces) {
    INFO(sender);
    REQUIRE(ns.size() == 10);
    for (uint64_t n = 0; n < 10; ++n) CHECK(ns[n] == n);
  }
  for (const SignedTx& t : first) CHECK(chain.Committed(t.hash));
  for (const SignedTx& t : second) CHECK(chain.Committed(t.hash));
}

TEST_CASE("client: a sender with nothing new to send is resent by ResendMoved",
          "[client][failover]") {
  FakeChain chain;
  auto a = std::make_unique<FakeNode>(&chain);
  FakeNode b(&chain);
  auto client = MustCreate({a->url(), b.url()});
  const size_t ia = IndexOf(*client, a->url());
  std::vector<ledger::Address> quiet;  // senders homed on a that send nothing after its death
  std::vector<SignedTx> txs;
  for (uint32_t s = 0; s < 40; ++s) {
    if (client->ring().Home(Key(s).public_key()) == ia) quiet.push_back(Key(s).public_key());
    for (uint64_t n = 0; n < 3; ++n) txs.push_back(Tx(s, n));
  }
  REQUIRE(quiet.size() >= 5);
  for (const TxResult& r : client->Submit(txs)) REQUIRE(r.outcome == Outcome::kAccepted);
  for (const auto& q : quiet) CHECK(client->Unconfirmed(q) == 3);
  a->Stop();
  // Until some call finds a dead, nothing moves; a read that fails on it marks it down.
  CHECK(client->ResendMoved(quiet) == 0);
  for (int i = 0; i < 4; ++i) REQUIRE(client->Read("getStatus").ok());
  REQUIRE_FALSE(client->Stats()[ia].healthy);
  CHECK(client->ResendMoved(quiet) == 3 * quiet.size());
  CHECK(client->ResendMoved(quiet) == 0);  // now at home on b
  b.CommitAll();
  for (const SignedTx& t : txs) CHECK(chain.Committed(t.hash));
  // Once committed, a prune forgets them (Submit prunes past confirm_every; here by hand).
  CHECK(chain.Log().size() == txs.size());
}

TEST_CASE("client: a syncing node is skipped for the sender but not marked down", "[client]") {
  FakeChain chain;
  FakeNode a(&chain), b(&chain);
  auto client = MustCreate({a.url(), b.url()});
  const size_t ia = IndexOf(*client, a.url());
  a.SetSyncing(true);
  auto txs = Txs(20, 0, 2);
  auto results = client->Submit(txs);
  for (size_t i = 0; i < txs.size(); ++i) {
    REQUIRE(results[i].outcome == Outcome::kAccepted);
    CHECK(results[i].node != ia);
  }
  CHECK(client->Stats()[ia].healthy);
  CHECK(a.Received() > 0);
}

TEST_CASE(
    "client: a conflict (the nonce taken by another transaction) is reported, not "
    "accepted",
    "[client]") {
  FakeChain chain;
  FakeNode a(&chain);
  auto client = MustCreate({a.url()});
  // Another transaction of sender 0 with nonce 0 commits first.
  auto other = testkit::MakeTx(Key(0), kChain, 0, ledger::Transfer{Key(77).public_key(), 5});
  REQUIRE(chain.TryCommit(other));
  auto results = client->Submit(std::vector<SignedTx>{Tx(0, 0)});
  REQUIRE(results[0].outcome == Outcome::kConflict);
  CHECK(results[0].code == 1036);
}

TEST_CASE("client: with every node down, transactions are unavailable, not lost silently",
          "[client]") {
  FakeChain chain;
  auto a = std::make_unique<FakeNode>(&chain);
  auto client = MustCreate({a->url()});
  a->Stop();
  auto results = client->Submit(Txs(3, 0, 1));
  for (const TxResult& r : results) {
    CHECK(r.outcome == Outcome::kUnavailable);
    CHECK(r.reason.find("no node available") != std::string::npos);
  }
  CHECK_FALSE(client->Read("getStatus").ok());
}

TEST_CASE("client: reads go to the node with the fewest requests in flight", "[client][reads]") {
  FakeChain chain;
  FakeNode a(&chain), b(&chain), c(&chain);
  auto client = MustCreate({a.url(), b.url(), c.url()});
  // Idle: the picks take turns.
  std::set<size_t> idle_picks;
  for (int i = 0; i < 6; ++i) idle_picks.insert(client->PickForRead());
  CHECK(idle_picks.size() == 3);

  // Two slow calls in flight on one node (a server whose "wait" holds until released): the
  // reads go to the other two, in turn.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  rpc::Dispatcher slow_dispatcher;
  REQUIRE(slow_dispatcher
              .Register("wait",
                        [released](const Json&) -> rpc::RpcResult {
                          released.wait();
                          return 1;
                        })
              .ok());
  REQUIRE(
      slow_dispatcher.Register("getStatus", [](const Json&) -> rpc::RpcResult { return 1; }).ok());
  rpc::Server slow(slow_dispatcher);
  REQUIRE(slow.Start("127.0.0.1", 0).ok());
  const std::string slow_url = "http://127.0.0.1:" + std::to_string(slow.port());
  auto c2 = MustCreate({slow_url, b.url(), c.url()});
  const size_t is = IndexOf(*c2, slow_url);
  auto t1 = std::async(std::launch::async, [&] { return c2->CallOn(is, "wait").ok(); });
  auto t2 = std::async(std::launch::async, [&] { return c2->CallOn(is, "wait").ok(); });
  REQUIRE(testkit::Eventually([&] { return c2->Stats()[is].outstanding == 2; }));
  std::set<size_t> picks;
  for (int i = 0; i < 10; ++i) picks.insert(c2->PickForRead());
  CHECK(picks.count(is) == 0);
  CHECK(picks.size() == 2);
  release.set_value();
  CHECK(t1.get());
  CHECK(t2.get());
  REQUIRE(testkit::Eventually([&] { return c2->Stats()[is].outstanding == 0; }));
}

TEST_CASE("client: a down node is probed on its backoff schedule (fake clock) and rejoins",
          "[client][backoff]") {
  FakeChain chain;
  auto a = std::make_unique<FakeNode>(&chain);
  FakeNode b(&chain);
  const uint16_t port_a = a->port();
  ManualClock clock(1'000'000);
  Options o;
  o.clock = &clock;
  o.seed = 9;
  o.probe_timeout = 500ms;
  auto client = MustCreate({a->url(), b.url()}, o);
  const size_t ia = IndexOf(*client, a->url());
  a->Stop();
  client->MarkDown(ia, "test");
  // The schedule the node's generator will draw (same seed mixing as the client).
  auto s = client->Stats()[ia];
  REQUIRE_FALSE(s.healthy);
  const uint64_t first_due = s.next_probe_ms;
  CHECK(first_due >= 1'000'000 + 50);
  CHECK(first_due <= 1'000'000 + 100);

  client->ProbeDue();
  CHECK(client->Totals().probes == 0);  // not due yet
  clock.Advance(first_due - clock.SteadyMs());
  client->ProbeDue();
  CHECK(client->Totals().probes == 1);  // due: probed, still dead
  s = client->Stats()[ia];
  CHECK_FALSE(s.healthy);
  const uint64_t second_delay = s.next_probe_ms - clock.SteadyMs();
  CHECK(second_delay >= 100);
  CHECK(second_delay <= 200);
  // Doubling up to 5 s while it stays dead.
  for (int i = 0; i < 8; ++i) {
    clock.Advance(s.next_probe_ms - clock.SteadyMs());
    client->ProbeDue();
    s = client->Stats()[ia];
  }
  const uint64_t late_delay = s.next_probe_ms - clock.SteadyMs();
  CHECK(late_delay >= 2'500);
  CHECK(late_delay <= 5'000);
  CHECK(client->Totals().probes == 9);

  // Back on its port, but catching up (its head far below what its engine knows is
  // committed): it answers, yet stays down.
  FakeNode back(&chain, port_a);
  back.SetStatus(Json{{"height", 10}, {"commit_height", 50}});
  clock.Advance(s.next_probe_ms - clock.SteadyMs());
  client->ProbeDue();
  s = client->Stats()[ia];
  CHECK_FALSE(s.healthy);
  CHECK(s.last_error == "catching up: head 10, committed 50");
  // Caught up (within 2 blocks): the next due probe lets it rejoin, with its senders.
  back.SetStatus(Json{{"height", 48}, {"commit_height", 50}});
  client->ProbeDue();
  CHECK_FALSE(client->Stats()[ia].healthy);  // not due yet: no probe
  clock.Advance(s.next_probe_ms - clock.SteadyMs());
  client->ProbeDue();
  CHECK(client->Stats()[ia].healthy);
  CHECK(client->Totals().rejoined == 1);
  CHECK(client->Stats()[ia].probe_attempt == 0);
  auto txs = Txs(30, 0, 1);
  auto results = client->Submit(txs);
  bool homed_on_a = false;
  for (size_t i = 0; i < txs.size(); ++i) {
    REQUIRE(results[i].outcome == Outcome::kAccepted);
    homed_on_a |= results[i].node == ia;
  }
  CHECK(homed_on_a);
}
