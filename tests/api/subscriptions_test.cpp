// api::SubscriptionHub against a growing in-memory chain and recording channels: each topic,
// ordering, the bounds, a slow consumer, and a resume racing live commits.
#include "api/subscriptions.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <future>
#include <random>
#include <thread>

#include "base/mutex.h"
#include "tests/kit/keys.h"
#include "tests/kit/make_tx.h"

namespace cairn::api {
namespace {

using rpc::Json;

const std::string kChain = "subs-test";

// A chain that grows as the test commits: what a resume reads.
class GrowingChain final : public NodeApi {
 public:
  GrowingChain() {
    ledger::Block genesis;
    genesis.header.chain_id = kChain;
    MutexLock lock(&mu_);
    blocks_.push_back(genesis);
    receipts_.emplace_back();
  }

  // Appends a block of `txs` with these receipt codes (ok when absent); returns it.
  ledger::Block Append(std::vector<ledger::Transaction> txs,
                       std::vector<ledger::TxCode> codes = {}) {
    MutexLock lock(&mu_);
    ledger::Block b;
    b.header.chain_id = kChain;
    b.header.height = blocks_.size();
    b.header.prev_hash = blocks_.back().Hash();
    b.header.tx_count = static_cast<uint32_t>(txs.size());
    b.txs = std::move(txs);
    std::vector<ledger::Receipt> receipts;
    for (uint32_t i = 0; i < b.txs.size(); ++i) {
      receipts.push_back({i < codes.size() ? codes[i] : ledger::TxCode::kOk, b.header.height, i});
    }
    blocks_.push_back(b);
    receipts_.push_back(receipts);
    return b;
  }
  std::vector<ledger::Receipt> ReceiptsOf(uint64_t h) const {
    MutexLock lock(&mu_);
    return receipts_.at(h);
  }

  ledger::Admission SubmitTransaction(ledger::Transaction) override { return {}; }
  std::vector<ledger::Admission> SubmitTransactions(std::vector<ledger::Transaction>) override {
    return {};
  }
  ledger::Head GetHead() const override {
    MutexLock lock(&mu_);
    return {blocks_.size() - 1, blocks_.back().Hash(), {}};
  }
  Result<std::optional<ledger::Block>> GetBlock(uint64_t h) const override {
    MutexLock lock(&mu_);
    if (h >= blocks_.size()) return std::optional<ledger::Block>();
    return std::optional<ledger::Block>(blocks_[h]);
  }
  Result<std::optional<ledger::Block>> GetBlockByHash(const crypto::Hash256&) const override {
    return std::optional<ledger::Block>();
  }
  Result<std::optional<std::vector<ledger::Receipt>>> GetReceipts(uint64_t h) const override {
    MutexLock lock(&mu_);
    if (h >= receipts_.size()) return std::optional<std::vector<ledger::Receipt>>();
    return std::optional<std::vector<ledger::Receipt>>(receipts_[h]);
  }
  Result<TxLookup> GetTransaction(const crypto::Hash256& hash) const override {
    MutexLock lock(&mu_);
    TxLookup out;
    for (const auto& b : blocks_) {
      for (uint32_t i = 0; i < b.txs.size(); ++i) {
        if (b.txs[i].Hash() != hash) continue;
        out.status = TxLookup::Status::kCommitted;
        out.height = b.header.height;
        out.index = i;
        out.block_hash = b.Hash();
        out.receipt = receipts_[b.header.height][i];
      }
    }
    return out;
  }
  std::optional<ledger::Account> GetAccount(const ledger::Address&) const override { return {}; }
  uint64_t NextNonce(const ledger::Address&) const override { return 0; }
  std::optional<Bytes> GetRecord(const ledger::Address&, ByteView) const override { return {}; }
  NodeStatus GetStatus() const override { return {}; }
  const genesis::Genesis& GetGenesis() const override { return genesis_; }
  std::vector<PeerInfo> GetPeers() const override { return {}; }

