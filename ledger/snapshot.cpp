// Placeholder bodies so that dependants compile; the implementation follows in the next commit.
#include "ledger/snapshot.h"

namespace cairn::ledger {

Bytes Manifest::Encode() const { return {}; }
Result<Manifest> Manifest::Decode(ByteView) { return Status::Error("manifest: not implemented"); }
crypto::Hash256 Manifest::Hash() const { return crypto::Sha256Of(Encode()); }
Bytes SnapshotChunk::Encode() const { return {}; }
Result<SnapshotChunk> SnapshotChunk::Decode(ByteView) {
  return Status::Error("chunk: not implemented");
}
bool ValidSnapshotBits(unsigned bits) { return bits <= 16 && bits % 4 == 0; }
uint32_t KeyHashPrefix(const crypto::Hash256& key_hash, unsigned bits) {
  const uint32_t top = (uint32_t{key_hash.data()[0]} << 8) | key_hash.data()[1];
  return bits == 0 ? 0 : top >> (16 - bits);
}
crypto::Hash256 SubtreeHash(std::span<const TreeEntry>, unsigned) { return {}; }
crypto::Hash256 FoldSlots(std::span<const SnapshotSlot>, unsigned) { return {}; }
Status VerifyManifest(const Manifest&, uint64_t, const crypto::Hash256&) {
  return Status::Error("manifest: not implemented");
}
Status VerifyManifest(const Manifest& m, const BlockHeader& h) {
  return VerifyManifest(m, h.height, h.state_root);
}
Result<std::vector<SnapshotEntry>> VerifyChunk(const Manifest&, uint32_t, ByteView) {
  return Status::Error("chunk: not implemented");
}
Status BuildSnapshot(const KvReader&, uint64_t, const crypto::Hash256&,
                     const std::function<Status(uint32_t, Bytes)>&, Bytes*,
                     const SnapshotBuildOptions&) {
  return Status::Error("snapshot: not implemented");
}

}  // namespace cairn::ledger
