// The audit walks the chain page by page: each page's blocks are decoded, their transaction
// and proposer signatures verified on AuditOptions::verify_threads threads, then each block
// is checked in height order against its parent (header fields, proposer set, tx root), and
// replayed with ledger::VerifyBlock on a MemoryState holding the state after the parent,
// exactly as a node executes it. The first block that fails stops the audit, so the reported
// height is the lowest inconsistent one. A data-dir audit also compares what the node stored
// beside each block (receipts, tx index, block index) and, at the end, the head record and
// every stored state entry with the replay.
#include "node/audit.h"

#include "node/audit_source.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "consensus/bft/messages.h"
#include "consensus/signer.h"
#include "crypto/hex.h"
#include "crypto/merkle.h"
#include "ledger/chain_store.h"
#include "ledger/executor.h"
#include "ledger/state.h"
#include "rpc/client.h"

namespace cairn::node {
namespace {

using Clock = std::chrono::steady_clock;
using internal::BlockKey;
using internal::BlockSource;
using internal::Page;
using internal::ReadOnlyKv;
using internal::RpcBlockSource;
using internal::StoreBlockSource;
using ledger::Block;

// At most `max_chars` hex digits of `b`, marked when cut.
std::string HexPrefix(ByteView b, size_t max_chars = 64) {
  std::string hex = crypto::ToHex(b);
  if (hex.size() <= max_chars) return hex;
  return hex.substr(0, max_chars) + "..(" + std::to_string(b.size()) + " bytes)";
}

// Names a state key for a report: "account ADDR" or "record ADDR key HEX".
std::string DescribeStateKey(ByteView key) {
  constexpr size_t kAddr = ledger::Address::kSize;
  if (key.size() == 1 + kAddr && key[0] == 0x01) {
    return "account " + crypto::ToHex(key.subspan(1));
  }
  if (key.size() > 1 + kAddr && key[0] == 0x02) {
    return "record " + crypto::ToHex(key.subspan(1, kAddr)) + " key " +
           HexPrefix(key.subspan(1 + kAddr));
  }
  return "state key " + HexPrefix(key);
}

// A decoded block of a page with its signature checks done.
struct Checked {
  Block block;
  Bytes certificate;  // as stored beside the block; empty when none
  std::vector<crypto::Hash256> tx_hashes;
  long first_bad_tx = -1;
  bool proposer_sig_ok = false;
};

// Verifies every transaction signature and every proposer signature of `page` on `threads`
// threads (strided items; each writes only its own slots).
void VerifySignatures(std::vector<Checked>& page, unsigned threads) {
  struct Item {
    size_t block;
    long tx;  // -1: the proposer signature
  };
  std::vector<Item> items;
  for (size_t b = 0; b < page.size(); ++b) {
    page[b].tx_hashes.resize(page[b].block.txs.size());
    items.push_back({b, -1});
    for (size_t t = 0; t < page[b].block.txs.size(); ++t)
      items.push_back({b, static_cast<long>(t)});
  }
  std::vector<uint8_t> ok(items.size(), 0);
  auto worker = [&](unsigned first, unsigned stride) {
    for (size_t i = first; i < items.size(); i += stride) {
      Checked& c = page[items[i].block];
      if (items[i].tx < 0) {
        ok[i] = c.block.VerifyProposerSignature() ? 1 : 0;
        continue;
      }
      const ledger::Transaction& tx = c.block.txs[static_cast<size_t>(items[i].tx)];
      c.tx_hashes[static_cast<size_t>(items[i].tx)] = tx.Hash();
      ok[i] = tx.VerifySignature() ? 1 : 0;
    }
  };
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(items.size() / 8 + 1)));
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker, t, threads);
    worker(0, threads);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    Checked& c = page[items[i].block];
    if (items[i].tx < 0) {
      c.proposer_sig_ok = ok[i] != 0;
    } else if (!ok[i] && (c.first_bad_tx < 0 || items[i].tx < c.first_bad_tx)) {
      c.first_bad_tx = items[i].tx;
    }
  }
}

