// The state root: a commitment to the whole account state after a block.
//
// Construction (v1, "chained state digest"):
//   root(h) = SHA-256("CAIRN/state/v1" 0x00 || root(h-1) || h:u64 || n:u32 ||
//                     (key:bytes present:u8 [value:bytes])^n)
// over the n state entries block h wrote, in key byte order; root(-1) is 32 zero bytes and
// block 0 (genesis) writes the initial accounts. By induction root(h) commits to the state
// after block h; computing it costs O(entries written by the block), never O(state size).
// It does not give per-key proofs: a sparse Merkle tree will replace this function, so
// nothing outside ledger/ may depend on how the root is built.
#pragma once

#include <cstdint>

#include "crypto/sha256.h"
#include "ledger/state.h"

namespace cairn::ledger {

crypto::Hash256 NextStateRoot(const crypto::Hash256& prev_root, uint64_t height,
                              const StateDiff& diff);

}  // namespace cairn::ledger
