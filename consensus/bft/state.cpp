// Encodings of the BFT engine's durable state (little-endian, fixed width):
//
//   HardState   := version: u8 (=1)  height: u64  round: u32  step: u8 (0..2)
//                  locked_round: u32  locked_hash: 32 bytes  valid_round: u32
//                  valid_hash: 32 bytes  next_record: u64
//                  has_proposal: u8  [proposal_valid_round: u32  block: 32 bytes  sig: 64 bytes]
//                  vote_count: u32 (<= kMaxOwnVotes)  OwnVote[vote_count]
//   OwnVote     := round: u32  type: u8 (1 prevote, 2 precommit)  has_block: u8
//                  block: 32 bytes (zero for nil)  sig: 64 bytes
//                  (strictly increasing by (round, type), no round above the current one)
//   Record      := kind: u8  body
//   body(1: block) := height: u64  hash: 32 bytes  data_len: u32  data
//   body(2: proof of lock) := Certificate (messages.cpp), over prevote signatures
//
// A hash whose round is kNoRound is all zero, and booleans are 0 or 1, so each state has
// exactly one encoding (the engine compares encodings to see whether to persist).
#include "consensus/bft/state.h"

#include <string>
#include <utility>

#include "base/codec.h"

namespace cairn::consensus::bft {

using codec::Reader;
using codec::Writer;
namespace {

constexpr uint8_t kHardStateVersion = 1;
constexpr uint8_t kRecordBlock = 1;
constexpr uint8_t kRecordPol = 2;

bool GetBool(Reader& r, std::string_view field) {
  size_t at = r.offset();
  uint8_t v = 0;
  r.U8(&v, field);
  if (v > 1) r.FailAt(at, field, "is " + std::to_string(v) + ", not 0 or 1");
  return v == 1;
}

crypto::Signature GetSig(Reader& r, std::string_view field) {
  crypto::Signature s;
  r.Fixed(&s, field);
  return s;
}

constexpr size_t kOwnVoteBytes = 4 + 1 + 1 + 32 + 64;

void PutOwnVote(Writer& w, const HardState::OwnVote& v) {
  w.U32(v.round);
  w.U8(static_cast<uint8_t>(v.type));
  w.U8(v.block ? 1 : 0);
  w.Fixed(v.block ? *v.block : crypto::Hash256());
  w.Raw(v.sig.view());
}

HardState::OwnVote GetOwnVote(Reader& r) {
  HardState::OwnVote v;
  r.U32(&v.round, "vote round");
  size_t type_at = r.offset();
  uint8_t type = 0;
  r.U8(&type, "vote type");
  if (r.ok() && type != static_cast<uint8_t>(VoteType::kPrevote) &&
      type != static_cast<uint8_t>(VoteType::kPrecommit)) {
    r.FailAt(type_at, "vote type", "unknown value " + std::to_string(type));
  }
  v.type = static_cast<VoteType>(type);
  bool has_block = GetBool(r, "vote has_block");
  size_t at = r.offset();
  crypto::Hash256 h;
  r.Fixed(&h, "vote block");
  if (has_block) {
    v.block = h;
  } else if (r.ok() && !h.IsZero()) {
    r.FailAt(at, "vote block", "is set on a nil vote");
  }
  v.sig = GetSig(r, "vote signature");
  return v;
}

void CheckRoundHash(Reader& r, size_t at, std::string_view field, uint32_t round,
                    const crypto::Hash256& h) {
  if (r.ok() && round == kNoRound && !h.IsZero()) {
    r.FailAt(at, field, "hash is set without a round");
  }
}

}  // namespace

const char* StepName(RoundStep s) {
  switch (s) {
    case RoundStep::kPropose:
      return "propose";
    case RoundStep::kPrevote:
      return "prevote";
    case RoundStep::kPrecommit:
      return "precommit";
  }
  return "unknown";
}

Bytes EncodeHardState(const HardState& hs) {
  Writer w;
  w.Reserve(512);
  w.U8(kHardStateVersion);
  w.U64(hs.height);
  w.U32(hs.round);
  w.U8(static_cast<uint8_t>(hs.step));
  w.U32(hs.locked_round);
  w.Fixed(hs.locked_round == kNoRound ? crypto::Hash256() : hs.locked_hash);
  w.U32(hs.valid_round);
  w.Fixed(hs.valid_round == kNoRound ? crypto::Hash256() : hs.valid_hash);
  w.U64(hs.next_record);
  w.U8(hs.proposal ? 1 : 0);
  if (hs.proposal) {
    w.U32(hs.proposal->valid_round);
    w.Fixed(hs.proposal->block);
    w.Raw(hs.proposal->sig.view());
  }
  w.U32(static_cast<uint32_t>(hs.votes.size()));
  for (const HardState::OwnVote& v : hs.votes) PutOwnVote(w, v);
  return std::move(w).Take();
}

Result<HardState> DecodeHardState(ByteView in) {
  Reader r(in, "bft hard state");
  HardState hs;
  uint8_t version = 0;
  r.U8(&version, "version");
  if (r.ok() && version != kHardStateVersion) {
    r.FailAt(0, "version", "unsupported value " + std::to_string(version));
  }
  r.U64(&hs.height, "height");
  if (r.ok() && hs.height == 0) r.Fail("height", "is 0");
  r.U32(&hs.round, "round");
  size_t step_at = r.offset();
  uint8_t step = 0;
  r.U8(&step, "step");
  if (r.ok() && step > static_cast<uint8_t>(RoundStep::kPrecommit)) {
    r.FailAt(step_at, "step", "unknown value " + std::to_string(step));
  }
  hs.step = static_cast<RoundStep>(step);
  r.U32(&hs.locked_round, "locked round");
  size_t at = r.offset();
  r.Fixed(&hs.locked_hash, "locked hash");
  CheckRoundHash(r, at, "locked", hs.locked_round, hs.locked_hash);
  r.U32(&hs.valid_round, "valid round");
  at = r.offset();
  r.Fixed(&hs.valid_hash, "valid hash");
  CheckRoundHash(r, at, "valid", hs.valid_round, hs.valid_hash);
  if (r.ok() && hs.locked_round != kNoRound && hs.locked_round > hs.round) {
    r.Fail("locked round", "is above the round");
  }
  if (r.ok() && hs.valid_round != kNoRound && hs.valid_round > hs.round) {
    r.Fail("valid round", "is above the round");
  }
  r.U64(&hs.next_record, "next record");
  if (GetBool(r, "has proposal")) {
    HardState::OwnProposal p;
    at = r.offset();
    r.U32(&p.valid_round, "proposal valid round");
    if (r.ok() && p.valid_round != kNoRound && p.valid_round >= hs.round) {
      r.FailAt(at, "proposal valid round", "is not below the round");
    }
    r.Fixed(&p.block, "proposal block");
    p.sig = GetSig(r, "proposal signature");
    hs.proposal = p;
  }
  uint32_t n = 0;
  r.Count(&n, "vote count", kOwnVoteBytes, kMaxOwnVotes);
  if (r.ok()) hs.votes.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    size_t at_vote = r.offset();
    HardState::OwnVote v = GetOwnVote(r);
    if (!r.ok()) break;
    if (v.round > hs.round) r.FailAt(at_vote, "vote round", "is above the round");
    if (!hs.votes.empty() && std::make_pair(hs.votes.back().round, hs.votes.back().type) >=
                                 std::make_pair(v.round, v.type)) {
      r.FailAt(at_vote, "votes", "are not strictly increasing by (round, type)");
    }
    hs.votes.push_back(v);
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return hs;
}

Bytes EncodeBlockRecord(const Block& b) {
  Writer w;
  w.Reserve(1 + 8 + 32 + 4 + b.data.size());
  w.U8(kRecordBlock);
  w.U64(b.height);
  w.Fixed(b.hash);
  w.Var(b.data);
  return std::move(w).Take();
}

Bytes EncodePolRecord(const PolRecord& p) {
  Bytes cert = p.prevotes.Encode();
  Bytes out;
  out.reserve(1 + cert.size());
  out.push_back(kRecordPol);
  out.insert(out.end(), cert.begin(), cert.end());
  return out;
}

Result<Record> DecodeRecord(ByteView in, uint64_t index) {
  std::string what = "bft record " + std::to_string(index);
  if (in.empty()) return Status::Error(what + ": kind truncated at offset 0");
  if (in[0] == kRecordPol) {
    Result<Certificate> c = Certificate::Decode(in.subspan(1));
    if (!c) return c.status().Wrap(what);
    return Record(PolRecord{std::move(*c)});
  }
  Reader r(in, what);
  Block b;
  uint8_t kind = 0;
  r.U8(&kind, "kind");
  if (r.ok() && kind != kRecordBlock) r.FailAt(0, "kind", "unknown value " + std::to_string(kind));
  r.U64(&b.height, "height");
  r.Fixed(&b.hash, "hash");
  r.Var(&b.data, kMaxBlockBytes, "data");
  if (Status s = r.Finish(); !s.ok()) return s;
  return Record(std::move(b));
}

}  // namespace cairn::consensus::bft
