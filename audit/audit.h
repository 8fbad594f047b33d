// Chain audit: re-checks a whole chain from its genesis file (decoding, hash links, Merkle
// roots, every signature, the proposer set, BFT commit certificates, and a full state replay
// with ledger::VerifyBlock)
// from a stopped node's data dir or from a node's JSON-RPC, and reports the first inconsistency.
// Thread-safety: the functions are independent and may run concurrently on distinct inputs;
// each uses AuditOptions::verify_threads threads internally.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/sha256.h"
#include "genesis/genesis.h"
#include "ledger/kv.h"

namespace cairn::rpc {
class Client;
}

namespace cairn::audit {

// What failed, in the order the checks run for each block.
enum class AuditCheck : uint8_t {
  kSource,             // the data dir or node could not be read at all
  kGenesis,            // block 0 (or the node's genesis) is not the genesis file's
  kRead,               // a stored block could not be read (I/O error, checksum mismatch)
  kDecode,             // a block's bytes do not decode
  kHeader,             // height, chain id, prev_hash or timestamp does not follow the parent
  kProposer,           // the proposer is not a validator of set(H)
  kProposerSignature,  // the proposer signature does not verify
  kCertificate,        // BFT: the commit certificate is missing or does not prove the block
  kTxRoot,             // tx_root is not the Merkle root of the block's transactions
  kTxSignature,        // a transaction signature does not verify
  kExecution,          // replay refused the block: an invalid tx, or a different state root
  kReceipts,           // stored receipts differ from the replay (data dir only)
  kTxIndex,            // the stored tx index does not point at the tx (data dir only)
  kBlockIndex,         // the stored block-hash index does not point at the block (data dir only)
  kHead,               // the stored head record disagrees with the last block (data dir only)
  kState,              // stored state differs from the replayed state (data dir only)
  kMetadata,           // an 'M' record other than the head, or a key outside the layout
  kEngineState,        // a consensus record ('C' keys) does not decode (data dir only)
  kStateTree,          // the replayed state's tree, built from scratch, is not the head's root
  kImport,             // a snapshot import (state sync) is in progress: the dir holds no chain yet
};
std::string_view AuditCheckName(AuditCheck c);  // snake_case: "tx_signature"

struct AuditFailure {
  AuditCheck check = AuditCheck::kSource;
  // The first inconsistent height; nullopt when the failure is not about one block (the
  // source cannot be read).
  std::optional<uint64_t> height;
  std::string detail;  // one line, says what is wrong and where

