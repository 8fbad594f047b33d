// The node's JSON-RPC methods against a fake NodeApi, replayed against a recorded transcript
// (methods_golden.txt): every method name, parameter check, error code and JSON output is
// the contract docs/RPC.md publishes, so any change to a response must show up in review as
// a change to that file. CAIRN_UPDATE_GOLDEN=1 rewrites the transcript instead of checking.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "api/methods.h"
#include "crypto/hex.h"
#include "tests/api/fake_node.h"

using namespace cairn;
using api::testing::FakeNode;
using rpc::Json;

namespace {

crypto::KeyPair Key(uint8_t seed) {
  std::array<uint8_t, 32> bytes{};
  bytes.fill(seed);
  return crypto::KeyPair::FromSeed(crypto::PrivateKey(bytes));
}

crypto::Hash256 HashOf(uint8_t fill) {
  std::array<uint8_t, 32> bytes{};
  bytes.fill(fill);
  return crypto::Hash256(bytes);
}

ledger::Transaction SignedTx(const crypto::KeyPair& key, uint64_t nonce, ledger::Payload payload) {
  ledger::Transaction tx;
  tx.chain_id = "golden";
  tx.nonce = nonce;
  tx.payload = std::move(payload);
  tx.Sign(key);
  return tx;
}

crypto::KeyPair Sender() { return Key(2); }
crypto::KeyPair Other() { return Key(3); }

// A deterministic chain of two blocks (0 and 1) with one transaction of each kind, plus a
// pending transaction, one peer, one certificate and one piece of evidence. Height 7 and
// hash 0x77.. fail with a storage error, so the -32603 paths are covered too.
api::testing::FakeChain GoldenChain() {
  const crypto::KeyPair validator = Key(1), sender = Sender(), other = Other();
  api::testing::FakeChain c;
  c.genesis.chain_id = "golden";
  c.genesis.genesis_time_ms = 1764547200000;
  c.genesis.consensus = genesis::ConsensusKind::kBft;
  c.genesis.validators.push_back({"v0", validator.public_key(), "127.0.0.1:7001"});
  c.genesis.accounts.push_back({sender.public_key(), ledger::Role::kAdmin, 1000});
  c.blocks.push_back(c.genesis.Block0());

  ledger::Block b;
  b.header.chain_id = "golden";
  b.header.height = 1;
  b.header.prev_hash = c.blocks[0].Hash();
  b.header.timestamp_ms = 1764547200123;
  b.header.state_root = HashOf(0x5a);
  b.header.consensus_data = {0x01, 0x02};
  b.txs.push_back(SignedTx(sender, 0, ledger::Transfer{other.public_key(), 25}));
  b.txs.push_back(SignedTx(sender, 1, ledger::Put{{0x6b}, {0x76, 0x00}}));
  b.txs.push_back(
      SignedTx(sender, 2, ledger::RegisterAccount{other.public_key(), ledger::Role::kMember}));
  b.txs.push_back(SignedTx(sender, 3, ledger::SetRole{other.public_key(), ledger::Role::kAdmin}));
  b.header.tx_count = static_cast<uint32_t>(b.txs.size());
  b.header.tx_root = b.ComputeTxRoot();
  b.Sign(validator);
  c.blocks.push_back(std::move(b));
  c.head_receipts = {{ledger::TxCode::kOk, 1, 0},
                     {ledger::TxCode::kOk, 1, 1},
                     {ledger::TxCode::kAccountExists, 1, 2},
                     {ledger::TxCode::kOk, 1, 3}};
  c.pending = SignedTx(sender, 4, ledger::Transfer{other.public_key(), 1});

  api::CertificateInfo cert;
  cert.raw = {0xce, 0x47};
  cert.height = 1;
  cert.round = 2;
  cert.block = c.blocks[1].Hash();
  cert.signers.push_back({0, validator.public_key(), c.blocks[1].proposer_sig});
  c.certificate = cert;
  api::EvidenceInfo e;
  e.raw = {0xee};
  e.key = validator.public_key();
  e.vote_type = "precommit";
  e.height = 1;
  e.round = 2;
  e.block_a = c.blocks[1].Hash();
  e.recorded_ms = 1764547202000;
  c.evidence = {e};
  c.peers = {{other.public_key().ToHex(), "v1", "127.0.0.1:7002", "outbound", 1764547201000, 10, 20,
              3, 4}};

  api::NodeStatus& s = c.status;
  s.chain_id = "golden";
  s.genesis_hash = c.blocks[0].Hash();
  s.node_id = validator.public_key();
  s.node_name = "v0";
  s.consensus = "bft";
  s.validator = true;
  s.head_time_ms = c.blocks[1].header.timestamp_ms;
  s.mempool_size = 1;
  s.mempool_bytes = 190;
  s.peers = 1;
  s.role = "leader";
  s.term = 3;
  s.leader = validator.public_key().ToHex();
  s.commit_height = 1;
  s.version = "0.0.0-golden";

  c.account_address = sender.public_key();
  c.account = ledger::Account{975, 4, ledger::Role::kAdmin};
  c.next_nonce = 5;
  c.record_key = {0x6b};
  c.record_value = {0x76, 0x00};
  c.failing_height = 7;
  c.failing_hash = HashOf(0x77);
  return c;
}

std::string Hex(const ledger::Transaction& tx) { return crypto::ToHex(tx.Encode()); }

// One request per parameter check and per outcome of every method, in docs/RPC.md's order.
std::vector<Json> Requests(const FakeNode& node) {
  const ledger::Block& b1 = node.chain().blocks.at(1);
  const std::string tx0 = b1.txs[0].Hash().ToHex();
  const std::string b1_hash = b1.Hash().ToHex();
  const std::string sender = Sender().public_key().ToHex();
  const std::string other = Other().public_key().ToHex();
  const std::string failing = HashOf(0x77).ToHex();
  const std::string tx_ok = Hex(node.chain().pending.value());
  const std::string tx_high =
      Hex(SignedTx(Sender(), 99, ledger::Transfer{Other().public_key(), 1}));
  std::vector<std::pair<std::string, Json>> calls = {
      {"sendTransaction", nullptr},
      {"sendTransaction", {{"tx", 5}}},
      {"sendTransaction", {{"tx", "zz"}}},
      {"sendTransaction", {{"tx", "abcd"}}},
      {"sendTransaction", {{"tx", tx_ok}}},
      {"sendTransaction", Json::array({tx_ok})},
      {"sendTransaction", {{"tx", tx_high}}},
      {"sendTransactions", Json::object()},
      {"sendTransactions", {{"txs", "zz"}}},
      {"sendTransactions", {{"txs", Json::array()}}},
      {"sendTransactions", {{"txs", {tx_ok, "zz", tx_high, 5, "abcd"}}}},
      {"sendTransactions", Json::array({Json::array({tx_ok})})},
      {"sendTransactions", {{"txs", Json::array({"00"})}}},
      {"getTransaction", Json::object()},
      {"getTransaction", {{"hash", 1}}},
      {"getTransaction", {{"hash", "ab"}}},
      {"getTransaction", {{"hash", tx0}}},
      {"getTransaction", Json::array({node.chain().pending.value().Hash().ToHex()})},
      {"getTransaction", {{"hash", HashOf(0x01).ToHex()}}},
      {"getTransaction", {{"hash", failing}}},
      {"getBlock", {{"height", 0}}},
      {"getBlock", {{"height", 1}, {"full", true}}},
      {"getBlock", {{"height", 1}, {"full", "yes"}}},
      {"getBlock", {{"height", "latest"}}},
      {"getBlock", Json::array({"latest"})},
      {"getBlock", Json::array({1, true})},
      {"getBlock", Json::array({b1_hash})},
      {"getBlock", {{"hash", b1_hash}}},
      {"getBlock", {{"hash", "latest"}}},
      {"getBlock", {{"hash", "zz"}}},
      {"getBlock", {{"hash", failing}}},
      {"getBlock", {{"hash", HashOf(0x02).ToHex()}}},
      {"getBlock", {{"height", 5}}},
      {"getBlock", {{"height", 7}}},
      {"getBlock", {{"height", -1}}},
      {"getBlock", Json::object()},
      {"getBlock", nullptr},
      {"getBlocks", {{"from", 0}}},
      {"getBlocks", Json::array({0, 1})},
      {"getBlocks", {{"from", 1}, {"to", nullptr}}},
      {"getBlocks", {{"from", 0}, {"to", 0}}},
      {"getBlocks", {{"from", 2}}},
      {"getBlocks", {{"from", 0}, {"to", "x"}}},
      {"getBlocks", {{"from", "a"}}},
      {"getBlocks", Json::object()},
      {"getRawBlocks", {{"from", 0}}},
      {"getRawBlocks", {{"from", 1}, {"count", 1}}},
      {"getRawBlocks", {{"from", 0}, {"count", 0}}},
      {"getRawBlocks", {{"from", 0}, {"count", "x"}}},
      {"getRawBlocks", {{"from", 7}}},
      {"getRawBlocks", {{"from", 9}}},
      {"getRawBlocks", Json::object()},
      {"getAccount", {{"address", sender}}},
      {"getAccount", Json::array({other})},
      {"getAccount", {{"address", "zz"}}},
      {"getAccount", {{"address", 3}}},
      {"getAccount", Json::object()},
      {"getRecord", {{"address", sender}, {"key", "6b"}}},
      {"getRecord", Json::array({sender, "6c"})},
      {"getRecord", {{"address", sender}}},
      {"getRecord", {{"address", sender}, {"key", ""}}},
      {"getRecord", {{"address", sender}, {"key", "zz"}}},
      {"getRecord", {{"address", sender}, {"key", std::string(258, 'a')}}},
      {"getRecord", {{"address", "00"}, {"key", "6b"}}},
      {"getStatus", nullptr},
      {"getValidators", nullptr},
      {"getGenesis", nullptr},
      {"getEvidence", nullptr},
      {"getPeers", Json::object()},
      // A page holding only genesis still has `certificates` on a BFT chain (null for it).
      {"getRawBlocks", {{"from", 0}, {"count", 1}}},
      {"getHeaders", {{"from", 0}}},
      {"getHeaders", Json::array({1, 1})},
      {"getHeaders", {{"from", 0}, {"count", 0}}},
      {"getHeaders", {{"from", 0}, {"count", 1001}}},
      {"getHeaders", {{"from", 0}, {"count", "x"}}},
      {"getHeaders", {{"from", 2}}},
      {"getHeaders", {{"from", 7}}},
      {"getHeaders", Json::object()},
      {"getTxProof", {{"hash", tx0}}},
      {"getTxProof", Json::array({b1.txs[3].Hash().ToHex()})},
      {"getTxProof", {{"hash", node.chain().pending.value().Hash().ToHex()}}},
      {"getTxProof", {{"hash", HashOf(0x01).ToHex()}}},
      {"getTxProof", {{"hash", "zz"}}},
      {"getTxProof", {{"hash", failing}}},
      {"getTxProof", Json::object()},
      // Membership: the fake serves no state, so only the checks before a state read answer.
      {"getValidators", {{"height", "x"}}},
      {"getValidators", {{"height", 100}}},
      {"getValidators", {{"height", 0}}},
      {"getGovernance", nullptr},
      {"getProposal", Json::object()},
      {"getProposal", {{"id", "zz"}}},
      {"getProposal", {{"id", HashOf(0x03).ToHex()}}},
      {"listProposals", {{"all", 1}}},
      {"listProposals", nullptr},
      {"getNothing", nullptr},
  };
  std::vector<Json> out;
  int id = 1;
  for (auto& [method, params] : calls) {
    Json request = {{"jsonrpc", "2.0"}, {"id", id++}, {"method", method}};
    if (!params.is_null()) request["params"] = params;
    out.push_back(std::move(request));
  }
  return out;
}

}  // namespace

