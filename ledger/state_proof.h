// The state tree's hashes (docs/design/state-tree.md section 2) and its proofs of presence and
// absence with their verifier (section 5). Pure functions of their arguments (SHA-256 and the
// codec only, no store), so a light client can verify without a node; all are thread-safe.
//
// State keys are ledger/state.h's AccountKey and RecordKey (0x01 address, 0x02 address key):
// those are section 2's StateKey byte for byte, so this file does not define them again.
#pragma once

#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"

namespace cairn::ledger {

// KeyHash := SHA-256(StateKey)
crypto::Hash256 KeyHash(ByteView state_key);
// ValueHash := SHA-256("CAIRN/smt/value" 0x00 || value)
crypto::Hash256 ValueHash(ByteView value);
// LeafHash := SHA-256("CAIRN/smt/leaf" 0x00 || key_hash || value_hash)
crypto::Hash256 LeafHash(const crypto::Hash256& key_hash, const crypto::Hash256& value_hash);
// NodeHash := SHA-256("CAIRN/smt/node" 0x00 || left || right)
crypto::Hash256 NodeHash(const crypto::Hash256& left, const crypto::Hash256& right);
// The empty subtree (and the empty state's root): 32 zero bytes, a constant, not a hash.
inline const crypto::Hash256 kEmptyTreeHash{};

// Bit i of a key hash, i = 0 at the root's level; 0 goes left. REQUIRES: i < 256.
inline bool KeyBit(const crypto::Hash256& key_hash, unsigned i) {
  return ((key_hash.data()[i / 8] >> (7 - i % 8)) & 1) != 0;
}

// What a proof proves at the end of the key's path.
enum class StateProofKind : uint8_t {
  kPresent = 1,          // the key's leaf is at `depth`
  kAbsentEmpty = 2,      // the node at `depth` on the key's path is Empty
  kAbsentOtherLeaf = 3,  // the node at `depth` is another key's leaf sharing `depth` bits
};

// A decoded proof. Encoding (the only one accepted; u16 little endian as every codec integer):
//   StateProof := version:u8 (=1) kind:u8 depth:u16 bitmap:fixed[ceil(depth / 8)]
//                 [other_key_hash:fixed[32] other_value_hash:fixed[32]]   (kind 3 only)
//                 sibling:fixed[32] (x popcount(bitmap))
// Bit d - 1 of the bitmap (byte (d - 1) / 8, mask 0x80 >> ((d - 1) % 8)) is set when the
// sibling at level d is not Empty; the set siblings follow from level `depth` up to level 1.
struct StateProof {
  static constexpr uint8_t kVersion = 1;
  static constexpr uint16_t kMaxDepth = 256;
  // 4 + 32 bitmap + 64 other leaf + 256 siblings: anything longer is refused before parsing.
  static constexpr size_t kMaxEncodedSize = 4 + 32 + 64 + 256 * 32;

  StateProofKind kind = StateProofKind::kAbsentEmpty;
  uint16_t depth = 0;
  Bytes bitmap;                           // ceil(depth / 8) bytes
  crypto::Hash256 other_key_hash;         // kind 3 only
  crypto::Hash256 other_value_hash;       // kind 3 only
  std::vector<crypto::Hash256> siblings;  // the set ones, from level `depth` up to level 1

  bool SiblingSet(unsigned level) const {  // REQUIRES: 1 <= level <= depth
    return (bitmap[(level - 1) / 8] & (0x80 >> ((level - 1) % 8))) != 0;
  }

  // REQUIRES: the fields are consistent (bitmap size, one sibling per set bit); the prover
  // builds them so. Encoding a canonical proof and decoding it gives it back.
  Bytes Encode() const;
  // Strict: refuses any encoding but the canonical one (bitmap bits past `depth` set, a listed
  // sibling of 32 zero bytes, the sibling at level `depth` unset when depth >= 1, depth > 256,
  // trailing bytes), with "proof: <field>: <problem> at offset N" (kInvalidArgument).
  static Result<StateProof> Decode(ByteView bytes);
};

// The value a proof is checked against: present with these bytes, or absent.
struct StateClaim {
  static StateClaim Present(ByteView value) { return StateClaim{true, value}; }
  static StateClaim Absent() { return StateClaim{false, {}}; }
  bool present = false;
  ByteView value;  // the Account encoding or the record's raw bytes; borrowed
};

// OK iff `proof_bytes` is the canonical proof that, in the tree whose root is `root`,
// `state_key` holds claim.value (claim.present) or is absent. Errors: decode failures as
// StateProof::Decode (kInvalidArgument); "proof: ..." for a proof of the other claim, a kind 3
// naming the key's own leaf, an other leaf off the key's path, and "proof: root mismatch"
// (kRejected).
Status VerifyStateProof(const crypto::Hash256& root, ByteView state_key, const StateClaim& claim,
                        ByteView proof_bytes);
// As VerifyStateProof for a key known by its hash only (tests that choose key hashes, state
// sync chunks); `value_hash` is nullptr for a claim of absence.
Status VerifyStateProofForKeyHash(const crypto::Hash256& root, const crypto::Hash256& key_hash,
                                  const crypto::Hash256* value_hash, ByteView proof_bytes);

}  // namespace cairn::ledger
