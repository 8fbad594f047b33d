// Canonical encodings of the BFT engine (all integers little-endian, fixed width):
//
//   Message     := type: u8  body
//   body(1: Proposal) := height: u64  round: u32  valid_round: u32  proposer: u32
//                        sig: 64 bytes  block: BlockBody
//   body(2: Vote)     := VoteBody
//   body(3: Decision) := block: BlockBody  cert: Certificate
//   body(4: Evidence) := Evidence
//   BlockBody   := height: u64  hash: 32 bytes  data_len: u32  data: data_len bytes
//                  (data_len <= kMaxBlockBytes; Block::certificate is never encoded here)
//   VoteBody    := vote_type: u8 (1 prevote, 2 precommit)  height: u64  round: u32
//                  has_block: u8 (0 or 1)  block: 32 bytes (all zero when has_block = 0)
//                  voter: u32  sig: 64 bytes
//   Certificate := version: u8 (=1)  height: u64  round: u32  block: 32 bytes
//                  count: u32 (<= kMaxValidators)  CertSig[count]
//   CertSig     := validator: u32  sig: 64 bytes
//   Evidence    := version: u8 (=1)  a: VoteBody  b: VoteBody  (a encodes before b)
//
// Decoders also refuse values no honest replica sends, so each value has one encoding:
// a proposal whose block height differs from its height or whose valid_round is neither
// kNoRound nor below its round; a decision whose certificate is for another height or
// block. Signatures are checked by the engine, not here.
#include "consensus/bft/messages.h"

#include <algorithm>
#include <string>
#include <utility>

#include "base/codec.h"
#include "crypto/hex.h"

namespace cairn::consensus::bft {

using codec::Reader;
using codec::Writer;
namespace {

constexpr uint8_t kTypeProposal = 1;
constexpr uint8_t kTypeVote = 2;
constexpr uint8_t kTypeDecision = 3;
constexpr uint8_t kTypeEvidence = 4;
constexpr uint8_t kCertificateVersion = 1;
constexpr uint8_t kEvidenceVersion = 1;
constexpr size_t kCertSigBytes = 4 + crypto::Signature::kSize;

constexpr std::string_view kVoteDomain = "cairn/bft/vote/v1";
constexpr std::string_view kProposalDomain = "cairn/bft/proposal/v1";

void PutSig(Writer& w, const crypto::Signature& s) { w.Raw(s.view()); }

crypto::Signature GetSig(Reader& r, std::string_view field) {
  crypto::Signature s;
  r.Fixed(&s, field);
  return s;
}

void PutBlock(Writer& w, const Block& b) {
  w.U64(b.height);
  w.Fixed(b.hash);
  w.Var(b.data);
}

Block GetBlock(Reader& r) {
  Block b;
  r.U64(&b.height, "block height");
  r.Fixed(&b.hash, "block hash");
  r.Var(&b.data, kMaxBlockBytes, "block data");
  return b;
}

void PutVote(Writer& w, const Vote& v) {
  w.U8(static_cast<uint8_t>(v.type));
  w.U64(v.height);
  w.U32(v.round);
  w.U8(v.block ? 1 : 0);
  w.Fixed(v.block ? *v.block : crypto::Hash256());
  w.U32(v.voter);
  PutSig(w, v.sig);
}

Vote GetVote(Reader& r) {
  Vote v;
  size_t type_at = r.offset();
  uint8_t type = 0;
  r.U8(&type, "vote type");
  if (r.ok() && type != static_cast<uint8_t>(VoteType::kPrevote) &&
      type != static_cast<uint8_t>(VoteType::kPrecommit)) {
    r.FailAt(type_at, "vote type", "unknown value " + std::to_string(type));
  }
  v.type = static_cast<VoteType>(type);
  r.U64(&v.height, "vote height");
  r.U32(&v.round, "vote round");
  size_t has_at = r.offset();
  uint8_t has_block = 0;
  r.U8(&has_block, "vote has_block");
  if (r.ok() && has_block > 1) {
    r.FailAt(has_at, "vote has_block", "is " + std::to_string(has_block) + ", not 0 or 1");
  }
  size_t block_at = r.offset();
  crypto::Hash256 block;
  r.Fixed(&block, "vote block");
  if (r.ok()) {
    if (has_block == 1) {
      v.block = block;
    } else if (!block.IsZero()) {
      r.FailAt(block_at, "vote block", "is set on a nil vote");
    }
  }
  r.U32(&v.voter, "vote voter");
  v.sig = GetSig(r, "vote signature");
  return v;
}

void PutCertificate(Writer& w, const Certificate& c) {
  w.U8(kCertificateVersion);
  w.U64(c.height);
  w.U32(c.round);
  w.Fixed(c.block);
  w.U32(static_cast<uint32_t>(c.sigs.size()));
  for (const Certificate::Sig& s : c.sigs) {
    w.U32(s.validator);
    PutSig(w, s.sig);
  }
}

Certificate GetCertificate(Reader& r) {
  Certificate c;
  size_t version_at = r.offset();
  uint8_t version = 0;
  r.U8(&version, "certificate version");
  if (r.ok() && version != kCertificateVersion) {
    r.FailAt(version_at, "certificate version", "unsupported value " + std::to_string(version));
  }
  r.U64(&c.height, "certificate height");
  r.U32(&c.round, "certificate round");
  r.Fixed(&c.block, "certificate block");
  uint32_t n = 0;
  r.Count(&n, "certificate signature count", kCertSigBytes, kMaxValidators);
  if (!r.ok()) return c;
  c.sigs.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    Certificate::Sig s;
    r.U32(&s.validator, "certificate validator");
    s.sig = GetSig(r, "certificate signature");
    c.sigs.push_back(s);
  }
  return c;
}

void PutEvidence(Writer& w, const Evidence& e) {
  w.U8(kEvidenceVersion);
  PutVote(w, e.a);
  PutVote(w, e.b);
}

Bytes VoteBytes(const Vote& v) {
  Writer w;
  PutVote(w, v);
  return std::move(w).Take();
}

Evidence GetEvidence(Reader& r) {
  Evidence e;
  size_t version_at = r.offset();
  uint8_t version = 0;
  r.U8(&version, "evidence version");
  if (r.ok() && version != kEvidenceVersion) {
    r.FailAt(version_at, "evidence version", "unsupported value " + std::to_string(version));
  }
  size_t a_at = r.offset();
  e.a = GetVote(r);
  e.b = GetVote(r);
  if (r.ok() && !(VoteBytes(e.a) < VoteBytes(e.b))) {
    r.FailAt(a_at, "evidence votes", "are not in canonical order");
  }
  return e;
}

std::string RoundName(uint32_t r) { return r == kNoRound ? "-" : std::to_string(r); }

std::string VoteTypeName(VoteType t) {
  switch (t) {
    case VoteType::kPrevote:
      return "Prevote";
    case VoteType::kPrecommit:
      return "Precommit";
  }
  return "Vote?";
}

std::string DescribeVote(const Vote& v) {
  return VoteTypeName(v.type) + " h=" + std::to_string(v.height) + " r=" + std::to_string(v.round) +
         " " + (v.block ? crypto::ShortHex(*v.block, 8) : "nil") + " by " + std::to_string(v.voter);
}

}  // namespace

