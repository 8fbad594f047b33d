// Canonical encodings (all integers little-endian, fixed width):
//
//   Message       := version: u8 (=1)  type: u8  term: u64  body
//   body(App)     := prev_index: u64  prev_term: u64  commit: u64  count: u32  Entry[count]
//   body(AppResp) := index: u64  reject: u8  hint_index: u64  hint_term: u64
//                    (hint_* are 0 unless reject = 1)
//   body(Vote)    := last_index: u64  last_term: u64  [transfer: u8 (=1)]
//                    (the transfer byte is present only on a campaign after TimeoutNow)
//   body(PreVote) := last_index: u64  last_term: u64
//   body(VoteResp), body(PreVoteResp) := reject: u8
//   body(Heartbeat) := commit: u64
//   body(HeartbeatResp) := (empty)
//   body(Snapshot) := LogBase  [count: u32 (>= 1)  Promotion[count]]
//                    (the promotions are present only when there are any)
//   body(TimeoutNow) := (empty)
//   Entry         := term: u64  type: u8  height: u64  [type = 1 (block): hash: 32 bytes
//                    data_len: u32  data: data_len bytes]  [type = 2 (promote): member: u32]
//   LogBase       := index: u64  term: u64  height: u64  hash: 32 bytes
//   Promotion     := index: u64  id: u32       (strictly increasing index)
//   HardState     := version: u8 (=1)  term: u64  vote: u32  commit: u64  base: LogBase
//                  | version: u8 (=2)  term: u64  vote: u32  commit: u64  base: LogBase
//                    count: u32 (>= 1)  Promotion[count]
//                    (version 1 when nothing was promoted, so a chain that never changes
//                    its members writes the bytes it always did)
//
// Booleans are exactly 0 or 1 and every field is used, so each value has one encoding.
#include "consensus/raft/messages.h"

#include <string>

#include "base/codec.h"

namespace cairn::consensus::raft {

using codec::Reader;
using codec::Writer;
namespace {

constexpr uint8_t kMessageVersion = 1;
constexpr uint8_t kHardStateVersion = 1;
constexpr uint8_t kHardStateVersionPromoted = 2;
constexpr size_t kMinEntryBytes = 8 + 1 + 8;
constexpr size_t kPromotionBytes = 8 + 4;

void PutEntry(Writer& w, const Entry& e) {
  w.U64(e.term);
  w.U8(static_cast<uint8_t>(e.type));
  w.U64(e.height);
  if (e.is_block()) {
    w.Fixed(e.hash);
    w.Var(e.data);
  } else if (e.type == EntryType::kPromote) {
    w.U32(e.member);
  }
}

void PutPromotions(Writer& w, const std::vector<Promotion>& ps) {
  w.U32(static_cast<uint32_t>(ps.size()));
  for (const Promotion& p : ps) {
    w.U64(p.index);
    w.U32(p.id);
  }
}

// A count of at least one (an empty list is encoded by leaving it out), then increasing
// indices, so each list has one encoding.
void GetPromotions(Reader& r, std::vector<Promotion>* out) {
  uint32_t n = 0;
  size_t count_at = r.offset();
  if (!r.Count(&n, "promotion count", kPromotionBytes, kMaxPromotions)) return;
  if (n == 0) {
    r.FailAt(count_at, "promotion count", "is 0 (an empty list is left out)");
    return;
  }
  out->reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    size_t at = r.offset();
    Promotion p;
    r.U64(&p.index, "promotion index");
    r.U32(&p.id, "promotion id");
    if (r.ok() && !out->empty() && p.index <= out->back().index) {
      r.FailAt(at, "promotion index", "does not increase");
    }
    out->push_back(p);
  }
}

Entry GetEntry(Reader& r, uint64_t index) {
  Entry e;
  e.index = index;
  r.U64(&e.term, "entry term");
  size_t type_at = r.offset();
  uint8_t type = 0;
  r.U8(&type, "entry type");
  r.U64(&e.height, "entry height");
  if (!r.ok()) return e;
  if (type == static_cast<uint8_t>(EntryType::kBlock)) {
    e.type = EntryType::kBlock;
    r.Fixed(&e.hash, "entry block hash");
    r.Var(&e.data, kMaxBlockBytes, "entry block data");
  } else if (type == static_cast<uint8_t>(EntryType::kPromote)) {
    e.type = EntryType::kPromote;
    r.U32(&e.member, "entry promoted member");
  } else if (type != static_cast<uint8_t>(EntryType::kNoop)) {
    r.FailAt(type_at, "entry type", "unknown value " + std::to_string(type));
  }
  return e;
}

void PutBase(Writer& w, const LogBase& b) {
  w.U64(b.index);
  w.U64(b.term);
  w.U64(b.block.height);
  w.Fixed(b.block.hash);
}

LogBase GetBase(Reader& r) {
  LogBase b;
  r.U64(&b.index, "base index");
  r.U64(&b.term, "base term");
  r.U64(&b.block.height, "base height");
  r.Fixed(&b.block.hash, "base hash");
  return b;
}

bool GetBool(Reader& r, std::string_view field) {
  size_t at = r.offset();
  uint8_t v = 0;
  r.U8(&v, field);
  if (v > 1) r.FailAt(at, field, "is " + std::to_string(v) + ", not 0 or 1");
  return v == 1;
}

}  // namespace

