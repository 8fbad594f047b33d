// getValidators against a real ChainStore whose blocks execute governance transactions: an
// add-validator executed at 1 and a removal executed at 4. For every height the answer's
// validators_hash is the one the stored header of that height carries, including heights whose
// state the store rebuilds from undo records (one in-memory version kept), so the RPC computes
// set(H) exactly as block validation does.
#include <catch2/catch.hpp>

#include "api/methods.h"
#include "ledger/governance.h"
#include "tests/api/store_node.h"
#include "tests/kit/chain_fixture.h"

using namespace cairn;
using cairn::testing::StoreNode;
using nlohmann::json;

namespace {

json SetAt(rpc::Dispatcher& d, uint64_t height) {
  json req = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "getValidators"}};
  req["params"] = json::object();
  req["params"]["height"] = height;
  json answer = json::parse(d.Dispatch(req.dump()));
  INFO("getValidators " << height << " -> " << answer.dump());
  REQUIRE(answer.contains("result"));
  return answer["result"];
}

}  // namespace

TEST_CASE("getValidators agrees with every stored header across two set changes",
          "[api][membership]") {
  testkit::ChainFixture fx(4, "membership-store");
  const crypto::KeyPair& admin = fx.accounts[0];
  const crypto::KeyPair added = testkit::TestKey(7, 0x76);

  // Genesis: validator 0 is the fixture's proposer; accounts[0] the one governance admin.
  genesis::Genesis g;
  g.chain_id = fx.chain_id;
  g.consensus = genesis::ConsensusKind::kSolo;
  g.validators.push_back({"v0", fx.proposer.public_key(), "10.0.0.1:7000"});
  ledger::MemberSet s0 = g.Members();
  for (auto& [k, v] :
       ledger::GenesisSystemRecords(s0, ledger::GovConfig{1, {admin.public_key()}})) {
    fx.genesis_state[k] = v;
  }
  fx.genesis.header.state_root = ledger::StateRootOf(fx.genesis_state);
  fx.genesis.header.validators_hash = ledger::SetHash(s0.Validators());
  fx.genesis.header.next_validators_hash = fx.genesis.header.validators_hash;
  auto store =
      ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), fx.genesis, fx.genesis_state);
  REQUIRE(store.ok());
  (*store)->SetMemoryVersions(1);  // older heights come from undo records

  auto propose = [&](uint64_t nonce, ledger::Action a) {
    return fx.Sign(admin, nonce, ledger::GovPropose{100, std::move(a)});
  };
  // One block on the head; `txs` empty: a transfer between two other accounts.
  auto commit = [&](std::vector<ledger::Transaction> txs) {
    if (txs.empty()) txs = fx.Transfers(**store, 1, 1, 1);
    auto parent = (*store)->HeaderAt((*store)->head().height);
    REQUIRE(parent.ok());
    REQUIRE(testkit::CommitChain(**store, **parent, {std::move(txs)}, fx.proposer).ok());
  };
  commit({propose(0, ledger::AddValidator{"v1", added.public_key(), added.public_key(), ""})});
  commit({});
  commit({});
  commit({propose(1, ledger::RemoveMember{1})});
  for (int i = 0; i < 3; ++i) commit({});
  const uint64_t head = (*store)->head().height;
  REQUIRE(head == 7);

  StoreNode node(**store, g);
  rpc::Dispatcher d;
  REQUIRE(api::RegisterNodeMethods(d, node).ok());
  // Executed at 1: set(3) = {v0, v1}. Executed at 4: set(6) = {v0}.
  const std::vector<size_t> want = {1, 1, 1, 2, 2, 2, 1, 1, 1, 1};  // set(0..9)
  for (uint64_t h = 1; h <= head + 2; ++h) {
    json r = SetAt(d, h);
    CHECK(r["validators"].size() == want[h]);
    if (h <= head) {
      auto header = (*store)->HeaderAt(h);
      REQUIRE(header.ok());
      CHECK(r["validators_hash"] == (*header)->validators_hash.ToHex());
    }
    if (h == 1 || h == 2 || h == 4 || h == 5) CHECK(r["pending"].is_object());
  }
  CHECK(SetAt(d, 4)["pending"]["effective_height"] == 6);
  CHECK(SetAt(d, 3)["validators"][1]["name"] == "v1");
  CHECK(SetAt(d, 3)["validators"][0]["address"] == "10.0.0.1:7000");  // from the genesis file
  CHECK(SetAt(d, 9)["next_id"] == 2);                                 // ids are never reused
}
