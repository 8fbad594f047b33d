#include "ledger/state_root.h"

#include "base/codec.h"

namespace cairn::ledger {

using codec::Writer;

crypto::Hash256 NextStateRoot(const crypto::Hash256& prev_root, uint64_t height,
                              const StateDiff& diff) {
  static constexpr std::string_view kDomain("CAIRN/state/v1\0", 15);
  crypto::Sha256 h;
  Writer w;
  w.Raw(AsBytes(kDomain)).Fixed(prev_root).U64(height).U32(static_cast<uint32_t>(diff.size()));
  h.Update(w.bytes());
  for (const auto& [key, value] : diff) {
    Writer e;
    e.Var(key).U8(value ? 1 : 0);
    if (value) e.Var(*value);
    h.Update(e.bytes());
  }
  return h.Finish();
}

}  // namespace cairn::ledger
