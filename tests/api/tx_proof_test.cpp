// getTxProof and getHeaders as a light client uses them: every transaction's proof verifies
// against the tx_root of the header it came with, any one-bit change to the proof or the root
// does not, and the bounds are typed errors. Against FakeNode, a chain the test builds.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "api/methods.h"
#include "api/tx_proof.h"
#include "crypto/hex.h"
#include "tests/api/fake_node.h"

using namespace cairn;
using api::testing::FakeChain;
using api::testing::FakeNode;
using rpc::Json;

namespace {

crypto::KeyPair Key(uint8_t seed) {
  std::array<uint8_t, 32> bytes{};
  bytes.fill(seed);
  return crypto::KeyPair::FromSeed(crypto::PrivateKey(bytes));
}

// Genesis plus blocks of the given transaction counts, each transfer signed for real.
FakeChain ChainOf(const std::vector<size_t>& tx_counts, genesis::ConsensusKind consensus) {
  const crypto::KeyPair validator = Key(1), sender = Key(2), other = Key(3);
  FakeChain c;
  c.genesis.chain_id = "proofs";
  c.genesis.genesis_time_ms = 1764547200000;
  c.genesis.consensus = consensus;
  c.genesis.validators.push_back({"v0", validator.public_key(), ""});
  c.genesis.accounts.push_back({sender.public_key(), ledger::Role::kAdmin, 1000000});
  c.blocks.push_back(c.genesis.Block0());
  uint64_t nonce = 0;
  for (size_t n : tx_counts) {
    ledger::Block b;
    b.header.chain_id = "proofs";
    b.header.height = c.blocks.size();
    b.header.prev_hash = c.blocks.back().Hash();
    b.header.timestamp_ms = c.blocks.back().header.timestamp_ms + 1000;
    for (size_t i = 0; i < n; ++i) {
      ledger::Transaction tx;
      tx.chain_id = "proofs";
      tx.nonce = nonce++;
      tx.payload = ledger::Transfer{other.public_key(), 1 + i};
      tx.Sign(sender);
      b.txs.push_back(tx);
    }
    b.header.tx_count = static_cast<uint32_t>(n);
    b.header.tx_root = b.ComputeTxRoot();
    b.Sign(validator);
    c.blocks.push_back(std::move(b));
  }
  for (size_t i = 0; i < c.blocks.back().txs.size(); ++i) {
    c.head_receipts.push_back(
        {ledger::TxCode::kOk, c.blocks.back().header.height, static_cast<uint32_t>(i)});
  }
  return c;
}

Json Call(const rpc::Dispatcher& d, const std::string& method, const Json& params) {
  Json request = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}};
  return Json::parse(d.Dispatch(request.dump()));
}

Bytes HexBytes(const Json& j) { return crypto::FromHex(j.get<std::string>()).value(); }

}  // namespace

