// The walk is a pipeline of three stages over a bounded window of blocks ahead of the replay:
// this thread reads and decodes a page of blocks and submits each to the VerifyPool, whose
// threads verify signatures and certificates in height order; this thread then checks the
// oldest block of the window against its parent and replays it, waiting for (and helping with)
// its verification only if that is not done yet. A read, decode or missing-block failure is a
// slot of the window like a block, so it is reported only after every block below it passed:
// the failure named is the lowest failing height, as when the blocks are checked one by one.
#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "audit/auditor.h"
#include "audit/source.h"

namespace cairn::audit::internal {
namespace {

using ledger::Block;

// Encoded bytes read ahead of the replay before the walk stops reading: with the decoded
// blocks, this bounds the audit's memory beyond the replayed state, whatever the page size.
constexpr size_t kMaxBytesAhead = 32 << 20;
// Blocks per read, whatever AuditOptions::page_blocks says: keeps heights far from overflow.
constexpr uint64_t kMaxPage = 1 << 16;

// One position of the window: a block, or where the walk ends.
struct Slot {
  std::unique_ptr<Checked> checked;     // a decoded block above genesis
  Bytes genesis;                        // block 0, as stored: checked on its bytes
  std::optional<AuditFailure> failure;  // the walk fails here
  bool end = false;                     // the walk ends here: every block before it passed
  size_t bytes = 0;                     // encoded size, for kMaxBytesAhead
};

class Window {
 public:
  Window(Auditor& auditor, BlockSource& source, const AuditOptions& options)
      : auditor_(auditor),
        source_(source),
        options_(options),
        page_(std::clamp<uint64_t>(options.page_blocks, 1, kMaxPage)),
        next_(auditor.next_height()),
        pool_(auditor.rules(), std::max(1u, options.verify_threads)) {}

  bool Run() {
    for (;;) {
      // A page is read when there is room for a whole one, so that blocks stay queued for
      // the pool while this thread replays: up to two pages ahead.
      if (reading_ && (ahead_.empty() || (ahead_.size() <= page_ && bytes_ < kMaxBytesAhead))) {
        ReadPage();
      }
      Slot& s = ahead_.front();
      if (s.failure) return auditor_.Fail(std::move(*s.failure));
      if (s.end) return auditor_.CheckTreeAtEnd();
      if (s.checked) {
        pool_.Wait(*s.checked);
        if (!auditor_.CheckBlock(*s.checked)) return false;
      } else if (!auditor_.CheckGenesis(s.genesis)) {
        return false;
      }
      bytes_ -= s.bytes;
      ahead_.pop_front();
      Progress();
    }
  }

 private:
  // Appends the next page to the window, or the slot where the walk ends.
  void ReadPage() {
    const std::optional<uint64_t> target = source_.target();
    if (target && next_ > *target) return End(std::nullopt);
    const uint64_t want = target ? std::min(page_, *target - next_ + 1) : page_;
    Page page = source_.Fetch(next_, want);
    const uint64_t from = next_;
    for (size_t i = 0; i < page.blocks.size(); ++i) {
      Slot s;
      s.bytes = page.blocks[i].size() + page.certificates[i].size();
      if (next_ == 0) {
        s.genesis = std::move(page.blocks[i]);
      } else {
        auto block = Block::Decode(page.blocks[i]);
        if (!block.ok()) {
          return End(
              AuditFailure{AuditCheck::kDecode, next_, "block does not decode: " + block.error()});
        }
        s.checked = std::make_unique<Checked>();
        s.checked->block = std::move(block.value());
        s.checked->certificate = std::move(page.certificates[i]);
        pool_.Submit(*s.checked);
      }
      bytes_ += s.bytes;
      ahead_.push_back(std::move(s));
      ++next_;
    }
    if (page.error) return End(std::move(*page.error));
    if (!page.blocks.empty()) return;
    if (from == 0) return End(AuditFailure{AuditCheck::kRead, 0, "there is no block 0"});
    const std::optional<uint64_t> t = source_.target();
    if (!t || from > *t) return End(std::nullopt);
    End(AuditFailure{AuditCheck::kRead, from,
                     "block is missing (the head is at " + std::to_string(*t) + ")"});
  }

  // The last slot: the walk fails there with `failure`, or ends well.
  void End(std::optional<AuditFailure> failure) {
    Slot s;
    s.failure = std::move(failure);
    s.end = !s.failure;
    ahead_.push_back(std::move(s));
    reading_ = false;
  }

  void Progress() {
    if (!options_.progress && !options_.progress_counts) return;
    const AuditReport& r = auditor_.report();
    const uint64_t target = source_.target().value_or(0);
    if (options_.progress) options_.progress(r.head_height, target);
    if (options_.progress_counts) {
      options_.progress_counts(AuditProgress{r.head_height, target, r.blocks, r.transactions});
    }
  }

  Auditor& auditor_;
  BlockSource& source_;
  const AuditOptions& options_;
  const uint64_t page_;
  uint64_t next_;  // the height the next page starts at
  bool reading_ = true;
  size_t bytes_ = 0;  // encoded bytes in ahead_
  // Declared before the pool, so destroyed after it: the pool's tasks point into it.
  std::deque<Slot> ahead_;
  VerifyPool pool_;
};

}  // namespace

bool Walk(Auditor& auditor, BlockSource& source, const AuditOptions& options) {
  Window window(auditor, source, options);
  return window.Run();
}

}  // namespace cairn::audit::internal
