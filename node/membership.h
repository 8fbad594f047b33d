// Membership: who the node's peers are in consensus, as its applied state says
// (docs/design/membership.md §3-5): the validators of set(head + 1) and set(head + 2) with their
// member ids, consensus keys, p2p keys and addresses, the observers, and this node's own member
// id (found by its key). It replaces indexing the genesis validators everywhere: message
// routing (member id <-> p2p key), the engine's sets, the allowlist, leader and signer names.
// Thread-safety: Refresh() on the loop thread (where blocks are applied); every reader from any
// thread: a refresh publishes a new immutable snapshot (mu_ guards the pointer only).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "consensus/types.h"
#include "crypto/ed25519.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "ledger/governance.h"
#include "p2p/host.h"

namespace cairn::node {

class Membership {
 public:
  // What the state after block `head` says. Immutable once published.
  struct Snapshot {
    uint64_t head = 0;
    crypto::Hash256 head_hash;
    std::vector<ledger::Member> next;   // validators of set(head + 1), by id
    std::vector<ledger::Member> after;  // validators of set(head + 2), by id
    ledger::MemberSet members;          // set/members with the pending set applied (set(head + 2))
    bool from_state = false;            // false: the state holds no set/members (genesis lists)

    // A validator of set(head + 1) or set(head + 2) (the later one's keys win).
    const ledger::Member* Validator(consensus::ReplicaId id) const;
    const ledger::Member* ValidatorByP2p(const p2p::NodeId& key) const;
    const ledger::Member* ValidatorByConsensusKey(const crypto::PublicKey& key) const;
    // Validators of set(head + 1) and set(head + 2), and every observer: who may connect.
    std::vector<p2p::NodeId> Allowed() const;
    // Members added or re-keyed on chain that have an address: dialled at it.
    std::vector<p2p::PeerAddress> Dial(const p2p::NodeId& self) const;
    // The name of the member whose p2p key is `key` (validators and observers); "" if none.
    std::string NameOf(const p2p::NodeId& key) const;
  };

  Membership(const genesis::Genesis& genesis, const ledger::ChainStore& store);

  // Loop thread: recomputes the snapshot when the head moved. Returns whether it changed.
  bool Refresh() EXCLUDES(mu_);
  std::shared_ptr<const Snapshot> Get() const EXCLUDES(mu_);

  // set(H) of the state after the applied head, for H in {head + 1, head + 2}, in the form
  // the BFT engine takes; empty when the state has no set/members (the genesis set governs).
  static std::vector<consensus::ValidatorInfo> Infos(const std::vector<ledger::Member>& set);
  // Any thread: set(height), the validators a certificate or evidence of `height` indexes.
  // A height not committed yet: the snapshot's set(head + 1) or set(head + 2). Else the sets
  // this node has seen recently and the genesis set, against the header's validators_hash
  // (which binds ids and keys); then, only with `read_history`, the state history (the state
  // after height - 1, ChainStore::ProveState: a rebuild, so never on a path an RPC client
  // can drive). Empty when none answers: callers report the keys as unknown.
  std::vector<ledger::Member> ValidatorsOf(uint64_t height, bool read_history = false) const
      EXCLUDES(mu_);
  // The Raft member ids: the validators of set(head + 2), sorted.
  static std::vector<consensus::ReplicaId> Ids(const std::vector<ledger::Member>& set);

 private:
  std::shared_ptr<const Snapshot> Compute() const;
  void Remember(const std::vector<ledger::Member>& set) REQUIRES(mu_);

  const genesis::Genesis& genesis_;
  const ledger::ChainStore& store_;
  // How many distinct validator sets ValidatorsOf remembers.
  static constexpr size_t kSeenSets = 32;

  mutable Mutex mu_;
  std::shared_ptr<const Snapshot> snap_ GUARDED_BY(mu_);
  // Newest last, each with its SetHash (ValidatorsOf runs on the worker lane for any peer's
  // GetValidators: no hashing under the lock).
  std::deque<std::pair<std::vector<ledger::Member>, crypto::Hash256>> seen_ GUARDED_BY(mu_);
};

}  // namespace cairn::node