 private:
  genesis::Genesis genesis_;
  mutable Mutex mu_;
  std::vector<ledger::Block> blocks_ GUARDED_BY(mu_);
  std::vector<std::vector<ledger::Receipt>> receipts_ GUARDED_BY(mu_);
};

// Records what a connection would send, in order; past `capacity` messages it refuses, as a
// WebSocket connection's full queue does (and then counts as closed).
class RecordingChannel final : public rpc::PushChannel {
 public:
  explicit RecordingChannel(size_t capacity = SIZE_MAX) : capacity_(capacity) {}

  bool Notify(uint64_t subscription, std::shared_ptr<const std::string> result) override {
    {
      MutexLock lock(&mu_);
      if (!overflowed_) texts_.push_back(result);
    }
    return Add(Json{{"subscription", subscription}, {"result", Json::parse(*result)}});
  }
  // As the transport does when the connection ends: refuses everything from now on.
  void Close() {
    MutexLock lock(&mu_);
    overflowed_ = true;
  }
  // The texts as handed over, to see which ones subscribers share.
  std::vector<std::shared_ptr<const std::string>> texts() const {
    MutexLock lock(&mu_);
    return texts_;
  }
  bool Send(std::string message) override { return Add(Json{{"answer", message}}); }
  bool open() const override {
    MutexLock lock(&mu_);
    return !overflowed_;
  }

  std::vector<Json> messages() const {
    MutexLock lock(&mu_);
    return messages_;
  }
  // The results of subscription `id`'s notifications.
  std::vector<Json> results(uint64_t id) const {
    std::vector<Json> out;
    for (const Json& m : messages()) {
      if (m.contains("subscription") && m["subscription"] == id) out.push_back(m["result"]);
    }
    return out;
  }
  bool overflowed() const { return !open(); }

 private:
  bool Add(Json j) {
    MutexLock lock(&mu_);
    if (overflowed_) return false;
    if (messages_.size() >= capacity_) {
      overflowed_ = true;
      return false;
    }
    messages_.push_back(std::move(j));
    return true;
  }
  const size_t capacity_;
  mutable Mutex mu_;
  std::vector<Json> messages_ GUARDED_BY(mu_);
  std::vector<std::shared_ptr<const std::string>> texts_ GUARDED_BY(mu_);
  bool overflowed_ GUARDED_BY(mu_) = false;
};

struct Fixture {
  GrowingChain chain;
  SubscriptionHub hub;
  explicit Fixture(SubscriptionLimits limits = {}) : hub(chain, 0, limits) {}

