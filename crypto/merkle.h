// Binary Merkle tree over 32-byte leaves (transaction hashes), RFC 6962/9162 shape:
//   MTH({})      = SHA-256("")
//   leaf(d)      = SHA-256(0x00 || d)
//   node(l, r)   = SHA-256(0x01 || l || r)
//   MTH(D[0:n])  = node(MTH(D[0:k]), MTH(D[k:n])) where k is the largest power of two < n
// The 0x00/0x01 prefixes keep a leaf from ever passing for an inner node. An odd node is
// never duplicated (Bitcoin's CVE-2012-2459); the split rule above decides the shape.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "crypto/sha256.h"

namespace cairn::crypto {

struct MerkleProof {
  uint64_t index = 0;  // position of the leaf, [0, tree_size)
  uint64_t tree_size = 0;
  std::vector<Hash256> path;  // sibling hashes, from the leaf level upward
};

Hash256 MerkleRoot(std::span<const Hash256> leaves);
// REQUIRES: index < leaves.size()
MerkleProof MerkleProve(std::span<const Hash256> leaves, uint64_t index);
// Checks that `leaf` sits at proof.index in a tree of proof.tree_size leaves with `root`
// (RFC 9162 section 2.1.3.2); needs nothing but the root.
bool MerkleVerify(const Hash256& root, const Hash256& leaf, const MerkleProof& proof);

}  // namespace cairn::crypto
