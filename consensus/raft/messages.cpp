// Canonical encodings (all integers little-endian, fixed width):
//
//   Message       := version: u8 (=1)  type: u8  term: u64  body
//   body(App)     := prev_index: u64  prev_term: u64  commit: u64  count: u32  Entry[count]
//   body(AppResp) := index: u64  reject: u8  hint_index: u64  hint_term: u64
//                    (hint_* are 0 unless reject = 1)
//   body(Vote), body(PreVote) := last_index: u64  last_term: u64
//   body(VoteResp), body(PreVoteResp) := reject: u8
//   body(Heartbeat) := commit: u64
//   body(HeartbeatResp) := (empty)
//   body(Snapshot) := LogBase
//   Entry         := term: u64  type: u8  height: u64  [type = 1 (block): hash: 32 bytes
//                    data_len: u32  data: data_len bytes]
//   LogBase       := index: u64  term: u64  height: u64  hash: 32 bytes
//   HardState     := version: u8 (=1)  term: u64  vote: u32  commit: u64  base: LogBase
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
constexpr size_t kMinEntryBytes = 8 + 1 + 8;

void PutEntry(Writer& w, const Entry& e) {
  w.U64(e.term);
  w.U8(static_cast<uint8_t>(e.type));
  w.U64(e.height);
  if (e.is_block()) {
    w.Fixed(e.hash);
    w.Var(e.data);
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
      type > static_cast<uint8_t>(MsgType::kSnapshot)) {
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
    case MsgType::kPreVote:
      r.U64(&m.index, "last index");
      r.U64(&m.log_term, "last term");
      break;
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
  w.U8(kHardStateVersion);
  w.U64(hs.term);
  w.U32(hs.vote);
  w.U64(hs.commit);
  PutBase(w, hs.base);
  return std::move(w).Take();
}

Result<HardState> DecodeHardState(ByteView in) {
  Reader r(in, "raft hard state");
  HardState hs;
  uint8_t version = 0;
  r.U8(&version, "version");
  if (r.ok() && version != kHardStateVersion) {
    r.FailAt(0, "version", "unsupported value " + std::to_string(version));
  }
  r.U64(&hs.term, "term");
  r.U32(&hs.vote, "vote");
  r.U64(&hs.commit, "commit");
  hs.base = GetBase(r);
  if (Status s = r.Finish(); !s.ok()) return s;
  return hs;
}

}  // namespace cairn::consensus::raft