class Auditor {
 public:
  Auditor(const genesis::Genesis& genesis, const AuditOptions& options, AuditReport& report,
          const ledger::ChainStore* store, const ledger::KvStore* kv)
      : genesis_(genesis), options_(options), report_(report), store_(store), kv_(kv) {
    if (genesis_.consensus == genesis::ConsensusKind::kBft) {
      std::vector<crypto::PublicKey> keys;
      for (const genesis::Node& v : genesis_.validators) keys.push_back(v.public_key);
      verifier_ = std::make_unique<consensus::Ed25519Verifier>(std::move(keys));
    }
  }

  uint64_t next_height() const { return next_height_; }

  // Checks `blocks`, the blocks at next_height() on, in order; false at the first failure.
  bool CheckPage(std::vector<Bytes> blocks, std::vector<Bytes> certificates) {
    std::vector<Checked> page;
    std::optional<AuditFailure> decode_failure;
    size_t i = 0;
    if (next_height_ == 0 && !blocks.empty()) {
      if (!CheckGenesis(blocks[0])) return false;
      i = 1;
    }
    for (; i < blocks.size(); ++i) {
      auto block = Block::Decode(blocks[i]);
      if (!block.ok()) {
        // Blocks before it are checked first: one of them may fail at a lower height.
        decode_failure = AuditFailure{AuditCheck::kDecode, next_height_ + page.size(),
                                      "block does not decode: " + block.error()};
        break;
      }
      Bytes cert = i < certificates.size() ? std::move(certificates[i]) : Bytes();
      page.push_back(Checked{std::move(block.value()), std::move(cert), {}, -1, false});
    }
    VerifySignatures(page, options_.verify_threads);
    for (Checked& c : page) {
      if (!CheckBlock(c)) return false;
    }
    if (decode_failure) return Fail(std::move(*decode_failure));
    return true;
  }

  // Data dir: the head record, nothing stored above it, and the stored state entry for entry.
  bool CheckStoreAtEnd() {
    const uint64_t h = report_.head_height;
    const ledger::Head head = store_->head();
    if (head.height != h || head.hash != report_.head_hash ||
        head.state_root != report_.state_root) {
      return Fail(AuditCheck::kHead, h,
                  "the head record says height " + std::to_string(head.height) + " hash " +
                      crypto::ShortHex(head.hash, 16) + " state root " +
                      crypto::ShortHex(head.state_root, 16) + ", but the last block is " +
                      crypto::ShortHex(report_.head_hash, 16) + " with state root " +
                      crypto::ShortHex(report_.state_root, 16));
    }
    auto above = kv_->Get(BlockKey(h + 1));
    if (!above.ok()) return Fail(AuditCheck::kRead, h + 1, "reading block: " + above.error());
    if (above.value()) {
      return Fail(AuditCheck::kHead, h + 1,
                  "a block is stored above the head (height " + std::to_string(h) + ")");
    }
    return CompareState();
  }

  bool Fail(AuditFailure f) {
    report_.failure = std::move(f);
    return false;
  }
  bool Fail(AuditCheck check, std::optional<uint64_t> height, std::string detail) {
    return Fail(AuditFailure{check, height, std::move(detail)});
  }

 private:
  bool CheckGenesis(const Bytes& bytes) {
    const Block expected = genesis_.Block0();
    auto block = Block::Decode(bytes);
    if (!block.ok()) {
      return Fail(AuditCheck::kDecode, 0, "block 0 does not decode: " + block.error());
    }
    const crypto::Hash256 hash = block->Hash();
    if (hash != expected.Hash()) {
      return Fail(AuditCheck::kGenesis, 0,
                  "block 0 hashes to " + hash.ToHex() + " (chain \"" + block->header.chain_id +
                      "\"), but the genesis file gives " + expected.Hash().ToHex() + " (chain \"" +
                      expected.header.chain_id + "\")");
    }
    if (*block != expected) {
      return Fail(AuditCheck::kGenesis, 0,
                  "block 0 has the genesis header but a proposer signature or transactions the "
                  "genesis block does not have");
    }
    state_.Apply(genesis_.InitialState());
    if (store_ && !CheckStoredIndexes(*block, hash, {}, {})) return false;
    Accept(*block, hash);
    return true;
  }

