#include "node/set_history.h"

namespace cairn::node {
namespace {

Bytes KeyOf(const crypto::Hash256& set_hash) {
  Bytes key{'V'};
  key.insert(key.end(), set_hash.view().begin(), set_hash.view().end());
  return key;
}

}  // namespace

Status RememberSet(ledger::KvStore& kv, std::span<const ledger::Member> validators) {
  if (validators.empty()) return Status::Ok();
  const Bytes key = KeyOf(ledger::SetHash(validators));
  auto have = kv.Get(key);
  if (!have.ok()) return have.status();
  if (have->has_value()) return Status::Ok();
  ledger::MemberSet set;
  set.members.assign(validators.begin(), validators.end());
  set.next_id = set.members.back().id + 1;
  ledger::WriteBatch batch;
  batch.Put(key, set.Encode());
  // Unsynced: a set lost in a crash is written again when this node next sees it, and until
  // then GetValidators answers "not found", which the asker takes elsewhere.
  return kv.Write(batch, /*sync=*/false);
}

std::optional<std::vector<ledger::Member>> FindSet(const ledger::KvReader& kv,
                                                   const crypto::Hash256& set_hash) {
  auto value = kv.Get(KeyOf(set_hash));
  if (!value.ok() || !value->has_value()) return std::nullopt;
  auto set = ledger::MemberSet::Decode(**value);
  if (!set.ok() || ledger::SetHash(set->members) != set_hash) return std::nullopt;
  return std::move(set->members);
}

}  // namespace cairn::node
