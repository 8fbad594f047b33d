// The offline snapshot file of `cairn snapshot export|import` (docs/CLI.md, "The snapshot
// file"): a chain's state at height h (the manifest and chunks of docs/PROTOCOL.md section
// 10), header h with its certificate, and every header below it, so that an import can prove
// all of it from the genesis file alone. A reader streams the file with bounded memory and
// checks each length before it allocates. Thread-compatible: one reader or writer per file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "base/bytes.h"
#include "base/status.h"
#include "ledger/block.h"
#include "ledger/snapshot.h"

namespace cairn::cli {

// SnapshotFile := magic "CAIRN-SNAPSHOT/1" height:u64 header:bytes certificate:bytes
//                 manifest:bytes chunk_count:u32 (index:u32 chunk:bytes)^chunk_count
//                 header_count:u64 (header:bytes certificate:bytes)^header_count
inline constexpr char kSnapshotFileMagic[] = "CAIRN-SNAPSHOT/1";  // 16 bytes, no terminator
inline constexpr size_t kSnapshotMagicBytes = 16;
// A BlockHeader encoding is at most ~66 KB (its consensus_data up to 65536 bytes).
inline constexpr size_t kMaxFileHeaderBytes = 128u << 10;
// A BFT certificate: a signature per validator, at most ledger::kMaxMembers of them.
inline constexpr size_t kMaxFileCertificateBytes = 1u << 20;

// Reads a snapshot file front to back; chunks and headers may be read twice (Rewind*), once
// to verify everything and once to write it.
class SnapshotFileReader {
 public:
  // Opens `path` and reads everything before the chunks: magic, height, header h (decoded,
  // its height checked), certificate and manifest (decoded; verified against the header by
  // the caller). Errors name the part of the file: "the file's manifest: ...".
  static Result<std::unique_ptr<SnapshotFileReader>> Open(const std::string& path);
  ~SnapshotFileReader();
  SnapshotFileReader(const SnapshotFileReader&) = delete;
  SnapshotFileReader& operator=(const SnapshotFileReader&) = delete;

  uint64_t height() const { return height_; }
  const ledger::BlockHeader& header() const { return header_; }
  const Bytes& header_bytes() const { return header_bytes_; }
  const Bytes& certificate() const { return certificate_; }
  const Bytes& manifest_bytes() const { return manifest_bytes_; }
  const ledger::Manifest& manifest() const { return manifest_; }
  uint32_t chunk_count() const { return chunk_count_; }
  uint64_t file_bytes() const { return file_bytes_; }

  // The next chunk (index, encoding), nullopt after the last. Indices strictly ascending,
  // each a non-empty slot of the manifest, its length the slot's size (checked before the
  // chunk is read; VerifyChunk checks the rest).
  Result<std::optional<std::pair<uint32_t, Bytes>>> NextChunk();
  // Skips the chunks (after reading their lengths) to the headers, and reads their count,
  // which must be height - 1.
  Status SkipChunksToHeaders();
  // The next header below (height h-1 first, down to 1) and its certificate; after the last
  // one, checks that nothing follows it. nullopt then.
  Result<std::optional<std::pair<ledger::BlockHeader, Bytes>>> NextHeader();
  Status RewindToChunks();
  Status RewindToHeaders();

 private:
  SnapshotFileReader() = default;
  Status Read(void* out, size_t n, const std::string& what);
  Status ReadU32(uint32_t* v, const std::string& what);
  Status ReadU64(uint64_t* v, const std::string& what);
  Status ReadBytes(Bytes* v, size_t max, const std::string& what);

  std::FILE* f_ = nullptr;
  uint64_t file_bytes_ = 0;
  uint64_t height_ = 0;
  ledger::BlockHeader header_;
  Bytes header_bytes_;
  Bytes certificate_;
  Bytes manifest_bytes_;
  ledger::Manifest manifest_;
  uint32_t chunk_count_ = 0;
  long chunks_at_ = 0;   // file offset of the first chunk
  long headers_at_ = 0;  // file offset of the first header (after header_count); 0: not known
  uint32_t chunks_read_ = 0;
  int64_t last_index_ = -1;
  uint64_t headers_read_ = 0;
};

// Writes a snapshot file to `path` + ".partial" and renames it to `path` when Finish
// succeeds (after an fsync), so a reader never sees half a file under the final name.
class SnapshotFileWriter {
 public:
  // Refuses to overwrite an existing `path`.
  static Result<std::unique_ptr<SnapshotFileWriter>> Create(const std::string& path);
  ~SnapshotFileWriter();  // removes the partial file unless Finish succeeded
  SnapshotFileWriter(const SnapshotFileWriter&) = delete;
  SnapshotFileWriter& operator=(const SnapshotFileWriter&) = delete;

  Status Write(ByteView b);
  Status WriteU32(uint32_t v);
  Status WriteU64(uint64_t v);
  Status WriteBytes(ByteView b);  // len:u32 then the bytes
  uint64_t written() const { return written_; }
  Status Finish();

 private:
  SnapshotFileWriter() = default;
  std::string path_;
  std::string partial_;
  std::FILE* f_ = nullptr;
  uint64_t written_ = 0;
  bool done_ = false;
};

}  // namespace cairn::cli
