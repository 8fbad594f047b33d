// getTxProof, getHeaders and getRawBlocks against real cairnd processes: on a four-validator
// BFT network, every committed transaction's proof verifies against the header it comes
// with, and that header's certificate verifies against the genesis validators; the headers
// chain by prev_hash; the bounds are typed errors. What a light client does, end to end.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "api/methods.h"
#include "api/tx_proof.h"
#include "consensus/bft/messages.h"
#include "consensus/signer.h"
#include "crypto/hex.h"
#include "tests/integration/temp_network.h"

using namespace cairn;
using namespace cairn::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

Bytes HexBytes(const json& j) { return crypto::FromHex(j.get<std::string>()).value(); }

// The certificate proves the block SHA-256(header) final for the genesis validators.
Status CheckCertificate(const json& cert_hex, const crypto::Hash256& genesis_hash,
                        const ledger::BlockHeader& header,
                        const std::vector<crypto::PublicKey>& keys) {
  auto cert = consensus::bft::Certificate::Decode(HexBytes(cert_hex));
  if (!cert.ok()) return cert.status();
  consensus::Ed25519Verifier verifier(keys);
  return consensus::bft::VerifyCertificate(*cert, genesis_hash, header.height, header.Hash(),
                                           static_cast<uint32_t>(keys.size()), verifier);
}

}  // namespace

TEST_CASE("a BFT network serves proofs a light client verifies with headers and certificates",
          "[integration][bft][proof]") {
  TempNetwork net("it-proofs", 4, 0, "bft");
  net.StartAll({"v0", "v1", "v2", "v3"});
  auto c = net.Client("v1");

  uint64_t nonce = 0;
  std::vector<std::string> sent = net.Load("v0", &nonce, 40);
  REQUIRE(sent.size() == 40);
  for (const std::string& h : sent) REQUIRE(WaitCommitted(c, h, 60s));

  const json status = c.Call("getStatus").value();
  const crypto::Hash256 genesis_hash =
      *crypto::Hash256::FromHex(status["genesis_hash"].get<std::string>());
  std::vector<crypto::PublicKey> keys;
  const json validators = c.Call("getValidators").value();
  for (const json& v : validators) {
    keys.push_back(*crypto::PublicKey::FromHex(v["public_key"].get<std::string>()));
  }
  REQUIRE(keys.size() == 4);

  size_t multi = 0;  // proofs with a non-empty path: blocks of more than one transaction
  for (const std::string& hex : sent) {
    INFO(hex);
    const crypto::Hash256 tx_hash = *crypto::Hash256::FromHex(hex);
    auto r = c.Call("getTxProof", {{"hash", hex}});
    REQUIRE(r.ok());
    const json& p = r.value();
    const Bytes header_bytes = HexBytes(p["header"]);
    const Bytes proof = HexBytes(p["proof"]);
    auto header = ledger::BlockHeader::Decode(header_bytes);
    REQUIRE(header.ok());
    CHECK(header->height == p["height"].get<uint64_t>());
    CHECK(header->tx_count == p["tx_count"].get<uint64_t>());
    auto decoded = api::DecodeTxProof(proof);
    REQUIRE(decoded.ok());
    CHECK(crypto::MerkleVerify(header->tx_root, tx_hash, *decoded));
    auto verified = api::VerifyTxProof(header_bytes, tx_hash, proof);
    REQUIRE(verified.ok());
    CHECK(verified->index == p["index"].get<uint32_t>());
    if (!decoded->path.empty()) ++multi;
    // The header is final: its certificate verifies against the genesis validators.
    REQUIRE(p["certificate"].is_string());
    Status cert = CheckCertificate(p["certificate"], genesis_hash, *header, keys);
    INFO(cert.message());
    CHECK(cert.ok());
    // The block getBlock names is the one proven.
    auto tx = c.Call("getTransaction", {{"hash", hex}}).value();
    CHECK(tx["block_hash"] == header->Hash().ToHex());

    // One flipped bit in the proof fails.
    Bytes tampered = proof;
    tampered[proof.size() - 1] ^= 0x01;
    CHECK_FALSE(api::VerifyTxProof(header_bytes, tx_hash, tampered).ok());
  }
  CHECK(multi > 0);

  // Unknown: not_found.
  auto unknown = c.Call("getTxProof", {{"hash", std::string(64, '0')}});
  REQUIRE(unknown.is_rpc_error());
  CHECK(unknown.rpc_error().code == api::kNotFound);

  // Headers from genesis: linked by prev_hash, each above genesis with a valid certificate.
  const uint64_t head = status["height"].get<uint64_t>();
  auto headers = c.Call("getHeaders", {{"from", 0}, {"count", 1000}});
  REQUIRE(headers.ok());
  REQUIRE(headers.value().size() >= head + 1);
  std::optional<ledger::BlockHeader> prev;
  for (const json& item : headers.value()) {
    auto h = ledger::BlockHeader::Decode(HexBytes(item["header"]));
    REQUIRE(h.ok());
    CHECK(h->height == item["height"].get<uint64_t>());
    if (!prev) {
      CHECK(h->Hash() == genesis_hash);
      CHECK(item["certificate"].is_null());
    } else {
      CHECK(h->prev_hash == prev->Hash());
      CHECK(CheckCertificate(item["certificate"], genesis_hash, *h, keys).ok());
    }
    prev = *h;
  }

  // Bounds: typed errors, before any work.
  for (const json& count : {json(0), json(1001)}) {
    auto r = c.Call("getHeaders", {{"from", 0}, {"count", count}});
    REQUIRE(r.is_rpc_error());
    CHECK(r.rpc_error().code == rpc::kInvalidParams);
  }
  auto beyond = c.Call("getHeaders", {{"from", head + 1000}});
  REQUIRE(beyond.is_rpc_error());
  CHECK(beyond.rpc_error().code == api::kNotFound);

  // A page holding only genesis still has its (null) certificate.
  auto raw = c.Call("getRawBlocks", {{"from", 0}, {"count", 1}});
  REQUIRE(raw.ok());
  CHECK(raw.value()["certificates"] == json::array({nullptr}));
}