TEST_CASE("every method answers as the recorded transcript", "[api]") {
  FakeNode node(GoldenChain());
  rpc::Dispatcher dispatcher;
  REQUIRE(api::RegisterNodeMethods(dispatcher, node).ok());
  CHECK(dispatcher.Methods() ==
        std::vector<std::string>{
            "getAccount",    "getBlock",      "getBlocks",       "getEvidence",
            "getGenesis",    "getGovernance", "getHeaders",      "getLease",
            "getPeers",      "getProof",      "getProposal",     "getRawBlocks",
            "getRecord",     "getStatus",     "getTransaction",  "getTxProof",
            "getValidators", "listProposals", "sendTransaction", "sendTransactions"});

  std::vector<std::string> transcript;
  for (const Json& request : Requests(node)) {
    transcript.push_back(request.dump());
    transcript.push_back(dispatcher.Dispatch(request.dump()));
  }

  const char* update = std::getenv("CAIRN_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream out(CAIRN_API_GOLDEN, std::ios::trunc);
    for (const std::string& line : transcript) out << line << '\n';
    REQUIRE(out.good());
    WARN("rewrote " CAIRN_API_GOLDEN);
    return;
  }
  std::ifstream in(CAIRN_API_GOLDEN);
  REQUIRE(in.good());
  std::vector<std::string> recorded;
  for (std::string line; std::getline(in, line);) recorded.push_back(line);
  REQUIRE(recorded.size() == transcript.size());
  for (size_t i = 0; i < transcript.size(); ++i) {
    INFO("line " << i + 1 << " of " CAIRN_API_GOLDEN);
    CHECK(transcript[i] == recorded[i]);
  }
}