  // Subscribes; the id, or 0 with the error's message in *error.
  uint64_t Subscribe(const std::shared_ptr<RecordingChannel>& ch, const Json& params,
                     std::string* error = nullptr) {
    uint64_t id = 0;
    auto err = hub.Subscribe(params, ch, [&](uint64_t sub) {
      id = sub;
      ch->Send("subscribed " + std::to_string(sub));
    });
    if (err && error != nullptr) {
      *error = std::to_string(err->code) + " " + err->message;
      if (err->data) *error += " " + err->data->dump();
    }
    return err ? 0 : id;
  }
  // Appends a block and tells the hub, as the node's commit path does.
  ledger::Block Commit(std::vector<ledger::Transaction> txs,
                       std::vector<ledger::TxCode> codes = {}) {
    ledger::Block b = chain.Append(std::move(txs), std::move(codes));
    std::vector<crypto::Hash256> hashes;
    for (const auto& tx : b.txs) hashes.push_back(tx.Hash());
    hub.OnCommitted(b, b.Hash(), hashes, chain.ReceiptsOf(b.header.height));
    return b;
  }
};

const crypto::KeyPair& Alice() {
  static const crypto::KeyPair k = testkit::TestKey(1, 16);
  return k;
}
const crypto::KeyPair& Bob() {
  static const crypto::KeyPair k = testkit::TestKey(2, 16);
  return k;
}
const crypto::KeyPair& Carol() {
  static const crypto::KeyPair k = testkit::TestKey(3, 16);
  return k;
}

ledger::Transaction TransferTx(const crypto::KeyPair& from, const crypto::KeyPair& to,
                               uint64_t nonce) {
  return testkit::MakeTx(from, kChain, nonce, ledger::Transfer{to.public_key(), 5});
}
ledger::Transaction PutTx(const crypto::KeyPair& from, const std::string& key, uint64_t nonce) {
  return testkit::MakeTx(from, kChain, nonce,
                         ledger::Put{Bytes(key.begin(), key.end()), Bytes{1, 2, 3}});
}

TEST_CASE("newBlocks: the answer first, then every block in height order", "[api][subs]") {
  Fixture f;
  auto ch = std::make_shared<RecordingChannel>();
  const uint64_t id = f.Subscribe(ch, Json::array({"newBlocks"}));
  REQUIRE(id != 0);
  for (int i = 0; i < 5; ++i) f.Commit({});
  auto msgs = ch->messages();
  REQUIRE(msgs.size() == 6);
  CHECK(msgs[0]["answer"] == "subscribed " + std::to_string(id));
  auto results = ch->results(id);
  for (size_t i = 0; i < results.size(); ++i) {
    CHECK(results[i]["height"] == i + 1);
    CHECK(results[i]["tx_count"] == 0);
    CHECK(results[i].contains("hash"));
  }
}

TEST_CASE("tx: fires once on commit with the receipt, or at once when already committed",
          "[api][subs]") {
  Fixture f;
  auto ch = std::make_shared<RecordingChannel>();
  auto tx = TransferTx(Alice(), Bob(), 0);
  const uint64_t id = f.Subscribe(ch, Json{{"topic", "tx"}, {"hash", tx.Hash().ToHex()}});
  REQUIRE(id != 0);
  f.Commit({});
  CHECK(ch->results(id).empty());
  f.Commit({TransferTx(Carol(), Bob(), 0), tx}, {ledger::TxCode::kOk, ledger::TxCode::kOk});
  f.Commit({});
  auto results = ch->results(id);
  REQUIRE(results.size() == 1);
  CHECK(results[0]["hash"] == tx.Hash().ToHex());
  CHECK(results[0]["height"] == 2);
  CHECK(results[0]["index"] == 1);
  CHECK(results[0]["receipt"]["result"] == "ok");
  CHECK(f.hub.size() == 0);  // done: a tx subscription ends with its event

  // Already committed: the event follows the answer at once.
  auto late = std::make_shared<RecordingChannel>();
  const uint64_t id2 = f.Subscribe(late, Json::array({"tx", {{"hash", tx.Hash().ToHex()}}}));
  auto msgs = late->messages();
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].contains("answer"));
  CHECK(msgs[1]["subscription"] == id2);
  CHECK(msgs[1]["result"]["height"] == 2);
  CHECK(f.hub.size() == 0);
}

TEST_CASE("account: every change to the address, and none for others", "[api][subs]") {
  Fixture f;
  auto ch = std::make_shared<RecordingChannel>();
  const uint64_t bob =
      f.Subscribe(ch, Json::array({"account", {{"address", Bob().public_key().ToHex()}}}));
  const uint64_t carol =
      f.Subscribe(ch, Json::array({"account", {{"address", Carol().public_key().ToHex()}}}));
  REQUIRE(bob != 0);
  REQUIRE(carol != 0);
  // Alice pays Bob (Bob credited); Bob pays Carol but fails (only Bob's nonce changes).
  f.Commit({TransferTx(Alice(), Bob(), 0), TransferTx(Bob(), Carol(), 0)},
           {ledger::TxCode::kOk, ledger::TxCode::kInsufficientBalance});
  auto b = ch->results(bob);
  REQUIRE(b.size() == 2);
  CHECK(b[0]["index"] == 0);
  CHECK(b[0]["kind"] == "transfer");
  CHECK(b[1]["index"] == 1);
  CHECK(b[1]["receipt"]["result"] == "insufficient_balance");
  CHECK(ch->results(carol).empty());
}

