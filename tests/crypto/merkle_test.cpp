#include <catch2/catch.hpp>

#include "crypto/merkle.h"

using namespace cairn;
using namespace cairn::crypto;

namespace {
std::vector<Hash256> Leaves(size_t n) {
  std::vector<Hash256> out;
  for (size_t i = 0; i < n; ++i) {
    uint8_t b[2] = {static_cast<uint8_t>(i), static_cast<uint8_t>(i >> 8)};
    out.push_back(Sha256Of(ByteView(b, 2)));
  }
  return out;
}
Hash256 Leaf(const Hash256& d) {
  uint8_t p = 0;
  Sha256 h;
  return h.Update(ByteView(&p, 1)).Update(d).Finish();
}
Hash256 Node(const Hash256& l, const Hash256& r) {
  uint8_t p = 1;
  Sha256 h;
  return h.Update(ByteView(&p, 1)).Update(l).Update(r).Finish();
}
}  // namespace

TEST_CASE("Merkle root follows the documented shape", "[crypto][merkle]") {
  auto d = Leaves(3);
  REQUIRE(MerkleRoot({}) == Sha256Of({}));
  REQUIRE(MerkleRoot(std::span(d).first(1)) == Leaf(d[0]));
  REQUIRE(MerkleRoot(std::span(d).first(2)) == Node(Leaf(d[0]), Leaf(d[1])));
  // Odd count: the third leaf is promoted, never paired with a copy of itself.
  REQUIRE(MerkleRoot(d) == Node(Node(Leaf(d[0]), Leaf(d[1])), Leaf(d[2])));
  // [a, b, c] and [a, b, c, c] must differ (no duplication malleability).
  auto d4 = d;
  d4.push_back(d[2]);
  REQUIRE(MerkleRoot(d4) != MerkleRoot(d));
}

TEST_CASE("Merkle proofs verify for every leaf of trees of 1..64 leaves", "[crypto][merkle]") {
  for (size_t n = 1; n <= 64; ++n) {
    auto d = Leaves(n);
    Hash256 root = MerkleRoot(d);
    for (size_t i = 0; i < n; ++i) {
      INFO("n=" << n << " i=" << i);
      MerkleProof p = MerkleProve(d, i);
      REQUIRE(MerkleVerify(root, d[i], p));
      // A different leaf, index, size or sibling must fail.
      if (n > 1) REQUIRE_FALSE(MerkleVerify(root, d[(i + 1) % n], p));
      if (!p.path.empty()) {
        MerkleProof bad = p;
        bad.path[bad.path.size() / 2].data()[0] ^= 1;
        REQUIRE_FALSE(MerkleVerify(root, d[i], bad));
        MerkleProof shorter = p;
        shorter.path.pop_back();
        REQUIRE_FALSE(MerkleVerify(root, d[i], shorter));
      }
      MerkleProof longer = p;
      longer.path.push_back(root);
      REQUIRE_FALSE(MerkleVerify(root, d[i], longer));
      if (n > 1) {
        MerkleProof moved = p;
        moved.index = (i + 1) % n;
        REQUIRE_FALSE(MerkleVerify(root, d[i], moved));
      }
      MerkleProof out_of_range = p;
      out_of_range.index = n;
      REQUIRE_FALSE(MerkleVerify(root, d[i], out_of_range));
    }
  }
}

TEST_CASE("an inner node cannot be proven as a leaf", "[crypto][merkle]") {
  auto d = Leaves(4);
  Hash256 root = MerkleRoot(d);
  Hash256 inner = Node(Leaf(d[0]), Leaf(d[1]));
  MerkleProof p;
  p.index = 0;
  p.tree_size = 2;
  p.path = {Node(Leaf(d[2]), Leaf(d[3]))};
  REQUIRE_FALSE(MerkleVerify(root, inner, p));
}