TEST_CASE("getTxProof: each transaction's proof verifies against the header it returns",
          "[api][proof]") {
  // Sizes that give every shape of the RFC 6962 split: a lone leaf, a power of two, odd
  // counts whose last leaf has no sibling at several levels.
  for (size_t n : {1, 2, 3, 4, 5, 7, 8, 13}) {
    FakeNode node(ChainOf({2, n}, genesis::ConsensusKind::kRaft));
    rpc::Dispatcher d;
    REQUIRE(api::RegisterNodeMethods(d, node).ok());
    const ledger::Block& head = node.head();
    for (size_t i = 0; i < n; ++i) {
      INFO("block of " << n << ", transaction " << i);
      const crypto::Hash256 tx_hash = head.txs[i].Hash();
      Json r = Call(d, "getTxProof", Json{{"hash", tx_hash.ToHex()}});
      REQUIRE(r.contains("result"));
      const Json& p = r["result"];
      CHECK(p["height"] == 2);
      CHECK(p["index"] == i);
      CHECK(p["tx_count"] == n);
      CHECK(p["certificate"].is_null());  // Raft keeps none

      const Bytes header = HexBytes(p["header"]);
      CHECK(header == head.header.Encode());
      auto decoded_header = ledger::BlockHeader::Decode(header);
      REQUIRE(decoded_header.ok());
      const Bytes proof_bytes = HexBytes(p["proof"]);
      auto proof = api::DecodeTxProof(proof_bytes);
      REQUIRE(proof.ok());
      CHECK(crypto::MerkleVerify(decoded_header->tx_root, tx_hash, *proof));
      auto verified = api::VerifyTxProof(header, tx_hash, proof_bytes);
      REQUIRE(verified.ok());
      CHECK(verified->height == 2);
      CHECK(verified->index == i);
      CHECK(verified->block_hash == head.Hash());

      // Another transaction's hash, or this one's against another root, does not verify.
      if (n > 1) {
        CHECK_FALSE(
            crypto::MerkleVerify(decoded_header->tx_root, head.txs[(i + 1) % n].Hash(), *proof));
      }
      CHECK_FALSE(crypto::MerkleVerify(node.chain().blocks[1].header.tx_root, tx_hash, *proof));
      // Any one-bit change to the proof's bytes fails, by decoding or by the path.
      for (size_t bit = 0; bit < proof_bytes.size() * 8; ++bit) {
        Bytes tampered = proof_bytes;
        tampered[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        INFO("proof bit " << bit);
        CHECK_FALSE(api::VerifyTxProof(header, tx_hash, tampered).ok());
      }
      // So does any one-bit change to the header's tx_root, which follows version, chain_id
      // (4 + 6 bytes here), height, prev_hash, timestamp_ms and proposer.
      const size_t root_at = 1 + 4 + 6 + 8 + 32 + 8 + 32;
      REQUIRE(Bytes(header.begin() + root_at, header.begin() + root_at + 32) ==
              Bytes(head.header.tx_root.view().begin(), head.header.tx_root.view().end()));
      for (size_t bit = 0; bit < 256; ++bit) {
        Bytes tampered = header;
        tampered[root_at + bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        CHECK_FALSE(api::VerifyTxProof(tampered, tx_hash, proof_bytes).ok());
      }
    }
  }
}

TEST_CASE("getTxProof: unknown and pending transactions are not_found", "[api][proof]") {
  FakeChain c = ChainOf({3}, genesis::ConsensusKind::kBft);
  ledger::Transaction pending;
  pending.chain_id = "proofs";
  pending.nonce = 3;
  pending.payload = ledger::Transfer{Key(3).public_key(), 9};
  pending.Sign(Key(2));
  c.pending = pending;
  FakeNode node(c);
  rpc::Dispatcher d;
  REQUIRE(api::RegisterNodeMethods(d, node).ok());
  std::array<uint8_t, 32> zero{};
  for (const crypto::Hash256& h : {crypto::Hash256(zero), pending.Hash()}) {
    Json r = Call(d, "getTxProof", Json::array({h.ToHex()}));
    INFO(r.dump());
    CHECK(r["error"]["code"] == api::kNotFound);
    CHECK(r["error"]["data"]["reason"] == "not_found");
  }
  CHECK(Call(d, "getTxProof", Json{{"hash", "00"}})["error"]["code"] == rpc::kInvalidParams);
}

TEST_CASE("getTxProof: a BFT block's proof comes with its certificate", "[api][proof]") {
  FakeChain c = ChainOf({3}, genesis::ConsensusKind::kBft);
  api::CertificateInfo cert;
  cert.raw = {0x01, 0x02, 0x03};
  cert.height = 1;
  cert.block = c.blocks[1].Hash();
  c.certificate = cert;
  FakeNode node(c);
  rpc::Dispatcher d;
  REQUIRE(api::RegisterNodeMethods(d, node).ok());
  Json r = Call(d, "getTxProof", Json{{"hash", node.head().txs[2].Hash().ToHex()}});
  CHECK(r["result"]["certificate"] == "010203");
}

TEST_CASE("getHeaders: canonical headers with certificates, and typed bounds", "[api][headers]") {
  FakeChain c = ChainOf({1, 2, 3, 4}, genesis::ConsensusKind::kBft);
  api::CertificateInfo cert;
  cert.raw = {0xce};
  cert.height = 3;
  cert.block = c.blocks[3].Hash();
  c.certificate = cert;
  FakeNode node(c);
  rpc::Dispatcher d;
  REQUIRE(api::RegisterNodeMethods(d, node).ok());

  Json all = Call(d, "getHeaders", Json{{"from", 0}, {"count", 1000}});
  REQUIRE(all["result"].size() == 5);  // capped at the head
  for (uint64_t h = 0; h < 5; ++h) {
    const Json& item = all["result"][h];
    CHECK(item["height"] == h);
    auto header = ledger::BlockHeader::Decode(HexBytes(item["header"]));
    REQUIRE(header.ok());
    CHECK(header->Hash() == c.blocks[h].Hash());
    if (h == 3) {
      CHECK(item["certificate"] == "ce");
    } else {
      CHECK(item["certificate"].is_null());
    }
  }
  // Each header links to the one before it, as a light client checks.
  for (uint64_t h = 1; h < 5; ++h) {
    auto prev = ledger::BlockHeader::Decode(HexBytes(all["result"][h - 1]["header"]));
    auto cur = ledger::BlockHeader::Decode(HexBytes(all["result"][h]["header"]));
    CHECK(cur->prev_hash == prev->Hash());
  }
  Json two = Call(d, "getHeaders", Json::array({2, 2}));
  REQUIRE(two["result"].size() == 2);
  CHECK(two["result"][0]["height"] == 2);
  CHECK(Call(d, "getHeaders", Json{{"from", 4}})["result"].size() == 1);

  for (const Json& count : {Json(0), Json(1001), Json(-1), Json("5"), Json(2.5)}) {
    Json r = Call(d, "getHeaders", Json{{"from", 0}, {"count", count}});
    INFO(r.dump());
    CHECK(r["error"]["code"] == rpc::kInvalidParams);
  }
  Json beyond = Call(d, "getHeaders", Json{{"from", 5}});
  CHECK(beyond["error"]["code"] == api::kNotFound);
  CHECK(beyond["error"]["data"]["head"] == 4);
  CHECK(Call(d, "getHeaders", Json::object())["error"]["code"] == rpc::kInvalidParams);

  // A tight response budget cuts the list; the client continues from the last height + 1.
  const size_t first = all["result"][0].dump().size() + 1;
  rpc::DispatcherOptions o;
  o.max_response_bytes = 256 + first + 1;
  rpc::Dispatcher tight(o);
  REQUIRE(api::RegisterNodeMethods(tight, node).ok());
  Json cut = Call(tight, "getHeaders", Json{{"from", 0}, {"count", 5}});
  REQUIRE(cut["result"].size() == 1);
  CHECK(cut["result"][0] == all["result"][0]);
  o.max_response_bytes = 256;
  rpc::Dispatcher none(o);
  REQUIRE(api::RegisterNodeMethods(none, node).ok());
  CHECK(Call(none, "getHeaders", Json{{"from", 0}})["error"]["code"] == rpc::kLimitExceeded);
}

TEST_CASE("getRawBlocks on a BFT chain always has certificates, null for genesis", "[api]") {
  FakeNode node(ChainOf({1}, genesis::ConsensusKind::kBft));
  rpc::Dispatcher d;
  REQUIRE(api::RegisterNodeMethods(d, node).ok());
  Json genesis_only = Call(d, "getRawBlocks", Json{{"from", 0}, {"count", 1}})["result"];
  REQUIRE(genesis_only.contains("certificates"));
  CHECK(genesis_only["certificates"] == Json::array({nullptr}));
  Json past_head = Call(d, "getRawBlocks", Json{{"from", 5}})["result"];
  CHECK(past_head["certificates"] == Json::array());
  // Solo and Raft keep no certificates: the field is left out.
  FakeNode raft(ChainOf({1}, genesis::ConsensusKind::kRaft));
  rpc::Dispatcher dr;
  REQUIRE(api::RegisterNodeMethods(dr, raft).ok());
  CHECK_FALSE(Call(dr, "getRawBlocks", Json{{"from", 0}})["result"].contains("certificates"));
}

TEST_CASE("TxProof decoding refuses what no block can have", "[api][proof]") {
  // index 0 of 1, no path: the smallest valid proof.
  CHECK(api::DecodeTxProof(*crypto::FromHex("000000000100000000")).ok());
  CHECK_FALSE(api::DecodeTxProof(*crypto::FromHex("010000000100000000")).ok());    // index >= size
  CHECK_FALSE(api::DecodeTxProof(*crypto::FromHex("000000000000000000")).ok());    // empty tree
  CHECK_FALSE(api::DecodeTxProof(*crypto::FromHex("0000000001000000")).ok());      // truncated
  CHECK_FALSE(api::DecodeTxProof(*crypto::FromHex("00000000010000000000")).ok());  // trailing
  CHECK_FALSE(api::DecodeTxProof(*crypto::FromHex("0000000002000000ff")).ok());    // n over 64
  CHECK_FALSE(api::DecodeTxProof(*crypto::FromHex("000000000200000001")).ok());    // path missing
}