TEST_CASE("records: puts in the namespace under the prefix only", "[api][subs]") {
  Fixture f;
  auto ch = std::make_shared<RecordingChannel>();
  const uint64_t id = f.Subscribe(ch, Json{{"topic", "records"},
                                           {"namespace", Alice().public_key().ToHex()},
                                           {"prefix", crypto::ToHex(Bytes{'d', 'o', 'c'})}});
  REQUIRE(id != 0);
  f.Commit({PutTx(Alice(), "doc-1", 0), PutTx(Alice(), "img-1", 1), PutTx(Bob(), "doc-2", 0)});
  auto r = ch->results(id);
  REQUIRE(r.size() == 1);
  CHECK(r[0]["key"] == crypto::ToHex(Bytes{'d', 'o', 'c', '-', '1'}));
  CHECK(r[0]["value"] == "010203");
  CHECK(r[0]["namespace"] == Alice().public_key().ToHex());
}

TEST_CASE("unsubscribe: no event after it, and only the owner may", "[api][subs]") {
  Fixture f;
  auto ch = std::make_shared<RecordingChannel>();
  auto other = std::make_shared<RecordingChannel>();
  const uint64_t id = f.Subscribe(ch, Json::array({"newBlocks"}));
  f.Commit({});
  CHECK_FALSE(f.hub.Unsubscribe(id, *other));
  CHECK(f.hub.Unsubscribe(id, *ch));
  CHECK_FALSE(f.hub.Unsubscribe(id, *ch));
  f.Commit({});
  CHECK(ch->results(id).size() == 1);
}

TEST_CASE("bounds: per connection, from_height range, bad params", "[api][subs]") {
  Fixture f(SubscriptionLimits{.max_per_connection = 2, .max_total = 100, .max_resume_blocks = 5});
  for (int i = 0; i < 10; ++i) f.Commit({});
  auto ch = std::make_shared<RecordingChannel>();
  std::string error;
  CHECK(f.Subscribe(ch, Json::array({"newBlocks"})) != 0);
  CHECK(f.Subscribe(ch, Json::array({"newBlocks"})) != 0);
  CHECK(f.Subscribe(ch, Json::array({"newBlocks"}), &error) == 0);
  CHECK(error.find("max_per_connection 2") != std::string::npos);
  f.hub.Disconnected(*ch);
  CHECK(f.hub.size() == 0);

  auto ch2 = std::make_shared<RecordingChannel>();
  CHECK(f.Subscribe(ch2, Json::array({"newBlocks", {{"from_height", 5}}}), &error) == 0);
  CHECK(error.find("1101 resume too far") != std::string::npos);
  CHECK(f.Subscribe(ch2, Json::array({"newBlocks", {{"from_height", 12}}}), &error) == 0);
  CHECK(error.find("above the next block, 11") != std::string::npos);
  CHECK(f.Subscribe(ch2, Json::array({"nope"}), &error) == 0);
  CHECK(error.find("-32602") != std::string::npos);
  CHECK(f.Subscribe(ch2, Json::array({"account", {{"address", "zz"}}}), &error) == 0);
  CHECK(f.Subscribe(ch2, Json::array({"tx", {{"hash", std::string(64, '0')}, {"from_height", 1}}}),
                    &error) == 0);
  CHECK(ch2->messages().empty());  // a refused subscribe queues no answer of the hub's
  // from_height = the next block: nothing to replay, live at once.
  const uint64_t id = f.Subscribe(ch2, Json::array({"newBlocks", {{"from_height", 11}}}));
  REQUIRE(id != 0);
  f.Commit({});
  REQUIRE(ch2->results(id).size() == 1);
  CHECK(ch2->results(id)[0]["height"] == 11);
}

