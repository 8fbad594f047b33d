// BFT codec: canonical encodings of proposals, votes, decisions, evidence and certificates;
// refusal of malformed input; commit certificate and evidence verification.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "base/codec.h"
#include "consensus/bft/messages.h"
#include "consensus/bft/state.h"
#include "consensus/rng.h"
#include "crypto/ed25519.h"
#include "tests/consensus/bft_harness.h"

namespace cairn::consensus::bft {
namespace {

using codec::Writer;

crypto::Hash256 H(std::string_view s) { return crypto::Sha256Of(AsBytes(s)); }

const crypto::Hash256 kChain = H("genesis");

Vote MakeVote(const Validators& v, VoteType t, uint64_t h, uint32_t r,
              std::optional<crypto::Hash256> block, ReplicaId voter,
              const crypto::Hash256& chain = kChain) {
  Vote x;
  x.type = t;
  x.height = h;
  x.round = r;
  x.block = block;
  return SignVote(chain, x, v.signers[voter]);
}

Proposal MakeProposal(const Validators& v, uint64_t h, uint32_t r, uint32_t vr, Block b) {
  Proposal p;
  p.height = h;
  p.round = r;
  p.valid_round = vr;
  p.block = std::move(b);
  p.proposer = ProposerOf(h, r, static_cast<uint32_t>(v.signers.size()));
  p.sig = v.signers[p.proposer].Sign(ProposalSignBytes(kChain, p));
  return p;
}

Certificate MakeCert(const Validators& v, uint64_t h, uint32_t r, const crypto::Hash256& block,
                     std::vector<ReplicaId> who, const crypto::Hash256& chain = kChain,
                     VoteType type = VoteType::kPrecommit) {
  Certificate c;
  c.height = h;
  c.round = r;
  c.block = block;
  for (ReplicaId i : who) {
    c.sigs.push_back({i, MakeVote(v, type, h, r, block, i, chain).sig});
  }
  return c;
}

std::vector<Message> AllKinds(const Validators& v) {
  Block b = MakeBlock(7, "block seven");
  std::vector<Message> out;
  out.push_back(MakeProposal(v, 7, 0, kNoRound, b));
  out.push_back(MakeProposal(v, 7, 3, 1, b));
  out.push_back(MakeVote(v, VoteType::kPrevote, 7, 2, b.hash, 1));
  out.push_back(MakeVote(v, VoteType::kPrecommit, 7, 2, std::nullopt, 2));
  out.push_back(Decision{b, MakeCert(v, 7, 2, b.hash, {0, 1, 3})});
  out.push_back(MakeEvidence(MakeVote(v, VoteType::kPrevote, 7, 2, b.hash, 3),
                             MakeVote(v, VoteType::kPrevote, 7, 2, std::nullopt, 3)));
  return out;
}

}  // namespace

TEST_CASE("bft codec: every message kind round-trips", "[consensus][bft]") {
  Validators v(4);
  for (const Message& m : AllKinds(v)) {
    INFO(Describe(m));
    Bytes enc = EncodeMessage(m);
    Result<Message> back = DecodeMessage(enc);
    REQUIRE(back.ok());
    CHECK(*back == m);
    CHECK(EncodeMessage(*back) == enc);
    CHECK_FALSE(Describe(m).empty());
  }
  Certificate c = MakeCert(v, 9, 1, H("b"), {0, 2, 3});
  Result<Certificate> c2 = Certificate::Decode(c.Encode());
  REQUIRE(c2.ok());
  CHECK(*c2 == c);
  Evidence e = MakeEvidence(MakeVote(v, VoteType::kPrecommit, 2, 0, H("x"), 1),
                            MakeVote(v, VoteType::kPrecommit, 2, 0, H("y"), 1));
  Result<Evidence> e2 = Evidence::Decode(e.Encode());
  REQUIRE(e2.ok());
  CHECK(*e2 == e);
}

TEST_CASE("bft codec: every truncation and any trailing byte is refused", "[consensus][bft]") {
  Validators v(4);
  for (const Message& m : AllKinds(v)) {
    INFO(Describe(m));
    Bytes enc = EncodeMessage(m);
    for (size_t len = 0; len < enc.size(); ++len) {
      Result<Message> r = DecodeMessage(ByteView(enc.data(), len));
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().find("offset") != std::string::npos);
    }
    Bytes longer = enc;
    longer.push_back(0);
    Result<Message> r = DecodeMessage(longer);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("trailing") != std::string::npos);
  }
}

