// Transaction and block signatures and hashes: what is signed, what is hashed, and that
// no field can change without invalidating the signature.
#include <catch2/catch.hpp>

#include <functional>

#include "base/codec.h"
#include "crypto/merkle.h"
#include "ledger_test_util.h"

using namespace cairn;
using namespace cairn::ledger;
using namespace cairn::ledger::testing;

namespace {

struct TxEdit {
  const char* name;
  std::function<void(Transaction&)> apply;
};

std::vector<TxEdit> TxEdits() {
  const crypto::KeyPair other = Key(55);
  return {
      {"chain id", [](Transaction& t) { t.chain_id += "x"; }},
      {"chain id, same length", [](Transaction& t) { t.chain_id.back() ^= 1; }},
      {"nonce", [](Transaction& t) { t.nonce += 1; }},
      {"sender", [other](Transaction& t) { t.sender = other.public_key(); }},
      {"payload kind",
       [](Transaction& t) {
         const auto& p = std::get<Transfer>(t.payload);
         t.payload = SetRole{p.to, Role::kMember};
       }},
      {"transfer.to",
       [other](Transaction& t) { std::get<Transfer>(t.payload).to = other.public_key(); }},
      {"transfer.amount", [](Transaction& t) { std::get<Transfer>(t.payload).amount += 1; }},
  };
}

}  // namespace

TEST_CASE("a signed transaction verifies and its sender is the signer", "[ledger]") {
  for (const Transaction& tx : SampleTxs()) {
    CHECK(tx.VerifySignature());
    CHECK(tx.sender == Key(101).public_key());
  }
  crypto::KeyPair k = Key(3);
  Transaction tx = PayTx(k, 0, Key(4), 10);
  CHECK(tx.sender == k.public_key());
  CHECK(tx.VerifySignature());
}

TEST_CASE("changing any transaction field invalidates its signature", "[ledger]") {
  const Transaction base = PayTx(Key(1), 5, Key(2), 77);
  REQUIRE(base.VerifySignature());
  for (const TxEdit& e : TxEdits()) {
    CAPTURE(e.name);
    Transaction t = base;
    e.apply(t);
    REQUIRE(t.SigningBytes() != base.SigningBytes());
    CHECK_FALSE(t.VerifySignature());
  }
  SECTION("put key and value") {
    Transaction put = SignedTx(Key(1), 0, Put{Bytes{1, 2}, Bytes{3}});
    REQUIRE(put.VerifySignature());
    Transaction k = put;
    std::get<Put>(k.payload).key[0] ^= 1;
    CHECK_FALSE(k.VerifySignature());
    Transaction v = put;
    std::get<Put>(v.payload).value.push_back(0);
    CHECK_FALSE(v.VerifySignature());
    // Moving a byte between key and value changes the length prefixes, hence the signature.
    Transaction moved = put;
    std::get<Put>(moved.payload) = Put{Bytes{1}, Bytes{2, 3}};
    CHECK_FALSE(moved.VerifySignature());
  }
  SECTION("register and set_role targets and roles") {
    crypto::KeyPair a = Key(1);
    for (Payload p : {Payload{RegisterAccount{Key(2).public_key(), Role::kMember}},
                      Payload{SetRole{Key(2).public_key(), Role::kMember}}}) {
      Transaction tx = SignedTx(a, 0, p);
      REQUIRE(tx.VerifySignature());
      Transaction role = tx;
      std::visit(
          [](auto& x) {
            if constexpr (requires { x.role; }) x.role = Role::kAdmin;
          },
          role.payload);
      CHECK_FALSE(role.VerifySignature());
      Transaction target = tx;
      if (auto* r = std::get_if<RegisterAccount>(&target.payload)) {
        r->public_key = Key(3).public_key();
      } else {
        std::get<SetRole>(target.payload).account = Key(3).public_key();
      }
      CHECK_FALSE(target.VerifySignature());
    }
  }
  SECTION("a flipped signature bit") {
    for (size_t i : {0, 31, 32, 63}) {
      Transaction t = base;
      t.signature.data()[i] ^= 0x01;
      CHECK_FALSE(t.VerifySignature());
    }
  }
}

TEST_CASE("a signature for one chain does not verify on another (replay protection)", "[ledger]") {
  Transaction on_a = PayTx(Key(1), 0, Key(2), 10, "chain-a");
  Transaction replayed = on_a;
  replayed.chain_id = "chain-b";
  CHECK(on_a.VerifySignature());
  CHECK_FALSE(replayed.VerifySignature());
  // The same intent signed for chain-b has a different signature and hash.
  Transaction on_b = PayTx(Key(1), 0, Key(2), 10, "chain-b");
  CHECK(on_b.VerifySignature());
  CHECK(on_b.signature != on_a.signature);
  CHECK(on_b.Hash() != on_a.Hash());
}

