// Grammar (docs/design/state-tree.md sections 2 and 5):
//   KeyHash    := SHA-256(StateKey)
//   ValueHash  := SHA-256("CAIRN/smt/value" 0x00 || value)
//   LeafHash   := SHA-256("CAIRN/smt/leaf" 0x00 || key_hash:fixed[32] || value_hash:fixed[32])
//   NodeHash   := SHA-256("CAIRN/smt/node" 0x00 || left:fixed[32] || right:fixed[32])
//   Empty      := 32 zero bytes
//   StateProof := version:u8 (=1) kind:u8 depth:u16 bitmap:fixed[ceil(depth / 8)]
//                 [other_key_hash:fixed[32] other_value_hash:fixed[32]]   (kind 3 only)
//                 sibling:fixed[32] (x popcount(bitmap))
#include "ledger/state_proof.h"

#include <array>
#include <bit>
#include <cstring>
#include <string>
#include <string_view>

#include "base/codec.h"

namespace cairn::ledger {
namespace {

using crypto::Hash256;

constexpr std::string_view kValueTag("CAIRN/smt/value\0", 16);
constexpr std::string_view kLeafTag("CAIRN/smt/leaf\0", 15);
constexpr std::string_view kNodeTag("CAIRN/smt/node\0", 15);

// One Update call per hash: the tag and both halves in one buffer (79 bytes, two SHA-256
// blocks) costs less than three calls through EVP.
Hash256 TaggedPairHash(std::string_view tag, const Hash256& a, const Hash256& b) {
  std::array<uint8_t, 16 + 64> buf;
  std::memcpy(buf.data(), tag.data(), tag.size());
  std::memcpy(buf.data() + tag.size(), a.data(), 32);
  std::memcpy(buf.data() + tag.size() + 32, b.data(), 32);
  return crypto::Sha256Of(ByteView(buf.data(), tag.size() + 64));
}

size_t BitmapBytes(uint16_t depth) { return (static_cast<size_t>(depth) + 7) / 8; }

std::string Short(const Hash256& h) { return crypto::ShortHex(h, 16); }

}  // namespace

Hash256 KeyHash(ByteView state_key) { return crypto::Sha256Of(state_key); }

Hash256 ValueHash(ByteView value) {
  thread_local crypto::Sha256 h;
  return h.Update(AsBytes(kValueTag)).Update(value).Finish();
}

Hash256 LeafHash(const Hash256& key_hash, const Hash256& value_hash) {
  return TaggedPairHash(kLeafTag, key_hash, value_hash);
}

Hash256 NodeHash(const Hash256& left, const Hash256& right) {
  return TaggedPairHash(kNodeTag, left, right);
}

Bytes StateProof::Encode() const {
  codec::Writer w;
  w.Reserve(4 + bitmap.size() + 64 + 32 * siblings.size());
  w.U8(kVersion).U8(static_cast<uint8_t>(kind)).U16(depth).Raw(bitmap);
  if (kind == StateProofKind::kAbsentOtherLeaf) w.Fixed(other_key_hash).Fixed(other_value_hash);
  for (const Hash256& s : siblings) w.Fixed(s);
  return w.Take();
}

Result<StateProof> StateProof::Decode(ByteView bytes) {
  if (bytes.size() > kMaxEncodedSize) {
    return Status::InvalidArgument("proof: " + std::to_string(bytes.size()) +
                                   " bytes exceed the maximum " + std::to_string(kMaxEncodedSize));
  }
  codec::Reader r(bytes, "proof");
  StateProof p;
  uint8_t version = 0, kind = 0;
  if (r.U8(&version, "version") && version != kVersion) {
    r.FailAt(0, "version", std::to_string(version) + " is not 1");
  }
  if (r.U8(&kind, "kind") && (kind < 1 || kind > 3)) {
    r.FailAt(1, "kind", std::to_string(kind) + " is not 1, 2 or 3");
  }
  if (r.U16(&p.depth, "depth") && p.depth > kMaxDepth) {
    r.FailAt(2, "depth", std::to_string(p.depth) + " exceeds 256");
  }
  if (!r.ok()) return r.status();
  p.kind = static_cast<StateProofKind>(kind);

  const size_t bitmap_at = r.offset();
  ByteView bitmap;
  if (!r.Raw(BitmapBytes(p.depth), &bitmap, "bitmap")) return r.status();
  p.bitmap.assign(bitmap.begin(), bitmap.end());
  if (p.depth % 8 != 0) {
    // Bits for levels past `depth` (the low bits of the last byte) must be zero.
    const uint8_t past = static_cast<uint8_t>(0xff >> (p.depth % 8));
    if ((p.bitmap.back() & past) != 0) {
      r.FailAt(bitmap_at + p.bitmap.size() - 1, "bitmap", "bits past depth are set");
      return r.status();
    }
  }
  // A canonical tree never pairs the proven node with an Empty sibling: a leaf would have
  // risen, and an Empty beside an Empty would be one Empty.
  if (p.depth >= 1 && !p.SiblingSet(p.depth)) {
    r.FailAt(bitmap_at + (p.depth - 1) / 8, "bitmap",
             "the sibling at level " + std::to_string(p.depth) + " is unset");
    return r.status();
  }
  if (p.kind == StateProofKind::kAbsentOtherLeaf) {
    r.Fixed(&p.other_key_hash, "other_key_hash");
    r.Fixed(&p.other_value_hash, "other_value_hash");
  }
  size_t count = 0;
  for (uint8_t b : p.bitmap) count += static_cast<size_t>(std::popcount(b));
  // count <= 256, so this bounds the allocation whatever the bytes say.
  if (r.ok() && r.remaining() < 32 * count) {
    r.Fail("sibling", "truncated: " + std::to_string(count) + " siblings need " +
                          std::to_string(32 * count) + " bytes, " + std::to_string(r.remaining()) +
                          " left");
  }
  if (!r.ok()) return r.status();
  p.siblings.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t at = r.offset();
    r.Fixed(&p.siblings[i], "sibling");
    if (p.siblings[i].IsZero()) {
      r.FailAt(at, "sibling", "an Empty sibling is listed (its bitmap bit must be unset)");
      return r.status();
    }
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return p;
}

Status VerifyStateProofForKeyHash(const Hash256& root, const Hash256& key_hash,
                                  const Hash256* value_hash, ByteView proof_bytes) {
  Result<StateProof> decoded = StateProof::Decode(proof_bytes);
  if (!decoded.ok()) return decoded.status();
  const StateProof& p = *decoded;
  Hash256 h;
  switch (p.kind) {
    case StateProofKind::kPresent:
      if (value_hash == nullptr) {
        return Status::Rejected("proof: proves presence (kind 1) but the claim is absence");
      }
      h = LeafHash(key_hash, *value_hash);
      break;
    case StateProofKind::kAbsentEmpty:
      if (value_hash != nullptr) {
        return Status::Rejected("proof: proves absence (kind 2) but the claim is presence");
      }
      h = kEmptyTreeHash;
      break;
    case StateProofKind::kAbsentOtherLeaf:
      if (value_hash != nullptr) {
        return Status::Rejected("proof: proves absence (kind 3) but the claim is presence");
      }
      // Without this, a presence proof would pass as absence (zk-kit issue 417).
      if (p.other_key_hash == key_hash) {
        return Status::Rejected("proof: kind 3 names the key's own leaf");
      }
      for (unsigned i = 0; i < p.depth; ++i) {
        if (KeyBit(p.other_key_hash, i) != KeyBit(key_hash, i)) {
          return Status::Rejected("proof: the other leaf is off the key's path: bit " +
                                  std::to_string(i) + " differs within depth " +
                                  std::to_string(p.depth));
        }
      }
      h = LeafHash(p.other_key_hash, p.other_value_hash);
      break;
  }
  size_t j = 0;
  for (unsigned d = p.depth; d >= 1; --d) {
    const Hash256& s = p.SiblingSet(d) ? p.siblings[j++] : kEmptyTreeHash;
    h = KeyBit(key_hash, d - 1) ? NodeHash(s, h) : NodeHash(h, s);
  }
  if (h != root) {
    return Status::Rejected("proof: root mismatch: the proof gives " + Short(h) + ", the root is " +
                            Short(root));
  }
  return Status::Ok();
}

Status VerifyStateProof(const Hash256& root, ByteView state_key, const StateClaim& claim,
                        ByteView proof_bytes) {
  const Hash256 kh = KeyHash(state_key);
  if (!claim.present) return VerifyStateProofForKeyHash(root, kh, nullptr, proof_bytes);
  const Hash256 vh = ValueHash(claim.value);
  return VerifyStateProofForKeyHash(root, kh, &vh, proof_bytes);
}

}  // namespace cairn::ledger
