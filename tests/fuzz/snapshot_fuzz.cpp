// The snapshot formats on hostile bytes (a peer's SnapshotPart, an export file): Manifest and
// Chunk decoders, and VerifyChunk against a fixed verified manifest. The first input byte picks
// the target; the rest is the bytes. Whatever a decoder accepts re-encodes to the same bytes;
// whatever VerifyChunk accepts is exactly the fixture's chunk at that index.
#include "tests/fuzz/snapshot_fixture.h"

using namespace cairn;
using namespace cairn::ledger;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::SnapshotFixture fx;
  if (size == 0) return 0;
  const uint8_t type = data[0];
  const ByteView in = fuzz::Input(data + 1, size - 1);
  switch (type % 3) {
    case 0: {
      auto m = Manifest::Decode(in);
      if (!m.ok()) return 0;
      FUZZ_CHECK(ValidSnapshotBits(m->bits));
      FUZZ_CHECK(m->slots.size() == (size_t{1} << m->bits));
      fuzz::CheckSameBytes(in, m->Encode(), "Manifest");
      (void)VerifyManifest(*m, m->height, m->state_root);
      break;
    }
    case 1: {
      auto c = SnapshotChunk::Decode(in);
      if (!c.ok()) return 0;
      fuzz::CheckSameBytes(in, c->Encode(), "Chunk");
      break;
    }
    case 2: {
      if (in.empty()) return 0;
      const uint32_t index = in[0] % 16;
      const ByteView chunk = in.subspan(1);
      auto entries = VerifyChunk(fx.manifest, index, chunk);
      if (!entries.ok()) return 0;
      auto it = fx.chunks.find(index);
      FUZZ_CHECK(it != fx.chunks.end());
      fuzz::CheckSameBytes(chunk, it->second, "verified chunk");
      break;
    }
  }
  return 0;
}
