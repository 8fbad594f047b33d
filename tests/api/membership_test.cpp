// getValidators, getGovernance, getProposal and listProposals against a node whose state
// history the test writes (FakeChain::states): a set change executed at block 3 answers the old
// set at 3 and 4 with the change pending, the new one from 5 on, and nothing beyond head + 2;
// heights outside the retained history are refused as getProof refuses them; proposals show
// what a user acts on (expired once no block can approve them).
#include <catch2/catch.hpp>

#include "api/methods.h"
#include "ledger/governance.h"
#include "tests/api/fake_node.h"
#include "tests/kit/keys.h"

using namespace cairn;
using api::testing::FakeChain;
using api::testing::FakeNode;
using nlohmann::json;

namespace {

crypto::KeyPair Key(uint32_t i) { return testkit::TestKey(i, 0x74); }

crypto::Hash256 IdOf(uint8_t fill) {
  std::array<uint8_t, 32> b{};
  b.fill(fill);
  return crypto::Hash256(b);
}

struct World {
  FakeChain chain;
  ledger::MemberSet s0, s1;  // before and after "remove v3" (executed at 3, in force at 5)
};

// Blocks 0..4 of a four-validator BFT chain; states kept for heights 1..4 (0 pruned).
World MakeWorld() {
  World w;
  FakeChain& c = w.chain;
  c.genesis.chain_id = "membership";
  c.genesis.genesis_time_ms = 1764547200000;
  c.genesis.consensus = genesis::ConsensusKind::kBft;
  for (uint32_t i = 0; i < 4; ++i) {
    c.genesis.validators.push_back(
        {"v" + std::to_string(i), Key(i).public_key(), "10.0.0." + std::to_string(i) + ":7000"});
  }
  c.genesis.observers.push_back({"obs", Key(9).public_key(), ""});
  c.genesis.accounts.push_back({Key(0).public_key(), ledger::Role::kAdmin, 1});
  c.blocks.push_back(c.genesis.Block0());
  for (uint64_t h = 1; h <= 4; ++h) {
    ledger::Block b;
    b.header.chain_id = c.genesis.chain_id;
    b.header.height = h;
    b.header.prev_hash = c.blocks.back().Hash();
    c.blocks.push_back(b);
  }
  w.s0 = c.genesis.Members();
  w.s1 = w.s0;
  w.s1.members.erase(w.s1.members.begin() + 3);  // v3, id 3

  ledger::GovConfig config{2, {Key(0).public_key(), Key(1).public_key()}};
  ledger::Proposal live;
  live.proposer = Key(0).public_key();
  live.expires_at = 10;
  live.action = ledger::AddObserver{"obs2", Key(8).public_key(), "10.0.0.9:7000"};
  live.approvals = {Key(0).public_key()};
  ledger::Proposal lapsed = live;
  lapsed.expires_at = 4;  // block 5 is past it
  ledger::Proposal done;
  done.proposer = Key(1).public_key();
  done.expires_at = 9;
  done.action = ledger::RemoveMember{3};
  done.approvals = {Key(1).public_key(), Key(0).public_key()};
  done.status = ledger::ProposalStatus::kExecuted;
  done.result_height = 3;
  ledger::PendingSet pending{5, w.s1};

  for (uint64_t h = 1; h <= 4; ++h) {
    auto& s = c.states[h];
    s[ledger::SystemKey(ledger::kMembersName)] = w.s0.Encode();
    if (h >= 3) s[ledger::SystemKey(ledger::kPendingName)] = pending.Encode();
    s[ledger::SystemKey(ledger::kGovConfigName)] = config.Encode();
    s[ledger::SystemKey(ledger::ProposalName(IdOf(1)))] = live.Encode();
    s[ledger::SystemKey(ledger::ProposalName(IdOf(2)))] = lapsed.Encode();
    s[ledger::SystemKey(ledger::ProposalName(IdOf(3)))] = done.Encode();
    s[ledger::SystemKey(ledger::kGovOpenName)] = ledger::EncodeOpenList(
        {{IdOf(2), lapsed.proposer, lapsed.expires_at}, {IdOf(1), live.proposer, live.expires_at}});
  }
  return w;
}

json Call(rpc::Dispatcher& d, const std::string& method, const json& params = nullptr) {
  json req = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}};
  if (!params.is_null()) req["params"] = params;
  json answer = json::parse(d.Dispatch(req.dump()));
  INFO(req.dump() << " -> " << answer.dump());
  return answer;
}

// {key: value}, spelled out: a braced {{"k", v}} argument would be read as an array.
json P(const char* key, json value) {
  json j = json::object();
  j[key] = std::move(value);
  return j;
}

std::vector<uint32_t> Ids(const json& members) {
  std::vector<uint32_t> out;
  for (const json& m : members) out.push_back(m["id"]);
  return out;
}

}  // namespace