TEST_CASE("bft codec: seeded mutations never crash and accepted input is canonical",
          "[consensus][bft]") {
  Validators v(4);
  std::vector<Bytes> encodings;
  for (const Message& m : AllKinds(v)) encodings.push_back(EncodeMessage(m));
  uint64_t seed = 0xb7f0001;
  Rng rng(seed);
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    Bytes b = encodings[rng.Uniform(encodings.size())];
    int edits = 1 + static_cast<int>(rng.Uniform(4));
    for (int k = 0; k < edits; ++k) {
      switch (rng.Uniform(3)) {
        case 0:
          b[rng.Uniform(b.size())] = static_cast<uint8_t>(rng.Next());
          break;
        case 1:
          b[rng.Uniform(b.size())] ^= static_cast<uint8_t>(1u << rng.Uniform(8));
          break;
        default:
          b.resize(rng.Uniform(b.size()) + 1);
          break;
      }
    }
    Result<Message> r = DecodeMessage(b);
    if (r.ok()) {
      ++accepted;
      INFO("seed " << seed << " iteration " << i);
      CHECK(EncodeMessage(*r) == b);
    }
  }
  CHECK(accepted > 0);  // some mutations only touch signatures or hashes
}

TEST_CASE("bft codec: forged counts and lengths are refused before allocating",
          "[consensus][bft]") {
  SECTION("certificate signature count above the validator limit") {
    Writer w;
    w.U8(1);
    w.U64(1);
    w.U32(0);
    w.Fixed(H("b"));
    w.U32(kMaxValidators + 1);
    Result<Certificate> r = Certificate::Decode(std::move(w).Take());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("above the limit") != std::string::npos);
  }
  SECTION("certificate signature count larger than the input") {
    Writer w;
    w.U8(1);
    w.U64(1);
    w.U32(0);
    w.Fixed(H("b"));
    w.U32(1000);
    Result<Certificate> r = Certificate::Decode(std::move(w).Take());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("more than fit") != std::string::npos);
  }
  SECTION("block length of 4 GiB") {
    Writer w;
    w.U8(3);  // Decision
    w.U64(1);
    w.Fixed(H("b"));
    w.U32(0xffffffffu);
    Result<Message> r = DecodeMessage(std::move(w).Take());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("block data: length") != std::string::npos);
  }
}

TEST_CASE("bft codec: values with a second encoding are refused", "[consensus][bft]") {
  Validators v(4);
  Bytes nil_vote = EncodeMessage(MakeVote(v, VoteType::kPrevote, 1, 0, std::nullopt, 0));
  Bytes bad = nil_vote;
  bad[1 + 1 + 8 + 4 + 1] = 1;  // a block hash on a nil vote
  CHECK_FALSE(DecodeMessage(bad).ok());
  bad = nil_vote;
  bad[1 + 1 + 8 + 4] = 2;  // has_block neither 0 nor 1
  CHECK_FALSE(DecodeMessage(bad).ok());
  bad = nil_vote;
  bad[1] = 3;  // vote type
  CHECK(DecodeMessage(bad).error().find("vote type") != std::string::npos);
  bad = nil_vote;
  bad[0] = 9;
  CHECK(DecodeMessage(bad).error().find("type: unknown value 9 at offset 0") != std::string::npos);

  // valid_round not below round.
  Proposal p = MakeProposal(v, 1, 2, 1, MakeBlock(1, "x"));
  p.valid_round = 2;
  CHECK(DecodeMessage(EncodeMessage(p)).error().find("valid_round") != std::string::npos);
  // Block height differing from the proposal height.
  p = MakeProposal(v, 1, 0, kNoRound, MakeBlock(2, "x"));
  CHECK(DecodeMessage(EncodeMessage(p)).error().find("block height") != std::string::npos);
  // Evidence out of order.
  Evidence e = MakeEvidence(MakeVote(v, VoteType::kPrevote, 1, 0, H("a"), 1),
                            MakeVote(v, VoteType::kPrevote, 1, 0, H("b"), 1));
  std::swap(e.a, e.b);
  CHECK(Evidence::Decode(e.Encode()).error().find("canonical order") != std::string::npos);
  // Decision whose certificate is for another block.
  Block b = MakeBlock(3, "three");
  Decision d{b, MakeCert(v, 3, 0, H("other"), {0, 1, 2})};
  CHECK(DecodeMessage(EncodeMessage(d)).error().find("another block") != std::string::npos);
}

