// Raft's decoders on hostile bytes: DecodeMessage (from a peer), DecodeEntry and
// DecodeHardState (from the store). Each value decoded re-encodes to the same bytes and
// decodes back equal.
#include "consensus/raft/messages.h"
#include "tests/fuzz/fuzz_util.h"

using namespace cairn;
using namespace cairn::consensus::raft;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView in = fuzz::Input(data, size);
  if (auto m = DecodeMessage(in); m.ok()) {
    const Bytes re = EncodeMessage(*m);
    fuzz::CheckSameBytes(in, re, "raft message");
    auto again = DecodeMessage(re);
    FUZZ_CHECK(again.ok() && *again == *m);
    FUZZ_CHECK(!MsgTypeName(m->type).empty());
    for (size_t i = 0; i < m->entries.size(); ++i) {
      FUZZ_CHECK(m->entries[i].index == m->index + 1 + i);
    }
  } else {
    FUZZ_CHECK(!m.error().empty());
  }
  constexpr uint64_t kIndex = 7;
  if (auto e = DecodeEntry(in, kIndex); e.ok()) {
    const Bytes re = EncodeEntry(*e);
    fuzz::CheckSameBytes(in, re, "raft entry");
    auto again = DecodeEntry(re, kIndex);
    FUZZ_CHECK(again.ok() && *again == *e && e->index == kIndex);
  }
  if (auto hs = DecodeHardState(in); hs.ok()) {
    const Bytes re = EncodeHardState(*hs);
    fuzz::CheckSameBytes(in, re, "raft hard state");
    auto again = DecodeHardState(re);
    FUZZ_CHECK(again.ok() && *again == *hs);
  }
  return 0;
}
