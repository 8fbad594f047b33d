#include "crypto/merkle.h"

#include <bit>
#include <cassert>

namespace cairn::crypto {
namespace {

Hash256 HashLeaf(Sha256& h, const Hash256& d) {
  static constexpr uint8_t kLeafPrefix = 0x00;
  return h.Update(ByteView(&kLeafPrefix, 1)).Update(d).Finish();
}

Hash256 HashNode(Sha256& h, const Hash256& l, const Hash256& r) {
  static constexpr uint8_t kNodePrefix = 0x01;
  return h.Update(ByteView(&kNodePrefix, 1)).Update(l).Update(r).Finish();
}

// Largest power of two strictly less than n (n >= 2).
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

Hash256 Root(Sha256& h, std::span<const Hash256> d) {
  if (d.size() == 1) return HashLeaf(h, d[0]);
  uint64_t k = SplitPoint(d.size());
  Hash256 left = Root(h, d.subspan(0, k));
  Hash256 right = Root(h, d.subspan(k));
  return HashNode(h, left, right);
}

void Path(Sha256& h, std::span<const Hash256> d, uint64_t m, std::vector<Hash256>& out) {
  if (d.size() <= 1) return;
  uint64_t k = SplitPoint(d.size());
  if (m < k) {
    Path(h, d.subspan(0, k), m, out);
    out.push_back(Root(h, d.subspan(k)));
  } else {
    Path(h, d.subspan(k), m - k, out);
    out.push_back(Root(h, d.subspan(0, k)));
  }
}

}  // namespace

Hash256 MerkleRoot(std::span<const Hash256> leaves) {
  Sha256 h;
  if (leaves.empty()) return h.Finish();
  return Root(h, leaves);
}

MerkleProof MerkleProve(std::span<const Hash256> leaves, uint64_t index) {
  assert(index < leaves.size());
  Sha256 h;
  MerkleProof proof;
  proof.index = index;
  proof.tree_size = leaves.size();
  Path(h, leaves, index, proof.path);
  return proof;
}

bool MerkleVerify(const Hash256& root, const Hash256& leaf, const MerkleProof& proof) {
  if (proof.index >= proof.tree_size) return false;
  Sha256 h;
  uint64_t fn = proof.index, sn = proof.tree_size - 1;
  Hash256 r = HashLeaf(h, leaf);
  for (const Hash256& p : proof.path) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = HashNode(h, p, r);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = HashNode(h, r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

}  // namespace cairn::crypto