Bytes VoteSignBytes(const crypto::Hash256& chain, const Vote& v) {
  Writer w;
  w.Reserve(kVoteDomain.size() + 32 + 1 + 8 + 4 + 1 + 32);
  w.Raw(AsBytes(kVoteDomain));
  w.Fixed(chain);
  w.U8(static_cast<uint8_t>(v.type));
  w.U64(v.height);
  w.U32(v.round);
  w.U8(v.block ? 1 : 0);
  w.Fixed(v.block ? *v.block : crypto::Hash256());
  return std::move(w).Take();
}

Vote SignVote(const crypto::Hash256& chain, Vote v, const Signer& signer) {
  v.voter = signer.id();
  v.sig = signer.Sign(VoteSignBytes(chain, v));
  return v;
}

Bytes ProposalSignBytes(const crypto::Hash256& chain, const Proposal& p) {
  Writer w;
  w.Reserve(kProposalDomain.size() + 32 + 8 + 4 + 4 + 32);
  w.Raw(AsBytes(kProposalDomain));
  w.Fixed(chain);
  w.U64(p.height);
  w.U32(p.round);
  w.U32(p.valid_round);
  w.Fixed(p.block.hash);
  return std::move(w).Take();
}

Bytes Certificate::Encode() const {
  Writer w;
  w.Reserve(1 + 8 + 4 + 32 + 4 + sigs.size() * kCertSigBytes);
  PutCertificate(w, *this);
  return std::move(w).Take();
}

Result<Certificate> Certificate::Decode(ByteView in) {
  Reader r(in, "bft certificate");
  Certificate c = GetCertificate(r);
  if (Status s = r.Finish(); !s.ok()) return s;
  return c;
}

