// `cairn light sync` on a BFT chain whose validator set changes, against an in-process rpc::Server
// in front of a FakeNode that serves hand-built headers, certificates and state: the client
// walks from its newest trusted header, trusts the header before the change by the old set,
// takes the new set only when its hash is that header's next_validators_hash, and checks the
// target against the new set. A node that lies about the set, or serves a target certified
// with a removed validator's key, is refused with the check that failed.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "api/methods.h"
#include "cli/light_store.h"
#include "consensus/bft/messages.h"
#include "rpc/server.h"
#include "tests/api/fake_node.h"
#include "tests/integration/dev_node.h"
#include "tests/kit/keys.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using api::testing::FakeChain;
using api::testing::FakeNode;
using nlohmann::json;

namespace {

crypto::KeyPair Key(uint32_t i) { return testkit::TestKey(i, 0x75); }

constexpr uint64_t kHead = 8;
constexpr uint64_t kChangeAt = 3;  // executed at 3: set(5) = {v0, v1, v2}

// A certificate for `h` at `indices` of its set, signed with the keys of validators `keys`.
Bytes Certify(const crypto::Hash256& chain, const ledger::BlockHeader& h,
              const std::vector<uint32_t>& indices, const std::vector<uint32_t>& keys) {
  consensus::bft::Certificate c;
  c.height = h.height;
  c.block = h.Hash();
  for (size_t i = 0; i < indices.size(); ++i) {
    consensus::bft::Vote v;
    v.type = consensus::bft::VoteType::kPrecommit;
    v.height = h.height;
    v.block = h.Hash();
    consensus::Ed25519Signer signer(indices[i], Key(keys[i]));
    c.sigs.push_back({indices[i], consensus::bft::SignVote(chain, v, signer).sig});
  }
  return c.Encode();
}

struct Served {
  FakeChain chain;
  ledger::MemberSet s0, s1;
  std::unique_ptr<FakeNode> node;
  rpc::Dispatcher dispatcher;
  std::unique_ptr<rpc::Server> server;

  Served() {
    FakeChain& c = chain;
    c.genesis.chain_id = "light-walk";
    c.genesis.genesis_time_ms = 1764547200000;
    c.genesis.consensus = genesis::ConsensusKind::kBft;
    for (uint32_t i = 0; i < 4; ++i) {
      c.genesis.validators.push_back({"v" + std::to_string(i), Key(i).public_key(), ""});
    }
    c.genesis.accounts.push_back({Key(0).public_key(), ledger::Role::kAdmin, 1});
    c.blocks.push_back(c.genesis.Block0());
    s0 = c.genesis.Members();
    s1 = s0;
    s1.members.pop_back();  // v3
    const crypto::Hash256 h0 = ledger::SetHash(s0.Validators());
    const crypto::Hash256 h1 = ledger::SetHash(s1.Validators());
    const crypto::Hash256 chain_hash = c.genesis.Block0().Hash();
    for (uint64_t h = 1; h <= kHead; ++h) {
      ledger::Block b;
      b.header.chain_id = c.genesis.chain_id;
      b.header.height = h;
      b.header.prev_hash = c.blocks.back().Hash();
      b.header.timestamp_ms = c.genesis.genesis_time_ms + 1000 * h;
      b.header.proposer = Key(static_cast<uint32_t>(h % 3)).public_key();
      b.header.validators_hash = h < kChangeAt + 2 ? h0 : h1;
      b.header.next_validators_hash = h + 1 < kChangeAt + 2 ? h0 : h1;
      c.blocks.push_back(b);
      api::CertificateInfo info;
      info.height = h;
      info.raw = Certify(chain_hash, b.header, {0, 1, 2}, {0, 1, 2});
      c.certificates[h] = info;
      auto& state = c.states[h];
      state[ledger::SystemKey(ledger::kMembersName)] = (h < kChangeAt + 2 ? s0 : s1).Encode();
      if (h >= kChangeAt && h < kChangeAt + 2) {
        state[ledger::SystemKey(ledger::kPendingName)] =
            ledger::PendingSet{kChangeAt + 2, s1}.Encode();
      }
    }
    c.status.chain_id = c.genesis.chain_id;
    c.status.genesis_hash = chain_hash;
    c.status.consensus = "bft";
  }