std::string_view MsgTypeName(MsgType t) {
  switch (t) {
    case MsgType::kApp:
      return "App";
    case MsgType::kAppResp:
      return "AppResp";
    case MsgType::kVote:
      return "Vote";
    case MsgType::kVoteResp:
      return "VoteResp";
    case MsgType::kPreVote:
      return "PreVote";
    case MsgType::kPreVoteResp:
      return "PreVoteResp";
    case MsgType::kHeartbeat:
      return "Heartbeat";
    case MsgType::kHeartbeatResp:
      return "HeartbeatResp";
    case MsgType::kSnapshot:
      return "Snapshot";
    case MsgType::kTimeoutNow:
      return "TimeoutNow";
  }
  return "Unknown";
}

Bytes EncodeMessage(const Message& m) {
  Writer w;
  size_t payload = 0;
  for (const Entry& e : m.entries) payload += e.data.size() + 64;
  w.Reserve(64 + payload);
  w.U8(kMessageVersion);
  w.U8(static_cast<uint8_t>(m.type));
  w.U64(m.term);
  switch (m.type) {
    case MsgType::kApp:
      w.U64(m.index);
      w.U64(m.log_term);
      w.U64(m.commit);
      w.U32(static_cast<uint32_t>(m.entries.size()));
      for (const Entry& e : m.entries) PutEntry(w, e);
      break;
    case MsgType::kAppResp:
      w.U64(m.index);
      w.U8(m.reject ? 1 : 0);
      w.U64(m.reject ? m.reject_hint : 0);
      w.U64(m.reject ? m.hint_term : 0);
      break;
    case MsgType::kVote:
    case MsgType::kPreVote:
      w.U64(m.index);
      w.U64(m.log_term);
      if (m.type == MsgType::kVote && m.transfer) w.U8(1);
      break;
    case MsgType::kVoteResp:
    case MsgType::kPreVoteResp:
      w.U8(m.reject ? 1 : 0);
      break;
    case MsgType::kHeartbeat:
      w.U64(m.commit);
      break;
    case MsgType::kHeartbeatResp:
      break;
    case MsgType::kSnapshot:
      PutBase(w, m.snapshot);
      if (!m.promoted.empty()) PutPromotions(w, m.promoted);
      break;
    case MsgType::kTimeoutNow:
      break;
  }
  return std::move(w).Take();
}