TEST_CASE("a slow consumer is refused without holding up the others", "[api][subs]") {
  Fixture f;
  auto slow = std::make_shared<RecordingChannel>(/*capacity=*/4);
  auto fast = std::make_shared<RecordingChannel>();
  const uint64_t s = f.Subscribe(slow, Json::array({"newBlocks"}));
  const uint64_t q = f.Subscribe(fast, Json::array({"newBlocks"}));
  for (int i = 0; i < 20; ++i) f.Commit({});
  CHECK(slow->overflowed());
  CHECK(slow->results(s).size() == 3);  // its answer and three events fit
  CHECK(fast->results(q).size() == 20);
  // The refusal itself ends the slow channel's subscriptions and the hub's hold on it, before
  // (and whether or not) the transport's Disconnected comes.
  CHECK(f.hub.size() == 1);
  CHECK(slow.use_count() == 1);
  f.hub.Disconnected(*slow);
  CHECK(f.hub.size() == 1);
}

TEST_CASE("a connection that closed is never held: subscribe refused, refusals drop it",
          "[api][subs]") {
  Fixture f;
  SECTION("subscribe after the connection closed (its Disconnected already ran)") {
    auto ch = std::make_shared<RecordingChannel>();
    ch->Close();
    f.hub.Disconnected(*ch);
    std::string error;
    CHECK(f.Subscribe(ch, Json::array({"newBlocks"}), &error) == 0);
    CHECK(error.find("-32002") == 0);
    CHECK(f.hub.size() == 0);
    CHECK(ch.use_count() == 1);
  }
  SECTION("a live event refused: every subscription of that connection goes") {
    auto ch = std::make_shared<RecordingChannel>();
    f.Subscribe(ch, Json::array({"newBlocks"}));
    f.Subscribe(ch, Json::array({"account", {{"address", Alice().public_key().ToHex()}}}));
    ch->Close();
    f.Commit({});
    CHECK(f.hub.size() == 0);
    CHECK(ch.use_count() == 1);
  }
  SECTION("a resume on a connection that closed") {
    for (int i = 0; i < 3; ++i) f.Commit({});
    auto ch = std::make_shared<RecordingChannel>(/*capacity=*/2);
    CHECK(f.Subscribe(ch, Json::array({"newBlocks", {{"from_height", 1}}})) != 0);
    CHECK(ch->overflowed());
    CHECK(f.hub.size() == 0);
    CHECK(ch.use_count() == 1);
  }
  SECTION("Clear lets every connection go") {
    auto ch = std::make_shared<RecordingChannel>();
    f.Subscribe(ch, Json::array({"newBlocks"}));
    f.hub.Clear();
    CHECK(f.hub.size() == 0);
    CHECK(ch.use_count() == 1);
  }
}

TEST_CASE("an event is serialised once per block and shared by its subscribers", "[api][subs]") {
  Fixture f;
  const std::string ns = Alice().public_key().ToHex();
  const std::string alice = Alice().public_key().ToHex();
  std::vector<std::shared_ptr<RecordingChannel>> chans;
  for (int i = 0; i < 3; ++i) {
    chans.push_back(std::make_shared<RecordingChannel>());
    f.Subscribe(chans.back(), Json::array({"records", {{"namespace", ns}}}));
    f.Subscribe(chans.back(), Json::array({"account", {{"address", alice}}}));
  }
  // Different prefixes select different events, each still the one shared text.
  auto pre = std::make_shared<RecordingChannel>();
  f.Subscribe(pre, Json::array({"records", {{"namespace", ns}, {"prefix", "6b31"}}}));  // "k1"
  f.Commit({PutTx(Alice(), "k1", 0), PutTx(Alice(), "k2", 1)});
  std::vector<std::shared_ptr<const std::string>> first = chans[0]->texts();
  REQUIRE(first.size() == 4);  // two records, two account events
  for (const auto& ch : chans) {
    auto texts = ch->texts();
    REQUIRE(texts.size() == first.size());
    for (size_t i = 0; i < texts.size(); ++i) CHECK(texts[i].get() == first[i].get());
  }
  REQUIRE(pre->texts().size() == 1);
  CHECK(pre->texts()[0].get() == first[0].get());
}