TEST_CASE("registering twice on one dispatcher fails on the first duplicate", "[api]") {
  FakeNode node(GoldenChain());
  rpc::Dispatcher dispatcher;
  REQUIRE(api::RegisterNodeMethods(dispatcher, node).ok());
  Status again = api::RegisterNodeMethods(dispatcher, node);
  CHECK_FALSE(again.ok());
}

TEST_CASE("range methods stop at the response budget and say where to continue", "[api]") {
  FakeNode node(GoldenChain());
  rpc::Dispatcher unlimited;
  REQUIRE(api::RegisterNodeMethods(unlimited, node).ok());
  auto result = [](const rpc::Dispatcher& d, const std::string& method, const Json& params) {
    Json request = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}};
    return Json::parse(d.Dispatch(request.dump()));
  };
  Json raw = result(unlimited, "getRawBlocks", Json::array({0, 10}))["result"];
  Json headers = result(unlimited, "getBlocks", Json::array({0, 10}))["result"];
  REQUIRE(raw["blocks"].size() >= 2);
  REQUIRE(headers.size() >= 2);
  CHECK_FALSE(raw.contains("truncated"));

  // Room for the envelope and block i only (the cost rules of api/methods.cpp).
  auto raw_cost = [&](size_t i) {
    const Json& cert = raw.contains("certificates") ? raw["certificates"][i] : Json();
    return raw["blocks"][i].get<std::string>().size() + 3 +
           (cert.is_string() ? cert.get<std::string>().size() + 3 : 5);
  };
  rpc::DispatcherOptions o;
  o.max_response_bytes = 256 + raw_cost(0) + 1;
  rpc::Dispatcher tight(o);
  REQUIRE(api::RegisterNodeMethods(tight, node).ok());
  Json cut = result(tight, "getRawBlocks", Json::array({0, 10}));
  INFO(cut.dump());
  CHECK(cut["result"]["blocks"].size() == 1);
  CHECK(cut["result"]["truncated"] == true);
  CHECK(cut["result"]["blocks"][0] == raw["blocks"][0]);
  // Continuing from `from` + 1 gives the next block.
  o.max_response_bytes = 256 + raw_cost(1) + 1;
  rpc::Dispatcher tight_next(o);
  REQUIRE(api::RegisterNodeMethods(tight_next, node).ok());
  Json next = result(tight_next, "getRawBlocks", Json::array({1, 10}));
  CHECK(next["result"]["blocks"][0] == raw["blocks"][1]);

  const size_t first_header = headers[0].dump().size() + 1;
  o.max_response_bytes = 256 + first_header + 1;
  rpc::Dispatcher tight_headers(o);
  REQUIRE(api::RegisterNodeMethods(tight_headers, node).ok());
  Json one = result(tight_headers, "getBlocks", Json::array({0, 10}));
  CHECK(one["result"].size() == 1);
  CHECK(one["result"][0] == headers[0]);

  // Not even the first block fits: -32005 naming the limit.
  o.max_response_bytes = 256;
  rpc::Dispatcher none(o);
  REQUIRE(api::RegisterNodeMethods(none, node).ok());
  Json refused = result(none, "getRawBlocks", Json::array({0, 10}));
  CHECK(refused["error"]["code"] == rpc::kLimitExceeded);
  CHECK(refused["error"]["data"].get<std::string>().find("max_response_bytes") !=
        std::string::npos);
}
