// RPC on a pruned node (storage.retain_blocks, docs/RPC.md "1102 pruned"): the methods that
// read block bodies, receipts or the tx index answer 1102 with `data.oldest` for a pruned
// height, never an empty "not found"; kept heights and every header answer as before. Runs
// the methods against a real ChainStore with 30 blocks, retain_blocks = 10.
#include <catch2/catch.hpp>

#include <string>

#include "api/methods.h"
#include "crypto/hex.h"
#include "ledger/chain_store.h"
#include "tests/kit/chain_fixture.h"

using namespace cairn;
using rpc::Json;

namespace {

// The NodeApi as node/node_service.h implements it, over a ChainStore.
class StoreNode final : public api::NodeApi {
 public:
  StoreNode(ledger::ChainStore& store, genesis::Genesis genesis)
      : store_(store), genesis_(std::move(genesis)) {}
  ledger::Admission SubmitTransaction(ledger::Transaction tx) override {
    return {ledger::TxCode::kOk, "", tx.Hash()};
  }
  std::vector<ledger::Admission> SubmitTransactions(std::vector<ledger::Transaction>) override {
    return {};
  }
  ledger::Head GetHead() const override { return store_.head(); }
  Result<std::optional<ledger::Block>> GetBlock(uint64_t h) const override {
    return store_.BlockAt(h);
  }
  Result<std::optional<ledger::Block>> GetBlockByHash(const crypto::Hash256& h) const override {
    return store_.BlockByHash(h);
  }
  Result<std::optional<ledger::BlockHeader>> GetHeader(uint64_t h) const override {
    return store_.HeaderAt(h);
  }
  Result<std::optional<std::vector<ledger::Receipt>>> GetReceipts(uint64_t h) const override {
    return store_.ReceiptsAt(h);
  }
  Result<api::TxLookup> GetTransaction(const crypto::Hash256& hash) const override {
    api::TxLookup out;
    auto loc = store_.FindTx(hash);
    if (!loc.ok()) return loc.status();
    if (!loc->has_value()) return out;
    auto block = store_.BlockAt((*loc)->height);
    if (!block.ok()) return block.status();
    out.status = api::TxLookup::Status::kCommitted;
    out.height = (*loc)->height;
    out.index = (*loc)->index;
    out.block_hash = (*block)->Hash();
    out.tx = (*block)->txs[out.index];
    return out;
  }
  std::optional<ledger::Account> GetAccount(const ledger::Address& a) const override {
    return store_.GetAccount(a);
  }
  uint64_t NextNonce(const ledger::Address&) const override { return 0; }
  std::optional<Bytes> GetRecord(const ledger::Address& a, ByteView key) const override {
    return store_.GetRecord(a, key);
  }
  api::NodeStatus GetStatus() const override { return {}; }
  const genesis::Genesis& GetGenesis() const override { return genesis_; }
  std::vector<api::PeerInfo> GetPeers() const override { return {}; }
  uint64_t BlocksFrom() const override { return store_.BlocksFrom(); }

 private:
  ledger::ChainStore& store_;
  genesis::Genesis genesis_;
};

Json Call(const rpc::Dispatcher& d, const std::string& method, const Json& params) {
  Json request = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}};
  return Json::parse(d.Dispatch(request.dump()));
}

void CheckPruned(const Json& response, const std::string& detail_start) {
  INFO(response.dump());
  REQUIRE(response.contains("error"));
  CHECK(response["error"]["code"] == 1102);
  CHECK(response["error"]["message"] == "pruned");
  CHECK(response["error"]["data"]["reason"] == "pruned");
  CHECK(response["error"]["data"]["oldest"] == 21);
  CHECK(response["error"]["data"]["detail"].get<std::string>().rfind(detail_start, 0) == 0);
}

}  // namespace

TEST_CASE("a pruned height answers 1102 pruned with data.oldest", "[api][prune]") {
  testkit::ChainFixture fx;
  auto opened =
      ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), fx.genesis, fx.genesis_state);
  REQUIRE(opened.ok());
  ledger::ChainStore& store = **opened;
  REQUIRE(store.SetRetainBlocks(10).ok());
  std::vector<ledger::BuiltBlock> blocks;
  for (int i = 0; i < 30; ++i) {
    auto parent = store.HeaderAt(store.head().height);
    REQUIRE(parent.ok());
    blocks.push_back(fx.NextBlock(store, **parent, 2, static_cast<size_t>(i)));
    REQUIRE(store.Commit(blocks.back().block, blocks.back().exec).ok());
  }
  REQUIRE(store.BlocksFrom() == 21);
  genesis::Genesis g;
  g.chain_id = fx.chain_id;
  g.consensus = genesis::ConsensusKind::kSolo;
  StoreNode node(store, g);
  rpc::Dispatcher d;
  REQUIRE(api::RegisterNodeMethods(d, node).ok());

  const std::string old_hash = blocks[4].block.Hash().ToHex();  // height 5
  const std::string old_tx = blocks[4].exec.tx_hashes[0].ToHex();
  const std::string keeps = "is pruned: this node keeps bodies from 21 (storage.retain_blocks)";
  CheckPruned(Call(d, "getBlock", Json::array({5})), "block 5 " + keeps);
  CheckPruned(Call(d, "getBlock", Json{{"hash", old_hash}}), "block 5 " + keeps);
  CheckPruned(Call(d, "getBlocks", Json::array({3, 25})), "block 3 " + keeps);
  CheckPruned(Call(d, "getRawBlocks", Json::array({20, 2})), "block 20 " + keeps);
  CheckPruned(Call(d, "getTransaction", Json::array({old_tx})),
              "transaction " + old_tx +
                  " is not in the blocks this node keeps (from 21); it may "
                  "be in a pruned block");
  CheckPruned(Call(d, "getTxProof", Json::array({old_tx})), "transaction " + old_tx);

  // Kept heights answer as before, and every header is served.
  Json kept = Call(d, "getBlock", Json::array({21, true}));
  INFO(kept.dump());
  CHECK(kept["result"]["height"] == 21);
  Json kept_tx = Call(d, "getTransaction", Json::array({blocks[25].exec.tx_hashes[1].ToHex()}));
  CHECK(kept_tx["result"]["status"] == "committed");
  CHECK(Call(d, "getTxProof",
             Json::array({blocks[25].exec.tx_hashes[1].ToHex()}))["result"]["height"] == 26);
  Json headers = Call(d, "getHeaders", Json::array({1, 30}));
  REQUIRE(headers["result"].size() == 30);
  CHECK(headers["result"][4]["header"] == crypto::ToHex(blocks[4].block.header.Encode()));
  // Blocks above the head are still simply not there.
  Json above = Call(d, "getBlock", Json::array({31}));
  CHECK(above["error"]["code"] == 1100);
}
