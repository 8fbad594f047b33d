// The audit over JSON-RPC: a real rpc::Server with the node's methods, in front of a NodeApi
// that serves a ChainStore, so the audit pages through getRawBlocks exactly as against cairnd.
#include <catch2/catch.hpp>

#include "api/methods.h"
#include "audit/audit.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "tests/audit/audit_fixture.h"

using namespace cairn;
using namespace cairn::audit;
using namespace cairn::audit::testing;

namespace {

// Serves a committed chain; submissions are refused (the audit never submits).
class StoreNode final : public api::NodeApi {
 public:
  StoreNode(const ledger::ChainStore& store, genesis::Genesis genesis)
      : store_(store), genesis_(std::move(genesis)) {}

  ledger::Admission SubmitTransaction(ledger::Transaction) override {
    return ledger::Admission{ledger::TxCode::kMempoolFull, "read-only test node", {}};
  }
  std::vector<ledger::Admission> SubmitTransactions(std::vector<ledger::Transaction> txs) override {
    return std::vector<ledger::Admission>(
        txs.size(), ledger::Admission{ledger::TxCode::kMempoolFull, "read-only test node", {}});
  }
  ledger::Head GetHead() const override { return store_.head(); }
  Result<std::optional<ledger::Block>> GetBlock(uint64_t height) const override {
    auto b = store_.BlockAt(height);
    if (b.ok() && b.value() && tamper_height_ == height) b.value()->txs.at(0).nonce += 1;
    return b;
  }
  Result<std::optional<ledger::Block>> GetBlockByHash(const crypto::Hash256& h) const override {
    return store_.BlockByHash(h);
  }
  Result<std::optional<std::vector<ledger::Receipt>>> GetReceipts(uint64_t h) const override {
    return store_.ReceiptsAt(h);
  }
  Result<api::TxLookup> GetTransaction(const crypto::Hash256&) const override {
    return api::TxLookup{};
  }
  std::optional<ledger::Account> GetAccount(const ledger::Address& a) const override {
    return store_.GetAccount(a);
  }
  uint64_t NextNonce(const ledger::Address&) const override { return 0; }
  std::optional<Bytes> GetRecord(const ledger::Address& a, ByteView key) const override {
    return store_.GetRecord(a, key);
  }
  api::NodeStatus GetStatus() const override { return api::NodeStatus{}; }
  const genesis::Genesis& GetGenesis() const override { return genesis_; }
  std::vector<api::PeerInfo> GetPeers() const override { return {}; }

  // Serves block `h` with its first transaction's nonce changed (a node lying about history).
  void TamperWith(uint64_t h) { tamper_height_ = h; }

 private:
  const ledger::ChainStore& store_;
  genesis::Genesis genesis_;
  std::optional<uint64_t> tamper_height_;
};

struct ServedChain {
  AuditChain chain;
  std::unique_ptr<ledger::ChainStore> store;
  std::unique_ptr<StoreNode> node;
  rpc::Dispatcher dispatcher;
  std::unique_ptr<rpc::Server> server;
  uint64_t head = 0;

  explicit ServedChain(std::optional<genesis::Genesis> served_genesis = std::nullopt) {
    auto s = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), chain.genesis.Block0(),
                                      chain.genesis.InitialState());
    REQUIRE(s.ok());
    store = std::move(s.value());
    head = chain.Build(*store);
    node = std::make_unique<StoreNode>(*store, served_genesis.value_or(chain.genesis));
    REQUIRE(api::RegisterNodeMethods(dispatcher, *node).ok());
    server = std::make_unique<rpc::Server>(dispatcher);
    REQUIRE(server->Start("127.0.0.1", 0).ok());
  }
  rpc::Client Client() {
    auto c = rpc::Client::Create("http://127.0.0.1:" + std::to_string(server->port()));
    REQUIRE(c.ok());
    return std::move(c.value());
  }
};

}  // namespace

TEST_CASE("audit over RPC replays the served chain page by page", "[audit]") {
  ServedChain s;
  rpc::Client client = s.Client();
  AuditOptions opts;
  opts.page_blocks = GENERATE(1, 2, 100);
  std::vector<uint64_t> progress;
  opts.progress = [&](uint64_t h, uint64_t target) {
    CHECK(target == s.head);
    progress.push_back(h);
  };
  AuditReport r = AuditRpc(client, s.chain.genesis, opts);
  INFO(Why(r));
  REQUIRE(r.ok());
  CHECK_FALSE(r.genesis_from_node);
  CHECK(r.blocks == s.head + 1);
  CHECK(r.transactions == s.chain.transactions);
  CHECK(r.head_hash == s.store->head().hash);
  CHECK(r.state_root == s.store->head().state_root);
  CHECK_FALSE(r.store_checked);
  REQUIRE_FALSE(progress.empty());
  CHECK(progress.back() == s.head);
}

TEST_CASE("audit over RPC without a genesis file uses and reports the node's", "[audit]") {
  ServedChain s;
  rpc::Client client = s.Client();
  AuditReport r = AuditRpc(client, std::nullopt);
  REQUIRE(r.ok());
  CHECK(r.genesis_from_node);
  CHECK(r.genesis_hash == s.chain.genesis.Block0().Hash());
}

TEST_CASE("audit over RPC fails when the node's genesis is not the trusted one", "[audit]") {
  ServedChain s;
  rpc::Client client = s.Client();
  genesis::Genesis trusted = s.chain.genesis;
  trusted.accounts[0].balance += 1;
  AuditReport r = AuditRpc(client, trusted);
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->check == AuditCheck::kGenesis);
  CHECK(r.failure->height == 0);
  CHECK_THAT(r.failure->detail, Catch::Contains(trusted.Block0().Hash().ToHex()));
}

TEST_CASE("audit over RPC fails when the node serves a genesis its blocks do not match",
          "[audit]") {
  // The node claims a genesis (and its hash) that is not the one its block 0 was built from.
  genesis::Genesis claimed = AuditChain().genesis;
  claimed.genesis_time_ms += 1;
  ServedChain s(claimed);
  rpc::Client client = s.Client();
  AuditReport r = AuditRpc(client, std::nullopt);
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->check == AuditCheck::kGenesis);
  CHECK(r.failure->height == 0);
}

TEST_CASE("audit over RPC names the first block a node altered", "[audit]") {
  ServedChain s;
  s.node->TamperWith(3);
  rpc::Client client = s.Client();
  AuditReport r = AuditRpc(client, s.chain.genesis);
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->height == 3);
  CHECK(r.blocks == 3);
}

TEST_CASE("audit over RPC reports an unreachable node as a source failure", "[audit]") {
  auto c = rpc::Client::Create("http://127.0.0.1:1");
  REQUIRE(c.ok());
  AuditReport r = AuditRpc(*c, std::nullopt);
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->check == AuditCheck::kSource);
  CHECK_FALSE(r.failure->height.has_value());
}
