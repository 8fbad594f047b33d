// MemoryKv keeps two layers: `durable` is what survives DropUnsynced() (the disk), and
// `pending` holds the unsynced writes (the page cache), newest value per key, nullopt for a
// delete. A synced write folds `pending` into `durable` first, because an fsync of an
// append-only log makes every earlier write durable too.
#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "base/mutex.h"
#include "ledger/kv.h"

namespace cairn::ledger {
namespace {

// Byte order, as LevelDB's default comparator. Spelled out with memcmp because GCC 12 at
// -O3 reports a false -Wstringop-overread inside std::vector's operator<.
int Compare(const Bytes& a, const Bytes& b) {
  const size_t n = std::min(a.size(), b.size());
  const int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
  if (c != 0) return c;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

struct BytesLess {
  bool operator()(const Bytes& a, const Bytes& b) const { return Compare(a, b) < 0; }
};

}  // namespace

struct MemoryKv::Impl {
  Mutex mu;
  std::map<Bytes, Bytes, BytesLess> durable GUARDED_BY(mu);
  std::map<Bytes, std::optional<Bytes>, BytesLess> pending GUARDED_BY(mu);

  void FoldPending() REQUIRES(mu) {
    for (auto& [key, value] : pending) {
      if (value) {
        durable[key] = std::move(*value);
      } else {
        durable.erase(key);
      }
    }
    pending.clear();
  }
};

std::shared_ptr<MemoryKv::Impl> MemoryKv::MakeImpl() { return std::make_shared<Impl>(); }

Result<std::optional<Bytes>> MemoryKv::Get(ByteView key) const {
  Bytes k(key.begin(), key.end());
  MutexLock lock(&impl_->mu);
  if (auto it = impl_->pending.find(k); it != impl_->pending.end()) {
    return std::optional<Bytes>(it->second);
  }
  if (auto it = impl_->durable.find(k); it != impl_->durable.end()) {
    return std::optional<Bytes>(it->second);
  }
  return std::optional<Bytes>();
}

Status MemoryKv::Write(const WriteBatch& batch, bool sync) {
  MutexLock lock(&impl_->mu);
  if (sync) {
    impl_->FoldPending();
    for (const WriteBatch::Op& op : batch.ops()) {
      if (op.value) {
        impl_->durable[op.key] = *op.value;
      } else {
        impl_->durable.erase(op.key);
      }
    }
  } else {
    for (const WriteBatch::Op& op : batch.ops()) impl_->pending[op.key] = op.value;
  }
  return Status::Ok();
}

Status MemoryKv::Scan(ByteView start, ByteView end,
                      const std::function<bool(ByteView, ByteView)>& fn) const {
  // Copy the range under the lock, then call fn without it: a consistent snapshot, and fn
  // may call back into the store.
  std::vector<std::pair<Bytes, Bytes>> rows;
  {
    Bytes lo(start.begin(), start.end());
    Bytes hi(end.begin(), end.end());
    auto in_range = [&](const Bytes& k) { return hi.empty() || Compare(k, hi) < 0; };
    MutexLock lock(&impl_->mu);
    auto d = impl_->durable.lower_bound(lo);
    auto p = impl_->pending.lower_bound(lo);
    const auto d_end = impl_->durable.end();
    const auto p_end = impl_->pending.end();
    while (true) {
      bool d_ok = d != d_end && in_range(d->first);
      bool p_ok = p != p_end && in_range(p->first);
      if (!d_ok && !p_ok) break;
      const int order = d_ok && p_ok ? Compare(p->first, d->first) : 0;
      if (p_ok && (!d_ok || order <= 0)) {
        if (d_ok && order == 0) ++d;  // the unsynced write shadows the durable one
        if (p->second) rows.emplace_back(p->first, *p->second);
        ++p;
      } else {
        rows.emplace_back(d->first, d->second);
        ++d;
      }
    }
  }
  for (const auto& [key, value] : rows) {
    if (!fn(key, value)) break;
  }
  return Status::Ok();
}

std::unique_ptr<KvSnapshot> MemoryKv::Pin() const {
  // Scan already copies one consistent view under the lock.
  std::vector<std::pair<Bytes, Bytes>> rows;
  (void)Scan({}, {}, [&](ByteView k, ByteView v) {
    rows.emplace_back(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  });
  return MakeCopiedSnapshot(std::move(rows));
}

void MemoryKv::DropUnsynced() {
  MutexLock lock(&impl_->mu);
  impl_->pending.clear();
}

}  // namespace cairn::ledger