Status VerifyCertificate(const Certificate& cert, const crypto::Hash256& chain, uint64_t height,
                         const crypto::Hash256& block, uint32_t validators,
                         const Verifier& verifier) {
  return VerifyCertificate(cert, chain, height, block, ValidatorSet::Genesis(validators), verifier);
}

Status VerifyCertificate(const Certificate& cert, const crypto::Hash256& chain, uint64_t height,
                         const crypto::Hash256& block, const std::vector<ValidatorInfo>& set) {
  Result<ValidatorSet> s = ValidatorSet::FromMembers(set);
  if (!s) return s.status().Wrap("certificate");
  class Ed25519Keys final : public Verifier {
   public:
    bool Verify(ReplicaId, ByteView, const crypto::Signature&) const override { return false; }
  } keys;
  return VerifyCertificate(cert, chain, height, block, *s, keys);
}

Status VerifyCertificate(const Certificate& cert, const crypto::Hash256& chain, uint64_t height,
                         const crypto::Hash256& block, const ValidatorSet& set,
                         const Verifier& verifier) {
  const std::string what = "certificate";
  const uint32_t validators = set.size();
  if (cert.height != height) {
    return Status::Error(what + ": height " + std::to_string(cert.height) + ", expected " +
                         std::to_string(height));
  }
  if (cert.block != block) {
    return Status::Error(what + ": for block " + cert.block.ToHex() + ", expected " +
                         block.ToHex());
  }
  // Cheap checks on every signer before any signature: a certificate naming indices outside
  // set(height) (a removed validator's old index, say) is refused unverified.
  for (size_t i = 0; i < cert.sigs.size(); ++i) {
    ReplicaId v = cert.sigs[i].validator;
    if (v >= validators) {
      return Status::Error(what + ": signer " + std::to_string(v) + " is not a validator (" +
                           std::to_string(validators) + " validators)");
    }
    if (i > 0 && v == cert.sigs[i - 1].validator) {
      return Status::Error(what + ": duplicate signer " + std::to_string(v));
    }
    if (i > 0 && v < cert.sigs[i - 1].validator) {
      return Status::Error(what + ": signers not sorted (" + std::to_string(v) + " after " +
                           std::to_string(cert.sigs[i - 1].validator) + ")");
    }
  }
  uint32_t need = Quorum(validators);
  if (cert.sigs.size() < need) {
    return Status::Error(what + ": " + std::to_string(cert.sigs.size()) + " signers, a quorum of " +
                         std::to_string(validators) + " validators needs " + std::to_string(need));
  }
  Vote v;
  v.type = VoteType::kPrecommit;
  v.height = cert.height;
  v.round = cert.round;
  v.block = cert.block;
  Bytes msg = VoteSignBytes(chain, v);
  for (const Certificate::Sig& s : cert.sigs) {
    if (!set.Verify(verifier, s.validator, msg, s.sig)) {
      return Status::Error(what + ": signature of validator " + std::to_string(s.validator) +
                           " is invalid");
    }
  }
  return Status::Ok();
}

Bytes Evidence::Encode() const {
  Writer w;
  PutEvidence(w, *this);
  return std::move(w).Take();
}

Result<Evidence> Evidence::Decode(ByteView in) {
  Reader r(in, "bft evidence");
  Evidence e = GetEvidence(r);
  if (Status s = r.Finish(); !s.ok()) return s;
  return e;
}

Status Evidence::Verify(const crypto::Hash256& chain, uint32_t validators,
                        const Verifier& verifier) const {
  return Verify(chain, ValidatorSet::Genesis(validators), verifier);
}

Status Evidence::Verify(const crypto::Hash256& chain, const ValidatorSet& set,
                        const Verifier& verifier) const {
  const std::string what = "evidence";
  if (a.voter != b.voter) {
    return Status::Error(what + ": votes of different validators (" + std::to_string(a.voter) +
                         ", " + std::to_string(b.voter) + ")");
  }
  if (a.voter >= set.size()) {
    return Status::Error(what + ": voter " + std::to_string(a.voter) + " is not a validator");
  }
  if (a.type != b.type || a.height != b.height || a.round != b.round) {
    return Status::Error(what + ": votes for different steps (" + DescribeVote(a) + "; " +
                         DescribeVote(b) + ")");
  }
  if (a.block == b.block) return Status::Error(what + ": votes do not conflict");
  if (!(VoteBytes(a) < VoteBytes(b))) {
    return Status::Error(what + ": votes are not in canonical order");
  }
  if (!set.Verify(verifier, a.voter, VoteSignBytes(chain, a), a.sig)) {
    return Status::Error(what + ": signature of the first vote is invalid");
  }
  if (!set.Verify(verifier, b.voter, VoteSignBytes(chain, b), b.sig)) {
    return Status::Error(what + ": signature of the second vote is invalid");
  }
  return Status::Ok();
}