  bool CheckBlock(const Checked& c) {
    const uint64_t h = next_height_;
    const ledger::BlockHeader& hd = c.block.header;
    if (hd.height != h) {
      return Fail(AuditCheck::kHeader, h,
                  "the block stored at this height says height " + std::to_string(hd.height));
    }
    if (hd.chain_id != genesis_.chain_id) {
      return Fail(AuditCheck::kHeader, h,
                  "chain id \"" + hd.chain_id + "\" is not \"" + genesis_.chain_id + "\"");
    }
    if (hd.prev_hash != report_.head_hash) {
      return Fail(AuditCheck::kHeader, h,
                  "prev_hash " + crypto::ShortHex(hd.prev_hash, 16) + " is not the hash of block " +
                      std::to_string(h - 1) + " (" + crypto::ShortHex(report_.head_hash, 16) + ")");
    }
    if (hd.timestamp_ms < parent_.timestamp_ms) {
      return Fail(AuditCheck::kHeader, h,
                  "timestamp " + genesis::FormatRfc3339Ms(hd.timestamp_ms) +
                      " is before its parent's " + genesis::FormatRfc3339Ms(parent_.timestamp_ms));
    }
    if (genesis_.ValidatorIndex(hd.proposer) < 0) {
      return Fail(AuditCheck::kProposer, h,
                  "proposer " + hd.proposer.ToHex() + " is not a genesis validator");
    }
    if (!c.proposer_sig_ok) {
      return Fail(AuditCheck::kProposerSignature, h,
                  "the proposer signature of block " + crypto::ShortHex(c.block.Hash(), 16) +
                      " by " + crypto::ShortHex(hd.proposer, 16) + " does not verify");
    }
    if (verifier_ && !CheckCertificate(c)) return false;
    if (crypto::MerkleRoot(c.tx_hashes) != hd.tx_root) {
      return Fail(AuditCheck::kTxRoot, h,
                  "tx_root " + crypto::ShortHex(hd.tx_root, 16) +
                      " is not the Merkle root of the block's " +
                      std::to_string(c.block.txs.size()) + " transactions (" +
                      crypto::ShortHex(crypto::MerkleRoot(c.tx_hashes), 16) + ")");
    }
    if (c.first_bad_tx >= 0) {
      const size_t i = static_cast<size_t>(c.first_bad_tx);
      return Fail(AuditCheck::kTxSignature, h,
                  "tx " + std::to_string(i) + " (" + crypto::ShortHex(c.tx_hashes[i], 16) +
                      "): signature by " + crypto::ShortHex(c.block.txs[i].sender, 16) +
                      " does not verify");
    }
    // Every signature of this block was verified above, so the replay need not redo it.
    ledger::ExecOptions exec_opts;
    exec_opts.signature_known_valid = [](const crypto::Hash256&) { return true; };
    auto exec = ledger::VerifyBlock(state_, parent_, c.block, exec_opts);
    if (!exec.ok()) {
      std::string why = exec.error();
      const std::string prefix = "block " + std::to_string(h) + ": ";
      if (why.rfind(prefix, 0) == 0) why.erase(0, prefix.size());
      return Fail(AuditCheck::kExecution, h, "replay refused the block: " + why);
    }
    const crypto::Hash256 hash = c.block.Hash();
    if (store_ && !CheckStoredIndexes(c.block, hash, exec->tx_hashes, exec->receipts)) {
      return false;
    }
    state_.Apply(exec->diff);
    report_.transactions += c.block.txs.size();
    Accept(c.block, hash);
    return true;
  }