TEST_CASE("resume: every block from from_height exactly once while blocks keep committing",
          "[api][subs][resume]") {
  const uint64_t seed = std::random_device{}();
  std::printf("resume race seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; ++round) {
    Fixture f;
    const int before = 5 + static_cast<int>(rng() % 30);
    for (int i = 0; i < before; ++i) f.Commit({TransferTx(Alice(), Bob(), i)});
    const uint64_t from = 1 + rng() % before;
    const int during = static_cast<int>(rng() % 40);
    std::atomic<bool> go{false};
    // The committer races the resume's reads of the store and its hand-over to live events.
    std::thread committer([&] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < during; ++i) f.Commit({TransferTx(Alice(), Bob(), before + i)});
    });
    auto blocks = std::make_shared<RecordingChannel>();
    auto bob = std::make_shared<RecordingChannel>();
    go = true;
    const uint64_t b = f.Subscribe(blocks, Json::array({"newBlocks", {{"from_height", from}}}));
    const uint64_t a = f.Subscribe(
        bob,
        Json::array({"account", {{"address", Bob().public_key().ToHex()}, {"from_height", from}}}));
    committer.join();
    for (int i = 0; i < 3; ++i) f.Commit({TransferTx(Alice(), Bob(), before + during + i)});
    const uint64_t head = before + during + 3;
    INFO("seed " << seed << " round " << round << " from " << from << " head " << head);
    auto got = blocks->results(b);
    REQUIRE(got.size() == head - from + 1);
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i]["height"] == from + i);
    auto changes = bob->results(a);
    REQUIRE(changes.size() == head - from + 1);
    for (size_t i = 0; i < changes.size(); ++i) CHECK(changes[i]["height"] == from + i);
    // The answer came before any event.
    CHECK(blocks->messages()[0].contains("answer"));
    CHECK(bob->messages()[0].contains("answer"));
  }
}

}  // namespace
}  // namespace cairn::api

namespace cairn::api {
namespace {

// A connection whose first notification blocks until released: a resume stays running.
class GatedChannel final : public rpc::PushChannel {
 public:
  bool Notify(uint64_t, std::shared_ptr<const std::string>) override {
    if (!entered_flag_.exchange(true)) entered_.set_value();
    release_.wait();
    return true;
  }
  bool Send(std::string) override { return true; }
  bool open() const override { return true; }
  void WaitEntered() { entered_future_.wait(); }
  void Release() { release_promise_.set_value(); }

 private:
  std::atomic<bool> entered_flag_{false};
  std::promise<void> entered_;
  std::future<void> entered_future_ = entered_.get_future();
  std::promise<void> release_promise_;
  std::shared_future<void> release_ = release_promise_.get_future().share();
};

TEST_CASE("resumes: one at a time per connection, max_concurrent_resumes in the node",
          "[api][subs]") {
  Fixture f(SubscriptionLimits{.max_concurrent_resumes = 1});
  for (int i = 0; i < 3; ++i) f.Commit({});
  auto gate = std::make_shared<GatedChannel>();
  const Json resume = Json::array({"newBlocks", {{"from_height", 1}}});
  std::optional<rpc::RpcError> first_error;
  std::thread resuming([&] { first_error = f.hub.Subscribe(resume, gate, [](uint64_t) {}); });
  gate->WaitEntered();
  // The same connection again (the transport never does this; the hub refuses it anyway).
  auto again = f.hub.Subscribe(resume, gate, [](uint64_t) {});
  REQUIRE(again);
  CHECK(again->code == rpc::kLimitExceeded);
  // Another connection: the node's one resume is taken.
  auto other = std::make_shared<RecordingChannel>();
  std::string error;
  CHECK(f.Subscribe(other, resume, &error) == 0);
  INFO(error);
  CHECK(error.find("the node runs max_concurrent_resumes 1") != std::string::npos);
  // Without from_height there is no resume, so nothing to wait for.
  CHECK(f.Subscribe(other, Json::array({"newBlocks"})) != 0);
  gate->Release();
  resuming.join();
  CHECK(!first_error);
  CHECK(f.Subscribe(other, resume, &error) != 0);
}

}  // namespace
}  // namespace cairn::api
