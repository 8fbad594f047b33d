// The audit walks the chain from genesis (walk.cpp): blocks are read and decoded a bounded
// window ahead, their transaction and proposer signatures and BFT certificates verified on
// AuditOptions::verify_threads threads, while each block is checked in height order against
// its parent (header fields, proposer set, tx root) and replayed with chain::BlockRules on a
// MemoryState holding the state after the parent, exactly as a node executes it. The first
// block that fails stops the audit, so the reported height is the lowest inconsistent one. A
// data-dir audit also compares what the node stored beside each block (receipts, tx index, block
// index) and, at the end, the head record and every stored state entry with the replay.
#include "audit/audit.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "audit/auditor.h"
#include "audit/source.h"
#include "ledger/chain_store.h"
#include "rpc/client.h"

namespace cairn::audit {
namespace {

using Clock = std::chrono::steady_clock;
using internal::Auditor;
using internal::ReadOnlyKv;
using internal::RpcBlockSource;
using internal::StoreBlockSource;
using internal::Walk;

AuditReport NewReport(std::string source, const genesis::Genesis& genesis) {
  AuditReport r;
  r.source = std::move(source);
  r.chain_id = genesis.chain_id;
  r.genesis_hash = genesis.Block0().Hash();
  return r;
}

// What the audit says of a data dir whose snapshot import has not finished: how far it got
// ('I' index:u32be per chunk written) and how to finish it.
std::string ImportInProgress(const ledger::KvStore& kv) {
  uint64_t chunks = 0;
  const uint8_t start[] = {'I'};
  const uint8_t end[] = {'I' + 1};
  Status s = kv.Scan(start, end, [&](ByteView, ByteView) {
    ++chunks;
    return true;
  });
  return "a snapshot import (state sync) is in progress in this data dir (" +
         (s.ok() ? std::to_string(chunks) + " chunks written so far" : s.message()) +
         "): it holds no chain to audit yet; restart cairnd with state sync, or run `cairn "
         "snapshot import` again, to finish it";
}

AuditReport Finished(AuditReport r, Clock::time_point start) {
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return r;
}

}  // namespace

std::string_view AuditCheckName(AuditCheck c) {
  // Indexed by AuditCheck; keep in its order.
  static constexpr std::string_view kNames[] = {"source",
                                                "genesis",
                                                "read",
                                                "decode",
                                                "header",
                                                "proposer",
                                                "proposer_signature",
                                                "certificate",
                                                "tx_root",
                                                "tx_signature",
                                                "execution",
                                                "receipts",
                                                "tx_index",
                                                "block_index",
                                                "head",
                                                "state",
                                                "metadata",
                                                "engine_state",
                                                "state_tree",
                                                "import"};
  const auto i = static_cast<size_t>(c);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

std::string AuditFailure::ToString() const {
  std::string s = height ? "height " + std::to_string(*height) + ": " : "";
  return s + std::string(AuditCheckName(check)) + ": " + detail;
}

AuditReport AuditStore(const ledger::KvStore& kv, const genesis::Genesis& genesis,
                       const AuditOptions& options) {
  const auto start = Clock::now();
  AuditReport report = NewReport("store", genesis);
  bool empty = true;
  Status scan = kv.Scan({}, {}, [&](ByteView, ByteView) {
    empty = false;
    return false;
  });
  if (!scan.ok()) {
    report.failure = AuditFailure{AuditCheck::kSource, std::nullopt, scan.message()};
    return Finished(std::move(report), start);
  }
  if (empty) {
    report.failure = AuditFailure{AuditCheck::kSource, std::nullopt,
                                  "the store is empty: there is no chain to audit"};
    return Finished(std::move(report), start);
  }
  auto kept = internal::ReadKeptRanges(kv);
  if (!kept.ok()) {
    report.failure = AuditFailure{AuditCheck::kMetadata, std::nullopt, kept.error()};
    return Finished(std::move(report), start);
  }
  if (kept->import_in_progress) {
    report.failure = AuditFailure{AuditCheck::kImport, std::nullopt, ImportInProgress(kv)};
    return Finished(std::move(report), start);
  }
  // Open checks the format, the genesis hash and the head record. When it fails, the blocks are
  // still walked so a damaged block is named at its height; the open error is reported only if
  // every block passes.
  // Without the state tree: the audit compares the state entry for entry (naming a damaged
  // key) and rebuilds the tree itself in the replay.
  auto store = ledger::ChainStore::Open(std::make_unique<ReadOnlyKv>(kv), genesis.Block0(),
                                        genesis.InitialState(), /*build_tree=*/false);
  const ledger::ChainStore* opened = store.ok() ? store->get() : nullptr;
  StoreBlockSource source(kv,
                          opened ? std::optional<uint64_t>(opened->head().height) : std::nullopt);
  Auditor auditor(genesis, options, report, opened, &kv);
  // A pruned or state-synced dir: the kept headers and the proven state at its base first,
  // then the walk replays the blocks above the base.
  const bool from_base = kept->pruned();
  if ((!from_base || auditor.StartFromKeptState(*kept)) && Walk(auditor, source, options) &&
      auditor.CheckMetadata()) {
    if (!opened) {
      // CheckMetadata names every damage to a record that Open reads; this is a store that
      // fails Open for another reason (say, the head block's receipts or index are missing).
      auditor.Fail(
          AuditCheck::kHead, report.head_height,
          "every block checks out, but the store does not open at its head: " + store.error());
    } else if (auditor.CheckStoreAtEnd() && auditor.CheckEngineRecords() && auditor.CheckLayout()) {
      report.store_checked = true;
    }
  }
  if (from_base) auditor.DescribeCoverage();
  return Finished(std::move(report), start);
}

AuditReport AuditDataDir(const std::string& data_dir, const genesis::Genesis& genesis,
                         const AuditOptions& options) {
  const auto start = Clock::now();
  auto kv = ledger::OpenLevelDb(data_dir, /*create=*/false);
  if (!kv.ok()) {
    AuditReport report = NewReport(data_dir, genesis);
    std::string why = kv.error();
    if (kv.code() == StatusCode::kLocked) {
      why += "; stop the node, or audit a copy of the directory, or audit over RPC";
    }
    report.failure = AuditFailure{AuditCheck::kSource, std::nullopt, why};
    return Finished(std::move(report), start);
  }
  AuditReport report = AuditStore(**kv, genesis, options);
  report.source = data_dir;
  return Finished(std::move(report), start);
}

AuditReport AuditRpc(rpc::Client& client, const std::optional<genesis::Genesis>& trusted_genesis,
                     const AuditOptions& options) {
  const auto start = Clock::now();
  auto fail = [&](AuditReport r, AuditCheck check, std::optional<uint64_t> height,
                  std::string detail) {
    r.failure = AuditFailure{check, height, std::move(detail)};
    return Finished(std::move(r), start);
  };
  AuditReport empty;
  empty.source = client.url();
  rpc::CallResult got = client.Call("getGenesis");
  if (!got.ok())
    return fail(empty, AuditCheck::kSource, std::nullopt, "getGenesis: " + got.status().message());
  const rpc::Json& j = got.value();
  std::optional<crypto::Hash256> node_hash;
  if (j.contains("genesis_hash") && j["genesis_hash"].is_string()) {
    node_hash = crypto::Hash256::FromHex(j["genesis_hash"].get<std::string>());
  }
  if (!node_hash) {
    return fail(empty, AuditCheck::kSource, std::nullopt,
                "getGenesis answered without a genesis_hash");
  }

  std::optional<genesis::Genesis> from_node;
  if (!trusted_genesis) {
    if (!j.contains("genesis") || !j["genesis"].is_object()) {
      return fail(empty, AuditCheck::kSource, std::nullopt,
                  "getGenesis answered without a genesis");
    }
    auto parsed = genesis::Genesis::FromJson(j["genesis"].dump());
    if (!parsed.ok()) {
      return fail(empty, AuditCheck::kGenesis, 0,
                  "the node's genesis is invalid: " + parsed.error());
    }
    from_node = std::move(parsed.value());
  }
  const genesis::Genesis& genesis = trusted_genesis ? *trusted_genesis : *from_node;
  AuditReport report = NewReport(client.url(), genesis);
  report.genesis_from_node = !trusted_genesis;
  if (*node_hash != report.genesis_hash) {
    return fail(std::move(report), AuditCheck::kGenesis, 0,
                trusted_genesis
                    ? "the node's genesis hash " + node_hash->ToHex() +
                          " differs from the genesis file's " + report.genesis_hash.ToHex()
                    : "the node reports genesis hash " + node_hash->ToHex() +
                          ", but the genesis it serves hashes to " + report.genesis_hash.ToHex());
  }
  RpcBlockSource source(client);
  Auditor auditor(genesis, options, report, nullptr, nullptr);
  Walk(auditor, source, options);
  return Finished(std::move(report), start);
}

}  // namespace cairn::audit
