// The genesis file: the chain's identity, its validators and its initial accounts, and
// block 0 built from it. Value type; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "crypto/ed25519.h"
#include "ledger/account.h"
#include "ledger/block.h"
#include "ledger/governance.h"
#include "ledger/state.h"

namespace cairn::genesis {

// The largest genesis file Load reads: room for about 300,000 initial accounts.
inline constexpr size_t kMaxGenesisFileBytes = 64u << 20;

enum class ConsensusKind : uint8_t { kSolo = 1, kRaft = 2, kBft = 3 };
std::string_view ConsensusName(ConsensusKind k);
// The engine a name denotes ("solo", "raft", "bft": ConsensusName's inverse, exact and
// lower case); nullopt for anything else. The genesis file, the config and the CLI all read
// engine names through this.
std::optional<ConsensusKind> ParseConsensusKind(std::string_view name);

struct Node {
  std::string name;
  crypto::PublicKey public_key;
  std::string address;  // host:port of its p2p endpoint; operational, not hashed
};

struct InitialAccount {
  crypto::PublicKey public_key;
  ledger::Role role = ledger::Role::kMember;
  uint64_t balance = 0;
};

// The governance section as written in the file (docs/PROTOCOL.md §2): nullopt fields take
// the defaults (every admin account; threshold floor(n / 2) + 1).
struct GovernanceSection {
  std::optional<std::vector<crypto::PublicKey>> admins;  // empty: the chain has no governance
  std::optional<uint16_t> threshold;
};

struct ConsensusParams {
  uint32_t max_block_txs = 5000;
};

struct Genesis {
  std::string chain_id;
  uint64_t genesis_time_ms = 0;  // unix ms; block 0's timestamp
  ConsensusKind consensus = ConsensusKind::kSolo;
  ConsensusParams params;
  std::vector<Node> validators;
  std::vector<Node> observers;
  std::vector<InitialAccount> accounts;
  GovernanceSection governance;

  // Parses and validates; errors name the field ("validators[1].public_key: ...").
  static Result<Genesis> FromJson(const std::string& text);
  // Refuses what is not a regular file (a directory, a FIFO: said so, without blocking) and
  // a file over kMaxGenesisFileBytes, before parsing.
  static Result<Genesis> Load(const std::string& path);
  std::string ToJson() const;
  Status Save(const std::string& path) const;  // refuses to overwrite
  Status Validate() const;

  // Domain-tagged hash of everything consensus-relevant (addresses excluded); stored in
  // block 0's consensus_data so the genesis hash commits to the whole configuration.
  crypto::Hash256 ConfigHash() const;
  // Accounts, set/members and (when governed) gov/config: the state before block 1.
  ledger::StateDiff InitialState() const;
  // set/members at genesis: validators then observers in file order with ids 0.., each
  // with consensus_key = p2p_key = public_key and no address (addresses stay operational).
  ledger::MemberSet Members() const;
  // gov/config at genesis, defaults applied; nullopt when the file says "admins": [].
  std::optional<ledger::GovConfig> GovernanceConfig() const;
  // ledger::SetHash of the genesis validators (ids 0..n-1): block 0's validators_hash and
  // next_validators_hash, and every header's until a governance action changes the set.
  crypto::Hash256 ValidatorsHash() const;
  // Block 0: deterministic, so every node with the same file has the same genesis hash.
  ledger::Block Block0() const;

  // Index of `key` among validators, or -1.
  int ValidatorIndex(const crypto::PublicKey& key) const;
  bool IsObserver(const crypto::PublicKey& key) const;
};

// "2026-11-23T00:00:00Z" or with ".123" milliseconds; UTC only. Locale-free.
Result<uint64_t> ParseRfc3339Ms(const std::string& s);
std::string FormatRfc3339Ms(uint64_t ms);
// Chain ids: 1..64 of [A-Za-z0-9._-].
bool IsValidChainId(const std::string& id);

}  // namespace cairn::genesis