Result<Message> DecodeMessage(ByteView in) {
  Reader r(in, "raft message");
  Message m;
  uint8_t version = 0;
  r.U8(&version, "version");
  if (r.ok() && version != kMessageVersion) {
    r.FailAt(0, "version", "unsupported value " + std::to_string(version));
  }
  size_t type_at = r.offset();
  uint8_t type = 0;
  r.U8(&type, "type");
  r.U64(&m.term, "term");
  if (!r.ok()) return r.Finish();
  if (type < static_cast<uint8_t>(MsgType::kApp) ||
      type > static_cast<uint8_t>(MsgType::kTimeoutNow)) {
    r.FailAt(type_at, "type", "unknown value " + std::to_string(type));
    return r.Finish();
  }
  m.type = static_cast<MsgType>(type);
  switch (m.type) {
    case MsgType::kApp: {
      r.U64(&m.index, "prev index");
      r.U64(&m.log_term, "prev term");
      r.U64(&m.commit, "commit");
      uint32_t n = 0;
      r.Count(&n, "entry count", kMinEntryBytes, kMaxEntriesPerMessage);
      m.entries.reserve(n);
      for (uint32_t i = 0; i < n && r.ok(); ++i) m.entries.push_back(GetEntry(r, m.index + 1 + i));
      break;
    }
    case MsgType::kAppResp: {
      r.U64(&m.index, "index");
      m.reject = GetBool(r, "reject");
      size_t hint_at = r.offset();
      r.U64(&m.reject_hint, "hint index");
      r.U64(&m.hint_term, "hint term");
      if (r.ok() && !m.reject && (m.reject_hint != 0 || m.hint_term != 0)) {
        r.FailAt(hint_at, "hint", "is set on an accepting response");
      }
      break;
    }
    case MsgType::kVote:
    case MsgType::kPreVote: {
      r.U64(&m.index, "last index");
      r.U64(&m.log_term, "last term");
      if (m.type == MsgType::kVote && r.ok() && r.remaining() == 1) {
        // The transfer flag is one byte of value 1; anything else is trailing input.
        size_t at = r.offset();
        ByteView flag;
        r.Raw(1, &flag, "transfer");
        m.transfer = flag[0] == 1;
        if (!m.transfer) r.FailAt(at, "end", "1 trailing bytes");
      }
      break;
    }
    case MsgType::kVoteResp:
    case MsgType::kPreVoteResp:
      m.reject = GetBool(r, "reject");
      break;
    case MsgType::kHeartbeat:
      r.U64(&m.commit, "commit");
      break;
    case MsgType::kHeartbeatResp:
      break;
    case MsgType::kSnapshot:
      m.snapshot = GetBase(r);
      // Fewer bytes than a count are trailing input (Finish says so).
      if (r.ok() && r.remaining() >= 4) GetPromotions(r, &m.promoted);
      if (r.ok() && !m.promoted.empty() && m.promoted.back().index > m.snapshot.index) {
        r.Fail("promotion index", "is beyond the snapshot");
      }
      break;
    case MsgType::kTimeoutNow:
      break;
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return m;
}

Bytes EncodeEntry(const Entry& e) {
  Writer w;
  w.Reserve(e.data.size() + 64);
  PutEntry(w, e);
  return std::move(w).Take();
}

Result<Entry> DecodeEntry(ByteView in, uint64_t index) {
  Reader r(in, "raft entry " + std::to_string(index));
  Entry e = GetEntry(r, index);
  if (Status s = r.Finish(); !s.ok()) return s;
  return e;
}

Bytes EncodeHardState(const HardState& hs) {
  Writer w;
  w.U8(hs.promoted.empty() ? kHardStateVersion : kHardStateVersionPromoted);
  w.U64(hs.term);
  w.U32(hs.vote);
  w.U64(hs.commit);
  PutBase(w, hs.base);
  if (!hs.promoted.empty()) PutPromotions(w, hs.promoted);
  return std::move(w).Take();
}

Result<HardState> DecodeHardState(ByteView in) {
  Reader r(in, "raft hard state");
  HardState hs;
  uint8_t version = 0;
  r.U8(&version, "version");
  if (r.ok() && version != kHardStateVersion && version != kHardStateVersionPromoted) {
    r.FailAt(0, "version", "unsupported value " + std::to_string(version));
  }
  r.U64(&hs.term, "term");
  r.U32(&hs.vote, "vote");
  r.U64(&hs.commit, "commit");
  hs.base = GetBase(r);
  if (r.ok() && version == kHardStateVersionPromoted) GetPromotions(r, &hs.promoted);
  if (Status s = r.Finish(); !s.ok()) return s;
  return hs;
}

}  // namespace cairn::consensus::raft
