// VerifyProof in-process on hand-built solo chains: each header-chain rule refuses with the
// header it concerns, a file linking to a light store's header verifies only with that store,
// and the statement must match the proof. Deterministic: fixed keys and times.
#include <catch2/catch.hpp>

#include "api/tx_proof.h"
#include "cli/proof_verify.h"
#include "crypto/merkle.h"
#include "tests/kit/keys.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::cli;

namespace {

const crypto::KeyPair kValidator = testkit::TestKey(0, 0x71);
const crypto::KeyPair kOutsider = testkit::TestKey(1, 0x71);

genesis::Genesis SoloGenesis() {
  genesis::Genesis g;
  g.chain_id = "light-test";
  g.genesis_time_ms = 1'767'225'600'000;
  g.consensus = genesis::ConsensusKind::kSolo;
  g.validators = {genesis::Node{"v0", kValidator.public_key(), ""}};
  g.accounts = {genesis::InitialAccount{kValidator.public_key(), ledger::Role::kAdmin, 1}};
  return g;
}

crypto::Hash256 TxHash(uint64_t height, uint32_t i) {
  Bytes b(8, 0);
  b[0] = static_cast<uint8_t>(height);
  b[1] = static_cast<uint8_t>(i);
  return crypto::Sha256Of(b);
}

struct Chain {
  std::vector<ledger::Block> blocks;  // heights 1..n, 3 transactions each (hashes only)
};

// `n` headers on genesis, each signed by `signer(height)`, 1 s apart.
Chain Build(const audit::HeaderTrust& trust, uint64_t n,
            const std::function<const crypto::KeyPair&(uint64_t)>& signer) {
  Chain c;
  ledger::BlockHeader prev = trust.genesis_header();
  for (uint64_t h = 1; h <= n; ++h) {
    ledger::Block b;
    b.header.chain_id = prev.chain_id;
    b.header.height = h;
    b.header.prev_hash = prev.Hash();
    b.header.timestamp_ms = prev.timestamp_ms + 1000;
    std::vector<crypto::Hash256> leaves = {TxHash(h, 0), TxHash(h, 1), TxHash(h, 2)};
    b.header.tx_root = crypto::MerkleRoot(leaves);
    b.header.tx_count = 3;
    b.header.validators_hash = prev.validators_hash;  // the genesis set, at every height
    b.header.next_validators_hash = prev.next_validators_hash;
    b.Sign(signer(h));
    prev = b.header;
    c.blocks.push_back(std::move(b));
  }
  return c;
}

// The file proving transaction `index` of block `height`, with headers from `from`.
ProofFile FileFor(const audit::HeaderTrust& trust, const Chain& c, uint64_t height, uint32_t index,
                  uint64_t from = 1) {
  ProofFile f;
  f.chain_id = trust.genesis().chain_id;
  f.genesis_hash = trust.genesis_hash();
  f.consensus = trust.genesis().consensus;
  f.tx = TxStatement{TxHash(height, index), index};
  f.height = height;
  const ledger::Block& b = c.blocks[height - 1];
  f.header = b.header.Encode();
  f.proposer_sig = b.proposer_sig;
  f.headers_from = from;
  for (uint64_t h = from; h < height; ++h) {
    f.headers.push_back(
        LinkedHeader{c.blocks[h - 1].header.Encode(), c.blocks[h - 1].proposer_sig});
  }
  std::vector<crypto::Hash256> leaves = {TxHash(height, 0), TxHash(height, 1), TxHash(height, 2)};
  f.proof = api::EncodeTxProof(crypto::MerkleProve(leaves, index));
  return f;
}

std::string Refused(const ProofFile& f, const audit::HeaderTrust& trust,
                    const LightStore* store = nullptr) {
  auto v = VerifyProof(f, trust, store);
  REQUIRE_FALSE(v.ok());
  return v.status().message();
}

}  // namespace