TEST_CASE("signing bytes are the domain tag and the encoding without signature", "[ledger]") {
  for (const Transaction& tx : SampleTxs()) {
    Bytes enc = tx.Encode();
    Bytes expected(reinterpret_cast<const uint8_t*>("CAIRN/tx/v1"),
                   reinterpret_cast<const uint8_t*>("CAIRN/tx/v1") + 11);
    expected.push_back(0);
    expected.insert(expected.end(), enc.begin(), enc.end() - 64);
    CHECK(tx.SigningBytes() == expected);
    CHECK(Bytes(enc.end() - 64, enc.end()) ==
          Bytes(tx.signature.view().begin(), tx.signature.view().end()));
  }
}

TEST_CASE("a tx hash is SHA-256 of its encoding and changes with the signature", "[ledger]") {
  Transaction tx = PayTx(Key(1), 0, Key(2), 10);
  CHECK(tx.Hash() == crypto::Sha256Of(tx.Encode()));
  // Ed25519 is deterministic: signing again gives the same signature and hash.
  Transaction again = PayTx(Key(1), 0, Key(2), 10);
  CHECK(again.signature == tx.signature);
  CHECK(again.Hash() == tx.Hash());
  Transaction other_sig = tx;
  other_sig.signature.data()[10] ^= 0x80;
  CHECK(other_sig.Hash() != tx.Hash());
  Transaction other_nonce = PayTx(Key(1), 1, Key(2), 10);
  CHECK(other_nonce.Hash() != tx.Hash());
}

TEST_CASE("the block hash is SHA-256 of the header encoding", "[ledger]") {
  Block b = SampleBlock(3);
  CHECK(b.header.Hash() == crypto::Sha256Of(b.header.Encode()));
  CHECK(b.Hash() == b.header.Hash());
  // The signature is outside the hash: re-signing by another proposer changes the proposer
  // field (and so the hash), but a different signature alone does not.
  Block c = b;
  c.proposer_sig.data()[0] ^= 1;
  CHECK(c.Hash() == b.Hash());
}

TEST_CASE("the tx root is the Merkle root of the tx hashes", "[ledger]") {
  for (size_t n : {0, 1, 2, 3, 8, 9}) {
    Block b = SampleBlock(n);
    std::vector<crypto::Hash256> hashes;
    for (const Transaction& tx : b.txs) hashes.push_back(tx.Hash());
    CHECK(b.ComputeTxRoot() == crypto::MerkleRoot(hashes));
    CHECK(b.header.tx_root == b.ComputeTxRoot());
  }
  CHECK(SampleBlock(0).ComputeTxRoot() == crypto::Sha256Of(ByteView{}));
  // Order matters.
  Block b = SampleBlock(3);
  Block swapped = b;
  std::swap(swapped.txs[0], swapped.txs[1]);
  CHECK(swapped.ComputeTxRoot() != b.ComputeTxRoot());
}

TEST_CASE("the proposer signature verifies and fails after any header change", "[ledger]") {
  const Block base = SampleBlock(2);
  REQUIRE(base.VerifyProposerSignature());
  CHECK(base.header.proposer == Key(7).public_key());
  const std::vector<std::pair<const char*, std::function<void(BlockHeader&)>>> edits = {
      {"chain_id", [](BlockHeader& h) { h.chain_id += "!"; }},
      {"height", [](BlockHeader& h) { h.height += 1; }},
      {"prev_hash", [](BlockHeader& h) { h.prev_hash.data()[0] ^= 1; }},
      {"timestamp_ms", [](BlockHeader& h) { h.timestamp_ms += 1; }},
      {"proposer", [](BlockHeader& h) { h.proposer = Key(8).public_key(); }},
      {"tx_root", [](BlockHeader& h) { h.tx_root.data()[31] ^= 1; }},
      {"state_root", [](BlockHeader& h) { h.state_root.data()[5] ^= 1; }},
      {"tx_count", [](BlockHeader& h) { h.tx_count += 1; }},
      {"consensus_data", [](BlockHeader& h) { h.consensus_data.push_back(0); }},
  };
  for (const auto& [name, edit] : edits) {
    CAPTURE(name);
    Block b = base;
    edit(b.header);
    CHECK(b.Hash() != base.Hash());
    CHECK_FALSE(b.VerifyProposerSignature());
  }
  Block bad_sig = base;
  bad_sig.proposer_sig.data()[63] ^= 0x10;
  CHECK_FALSE(bad_sig.VerifyProposerSignature());
  // The signature is over the domain-tagged hash, not the raw hash.
  Bytes expected(reinterpret_cast<const uint8_t*>("CAIRN/block/v1"),
                 reinterpret_cast<const uint8_t*>("CAIRN/block/v1") + 14);
  expected.push_back(0);
  const crypto::Hash256 hash = base.Hash();
  expected.insert(expected.end(), hash.view().begin(), hash.view().end());
  CHECK(BlockSigningBytes(base.Hash()) == expected);
  CHECK(crypto::Verify(base.header.proposer, expected, base.proposer_sig));
  CHECK_FALSE(crypto::Verify(base.header.proposer, hash.view(), base.proposer_sig));
}
