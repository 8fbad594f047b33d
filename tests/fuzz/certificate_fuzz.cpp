// Commit certificates and evidence on hostile bytes: bft::Certificate::Decode and
// Evidence::Decode (canonical round trip), then chain::BlockRules::CheckCertificate, the
// check block sync and the audit run on a certificate from a peer or the store, against block
// 1 of a four-validator chain. A certificate that passes must really hold a quorum of
// distinct, valid precommits for that block.
#include <set>

#include "chain/block_rules.h"
#include "tests/fuzz/fixtures.h"

using namespace cairn;
using namespace cairn::consensus::bft;

namespace {

struct Chain {
  genesis::Genesis genesis = fuzz::BftGenesis();
  crypto::Hash256 genesis_hash = genesis.Block0().Hash();
  ledger::Block block = fuzz::Block1(genesis);
  chain::BlockRules rules{genesis};
  consensus::Ed25519Verifier verifier = fuzz::MakeVerifier();
};

const Chain& TheChain() {
  static const Chain* chain = new Chain();
  return *chain;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView in = fuzz::Input(data, size);
  const Chain& c = TheChain();
  auto cert = Certificate::Decode(in);
  if (cert.ok()) {
    const Bytes re = cert->Encode();
    fuzz::CheckSameBytes(in, re, "certificate");
    auto again = Certificate::Decode(re);
    FUZZ_CHECK(again.ok() && *again == *cert);
  } else {
    FUZZ_CHECK(!cert.error().empty());
  }

  chain::Checked checked = c.rules.CheckCertificate(c.block, in, c.rules.genesis_validators());
  if (checked.ok()) {
    // Accepted: the decoded certificate is for this block, with a quorum of distinct
    // validators whose precommit signatures verify.
    FUZZ_CHECK(cert.ok());
    FUZZ_CHECK(cert->height == c.block.header.height && cert->block == c.block.Hash());
    std::set<uint32_t> signers;
    for (const Certificate::Sig& s : cert->sigs) {
      FUZZ_CHECK(s.validator < fuzz::kValidators);
      FUZZ_CHECK(signers.insert(s.validator).second);
      Vote v;
      v.type = VoteType::kPrecommit;
      v.height = cert->height;
      v.round = cert->round;
      v.block = cert->block;
      FUZZ_CHECK(c.verifier.Verify(s.validator, VoteSignBytes(c.genesis_hash, v), s.sig));
    }
    FUZZ_CHECK(signers.size() >= Quorum(fuzz::kValidators));
  } else {
    FUZZ_CHECK(checked.verdict == chain::Verdict::kCertificate && !checked.detail.empty());
  }

  auto evidence = Evidence::Decode(in);
  if (evidence.ok()) {
    const Bytes re = evidence->Encode();
    fuzz::CheckSameBytes(in, re, "evidence");
    auto again = Evidence::Decode(re);
    FUZZ_CHECK(again.ok() && *again == *evidence);
    if (evidence->Verify(c.genesis_hash, fuzz::kValidators, c.verifier).ok()) {
      const Vote& a = evidence->a;
      const Vote& b = evidence->b;
      FUZZ_CHECK(a.voter == b.voter && a.type == b.type && a.height == b.height &&
                 a.round == b.round && a.block != b.block);
    }
  }
  return 0;
}
