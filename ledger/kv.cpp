#include "ledger/kv.h"

namespace cairn::ledger {

void WriteBatch::Put(ByteView key, ByteView value) {
  ops_.push_back(Op{Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end())});
  bytes_ += key.size() + value.size();
}

void WriteBatch::Delete(ByteView key) {
  ops_.push_back(Op{Bytes(key.begin(), key.end()), std::nullopt});
  bytes_ += key.size();
}

}  // namespace cairn::ledger
