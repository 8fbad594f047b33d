#include "node/set_history.h"

#include "base/codec.h"

namespace cairn::node {
namespace {

constexpr uint32_t kMaxSet = 1024;  // ledger::kMaxMembers

Bytes KeyOf(const crypto::Hash256& set_hash) {
  codec::Writer w;
  w.U8('V').Fixed(set_hash);
  return w.Take();
}

Result<std::vector<ledger::Member>> Decode(ByteView b) {
  codec::Reader r(b, "set record");
  uint32_t count = 0;
  std::vector<ledger::Member> out;
  if (r.Count(&count, "count", 36, kMaxSet) && count == 0) r.Fail("count", "must be at least 1");
  for (uint32_t i = 0; r.ok() && i < count; ++i) {
    ledger::Member m;
    r.U32(&m.id, "id");
    r.Fixed(&m.consensus_key, "consensus_key");
    if (r.ok() && !out.empty() && m.id <= out.back().id) r.Fail("id", "not increasing");
    if (r.ok()) out.push_back(std::move(m));
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return out;
}

}  // namespace

Status RememberSet(ledger::KvStore& kv, std::span<const ledger::Member> validators) {
  if (validators.empty() || validators.size() > kMaxSet) return Status::Ok();
  const crypto::Hash256 hash = ledger::SetHash(validators);
  if (FindSet(kv, hash)) return Status::Ok();
  codec::Writer w;
  w.U32(static_cast<uint32_t>(validators.size()));
  for (const ledger::Member& m : validators) w.U32(m.id).Fixed(m.consensus_key);
  ledger::WriteBatch batch;
  batch.Put(KeyOf(hash), w.Take());
  // Unsynced: a set lost in a crash is written again when this node next sees it, and until
  // then GetValidators answers "not found", which the asker takes elsewhere.
  return kv.Write(batch, /*sync=*/false);
}

std::optional<std::vector<ledger::Member>> FindSet(const ledger::KvReader& kv,
                                                   const crypto::Hash256& set_hash) {
  auto value = kv.Get(KeyOf(set_hash));
  if (!value.ok() || !value->has_value()) return std::nullopt;
  auto set = Decode(**value);
  if (!set.ok() || ledger::SetHash(*set) != set_hash) return std::nullopt;
  return std::move(set.value());
}

}  // namespace cairn::node