Evidence MakeEvidence(Vote x, Vote y) {
  if (VoteBytes(y) < VoteBytes(x)) std::swap(x, y);
  return Evidence{std::move(x), std::move(y)};
}

Bytes EncodeMessage(const Message& m) {
  Writer w;
  if (const auto* p = std::get_if<Proposal>(&m)) {
    w.Reserve(1 + 8 + 4 + 4 + 4 + 64 + 8 + 32 + 4 + p->block.data.size());
    w.U8(kTypeProposal);
    w.U64(p->height);
    w.U32(p->round);
    w.U32(p->valid_round);
    w.U32(p->proposer);
    PutSig(w, p->sig);
    PutBlock(w, p->block);
  } else if (const auto* v = std::get_if<Vote>(&m)) {
    w.U8(kTypeVote);
    PutVote(w, *v);
  } else if (const auto* d = std::get_if<Decision>(&m)) {
    w.Reserve(1 + 8 + 32 + 4 + d->block.data.size() + 64 + d->cert.sigs.size() * kCertSigBytes);
    w.U8(kTypeDecision);
    PutBlock(w, d->block);
    PutCertificate(w, d->cert);
  } else if (const auto* e = std::get_if<Evidence>(&m)) {
    w.U8(kTypeEvidence);
    PutEvidence(w, *e);
  }
  return std::move(w).Take();
}

Result<Message> DecodeMessage(ByteView in) {
  Reader r(in, "bft message");
  uint8_t type = 0;
  r.U8(&type, "type");
  if (!r.ok()) return r.Finish();
  Message out;
  switch (type) {
    case kTypeProposal: {
      Proposal p;
      r.U64(&p.height, "proposal height");
      r.U32(&p.round, "proposal round");
      size_t vr_at = r.offset();
      r.U32(&p.valid_round, "proposal valid_round");
      if (r.ok() && p.valid_round != kNoRound && p.valid_round >= p.round) {
        r.FailAt(vr_at, "proposal valid_round",
                 std::to_string(p.valid_round) + " is not below round " + std::to_string(p.round));
      }
      r.U32(&p.proposer, "proposal proposer");
      p.sig = GetSig(r, "proposal signature");
      size_t block_at = r.offset();
      p.block = GetBlock(r);
      if (r.ok() && p.block.height != p.height) {
        r.FailAt(block_at, "proposal block height",
                 std::to_string(p.block.height) + " differs from proposal height " +
                     std::to_string(p.height));
      }
      out = std::move(p);
      break;
    }
    case kTypeVote:
      out = GetVote(r);
      break;
    case kTypeDecision: {
      Decision d;
      d.block = GetBlock(r);
      size_t cert_at = r.offset();
      d.cert = GetCertificate(r);
      if (r.ok() && (d.cert.height != d.block.height || d.cert.block != d.block.hash)) {
        r.FailAt(cert_at, "decision certificate", "is for another block");
      }
      out = std::move(d);
      break;
    }
    case kTypeEvidence:
      out = GetEvidence(r);
      break;
    default:
      r.FailAt(0, "type", "unknown value " + std::to_string(type));
      break;
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return out;
}

std::string Describe(const Message& m) {
  if (const auto* p = std::get_if<Proposal>(&m)) {
    return "Proposal h=" + std::to_string(p->height) + " r=" + std::to_string(p->round) +
           " vr=" + RoundName(p->valid_round) + " " + crypto::ShortHex(p->block.hash, 8) + " (" +
           std::to_string(p->block.data.size()) + " bytes) by " + std::to_string(p->proposer);
  }
  if (const auto* v = std::get_if<Vote>(&m)) return DescribeVote(*v);
  if (const auto* d = std::get_if<Decision>(&m)) {
    return "Decision h=" + std::to_string(d->block.height) + " " +
           crypto::ShortHex(d->block.hash, 8) + " r=" + std::to_string(d->cert.round) + " with " +
           std::to_string(d->cert.sigs.size()) + " signatures";
  }
  if (const auto* e = std::get_if<Evidence>(&m)) {
    return "Evidence {" + DescribeVote(e->a) + "} vs {" + DescribeVote(e->b) + "}";
  }
  return "Unknown";
}

}  // namespace cairn::consensus::bft
