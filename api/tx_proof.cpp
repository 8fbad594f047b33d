// TxProof := index:u32 tree_size:u32 n:u8 path:fixed[32]^n   (integers little endian)
// The path is RFC 9162's audit path: sibling hashes from the leaf level upward.
#include "api/tx_proof.h"

#include "base/codec.h"

namespace cairn::api {

Bytes EncodeTxProof(const crypto::MerkleProof& proof) {
  codec::Writer w;
  w.Reserve(9 + 32 * proof.path.size());
  w.U32(static_cast<uint32_t>(proof.index)).U32(static_cast<uint32_t>(proof.tree_size));
  w.U8(static_cast<uint8_t>(proof.path.size()));
  for (const crypto::Hash256& h : proof.path) w.Fixed(h);
  return w.Take();
}

Result<crypto::MerkleProof> DecodeTxProof(ByteView b) {
  codec::Reader r(b, "tx proof");
  uint32_t index = 0, tree_size = 0;
  uint8_t n = 0;
  r.U32(&index, "index");
  if (r.U32(&tree_size, "tree_size") && index >= tree_size) {
    r.Fail("tree_size", "index " + std::to_string(index) + " is not below tree_size " +
                            std::to_string(tree_size));
  }
  if (r.U8(&n, "n") && n > kMaxTxProofPath) {
    r.Fail("n", std::to_string(n) + " hashes exceeds " + std::to_string(kMaxTxProofPath));
  }
  crypto::MerkleProof proof;
  proof.index = index;
  proof.tree_size = tree_size;
  for (uint8_t i = 0; r.ok() && i < n; ++i) {
    crypto::Hash256 h;
    if (r.Fixed(&h, "path")) proof.path.push_back(h);
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return proof;
}

Result<TxInclusion> VerifyTxProof(ByteView header, const crypto::Hash256& tx_hash, ByteView proof) {
  auto h = ledger::BlockHeader::Decode(header);
  if (!h.ok()) return h.status().Wrap("tx proof");
  auto p = DecodeTxProof(proof);
  if (!p.ok()) return p.status();
  if (p->tree_size != h->tx_count) {
    return Status::Error("tx proof: tree_size " + std::to_string(p->tree_size) +
                         " is not the header's tx_count " + std::to_string(h->tx_count));
  }
  if (!crypto::MerkleVerify(h->tx_root, tx_hash, *p)) {
    return Status::Error("tx proof: the path from transaction " + tx_hash.ToHex() + " at index " +
                         std::to_string(p->index) + " does not lead to the header's tx_root " +
                         h->tx_root.ToHex());
  }
  return TxInclusion{h->height, static_cast<uint32_t>(p->index), h->Hash()};
}

}  // namespace cairn::api
