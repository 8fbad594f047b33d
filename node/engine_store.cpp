// Keys (see ledger/chain_store.h):
//   'C' 'h'                 the engine's hard state
//   'C' 'l' index:u64be     one log record
//   'C' 'e' sha256          evidence: recorded_ms:u64 evidence:bytes
#include "node/engine_store.h"

#include <optional>
#include <vector>

#include "base/codec.h"

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

}  // namespace

Result<consensus::DurableState> EngineStore::Load() const {
  consensus::DurableState st;
  auto hs = kv_.Get(Key('h'));
  if (!hs.ok()) return hs.status();
  st.hard_state = *hs;
  Status s = kv_.Scan(Key('l'), Key('m'), [&](ByteView key, ByteView value) {
    uint64_t index = 0;
    for (size_t i = 2; i < key.size(); ++i) index = index << 8 | key[i];
    st.records.push_back(consensus::LogRecord{index, Bytes(value.begin(), value.end())});
    return true;
  });
  if (!s.ok()) return s;
  return st;
}

Status EngineStore::Persist(const consensus::Ready& ready) {
  ledger::WriteBatch batch;
  if (ready.hard_state) batch.Put(Key('h'), *ready.hard_state);
  if (ready.truncate_from) {
    std::vector<Bytes> doomed;
    Status s = kv_.Scan(Key('l', *ready.truncate_from), Key('m'), [&](ByteView k, ByteView) {
      doomed.emplace_back(k.begin(), k.end());
      return true;
    });
    if (!s.ok()) return s;
    for (const Bytes& k : doomed) batch.Delete(k);
  }
  for (const consensus::LogRecord& r : ready.append) batch.Put(Key('l', r.index), r.data);
  if (batch.size() == 0) return Status::Ok();
  return kv_.Write(batch, /*sync=*/true);
}

Status EngineStore::ClearEngineState() {
  ledger::WriteBatch batch;
  batch.Delete(Key('h'));
  Status s = kv_.Scan(Key('l'), Key('m'), [&](ByteView k, ByteView) {
    batch.Delete(Bytes(k.begin(), k.end()));
    return true;
  });
  if (!s.ok()) return s;
  return kv_.Write(batch, /*sync=*/true);
}

void EngineStore::Discard(uint64_t through) {
  ledger::WriteBatch gc;
  Status s = kv_.Scan(Key('l', 0), Key('l', through + 1), [&](ByteView k, ByteView) {
    gc.Delete(k);
    return true;
  });
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