  // BFT: the block is final only with precommits of a quorum of the genesis validators over
  // its hash at its height.
  bool CheckCertificate(const Checked& c) {
    const uint64_t h = next_height_;
    if (c.certificate.empty()) {
      return Fail(AuditCheck::kCertificate, h, "no commit certificate is stored with the block");
    }
    auto cert = consensus::bft::Certificate::Decode(c.certificate);
    if (!cert.ok()) {
      return Fail(AuditCheck::kCertificate, h, "certificate does not decode: " + cert.error());
    }
    Status s = consensus::bft::VerifyCertificate(*cert, report_.genesis_hash, h, c.block.Hash(),
                                                 static_cast<uint32_t>(genesis_.validators.size()),
                                                 *verifier_);
    if (!s.ok()) return Fail(AuditCheck::kCertificate, h, s.message());
    report_.certificates += 1;
    return true;
  }

  // What the node stored beside block `b`: its receipts, each tx's index entry, its hash index.
  bool CheckStoredIndexes(const Block& b, const crypto::Hash256& hash,
                          const std::vector<crypto::Hash256>& tx_hashes,
                          const std::vector<ledger::Receipt>& receipts) {
    const uint64_t h = b.header.height;
    auto stored = store_->ReceiptsAt(h);
    if (!stored.ok()) return Fail(AuditCheck::kReceipts, h, stored.error());
    if (!stored.value()) return Fail(AuditCheck::kReceipts, h, "no receipts are stored");
    const std::vector<ledger::Receipt>& got = **stored;
    if (got.size() != receipts.size()) {
      return Fail(AuditCheck::kReceipts, h,
                  std::to_string(got.size()) + " receipts are stored for " +
                      std::to_string(receipts.size()) + " transactions");
    }
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i] == receipts[i]) continue;
      return Fail(AuditCheck::kReceipts, h,
                  "receipt of tx " + std::to_string(i) + ": stored " +
                      std::string(ledger::TxCodeName(got[i].code)) + " at " +
                      std::to_string(got[i].height) + "/" + std::to_string(got[i].index) +
                      ", replay gives " + std::string(ledger::TxCodeName(receipts[i].code)) +
                      " at " + std::to_string(receipts[i].height) + "/" +
                      std::to_string(receipts[i].index));
    }
    for (size_t i = 0; i < tx_hashes.size(); ++i) {
      auto loc = store_->FindTx(tx_hashes[i]);
      const std::string tx =
          "tx " + std::to_string(i) + " (" + crypto::ShortHex(tx_hashes[i], 16) + ")";
      if (!loc.ok()) return Fail(AuditCheck::kTxIndex, h, tx + ": " + loc.error());
      if (!loc.value()) return Fail(AuditCheck::kTxIndex, h, tx + " is missing from the tx index");
      if (loc.value()->height != h || loc.value()->index != i) {
        return Fail(AuditCheck::kTxIndex, h,
                    tx + ": the tx index says " + std::to_string(loc.value()->height) + "/" +
                        std::to_string(loc.value()->index));
      }
    }
    auto by_hash = store_->BlockByHash(hash);
    if (!by_hash.ok()) return Fail(AuditCheck::kBlockIndex, h, by_hash.error());
    if (!by_hash.value() || by_hash.value()->header.height != h) {
      return Fail(AuditCheck::kBlockIndex, h,
                  "block " + crypto::ShortHex(hash, 16) + " is missing from the block-hash index");
    }
    return true;
  }

  void Accept(const Block& b, const crypto::Hash256& hash) {
    parent_ = b.header;
    report_.blocks += 1;
    report_.head_height = b.header.height;
    report_.head_hash = hash;
    report_.state_root = b.header.state_root;
    report_.state_entries = state_.entries().size();
    next_height_ = b.header.height + 1;
  }

  // Merges the stored state scan (key order) with the replayed entries (the same order).
  bool CompareState() {
    const auto& want = state_.entries();
    auto it = want.begin();
    std::optional<std::string> problem;
    auto compare = [&](ByteView key, ByteView value) {
      if (it != want.end() && std::lexicographical_compare(it->first.begin(), it->first.end(),
                                                           key.begin(), key.end())) {
        problem = DescribeStateKey(it->first) + ": in the replayed state but not stored";
        return false;
      }
      if (it == want.end() ||
          !std::equal(it->first.begin(), it->first.end(), key.begin(), key.end())) {
        problem = DescribeStateKey(key) + ": stored (value " + HexPrefix(value) +
                  ") but not in the replayed state";
        return false;
      }
      if (!std::equal(it->second.begin(), it->second.end(), value.begin(), value.end())) {
        problem = DescribeStateKey(key) + ": stored value " + HexPrefix(value) +
                  " differs from the replayed " + HexPrefix(it->second);
        return false;
      }
      ++it;
      return true;
    };
    const uint64_t h = report_.head_height;
    if (Status s = store_->ScanState(compare); !s.ok()) {
      return Fail(AuditCheck::kRead, h, "scanning the stored state: " + s.message());
    }
    if (!problem && it != want.end()) {
      problem = DescribeStateKey(it->first) + ": in the replayed state but not stored";
    }
    if (problem) {
      return Fail(AuditCheck::kState, h,
                  "state at head height " + std::to_string(h) + ": " + *problem);
    }
    return true;
  }

  const genesis::Genesis& genesis_;
  const AuditOptions& options_;
  AuditReport& report_;
  const ledger::ChainStore* store_;  // null: no stored indexes to compare (RPC, or not opened)
  const ledger::KvStore* kv_;        // the store's key-value store when store_ is set
  std::unique_ptr<consensus::Verifier> verifier_;  // BFT chains only
  ledger::MemoryState state_;
  ledger::BlockHeader parent_;
  uint64_t next_height_ = 0;
};

