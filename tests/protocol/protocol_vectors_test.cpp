// Asserts every test vector printed in docs/PROTOCOL.md, read from the document itself.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <regex>

#include "crypto/hex.h"
#include "crypto/merkle.h"
#include "ledger/block.h"
#include "ledger/state_root.h"

using namespace cairn;
using namespace cairn::crypto;
using namespace cairn::ledger;

namespace {
std::map<std::string, std::string> ReadVectors() {
  std::ifstream in(std::string(CAIRN_SOURCE_DIR) + "/docs/PROTOCOL.md");
  REQUIRE(in.good());
  std::map<std::string, std::string> out;
  std::string line;
  bool in_section = false;
  std::regex row(R"(^([a-z_]+):\s+([0-9a-f]+)\s*$)");
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line.find("Test vectors") != std::string::npos;
    std::smatch m;
    if (in_section && std::regex_match(line, m, row)) out[m[1]] = m[2];
  }
  return out;
}
KeyPair SeedKey(uint8_t first) {
  std::array<uint8_t, 32> s;
  for (int i = 0; i < 32; ++i) s[i] = static_cast<uint8_t>(first + i);
  return KeyPair::FromSeed(PrivateKey(s));
}
}  // namespace

TEST_CASE("docs/PROTOCOL.md test vectors hold", "[protocol]") {
  auto v = ReadVectors();
  REQUIRE(v.size() == 13);
  KeyPair key = SeedKey(0x00), recipient = SeedKey(0x20);
  CHECK(key.seed().ToHex() == v["seed"]);
  CHECK(key.public_key().ToHex() == v["public_key"]);
  CHECK(recipient.public_key().ToHex() == v["recipient"]);

  Transaction tx;
  tx.chain_id = "cairn-test";
  tx.nonce = 7;
  tx.payload = Transfer{recipient.public_key(), 1000};
  tx.Sign(key);
  CHECK(ToHex(tx.SigningBytes()) == v["tx_signing_bytes"]);
  CHECK(tx.signature.ToHex() == v["tx_signature"]);
  CHECK(ToHex(tx.Encode()) == v["tx_encoded"]);
  CHECK(tx.Hash().ToHex() == v["tx_hash"]);
  // The documented encoding decodes back to the same transaction, and verifies.
  auto decoded = Transaction::Decode(*FromHex(v["tx_encoded"]));
  REQUIRE(decoded.ok());
  CHECK(*decoded == tx);
  CHECK(decoded->VerifySignature());

  Block b;
  b.header.chain_id = "cairn-test";
  b.header.height = 1;
  b.header.prev_hash = Sha256Of({});
  b.header.timestamp_ms = 1767225600000ull;
  b.txs = {tx};
  b.header.tx_count = 1;
  b.header.tx_root = b.ComputeTxRoot();
  CHECK(b.header.tx_root.ToHex() == v["tx_root"]);
  Account acct{.balance = 5000, .nonce = 8, .role = Role::kAdmin};
  CHECK(ToHex(acct.Encode()) == v["account_encoded"]);
  StateDiff diff;
  diff[AccountKey(key.public_key())] = acct.Encode();
  b.header.state_root = NextStateRoot(Hash256(), 1, diff);
  CHECK(b.header.state_root.ToHex() == v["state_root"]);
  b.Sign(key);
  CHECK(ToHex(b.header.Encode()) == v["header_encoded"]);
  CHECK(b.Hash().ToHex() == v["block_hash"]);
  CHECK(b.proposer_sig.ToHex() == v["block_signature"]);
  CHECK(b.VerifyProposerSignature());
  auto decoded_block = Block::Decode(b.Encode());
  REQUIRE(decoded_block.ok());
  CHECK(*decoded_block == b);
}