TEST_CASE("verify-proof: a solo header chain from genesis, rule by rule", "[cli][proof]") {
  audit::HeaderTrust trust(SoloGenesis());
  const Chain chain =
      Build(trust, 6, [](uint64_t) -> const crypto::KeyPair& { return kValidator; });

  auto ok = VerifyProof(FileFor(trust, chain, 6, 2), trust, nullptr);
  REQUIRE(ok.ok());
  CHECK(ok->linked_headers == 6);
  CHECK(ok->index == 2);
  CHECK(ok->proposer == "v0");
  CHECK(ok->block_hash == chain.blocks[5].header.Hash());
  CHECK(DescribeVerified(*ok) ==
        "transaction " + TxHash(6, 2).ToHex() + " is at index 2 of block 6 (hash " +
            chain.blocks[5].header.Hash().ToHex() +
            "), signed by validator v0 and linked to genesis by 6 signed headers (authorship, "
            "not finality: solo and raft keep no certificates)");

  // Block 3 by a key that is not the validator (its signature is its own, and valid).
  const Chain forged = Build(trust, 6, [](uint64_t h) -> const crypto::KeyPair& {
    return h == 3 ? kOutsider : kValidator;
  });
  CHECK_THAT(Refused(FileFor(trust, forged, 6, 0), trust),
             Catch::StartsWith("header 3: proposer: proposer " + kOutsider.public_key().ToHex() +
                               " is not a validator of height 3"));

  // Block 4's timestamp before block 3's: re-signed, so only the time rule can catch it.
  ProofFile f = FileFor(trust, chain, 6, 0);
  {
    Chain c = chain;
    c.blocks[3].header.timestamp_ms = c.blocks[2].header.timestamp_ms - 1;
    c.blocks[3].Sign(kValidator);
    for (size_t i = 4; i < c.blocks.size(); ++i) {
      c.blocks[i].header.prev_hash = c.blocks[i - 1].header.Hash();
      c.blocks[i].Sign(kValidator);
    }
    CHECK_THAT(Refused(FileFor(trust, c, 6, 0), trust),
               Catch::StartsWith("header 4: header: timestamp "));
  }
  // Two headers swapped: the chain breaks at the first.
  std::swap(f.headers[1], f.headers[2]);
  CHECK_THAT(Refused(f, trust),
             Catch::StartsWith("headers[1]: is header 3, where header 2 belongs"));
  // The statement says another index than the proof.
  f = FileFor(trust, chain, 6, 1);
  f.tx.index = 0;
  CHECK_THAT(Refused(f, trust),
             Catch::StartsWith("statement: index 0, but the proof is for index 1"));
  // A file that says bft for a solo genesis.
  f = FileFor(trust, chain, 6, 1);
  f.consensus = genesis::ConsensusKind::kBft;
  CHECK_THAT(Refused(f, trust), Catch::StartsWith("consensus: the proof says bft"));
  // No proposer signature for the proven header.
  f = FileFor(trust, chain, 6, 1);
  f.proposer_sig.reset();
  CHECK_THAT(Refused(f, trust), Catch::StartsWith("header 6: no proposer_sig"));
  // The height field and the header disagree.
  f = FileFor(trust, chain, 6, 1);
  f.height = 5;
  CHECK_THAT(Refused(f, trust), Catch::StartsWith("header: its height is 6, the file says 5"));
}

TEST_CASE("verify-proof: a short file links to the light store's trusted header",
          "[cli][proof][light]") {
  testkit::TempDir dir("proof-store");
  audit::HeaderTrust trust(SoloGenesis());
  const Chain chain =
      Build(trust, 8, [](uint64_t) -> const crypto::KeyPair& { return kValidator; });
  auto store = LightStore::Open(dir.path() + "/s", /*linked=*/true);
  REQUIRE(store.ok());
  std::vector<TrustedHeader> trusted;
  for (uint64_t h = 1; h <= 4; ++h) {
    const ledger::Block& b = chain.blocks[h - 1];
    trusted.push_back(
        TrustedHeader{b.header.Encode(), b.header,
                      Bytes(b.proposer_sig.view().begin(), b.proposer_sig.view().end())});
  }
  REQUIRE(store->Append(std::move(trusted)).ok());

  const ProofFile short_file = FileFor(trust, chain, 8, 1, /*from=*/5);
  CHECK_THAT(Refused(short_file, trust), Catch::StartsWith("headers start at 5: this check needs "
                                                           "header 4 trusted already"));
  auto v = VerifyProof(short_file, trust, &*store);
  REQUIRE(v.ok());
  CHECK(v->anchor == 4);
  CHECK(v->linked_headers == 4);  // 5, 6, 7 and the proven 8

  // A header the store holds needs no chain at all; a different one at that height is refused.
  ProofFile held = FileFor(trust, chain, 3, 0, /*from=*/3);
  auto by_store = VerifyProof(held, trust, &*store);
  REQUIRE(by_store.ok());
  CHECK(by_store->trusted_by_store);
  const Chain other =
      Build(trust, 3, [](uint64_t) -> const crypto::KeyPair& { return kValidator; });
  ProofFile fork = FileFor(trust, chain, 3, 0);
  ledger::BlockHeader h3 = chain.blocks[2].header;
  h3.state_root = crypto::Sha256Of(Bytes{1});
  fork.header = h3.Encode();
  CHECK_THAT(Refused(fork, trust, &*store),
             Catch::StartsWith("header 3: is not the header the light store trusts"));
}