// Pages through `source` from genesis to its target (or to the first missing block when it
// has none); false at the first failure.
bool Walk(Auditor& auditor, BlockSource& source, const AuditOptions& options) {
  const uint64_t page_size = std::max<uint64_t>(1, options.page_blocks);
  for (;;) {
    const uint64_t from = auditor.next_height();
    const std::optional<uint64_t> target = source.target();
    if (target && from > *target) return true;
    const uint64_t want = target ? std::min(page_size, *target - from + 1) : page_size;
    Page page = source.Fetch(from, want);
    const size_t got = page.blocks.size();
    if (!auditor.CheckPage(std::move(page.blocks), std::move(page.certificates))) return false;
    if (page.error) return auditor.Fail(std::move(*page.error));
    if (options.progress && got > 0) options.progress(from + got - 1, source.target().value_or(0));
    if (got == 0) {
      if (from == 0) return auditor.Fail(AuditCheck::kRead, 0, "there is no block 0");
      const std::optional<uint64_t> t = source.target();
      if (!t || from > *t) return true;
      return auditor.Fail(AuditCheck::kRead, from,
                          "block is missing (the head is at " + std::to_string(*t) + ")");
    }
  }
}

AuditReport NewReport(std::string source, const genesis::Genesis& genesis) {
  AuditReport r;
  r.source = std::move(source);
  r.chain_id = genesis.chain_id;
  r.genesis_hash = genesis.Block0().Hash();
  return r;
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
                                                "state"};
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
  // Open checks the format, the genesis hash and the head record. When it fails, the blocks are
  // still walked so a damaged block is named at its height; the open error is reported only if
  // every block passes.
  auto store = ledger::ChainStore::Open(std::make_unique<ReadOnlyKv>(kv), genesis.Block0(),
                                        genesis.InitialState());
  const ledger::ChainStore* opened = store.ok() ? store->get() : nullptr;
  StoreBlockSource source(kv,
                          opened ? std::optional<uint64_t>(opened->head().height) : std::nullopt);
  Auditor auditor(genesis, options, report, opened, &kv);
  if (Walk(auditor, source, options)) {
    if (!opened) {
      auditor.Fail(AuditCheck::kHead, std::nullopt,
                   "every block checks out, but the store does not open: " + store.error());
    } else if (auditor.CheckStoreAtEnd()) {
      report.store_checked = true;
    }
  }
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

}  // namespace cairn::node