  // "height 5: tx_signature: tx 0 (3f2a..): signature does not verify"
  std::string ToString() const;
};

// What an audit of a pruned or state-synced data dir could and could not verify: it checks
// the kept headers from genesis, proves the state at `state_base` against its header, and
// replays only the blocks above it (docs/design/state-sync.md section 4).
struct AuditCoverage {
  uint64_t headers_from = 1;          // the lowest header kept ('M' "headers_from")
  uint64_t blocks_from = 1;           // the lowest height whose body is kept ('M' "blocks_from")
  std::optional<uint64_t> synced_at;  // a state-synced dir: the snapshot's height
  // Headers checked without replaying their block: linked by hash (and proposer signature,
  // certificate where the set is known), heights headers_from..state_base.
  uint64_t headers_checked = 0;
  uint64_t headers_certified = 0;  // of those, BFT: certificates verified
  // BFT: headers whose certificate could not be verified because their validator set is
  // neither the genesis set nor the set the proven state holds (the set history below the
  // base is not kept); the lowest and highest such heights.
  uint64_t certificates_unchecked = 0;
  std::optional<std::pair<uint64_t, uint64_t>> uncertified_range;
  // Headers whose proposer signature is not kept (header-only records without one).
  uint64_t signatures_unchecked = 0;
  // The height whose state was rebuilt (stored state, then the undo records back down) and
  // proven against its header's state_root; the replay starts above it.
  std::optional<uint64_t> state_base;
  uint64_t undo_records_applied = 0;
  // One line per statement, in order: what was verified, then what could not be.
  std::vector<std::string> verified;
  std::vector<std::string> not_verified;
};

struct AuditReport {
  std::string source;  // the data dir or the RPC URL
  std::string chain_id;
  crypto::Hash256 genesis_hash;  // block 0 of the genesis the replay started from
  // True when no genesis file was given to an RPC audit and the node's own genesis was used:
  // the audit then proves the chain consistent with THAT genesis, whose hash the auditor must
  // compare with a trusted copy.
  bool genesis_from_node = false;
  uint64_t blocks = 0;  // blocks that passed every check, genesis included
  uint64_t transactions = 0;
  // BFT chains: commit certificates verified (one per block above genesis).
  uint64_t certificates = 0;
  uint64_t head_height = 0;  // the last block that passed
  crypto::Hash256 head_hash;
  crypto::Hash256 state_root;  // the replayed state root at head_height
  uint64_t state_entries = 0;  // entries of the replayed state at head_height
  // Data dir only: receipts, tx index, block index, head record, the other metadata
  // records, the consensus records and the stored state were checked.
  bool store_checked = false;
  // Set for a data dir that does not keep every block from genesis (pruned, state-synced).
  std::optional<AuditCoverage> coverage;
  std::chrono::milliseconds elapsed{0};
  std::optional<AuditFailure> failure;

  bool ok() const { return !failure.has_value(); }
};

// How far an audit got, for a progress display.
struct AuditProgress {
  uint64_t height = 0;        // the last block that passed every check
  uint64_t target = 0;        // the height the audit goes to; 0 when not known in advance
  uint64_t blocks = 0;        // blocks that passed, genesis included
  uint64_t transactions = 0;  // their transactions, replayed
};

struct AuditOptions {
  // Threads verifying transaction, proposer and certificate signatures, the calling thread
  // included (it replays blocks in order and verifies whenever it would wait).
  unsigned verify_threads = 2;
  // Blocks read per batch (one getRawBlocks call over RPC); up to two batches are read ahead
  // of the replay, and at most 32 MiB of encoded blocks, whatever the batch size.
  uint64_t page_blocks = 100;
  // Called after each block that passed, with its height and the height the audit goes to
  // (0 when not known in advance); heights only increase. Runs on the calling thread, so
  // a slow callback slows the audit: a display should render at most every few hundred ms.
  std::function<void(uint64_t height, uint64_t target)> progress;
  // As `progress`, with the counts a display needs for rates (tx/s, blocks/s) and an ETA.
  std::function<void(const AuditProgress&)> progress_counts;
};

// Audits a chain store held in `kv` (the layout of ledger/chain_store.h). Never writes to `kv`:
// every access goes through a wrapper that refuses writes, and an empty store is refused
// rather than initialised.
AuditReport AuditStore(const ledger::KvStore& kv, const genesis::Genesis& genesis,
                       const AuditOptions& options = {});

// Audits the LevelDB chain store in `data_dir` (a node's HOME/data). The node must be stopped
// (LevelDB allows one process at a time; a running node's lock makes this fail) or `data_dir`
// must be a copy. Opens with create=false, so a missing directory is an error, not a new store.
AuditReport AuditDataDir(const std::string& data_dir, const genesis::Genesis& genesis,
                         const AuditOptions& options = {});

// Audits the chain a node serves, fetching blocks with getRawBlocks up to the head it reports
// when the audit starts. With `trusted_genesis`, the node's genesis hash must match it; without,
// the node's own genesis (getGenesis) is used and report.genesis_from_node is set.
AuditReport AuditRpc(rpc::Client& client, const std::optional<genesis::Genesis>& trusted_genesis,
                     const AuditOptions& options = {});

}  // namespace cairn::audit