  // REQUIRES: the chain is final (called once, after any tampering).
  std::string Start() {
    node = std::make_unique<FakeNode>(chain);
    REQUIRE(api::RegisterNodeMethods(dispatcher, *node).ok());
    server = std::make_unique<rpc::Server>(dispatcher);
    REQUIRE(server->Start("127.0.0.1", 0).ok());
    return "http://127.0.0.1:" + std::to_string(server->port());
  }
};

testkit::CommandResult LightSync(const std::string& url, const std::string& genesis,
                                 const std::string& dir) {
  testkit::CommandResult r = testkit::RunCommand(
      testing::CairnPath(), {"--rpc", url, "--json", "light", "sync", "--genesis", genesis,
                             "--light-dir", dir, "--verbose"});
  UNSCOPED_INFO("cairn light sync -> exit " << r.exit_code << "\nstdout: " << r.out
                                            << "\nstderr: " << r.err);
  return r;
}

}  // namespace

TEST_CASE("light sync, BFT: walks across a set change and keeps the new set",
          "[cli][light][membership][integration]") {
  REQUIRE_FALSE(testing::CairnPath().empty());
  testkit::TempDir dir("light-walk");
  Served s;
  const std::string genesis = dir.path() + "/genesis.json";
  REQUIRE(s.chain.genesis.Save(genesis).ok());
  const std::string url = s.Start();

  testkit::CommandResult r = LightSync(url, genesis, dir.path() + "/store");
  REQUIRE(r.exit_code == 0);
  json out = json::parse(r.out);
  CHECK(out["height"] == kHead);
  CHECK_THAT(r.err, Catch::Contains("validator set changed at 5: now 3 validators"));
  {
    auto store = cli::LightStore::Open(dir.path() + "/store", /*linked=*/false);
    REQUIRE(store.ok());
    // The two headers around the change, and the target.
    CHECK(store->size() == 3);
    CHECK(store->Find(4) != nullptr);
    CHECK(store->Find(5) != nullptr);
    CHECK(store->Find(kHead) != nullptr);
    REQUIRE(store->saved_set().has_value());
    CHECK(ledger::SetHash(*store->saved_set()) == ledger::SetHash(s.s1.Validators()));
  }
  // Resuming needs no walk: the saved set certifies the head again.
  testkit::CommandResult again = LightSync(url, genesis, dir.path() + "/store");
  REQUIRE(again.exit_code == 0);
  CHECK(json::parse(again.out)["headers_fetched"] == 0);
}

TEST_CASE("light sync, BFT: a lying set or a removed validator's certificate is refused",
          "[cli][light][membership][integration]") {
  REQUIRE_FALSE(testing::CairnPath().empty());
  testkit::TempDir dir("light-walk-bad");
  const std::string genesis = dir.path() + "/genesis.json";

  SECTION("the node answers the old set for the change height") {
    Served s;
    REQUIRE(s.chain.genesis.Save(genesis).ok());
    for (uint64_t h = kChangeAt; h <= kHead; ++h) {
      s.chain.states[h][ledger::SystemKey(ledger::kMembersName)] = s.s0.Encode();
      s.chain.states[h].erase(ledger::SystemKey(ledger::kPendingName));
    }
    testkit::CommandResult r = LightSync(s.Start(), genesis, dir.path() + "/store");
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("is not the set trusted header 4 commits to"));
  }
  SECTION("the removed validator v3 signs the target in a member's place") {
    Served s;
    REQUIRE(s.chain.genesis.Save(genesis).ok());
    const crypto::Hash256 chain_hash = s.chain.genesis.Block0().Hash();
    s.chain.certificates[kHead].raw =
        Certify(chain_hash, s.chain.blocks[kHead].header, {0, 1, 2}, {0, 1, 3});
    testkit::CommandResult r = LightSync(s.Start(), genesis, dir.path() + "/store");
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains(
                          "cairn: header 8: certificate: signature of validator 2 is invalid"));
  }
  SECTION("v3 signs under its old index, which set(8) does not have") {
    Served s;
    REQUIRE(s.chain.genesis.Save(genesis).ok());
    const crypto::Hash256 chain_hash = s.chain.genesis.Block0().Hash();
    s.chain.certificates[kHead].raw =
        Certify(chain_hash, s.chain.blocks[kHead].header, {0, 1, 3}, {0, 1, 3});
    testkit::CommandResult r = LightSync(s.Start(), genesis, dir.path() + "/store");
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("cairn: header 8: certificate: signer 3 is not a validator"));
  }
}
