// A fixed snapshot for the snapshot harness and the seed generator: 40 account-like state
// entries chunked by 4 bits, built from the format's definition (docs/PROTOCOL.md section 10),
// with its manifest verified against its own root. Header-only; pure; thread-compatible.
#pragma once
#include <map>
#include <vector>

#include "crypto/sha256.h"
#include "ledger/snapshot.h"
#include "ledger/state_proof.h"
#include "ledger/state_tree.h"
#include "tests/fuzz/fuzz_util.h"

namespace cairn::fuzz {

// A fixed snapshot of 40 state entries chunked by 4 bits, built from its definition.
struct SnapshotFixture {
  ledger::Manifest manifest;
  std::map<uint32_t, Bytes> chunks;  // index -> encoding (non-empty slots only)

  SnapshotFixture() {
    std::map<crypto::Hash256, ledger::SnapshotEntry> by_hash;
    for (uint8_t i = 0; i < 40; ++i) {
      ledger::SnapshotEntry e;
      e.key = Bytes(33, 0);
      e.key[0] = 0x01;
      e.key[1] = i;
      e.value = Bytes(17, i);
      by_hash.emplace(crypto::Sha256Of(e.key), std::move(e));
    }
    manifest.height = 7;
    manifest.bits = 4;
    manifest.slots.resize(16);
    std::vector<ledger::TreeEntry> all;
    for (uint32_t index = 0; index < 16; ++index) {
      ledger::SnapshotChunk chunk;
      chunk.height = 7;
      chunk.index = index;
      std::vector<ledger::TreeEntry> tree;
      for (const auto& [hash, e] : by_hash) {
        if (ledger::KeyHashPrefix(hash, 4) != index) continue;
        chunk.entries.push_back(e);
        tree.push_back({hash, ledger::ValueHash(e.value)});
      }
      all.insert(all.end(), tree.begin(), tree.end());
      ledger::SnapshotSlot& slot = manifest.slots[index];
      if (chunk.entries.empty()) continue;
      Bytes enc = chunk.Encode();
      slot.count = static_cast<uint32_t>(chunk.entries.size());
      slot.size = static_cast<uint32_t>(enc.size());
      slot.subtree = ledger::SubtreeHash(tree, 4);
      slot.chunk_hash = crypto::Sha256Of(enc);
      manifest.entries += slot.count;
      manifest.bytes += slot.size;
      chunks.emplace(index, std::move(enc));
    }
    manifest.state_root = ledger::RootOf(all);
    FUZZ_CHECK(ledger::VerifyManifest(manifest, 7, manifest.state_root).ok());
  }
};

}  // namespace cairn::fuzz
