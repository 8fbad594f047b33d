// The validator sets this node has seen, kept by SetHash under 'V' in its store, so it can
// answer GetValidators (a BFT joiner's light client following set changes) for heights whose
// state it no longer keeps (state_tree.retain_heights). Content-addressed: a header's
// validators_hash names the set of its height, so a record is right for every height it
// serves and never needs deleting or ordering. A record holds what SetHash covers:
//   'V' set_hash:fixed[32]   count:u32 (1..1024) (id:u32 consensus_key:fixed[32])^count,
//                            ids strictly increasing
// Thread-safety: the KvStore's (LevelDB: any thread).
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "base/status.h"
#include "crypto/sha256.h"
#include "ledger/governance.h"
#include "ledger/kv.h"

namespace cairn::node {

// Stores `validators` (by id) unless a record of its SetHash that reads back exists. An empty
// set is not stored.
Status RememberSet(ledger::KvStore& kv, std::span<const ledger::Member> validators);
// The set whose SetHash is `set_hash` (members with id and consensus_key only); nullopt when
// never stored, or when the record does not decode to that hash (corruption reads as absent,
// never served).
std::optional<std::vector<ledger::Member>> FindSet(const ledger::KvReader& kv,
                                                   const crypto::Hash256& set_hash);

}  // namespace cairn::node
