// Where the audit (audit/audit.h) reads a chain from: a chain store's key-value store, read
// directly and never written, or a node's getRawBlocks. Internal to the audit; not a public
// API. Thread-compatible: one source per audit.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "audit/audit.h"
#include "base/bytes.h"
#include "ledger/kv.h"

namespace cairn::rpc {
class Client;
}

namespace cairn::audit::internal {

// The chain store's block key ('B' height:u64be, documented in ledger/chain_store.h). The
// audit reads block bytes itself, not through ChainStore::BlockAt, so that a block that no
// longer decodes, or a store whose head record is damaged, is still reported at its height.
Bytes BlockKey(uint64_t height);

// Hands reads through to a KvStore and refuses every write, so nothing the audit calls
// (ChainStore::Open would initialise an empty store) can change the store under audit.
class ReadOnlyKv final : public ledger::KvStore {
 public:
  explicit ReadOnlyKv(const ledger::KvStore& base) : base_(base) {}
  Result<std::optional<Bytes>> Get(ByteView key) const override { return base_.Get(key); }
  Status Write(const ledger::WriteBatch& batch, bool sync) override;
  Status Scan(ByteView start, ByteView end,
              const std::function<bool(ByteView, ByteView)>& fn) const override {
    return base_.Scan(start, end, fn);
  }

 private:
  const ledger::KvStore& base_;
};

// Encoded blocks from height `from` on, and the failure that ended the page early, if any
// (it concerns height from + blocks.size()). certificates[i] is block i's stored commit
// certificate, empty when the source holds none.
struct Page {
  std::vector<Bytes> blocks;
  std::vector<Bytes> certificates;
  std::optional<AuditFailure> error;
};

class BlockSource {
 public:
  virtual ~BlockSource() = default;
  // Up to `max` blocks from `from`; fewer when the chain (or the server's page) ends.
  virtual Page Fetch(uint64_t from, uint64_t max) = 0;
  // The height the audit must reach, when the source knows it.
  virtual std::optional<uint64_t> target() const = 0;
};

// Blocks under their 'B' keys. `head`: the store's head record, when it could be read.
class StoreBlockSource final : public BlockSource {
 public:
  StoreBlockSource(const ledger::KvStore& kv, std::optional<uint64_t> head)
      : kv_(kv), head_(head) {}
  Page Fetch(uint64_t from, uint64_t max) override;
  std::optional<uint64_t> target() const override { return head_; }

 private:
  // Encoded bytes one page stops after (at least one block): bounds a page of large blocks.
  static constexpr size_t kPageBudget = 16 << 20;

  const ledger::KvStore& kv_;
  std::optional<uint64_t> head_;
};

// Blocks from getRawBlocks; the target is the head the node reported in its first answer.
class RpcBlockSource final : public BlockSource {
 public:
  explicit RpcBlockSource(rpc::Client& client) : client_(client) {}
  Page Fetch(uint64_t from, uint64_t max) override;
  std::optional<uint64_t> target() const override { return head_; }

 private:
  // Hex characters one answer should stay under: well below the client's 64 MiB limit.
  static constexpr size_t kAnswerBudget = 16 << 20;

  rpc::Client& client_;
  std::optional<uint64_t> head_;
  size_t largest_hex_ = 0;  // the longest block seen so far, in hex characters
};

}  // namespace cairn::audit::internal