TEST_CASE("bft codec: sign bytes are the documented layout", "[consensus][bft]") {
  Vote x;
  x.type = VoteType::kPrecommit;
  x.height = 0x0102030405060708ull;
  x.round = 0x0a0b0c0d;
  x.block = H("blk");
  Bytes want(AsBytes("cairn/bft/vote/v1").begin(), AsBytes("cairn/bft/vote/v1").end());
  want.insert(want.end(), kChain.view().begin(), kChain.view().end());
  want.push_back(2);
  for (int i = 0; i < 8; ++i) want.push_back(static_cast<uint8_t>(x.height >> (8 * i)));
  for (int i = 0; i < 4; ++i) want.push_back(static_cast<uint8_t>(x.round >> (8 * i)));
  want.push_back(1);
  want.insert(want.end(), x.block->view().begin(), x.block->view().end());
  CHECK(VoteSignBytes(kChain, x) == want);
  x.block.reset();
  Bytes nil = VoteSignBytes(kChain, x);
  CHECK(nil.size() == want.size());
  CHECK(nil[nil.size() - 33] == 0);
  CHECK(crypto::Hash256::FromBytes(ByteView(nil).last(32))->IsZero());

  Proposal p;
  p.height = 5;
  p.round = 1;
  p.valid_round = kNoRound;
  p.block = MakeBlock(5, "five");
  Bytes pb = ProposalSignBytes(kChain, p);
  std::string_view domain = "cairn/bft/proposal/v1";
  REQUIRE(pb.size() == domain.size() + 32 + 8 + 4 + 4 + 32);
  CHECK(AsString(ByteView(pb).first(domain.size())) == domain);
  CHECK(crypto::Hash256::FromBytes(ByteView(pb).last(32)) == p.block.hash);
}

TEST_CASE("bft VerifyCertificate: accepts a quorum and names each problem", "[consensus][bft]") {
  Validators v(4);
  const crypto::Hash256 block = H("decided");
  Certificate good = MakeCert(v, 5, 2, block, {0, 1, 3});
  REQUIRE(VerifyCertificate(good, kChain, 5, block, 4, *v.verifier).ok());
  CHECK(VerifyCertificate(MakeCert(v, 5, 2, block, {0, 1, 2, 3}), kChain, 5, block, 4, *v.verifier)
            .ok());

  auto error = [&](const Certificate& c) {
    Status s = VerifyCertificate(c, kChain, 5, block, 4, *v.verifier);
    REQUIRE_FALSE(s.ok());
    return s.message();
  };
  CHECK(error(MakeCert(v, 5, 2, block, {0, 1})).find("2 signers") != std::string::npos);
  Certificate dup = MakeCert(v, 5, 2, block, {0, 1, 1, 3});
  CHECK(error(dup).find("duplicate signer 1") != std::string::npos);
  Certificate unsorted = MakeCert(v, 5, 2, block, {1, 0, 3});
  CHECK(error(unsorted).find("not sorted") != std::string::npos);
  Certificate unknown = good;
  unknown.sigs.push_back({7, unknown.sigs[0].sig});
  CHECK(error(unknown).find("signer 7 is not a validator") != std::string::npos);
  Certificate altered = good;
  altered.sigs[1].sig.data()[5] ^= 1;
  CHECK(error(altered).find("signature of validator 1 is invalid") != std::string::npos);
  CHECK(VerifyCertificate(good, kChain, 6, block, 4, *v.verifier).message().find("height 5") !=
        std::string::npos);
  CHECK(VerifyCertificate(good, kChain, 5, H("other"), 4, *v.verifier).message().find("expected") !=
        std::string::npos);
  Certificate prevotes = MakeCert(v, 5, 2, block, {0, 1, 3}, kChain, VoteType::kPrevote);
  CHECK(error(prevotes).find("signature of validator 0 is invalid") != std::string::npos);
  Certificate other_chain = MakeCert(v, 5, 2, block, {0, 1, 3}, H("another chain"));
  CHECK(error(other_chain).find("signature of validator 0 is invalid") != std::string::npos);
}

