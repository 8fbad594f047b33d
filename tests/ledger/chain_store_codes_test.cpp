// The codes ChainStore::Commit reports: the node halts on kIoError (its disk failed) and
// treats the others as a bad block.
#include <catch2/catch.hpp>
#include <memory>

#include "ledger/chain_store.h"
#include "ledger/executor.h"
#include "ledger/kv.h"
#include "ledger/state_tree.h"

namespace cairn::ledger {
namespace {

// MemoryKv whose writes fail once `fail` is set, as a full or dying disk would.
class FailingKv final : public KvStore {
 public:
  explicit FailingKv(std::shared_ptr<bool> fail) : fail_(std::move(fail)) {}
  Result<std::optional<Bytes>> Get(ByteView key) const override { return mem_.Get(key); }
  Status Write(const WriteBatch& batch, bool sync) override {
    if (*fail_) return Status::IoError("write: No space left on device");
    return mem_.Write(batch, sync);
  }
  Status Scan(ByteView start, ByteView end,
              const std::function<bool(ByteView, ByteView)>& fn) const override {
    return mem_.Scan(start, end, fn);
  }

 private:
  std::shared_ptr<bool> fail_;
  MemoryKv mem_;
};

Block Genesis() {
  Block g;
  g.header.chain_id = "codes";
  g.header.state_root = StateRootOf(StateDiff{});
  return g;
}

// An empty block on top of `parent` and the execution result Commit expects for it.
std::pair<Block, ExecResult> EmptyChild(const Block& parent) {
  Block b;
  b.header.chain_id = parent.header.chain_id;
  b.header.height = parent.header.height + 1;
  b.header.prev_hash = parent.Hash();
  b.header.state_root = parent.header.state_root;  // no write: the same (empty) state
  ExecResult exec;
  exec.state_root = b.header.state_root;
  return {b, exec};
}

TEST_CASE("chain store: a failed write is an I/O error, a bad block is rejected",
          "[ledger][store]") {
  auto fail = std::make_shared<bool>(false);
  const Block genesis = Genesis();
  auto store = ChainStore::Open(std::make_unique<FailingKv>(fail), genesis, StateDiff{});
  REQUIRE(store.ok());
  auto [block, exec] = EmptyChild(genesis);

  Block wrong_parent = block;
  wrong_parent.header.prev_hash = crypto::Hash256();
  Status rejected = (*store)->Commit(wrong_parent, exec);
  CHECK(rejected.code() == StatusCode::kRejected);

  *fail = true;
  Status failed = (*store)->Commit(block, exec);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.code() == StatusCode::kIoError);
  CHECK((*store)->head().height == 0);

  *fail = false;
  CHECK((*store)->Commit(block, exec).ok());
  CHECK((*store)->head().height == 1);
}

}  // namespace
}  // namespace cairn::ledger
