#include "ledger/kv.h"

#include <algorithm>
#include <utility>

namespace cairn::ledger {

void WriteBatch::Put(ByteView key, ByteView value) {
  ops_.push_back(Op{Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end())});
  bytes_ += key.size() + value.size();
}

void WriteBatch::Delete(ByteView key) {
  ops_.push_back(Op{Bytes(key.begin(), key.end()), std::nullopt});
  bytes_ += key.size();
}

namespace {

bool Less(ByteView a, ByteView b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

// A frozen copy, sorted by key: what the default Pin and MemoryKv::Pin hand out.
class CopiedSnapshot final : public KvSnapshot {
 public:
  explicit CopiedSnapshot(std::vector<std::pair<Bytes, Bytes>> rows) : rows_(std::move(rows)) {}

  Result<std::optional<Bytes>> Get(ByteView key) const override {
    auto it = std::lower_bound(rows_.begin(), rows_.end(), key,
                               [](const auto& row, ByteView k) { return Less(row.first, k); });
    if (it == rows_.end() ||
        !std::equal(it->first.begin(), it->first.end(), key.begin(), key.end())) {
      return std::optional<Bytes>();
    }
    return std::optional<Bytes>(it->second);
  }

  Status Scan(ByteView start, ByteView end,
              const std::function<bool(ByteView, ByteView)>& fn) const override {
    auto it = std::lower_bound(rows_.begin(), rows_.end(), start,
                               [](const auto& row, ByteView k) { return Less(row.first, k); });
    for (; it != rows_.end(); ++it) {
      if (!end.empty() && !Less(it->first, end)) break;
      if (!fn(it->first, it->second)) break;
    }
    return Status::Ok();
  }

 private:
  std::vector<std::pair<Bytes, Bytes>> rows_;
};

class FailedSnapshot final : public KvSnapshot {
 public:
  explicit FailedSnapshot(Status s) : status_(std::move(s)) {}
  Result<std::optional<Bytes>> Get(ByteView) const override { return status_; }
  Status Scan(ByteView, ByteView, const std::function<bool(ByteView, ByteView)>&) const override {
    return status_;
  }

 private:
  Status status_;
};

}  // namespace

std::unique_ptr<KvSnapshot> MakeCopiedSnapshot(std::vector<std::pair<Bytes, Bytes>> sorted_rows) {
  return std::make_unique<CopiedSnapshot>(std::move(sorted_rows));
}

std::unique_ptr<KvSnapshot> KvStore::Pin() const {
  std::vector<std::pair<Bytes, Bytes>> rows;
  Status s = Scan({}, {}, [&](ByteView k, ByteView v) {
    rows.emplace_back(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  });
  // A store whose scan fails still yields a snapshot; reads of it fail the same way.
  if (!s.ok()) return std::make_unique<FailedSnapshot>(s);
  return MakeCopiedSnapshot(std::move(rows));
}

}  // namespace cairn::ledger