TEST_CASE("bft Evidence::Verify: accepts equivocation and refuses anything else",
          "[consensus][bft]") {
  Validators v(4);
  Vote a = MakeVote(v, VoteType::kPrevote, 3, 1, H("a"), 2);
  Vote b = MakeVote(v, VoteType::kPrevote, 3, 1, std::nullopt, 2);
  Evidence e = MakeEvidence(a, b);
  CHECK(e == MakeEvidence(b, a));
  CHECK(e.Verify(kChain, 4, *v.verifier).ok());

  Evidence same = e;
  same.b = same.a;
  CHECK(same.Verify(kChain, 4, *v.verifier).message().find("do not conflict") != std::string::npos);
  Evidence two_voters = MakeEvidence(a, MakeVote(v, VoteType::kPrevote, 3, 1, H("b"), 1));
  CHECK_FALSE(two_voters.Verify(kChain, 4, *v.verifier).ok());
  Evidence rounds = MakeEvidence(a, MakeVote(v, VoteType::kPrevote, 3, 2, H("b"), 2));
  CHECK(rounds.Verify(kChain, 4, *v.verifier).message().find("different steps") !=
        std::string::npos);
  Evidence forged = e;
  forged.b.sig.data()[0] ^= 1;
  CHECK(forged.Verify(kChain, 4, *v.verifier).message().find("invalid") != std::string::npos);
  CHECK_FALSE(e.Verify(H("other chain"), 4, *v.verifier).ok());
}

TEST_CASE("bft hard state and block records round-trip and refuse corruption", "[consensus][bft]") {
  HardState hs;
  hs.height = 9;
  hs.round = 3;
  hs.step = RoundStep::kPrecommit;
  hs.locked_round = 2;
  hs.locked_hash = H("l");
  hs.valid_round = 3;
  hs.valid_hash = H("v");
  hs.next_record = 12;
  hs.proposal = HardState::OwnProposal{2, H("v"), crypto::Signature()};
  hs.votes.push_back({2, VoteType::kPrecommit, std::nullopt, crypto::Signature()});
  hs.votes.push_back({3, VoteType::kPrevote, H("v"), crypto::Signature()});
  hs.votes.push_back({3, VoteType::kPrecommit, std::nullopt, crypto::Signature()});
  Bytes enc = EncodeHardState(hs);
  Result<HardState> back = DecodeHardState(enc);
  REQUIRE(back.ok());
  CHECK(*back == hs);
  for (size_t len = 0; len < enc.size(); ++len) {
    CHECK_FALSE(DecodeHardState(ByteView(enc.data(), len)).ok());
  }
  Bytes bad = enc;
  bad[1 + 8 + 4] = 7;  // step
  CHECK(DecodeHardState(bad).error().find("step") != std::string::npos);

  HardState unsorted = hs;
  std::swap(unsorted.votes[0], unsorted.votes[1]);
  CHECK(DecodeHardState(EncodeHardState(unsorted)).error().find("increasing") != std::string::npos);
  HardState ahead = hs;
  ahead.votes.push_back({4, VoteType::kPrevote, std::nullopt, crypto::Signature()});
  CHECK(DecodeHardState(EncodeHardState(ahead)).error().find("above the round") !=
        std::string::npos);

  Block b = MakeBlock(9, "nine");
  Result<Record> rb = DecodeRecord(EncodeBlockRecord(b), 4);
  REQUIRE(rb.ok());
  CHECK(std::get<Block>(*rb) == b);
  Bytes rec = EncodeBlockRecord(b);
  rec.pop_back();
  CHECK(DecodeRecord(rec, 4).error().find("record 4") != std::string::npos);
  Validators v(4);
  PolRecord pol{MakeCert(v, 9, 1, b.hash, {0, 1, 2}, kChain, VoteType::kPrevote)};
  Result<Record> rp = DecodeRecord(EncodePolRecord(pol), 5);
  REQUIRE(rp.ok());
  CHECK(std::get<PolRecord>(*rp) == pol);
  Bytes bad_pol = EncodePolRecord(pol);
  bad_pol.push_back(0);
  CHECK(DecodeRecord(bad_pol, 5).error().find("record 5") != std::string::npos);
}

}  // namespace cairn::consensus::bft
