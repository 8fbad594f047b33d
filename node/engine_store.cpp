// Keys (see ledger/chain_store.h):
//   'C' 'h'                 the engine's hard state
//   'C' 'l' index:u64be     one log record; with a 'C' 'm' of the same index, the record
//                           without the block's bytes at its offset
//   'C' 'm' index:u64be     BlockSpan := hash:fixed[32] offset:u32: the record held block
//                           `hash` at `offset`, whose bytes are under the chain store's
//                           'K' hash (or are its committed block of that hash)
//   'C' 'e' sha256          evidence: recorded_ms:u64 evidence:bytes
#include "node/engine_store.h"

#include <optional>
#include <vector>

#include "base/codec.h"
#include "ledger/chain_store.h"

namespace cairn::node {
namespace {

Bytes Key(char kind, std::optional<uint64_t> index = std::nullopt) {
  Bytes k = {'C', static_cast<uint8_t>(kind)};
  if (index) {
    for (int i = 7; i >= 0; --i) k.push_back(static_cast<uint8_t>(*index >> (8 * i)));
  }
  return k;
}

constexpr size_t kMaxEvidenceBytes = 1u << 20;

uint64_t IndexOf(ByteView key) {
  uint64_t index = 0;
  for (size_t i = 2; i < key.size(); ++i) index = index << 8 | key[i];
  return index;
}

struct BlockSpan {
  crypto::Hash256 hash;
  uint32_t offset = 0;
};

Bytes EncodeSpan(const crypto::Hash256& hash, size_t offset) {
  codec::Writer w;
  w.Fixed(hash).U32(static_cast<uint32_t>(offset));
  return w.Take();
}

Result<BlockSpan> DecodeSpan(ByteView b) {
  codec::Reader r(b, "block span record");
  BlockSpan s;
  r.Fixed(&s.hash, "hash");
  r.U32(&s.offset, "offset");
  if (Status st = r.Finish(); !st.ok()) return st;
  return s;
}

// Deletes the records with index in [from, to) and the block bodies only they held: a body
// whose block committed is the chain's now and stays.
Status DeleteRecords(const ledger::KvStore& kv, uint64_t from, std::optional<uint64_t> to,
                     ledger::WriteBatch& batch) {
  const Bytes l_end = to ? Key('l', *to) : Key('m');
  const Bytes m_end = to ? Key('m', *to) : Key('n');
  Status s = kv.Scan(Key('l', from), l_end, [&](ByteView k, ByteView) {
    batch.Delete(k);
    return true;
  });
  if (!s.ok()) return s;
  Status inner = Status::Ok();
  s = kv.Scan(Key('m', from), m_end, [&](ByteView k, ByteView v) {
    batch.Delete(k);
    auto span = DecodeSpan(v);
    if (!span.ok()) return true;  // the record is gone with it; nothing to find
    auto committed = ledger::ChainStore::HasBlock(kv, span->hash);
    if (!committed.ok()) {
      inner = committed.status();
      return false;
    }
    if (!*committed) batch.Delete(ledger::ChainStore::BodyKey(span->hash));
    return true;
  });
  if (!s.ok()) return s;
  return inner;
}

}  // namespace

Result<consensus::DurableState> EngineStore::Load() const {
  consensus::DurableState st;
  auto hs = kv_.Get(Key('h'));
  if (!hs.ok()) return hs.status();
  st.hard_state = *hs;
  Status s = kv_.Scan(Key('l'), Key('m'), [&](ByteView key, ByteView value) {
    st.records.push_back(consensus::LogRecord{IndexOf(key), Bytes(value.begin(), value.end())});
    return true;
  });
  if (!s.ok()) return s;
  // Put each stored block back into its record, which the engine gets whole.
  Status inner = Status::Ok();
  size_t next = 0;
  s = kv_.Scan(Key('m'), Key('n'), [&](ByteView key, ByteView value) {
    const uint64_t index = IndexOf(key);
    const std::string at = "consensus log record " + std::to_string(index);
    while (next < st.records.size() && st.records[next].index < index) ++next;
    auto span = DecodeSpan(value);
    if (next == st.records.size() || st.records[next].index != index || !span.ok() ||
        span->offset > st.records[next].data.size()) {
      inner = Status::Corruption(at + ": its block span record does not fit the record");
      return false;
    }
    auto body = ledger::ChainStore::BlockBytesByHash(kv_, span->hash);
    if (!body.ok()) {
      inner = body.status().Wrap(at);
      return false;
    }
    if (!body.value()) {
      inner = Status::Corruption(at + ": its block " + crypto::ShortHex(span->hash, 16) +
                                 " is stored nowhere");
      return false;
    }
    consensus::LogRecord& rec = st.records[next];
    rec.data.insert(rec.data.begin() + span->offset, body.value()->begin(), body.value()->end());
    rec.block_hash = span->hash;
    rec.block_offset = span->offset;
    rec.block_size = body.value()->size();
    return true;
  });
  if (!s.ok()) return s;
  if (!inner.ok()) return inner;
  return st;
}

Status EngineStore::Persist(const consensus::Ready& ready) {
  ledger::WriteBatch batch;
  if (ready.hard_state) batch.Put(Key('h'), *ready.hard_state);
  if (ready.truncate_from) {
    if (Status s = DeleteRecords(kv_, *ready.truncate_from, std::nullopt, batch); !s.ok()) {
      return s;
    }
  }
  for (const consensus::LogRecord& r : ready.append) {
    const bool split = r.block_hash && r.block_offset <= r.data.size() &&
                       r.block_size <= r.data.size() - r.block_offset;
    if (!split) {
      batch.Put(Key('l', r.index), r.data);
      continue;
    }
    // The block's bytes go in once, under 'K', where the chain store adopts them at commit;
    // the record keeps the rest. A block already committed (block sync got there first) is
    // read back from the chain instead.
    const ByteView data = r.data;
    Bytes rest(data.begin(), data.begin() + static_cast<ptrdiff_t>(r.block_offset));
    rest.insert(rest.end(), data.begin() + static_cast<ptrdiff_t>(r.block_offset + r.block_size),
                data.end());
    batch.Put(Key('l', r.index), rest);
    batch.Put(Key('m', r.index), EncodeSpan(*r.block_hash, r.block_offset));
    auto committed = ledger::ChainStore::HasBlock(kv_, *r.block_hash);
    if (!committed.ok()) return committed.status();
    if (!*committed) {
      batch.Put(ledger::ChainStore::BodyKey(*r.block_hash),
                data.subspan(r.block_offset, r.block_size));
    }
  }
  if (batch.size() == 0) return Status::Ok();
  return kv_.Write(batch, /*sync=*/true);
}

Status EngineStore::ClearEngineState() {
  ledger::WriteBatch batch;
  batch.Delete(Key('h'));
  if (Status s = DeleteRecords(kv_, 0, std::nullopt, batch); !s.ok()) return s;
  return kv_.Write(batch, /*sync=*/true);
}

void EngineStore::Discard(uint64_t through) {
  // Discarded records are committed and applied: their blocks are the chain's, so
  // DeleteRecords keeps every body.
  ledger::WriteBatch gc;
  Status s = DeleteRecords(kv_, 0, through + 1, gc);
  if (s.ok() && gc.size() > 0) (void)kv_.Write(gc, /*sync=*/false);
}

Status EngineStore::PutEvidence(const crypto::Hash256& id, uint64_t recorded_ms,
                                ByteView evidence) {
  Bytes key = Key('e');
  key.insert(key.end(), id.view().begin(), id.view().end());
  codec::Writer w;
  w.U64(recorded_ms).Var(evidence);
  ledger::WriteBatch batch;
  batch.Put(key, w.Take());
  return kv_.Write(batch, /*sync=*/false);
}

Status EngineStore::ScanEvidence(
    const std::function<void(uint64_t recorded_ms, ByteView evidence)>& fn) const {
  return kv_.Scan(Key('e'), Key('f'), [&](ByteView, ByteView value) {
    codec::Reader r(value, "stored evidence");
    uint64_t ms = 0;
    Bytes raw;
    r.U64(&ms, "recorded_ms");
    r.Var(&raw, kMaxEvidenceBytes, "evidence");
    if (r.Finish().ok()) fn(ms, raw);  // a damaged record is skipped, not fatal
    return true;
  });
}

}  // namespace cairn::node
