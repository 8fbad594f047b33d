// Encodings (codec.h integers, little endian; docs/PROTOCOL.md section 10):
//   SnapshotEntry := state_key:bytes[1..161] value:bytes[0..8192]
//   Chunk         := magic "CSC1" height:u64 index:u32 count:u32 SnapshotEntry^count
//                    (entries in strictly ascending KeyHash, each with the chunk's `bits`-bit
//                    prefix `index`; the encoding is at most kMaxChunkBytes)
//   Manifest      := magic "CSM1" version:u8 (=1) height:u64 state_root:fixed[32] bits:u8
//                    entries:u64 bytes:u64 Slot^(2^bits)
//   Slot          := count:u32 size:u32 subtree:fixed[32] chunk_hash:fixed[32]
#include "ledger/snapshot.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <utility>

#include "base/codec.h"
#include "ledger/state_proof.h"

namespace cairn::ledger {

using codec::Reader;
using codec::Writer;
using crypto::Hash256;

namespace {

constexpr std::array<uint8_t, 4> kChunkMagic = {'C', 'S', 'C', '1'};
constexpr std::array<uint8_t, 4> kManifestMagic = {'C', 'S', 'M', '1'};
constexpr uint8_t kStatePrefix = 'S';  // the chain store's state entries (chain_store.h)

std::string Short(const Hash256& h) { return crypto::ShortHex(h, 16); }

// The first 16 bits of a key hash: the finest chunk index.
uint32_t Top16(const Hash256& h) { return (uint32_t{h.data()[0]} << 8) | h.data()[1]; }

// The per-slot and summed rules shared by Decode (on the wire) and VerifyManifest (on a
// struct someone built). `at` gives each slot's offset in the encoding for messages.
Status CheckSlots(const Manifest& m) {
  if (!ValidSnapshotBits(m.bits)) {
    return Status::InvalidArgument("manifest: bits " + std::to_string(m.bits) +
                                   " is not one of 0, 4, 8, 12, 16");
  }
  if (m.slots.size() != (size_t{1} << m.bits)) {
    return Status::InvalidArgument("manifest: " + std::to_string(m.slots.size()) +
                                   " slots, but bits " + std::to_string(m.bits) + " needs " +
                                   std::to_string(size_t{1} << m.bits));
  }
  uint64_t entries = 0, bytes = 0;
  for (size_t i = 0; i < m.slots.size(); ++i) {
    const SnapshotSlot& s = m.slots[i];
    const std::string at = "manifest: slot " + std::to_string(i) + ": ";
    if (s.count == 0) {
      if (s.size != 0 || !s.subtree.IsZero() || !s.chunk_hash.IsZero()) {
        return Status::InvalidArgument(at + "no entries, but a size, subtree or chunk hash is set");
      }
      continue;
    }
    if (s.size > kMaxChunkBytes) {
      return Status::InvalidArgument(at + "size " + std::to_string(s.size) + " exceeds " +
                                     std::to_string(kMaxChunkBytes));
    }
    if (s.size < kChunkHeaderBytes ||
        (s.size - kChunkHeaderBytes) / kMinSnapshotEntryBytes < s.count) {
      return Status::InvalidArgument(at + std::to_string(s.count) + " entries cannot fit in " +
                                     std::to_string(s.size) + " bytes");
    }
    if (s.subtree.IsZero()) return Status::InvalidArgument(at + "entries under an Empty subtree");
    entries += s.count;
    bytes += s.size;
  }
  if (entries != m.entries) {
    return Status::InvalidArgument("manifest: entries " + std::to_string(m.entries) +
                                   " is not the slots' sum " + std::to_string(entries));
  }
  if (bytes != m.bytes) {
    return Status::InvalidArgument("manifest: bytes " + std::to_string(m.bytes) +
                                   " is not the slots' sum " + std::to_string(bytes));
  }
  return Status::Ok();
}

bool MagicIs(ByteView got, const std::array<uint8_t, 4>& want) {
  return got.size() == 4 && std::equal(got.begin(), got.end(), want.begin());
}

}  // namespace

bool ValidSnapshotBits(unsigned bits) { return bits <= kMaxSnapshotBits && bits % 4 == 0; }

uint32_t KeyHashPrefix(const Hash256& key_hash, unsigned bits) {
  return bits == 0 ? 0 : Top16(key_hash) >> (16 - bits);
}

Bytes Manifest::Encode() const {
  Writer w;
  w.Reserve(kManifestHeaderBytes + kSlotBytes * slots.size());
  w.Raw(kManifestMagic).U8(kVersion).U64(height).Fixed(state_root).U8(bits).U64(entries).U64(bytes);
  for (const SnapshotSlot& s : slots)
    w.U32(s.count).U32(s.size).Fixed(s.subtree).Fixed(s.chunk_hash);
  return w.Take();
}

Result<Manifest> Manifest::Decode(ByteView b) {
  if (b.size() > kMaxManifestBytes) {
    return Status::InvalidArgument("manifest: " + std::to_string(b.size()) +
                                   " bytes exceeds the largest manifest (" +
                                   std::to_string(kMaxManifestBytes) + ")");
  }
  Reader r(b, "manifest");
  Manifest m;
  ByteView magic;
  uint8_t version = 0;
  r.Raw(4, &magic, "magic");
  if (r.ok() && !MagicIs(magic, kManifestMagic)) r.FailAt(0, "magic", "is not \"CSM1\"");
  r.U8(&version, "version");
  if (r.ok() && version != kVersion) r.Fail("version", "is not 1");
  r.U64(&m.height, "height");
  r.Fixed(&m.state_root, "state_root");
  r.U8(&m.bits, "bits");
  if (r.ok() && !ValidSnapshotBits(m.bits)) r.Fail("bits", "is not one of 0, 4, 8, 12, 16");
  r.U64(&m.entries, "entries");
  r.U64(&m.bytes, "bytes");
  if (!r.ok()) return r.status();
  // The length is fixed by bits: checked before a slot is read or allocated.
  const size_t want = kManifestHeaderBytes + (kSlotBytes << m.bits);
  if (b.size() != want) {
    return Status::InvalidArgument("manifest: " + std::to_string(b.size()) + " bytes, but bits " +
                                   std::to_string(m.bits) + " makes it " + std::to_string(want));
  }
  m.slots.resize(size_t{1} << m.bits);
  for (SnapshotSlot& s : m.slots) {
    r.U32(&s.count, "slot count");
    r.U32(&s.size, "slot size");
    r.Fixed(&s.subtree, "slot subtree");
    r.Fixed(&s.chunk_hash, "slot chunk_hash");
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  if (Status s = CheckSlots(m); !s.ok()) return s;
  return m;
}

Hash256 Manifest::Hash() const { return crypto::Sha256Of(Encode()); }

Bytes SnapshotChunk::Encode() const {
  size_t size = kChunkHeaderBytes;
  for (const SnapshotEntry& e : entries) size += 8 + e.key.size() + e.value.size();
  Writer w;
  w.Reserve(size);
  w.Raw(kChunkMagic).U64(height).U32(index).U32(static_cast<uint32_t>(entries.size()));
  for (const SnapshotEntry& e : entries) w.Var(e.key).Var(e.value);
  return w.Take();
}

Result<SnapshotChunk> SnapshotChunk::Decode(ByteView b) {
  if (b.size() > kMaxChunkBytes) {
    return Status::InvalidArgument("chunk: " + std::to_string(b.size()) + " bytes exceeds " +
                                   std::to_string(kMaxChunkBytes));
  }
  Reader r(b, "chunk");
  SnapshotChunk c;
  ByteView magic;
  uint32_t count = 0;
  r.Raw(4, &magic, "magic");
  if (r.ok() && !MagicIs(magic, kChunkMagic)) r.FailAt(0, "magic", "is not \"CSC1\"");
  r.U64(&c.height, "height");
  r.U32(&c.index, "index");
  r.Count(&count, "count", kMinSnapshotEntryBytes, UINT32_MAX);
  if (!r.ok()) return r.status();
  c.entries.reserve(count);
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    SnapshotEntry e;
    r.Var(&e.key, kMaxSnapshotKeyBytes, "state_key", 1);
    r.Var(&e.value, kMaxSnapshotValueBytes, "value");
    c.entries.push_back(std::move(e));
  }
  if (Status s = r.Finish(); !s.ok()) return s;
  return c;
}

Hash256 SubtreeHash(std::span<const TreeEntry> e, unsigned depth) {
  if (e.empty()) return kEmptyTreeHash;
  if (e.size() == 1) return LeafHash(e.front().key_hash, e.front().value_hash);
  // Two distinct key hashes differ in some bit below 256; entries ascend, so the ones with
  // bit `depth` clear come first.
  auto split = std::partition_point(
      e.begin(), e.end(), [depth](const TreeEntry& x) { return !KeyBit(x.key_hash, depth); });
  const size_t n = static_cast<size_t>(split - e.begin());
  return NodeHash(SubtreeHash(e.first(n), depth + 1), SubtreeHash(e.subspan(n), depth + 1));
}

Hash256 FoldSlots(std::span<const SnapshotSlot> slots, unsigned bits) {
  struct Node {
    Hash256 hash;
    uint32_t entries;  // capped at 2: only "none", "one" and "more" matter
  };
  std::vector<Node> level;
  level.reserve(slots.size());
  for (const SnapshotSlot& s : slots)
    level.push_back(Node{s.subtree, std::min<uint32_t>(s.count, 2)});
  for (unsigned d = bits; d > 0; --d) {
    std::vector<Node> up(level.size() / 2);
    for (size_t i = 0; i < up.size(); ++i) {
      const Node& l = level[2 * i];
      const Node& r = level[2 * i + 1];
      if (l.entries == 0 && r.entries == 0) {
        up[i] = Node{kEmptyTreeHash, 0};
      } else if (l.entries == 0 && r.entries == 1) {
        up[i] = r;  // the leaf rises
      } else if (r.entries == 0 && l.entries == 1) {
        up[i] = l;
      } else {
        up[i] = Node{NodeHash(l.hash, r.hash), std::min<uint32_t>(l.entries + r.entries, 2)};
      }
    }
    level = std::move(up);
  }
  return level.empty() ? kEmptyTreeHash : level.front().hash;
}

Status VerifyManifest(const Manifest& m, uint64_t height, const Hash256& state_root) {
  if (Status s = CheckSlots(m); !s.ok()) return s;
  if (m.height != height) {
    return Status::Rejected("manifest: height " + std::to_string(m.height) +
                            " is not the trusted header's " + std::to_string(height));
  }
  if (m.state_root != state_root) {
    return Status::Rejected("manifest: state_root " + Short(m.state_root) +
                            " is not the trusted header's " + Short(state_root));
  }
  const Hash256 folded = FoldSlots(m.slots, m.bits);
  if (folded != state_root) {
    return Status::Rejected("manifest: the slots fold to " + Short(folded) +
                            ", not the header's state_root " + Short(state_root));
  }
  return Status::Ok();
}

Status VerifyManifest(const Manifest& m, const BlockHeader& header) {
  return VerifyManifest(m, header.height, header.state_root);
}

Result<std::vector<SnapshotEntry>> VerifyChunk(const Manifest& m, uint32_t index, ByteView chunk) {
  const std::string at = "chunk " + std::to_string(index) + ": ";
  if (index >= m.slots.size()) {
    return Status::InvalidArgument(at + "no such slot (the manifest has " +
                                   std::to_string(m.slots.size()) + ")");
  }
  const SnapshotSlot& slot = m.slots[index];
  if (slot.count == 0) return Status::Rejected(at + "the manifest lists no entries for it");
  // Cheap checks first: the size before anything is decoded, then the fixed header, then
  // the hash over the bytes, and only then the entries.
  if (chunk.size() != slot.size) {
    return Status::Rejected(at + "size " + std::to_string(chunk.size()) +
                            " is not the manifest's " + std::to_string(slot.size));
  }
  {
    Reader r(chunk, "chunk");
    ByteView magic;
    uint64_t height = 0;
    uint32_t got_index = 0, count = 0;
    r.Raw(4, &magic, "magic");
    r.U64(&height, "height");
    r.U32(&got_index, "index");
    r.U32(&count, "count");
    if (!r.ok()) return r.status().Wrap(at);
    if (!MagicIs(magic, kChunkMagic)) return Status::Rejected(at + "magic is not \"CSC1\"");
    if (height != m.height) {
      return Status::Rejected(at + "height " + std::to_string(height) + " is not the manifest's " +
                              std::to_string(m.height));
    }
    if (got_index != index) {
      return Status::Rejected(at + "it says it is chunk " + std::to_string(got_index));
    }
    if (count != slot.count) {
      return Status::Rejected(at + "count " + std::to_string(count) + " is not the manifest's " +
                              std::to_string(slot.count));
    }
  }
  if (const Hash256 h = crypto::Sha256Of(chunk); h != slot.chunk_hash) {
    return Status::Rejected(at + "SHA-256 " + Short(h) + " is not the manifest's chunk_hash " +
                            Short(slot.chunk_hash));
  }
  auto decoded = SnapshotChunk::Decode(chunk);
  if (!decoded.ok()) return decoded.status().Wrap(at);
  std::vector<TreeEntry> tree;
  tree.reserve(decoded->entries.size());
  for (size_t i = 0; i < decoded->entries.size(); ++i) {
    const SnapshotEntry& e = decoded->entries[i];
    const Hash256 kh = KeyHash(e.key);
    if (KeyHashPrefix(kh, m.bits) != index) {
      return Status::Rejected(at + "entry " + std::to_string(i) + "'s key hash " + Short(kh) +
                              " does not have the chunk's " + std::to_string(m.bits) +
                              "-bit prefix");
    }
    if (!tree.empty() && !(tree.back().key_hash < kh)) {
      return Status::Rejected(at + "entry " + std::to_string(i) +
                              "'s key hash does not ascend from the previous entry's");
    }
    tree.push_back(TreeEntry{kh, ValueHash(e.value)});
  }
  if (const Hash256 t = SubtreeHash(tree, m.bits); t != slot.subtree) {
    return Status::Rejected(at + "its entries' subtree is " + Short(t) + ", not the manifest's " +
                            Short(slot.subtree));
  }
  return std::move(decoded->entries);
}

namespace {

struct Pending {
  Hash256 key_hash;
  Bytes key;
  Bytes value;
};

Status CheckEntryBounds(ByteView key, ByteView value) {
  if (key.empty() || key.size() > kMaxSnapshotKeyBytes || value.size() > kMaxSnapshotValueBytes) {
    return Status::Corruption(
        "snapshot: the state entry of key " + crypto::ShortHex(KeyHash(key), 16) + " (" +
        std::to_string(key.size()) + " B key, " + std::to_string(value.size()) +
        " B value) exceeds the snapshot format's bounds");
  }
  return Status::Ok();
}

}  // namespace

Status BuildSnapshot(const KvReader& state, uint64_t height, const Hash256& state_root,
                     const std::function<Status(uint32_t index, Bytes chunk)>& on_chunk,
                     Bytes* manifest_out, const SnapshotBuildOptions& options) {
  const uint8_t begin_key[] = {kStatePrefix};
  const uint8_t end_key[] = {kStatePrefix + 1};
  const std::string at = "snapshot of height " + std::to_string(height) + ": ";

  // Pass 1: bytes and entries per 16-bit prefix, to choose bits without holding entries.
  std::vector<uint64_t> prefix_bytes(size_t{1} << 16, 0);
  std::vector<uint32_t> prefix_count(size_t{1} << 16, 0);
  Status bad;
  Status scanned = state.Scan(begin_key, end_key, [&](ByteView k, ByteView v) {
    const ByteView key = k.subspan(1);
    bad = CheckEntryBounds(key, v);
    if (!bad.ok()) return false;
    const uint32_t p = Top16(KeyHash(key));
    prefix_bytes[p] += 8 + key.size() + v.size();
    ++prefix_count[p];
    return true;
  });
  if (!scanned.ok()) return scanned.Wrap(at + "scanning the state");
  if (!bad.ok()) return bad.Wrap(at);

  // A chunk's size for a given bits: the entries of its prefixes plus the header.
  auto chunk_sizes = [&](unsigned bits) {
    std::vector<uint64_t> sizes(size_t{1} << bits, 0);
    const unsigned shift = 16 - bits;
    for (uint32_t p = 0; p < prefix_bytes.size(); ++p) {
      if (prefix_count[p] != 0) sizes[p >> shift] += prefix_bytes[p];
    }
    for (uint64_t& s : sizes) {
      if (s != 0) s += kChunkHeaderBytes;
    }
    return sizes;
  };
  unsigned bits = kMaxSnapshotBits;
  std::vector<uint64_t> sizes;
  for (unsigned b = 0; b <= kMaxSnapshotBits; b += 4) {
    sizes = chunk_sizes(b);
    if (*std::max_element(sizes.begin(), sizes.end()) <= options.target_chunk_bytes) {
      bits = b;
      break;
    }
  }
  if (bits == kMaxSnapshotBits) sizes = chunk_sizes(bits);
  if (const uint64_t largest = *std::max_element(sizes.begin(), sizes.end());
      largest > kMaxChunkBytes) {
    return Status::Rejected(at + "even at 16 bits a chunk would hold " + std::to_string(largest) +
                            " bytes, over the " + std::to_string(kMaxChunkBytes) +
                            " a chunk may have (too many large records under one prefix)");
  }
  std::vector<uint32_t> counts(sizes.size(), 0);
  for (uint32_t p = 0; p < prefix_count.size(); ++p) counts[p >> (16 - bits)] += prefix_count[p];

  Manifest m;
  m.height = height;
  m.state_root = state_root;
  m.bits = static_cast<uint8_t>(bits);
  m.slots.resize(sizes.size());

  // Pass 2..n: chunks in index order, a group of them per scan, each group's encodings
  // adding up to at most max_memory_bytes (and always at least one chunk).
  const uint32_t n = static_cast<uint32_t>(sizes.size());
  for (uint32_t g0 = 0; g0 < n;) {
    uint64_t held = 0;
    uint32_t g1 = g0;
    while (g1 < n && (g1 == g0 || held + sizes[g1] <= options.max_memory_bytes))
      held += sizes[g1++];
    bool any = false;
    for (uint32_t i = g0; i < g1; ++i) any = any || counts[i] != 0;
    if (any) {
      std::vector<std::vector<Pending>> group(g1 - g0);
      for (uint32_t i = g0; i < g1; ++i) group[i - g0].reserve(counts[i]);
      scanned = state.Scan(begin_key, end_key, [&](ByteView k, ByteView v) {
        const ByteView key = k.subspan(1);
        const Hash256 kh = KeyHash(key);
        const uint32_t index = KeyHashPrefix(kh, bits);
        if (index < g0 || index >= g1) return true;
        group[index - g0].push_back(
            Pending{kh, Bytes(key.begin(), key.end()), Bytes(v.begin(), v.end())});
        return true;
      });
      if (!scanned.ok()) return scanned.Wrap(at + "scanning the state");
      for (uint32_t i = g0; i < g1; ++i) {
        std::vector<Pending>& entries = group[i - g0];
        if (entries.size() != counts[i]) {
          return Status::Corruption(at + "the state changed while it was read (chunk " +
                                    std::to_string(i) + " has " + std::to_string(entries.size()) +
                                    " entries, the first pass counted " +
                                    std::to_string(counts[i]) + "); pin it first");
        }
        if (entries.empty()) continue;
        std::sort(entries.begin(), entries.end(),
                  [](const Pending& a, const Pending& b) { return a.key_hash < b.key_hash; });
        Writer w;
        w.Reserve(sizes[i]);
        w.Raw(kChunkMagic).U64(height).U32(i).U32(static_cast<uint32_t>(entries.size()));
        std::vector<TreeEntry> tree;
        tree.reserve(entries.size());
        for (const Pending& e : entries) {
          w.Var(e.key).Var(e.value);
          tree.push_back(TreeEntry{e.key_hash, ValueHash(e.value)});
        }
        entries.clear();
        entries.shrink_to_fit();
        Bytes chunk = w.Take();
        SnapshotSlot& slot = m.slots[i];
        slot.count = counts[i];
        slot.size = static_cast<uint32_t>(chunk.size());
        slot.subtree = SubtreeHash(tree, bits);
        slot.chunk_hash = crypto::Sha256Of(chunk);
        m.entries += slot.count;
        m.bytes += slot.size;
        if (Status s = on_chunk(i, std::move(chunk)); !s.ok()) return s;
      }
    }
    g0 = g1;
  }
  if (const Hash256 root = FoldSlots(m.slots, bits); root != state_root) {
    return Status::Corruption(at + "the state entries have root " + Short(root) +
                              ", not the header's state_root " + Short(state_root));
  }
  *manifest_out = m.Encode();
  return Status::Ok();
}

}  // namespace cairn::ledger