TEST_CASE("getValidators answers set(H) from the state of H, up to head + 2", "[api][membership]") {
  World w = MakeWorld();
  FakeNode node(w.chain);
  rpc::Dispatcher d;
  REQUIRE(api::RegisterNodeMethods(d, node).ok());
  const std::string h0 = ledger::SetHash(w.s0.Validators()).ToHex();
  const std::string h1 = ledger::SetHash(w.s1.Validators()).ToHex();

  for (uint64_t h : {1, 2}) {
    json r = Call(d, "getValidators", P("height", h))["result"];
    CHECK(Ids(r["validators"]) == std::vector<uint32_t>{0, 1, 2, 3});
    CHECK(r["validators_hash"] == h0);
    CHECK(r["pending"].is_null());
  }
  // Executed at 3: 3 and 4 still have v3 and show the change waiting for 5.
  for (uint64_t h : {3, 4}) {
    json r = Call(d, "getValidators", P("height", h))["result"];
    CHECK(Ids(r["validators"]) == std::vector<uint32_t>{0, 1, 2, 3});
    CHECK(r["validators_hash"] == h0);
    REQUIRE(r["pending"].is_object());
    CHECK(r["pending"]["effective_height"] == 5);
    CHECK(Ids(r["pending"]["validators"]) == std::vector<uint32_t>{0, 1, 2});
    CHECK(r["pending"]["validators_hash"] == h1);
  }
  json at5 = Call(d, "getValidators", P("height", 5))["result"];
  CHECK(Ids(at5["validators"]) == std::vector<uint32_t>{0, 1, 2});
  CHECK(at5["validators_hash"] == h1);
  CHECK(at5["state_height"] == 4);
  CHECK(at5["pending"].is_null());
  CHECK(at5["validators"][2] == json{{"id", 2},
                                     {"index", 2},
                                     {"kind", "validator"},
                                     {"name", "v2"},
                                     {"consensus_key", Key(2).public_key().ToHex()},
                                     {"p2p_key", Key(2).public_key().ToHex()},
                                     {"address", "10.0.0.2:7000"}});
  CHECK(Ids(at5["observers"]) == std::vector<uint32_t>{4});
  CHECK(Call(d, "getValidators", P("height", 6))["result"]["validators_hash"] == h1);
  CHECK(Call(d, "getValidators", P("height", "latest"))["result"]["height"] == 4);

  // Beyond head + 2: not known yet. Below the retained history: refused like getProof.
  json ahead = Call(d, "getValidators", P("height", 7));
  CHECK(ahead["error"]["code"] == api::kNotFound);
  CHECK_THAT(ahead["error"]["data"]["detail"].get<std::string>(),
             Catch::Contains("is not known yet"));
  CHECK(ahead["error"]["data"]["head"] == 4);
  json pruned = Call(d, "getValidators", P("height", 0));
  CHECK(pruned["error"]["code"] == api::kNotFound);
  CHECK_THAT(pruned["error"]["data"]["detail"].get<std::string>(),
             Catch::Contains("outside the state history"));
  CHECK(Call(d, "getValidators", P("height", -1))["error"]["code"] == rpc::kInvalidParams);

  // No params: the old array shape, for set(head).
  json legacy = Call(d, "getValidators")["result"];
  REQUIRE(legacy.is_array());
  REQUIRE(legacy.size() == 4);
  CHECK(legacy[3]["index"] == 3);
  CHECK(legacy[3]["name"] == "v3");
  CHECK(legacy[3]["public_key"] == Key(3).public_key().ToHex());
}

TEST_CASE("getGovernance, getProposal and listProposals read gov/* at the head",
          "[api][membership]") {
  World w = MakeWorld();
  FakeNode node(w.chain);
  rpc::Dispatcher d;
  REQUIRE(api::RegisterNodeMethods(d, node).ok());

  json gov = Call(d, "getGovernance")["result"];
  CHECK(gov["enabled"] == true);
  CHECK(gov["threshold"] == 2);
  CHECK(gov["admins"] == json::array({Key(0).public_key().ToHex(), Key(1).public_key().ToHex()}));
  CHECK(gov["open"] == 2);
  CHECK(gov["height"] == 4);

  json live = Call(d, "getProposal", P("id", IdOf(1).ToHex()))["result"];
  CHECK(live["status"] == "open");
  CHECK(live["threshold"] == 2);
  CHECK(live["action"]["type"] == "add_observer");
  CHECK(live["approvals"].size() == 1);
  CHECK(live["result"].is_null());
  json lapsed = Call(d, "getProposal", P("id", IdOf(2).ToHex()))["result"];
  CHECK(lapsed["status"] == "expired");
  CHECK(lapsed["stored_status"] == "open");
  json done = Call(d, "getProposal", P("id", IdOf(3).ToHex()))["result"];
  CHECK(done["status"] == "executed");
  CHECK(done["result"] == "ok");
  CHECK(done["result_height"] == 3);
  json unknown = Call(d, "getProposal", P("id", IdOf(4).ToHex()));
  CHECK(unknown["error"]["code"] == api::kNotFound);

  json list = Call(d, "listProposals")["result"];
  REQUIRE(list["proposals"].size() == 1);
  CHECK(list["proposals"][0]["id"] == IdOf(1).ToHex());
  CHECK(list["hidden"] == 1);
  json all = Call(d, "listProposals", P("all", true))["result"];
  CHECK(all["proposals"].size() == 2);

  // A chain without governance says so.
  World bare = MakeWorld();
  for (auto& [h, s] : bare.chain.states) s.erase(ledger::SystemKey(ledger::kGovConfigName));
  FakeNode bare_node(bare.chain);
  rpc::Dispatcher bd;
  REQUIRE(api::RegisterNodeMethods(bd, bare_node).ok());
  json none = Call(bd, "getGovernance")["result"];
  CHECK(none["enabled"] == false);
  CHECK(none["admins"].empty());
}
