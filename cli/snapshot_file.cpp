// SnapshotFile := magic "CAIRN-SNAPSHOT/1" height:u64 header:bytes certificate:bytes
//                 manifest:bytes chunk_count:u32 (index:u32 chunk:bytes)^chunk_count
//                 header_count:u64 (header:bytes certificate:bytes)^header_count
// u32, u64: little endian (base/codec.h); bytes := len:u32 byte^len. header: BlockHeader of
// height h; manifest: Manifest of height h; chunks: every non-empty slot's Chunk, ascending
// index; headers: h-1 down to 1 (the order a store's header backfill takes them), each with
// its certificate (empty on Raft and solo chains). Nothing may follow the last header.
#include "cli/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cairn::cli {
namespace {

std::string Errno() { return std::strerror(errno); }

}  // namespace

Result<std::unique_ptr<SnapshotFileReader>> SnapshotFileReader::Open(const std::string& path) {
  std::unique_ptr<SnapshotFileReader> r(new SnapshotFileReader());
  r->f_ = std::fopen(path.c_str(), "rb");
  if (!r->f_) return Status::Error(path + ": " + Errno());
  if (std::fseek(r->f_, 0, SEEK_END) != 0) return Status::Error(path + ": " + Errno());
  r->file_bytes_ = static_cast<uint64_t>(std::ftell(r->f_));
  std::rewind(r->f_);
  char magic[kSnapshotMagicBytes];
  if (Status s = r->Read(magic, sizeof magic, "the magic"); !s.ok()) return s;
  if (std::memcmp(magic, kSnapshotFileMagic, kSnapshotMagicBytes) != 0) {
    return Status::Error(path + " is not a Cairn snapshot file (its first 16 bytes are not \"" +
                         std::string(kSnapshotFileMagic) + "\")");
  }
  if (Status s = r->ReadU64(&r->height_, "the height"); !s.ok()) return s;
  if (Status s = r->ReadBytes(&r->header_bytes_, kMaxFileHeaderBytes, "the header"); !s.ok()) {
    return s;
  }
  auto header = ledger::BlockHeader::Decode(r->header_bytes_);
  if (!header.ok()) return Status::Error("the file's header does not decode: " + header.error());
  r->header_ = std::move(header.value());
  if (r->header_.height != r->height_ || r->height_ == 0) {
    return Status::Error("the file's header is of height " + std::to_string(r->header_.height) +
                         ", not the file's height " + std::to_string(r->height_));
  }
  if (Status s = r->ReadBytes(&r->certificate_, kMaxFileCertificateBytes, "the certificate");
      !s.ok()) {
    return s;
  }
  if (Status s = r->ReadBytes(&r->manifest_bytes_, ledger::kMaxManifestBytes, "the manifest");
      !s.ok()) {
    return s;
  }
  auto manifest = ledger::Manifest::Decode(r->manifest_bytes_);
  if (!manifest.ok()) {
    return Status::Error("the file's manifest does not decode: " + manifest.error());
  }
  r->manifest_ = std::move(manifest.value());
  if (Status s = r->ReadU32(&r->chunk_count_, "the chunk count"); !s.ok()) return s;
  uint32_t non_empty = 0;
  for (const ledger::SnapshotSlot& slot : r->manifest_.slots) non_empty += slot.count > 0;
  if (r->chunk_count_ != non_empty) {
    return Status::Error("the file holds " + std::to_string(r->chunk_count_) +
                         " chunks, but its manifest lists " + std::to_string(non_empty));
  }
  r->chunks_at_ = std::ftell(r->f_);
  return r;
}

SnapshotFileReader::~SnapshotFileReader() {
  if (f_) std::fclose(f_);
}

Status SnapshotFileReader::Read(void* out, size_t n, const std::string& what) {
  if (n == 0) return Status::Ok();
  if (std::fread(out, 1, n, f_) != n) {
    return Status::Error(std::ferror(f_) ? "reading " + what + ": " + Errno()
                                         : "the file ends inside " + what + " (truncated)");
  }
  return Status::Ok();
}

Status SnapshotFileReader::ReadU32(uint32_t* v, const std::string& what) {
  uint8_t b[4];
  if (Status s = Read(b, 4, what); !s.ok()) return s;
  *v = 0;
  for (int i = 3; i >= 0; --i) *v = *v << 8 | b[i];
  return Status::Ok();
}

Status SnapshotFileReader::ReadU64(uint64_t* v, const std::string& what) {
  uint8_t b[8];
  if (Status s = Read(b, 8, what); !s.ok()) return s;
  *v = 0;
  for (int i = 7; i >= 0; --i) *v = *v << 8 | b[i];
  return Status::Ok();
}

Status SnapshotFileReader::ReadBytes(Bytes* v, size_t max, const std::string& what) {
  uint32_t len = 0;
  if (Status s = ReadU32(&len, what + "'s length"); !s.ok()) return s;
  // Bounded, and no larger than what is left of the file, before anything is allocated.
  const long at = std::ftell(f_);
  if (len > max || at < 0 || len > file_bytes_ - static_cast<uint64_t>(at)) {
    return Status::Error(what + " claims " + std::to_string(len) + " bytes (at most " +
                         std::to_string(max) + ", and " +
                         std::to_string(file_bytes_ - static_cast<uint64_t>(std::max(0L, at))) +
                         " are left in the file)");
  }
  v->resize(len);
  return Read(v->data(), len, what);
}

Result<std::optional<std::pair<uint32_t, Bytes>>> SnapshotFileReader::NextChunk() {
  using Out = std::optional<std::pair<uint32_t, Bytes>>;
  if (chunks_read_ == chunk_count_) return Out();
  const std::string what = "chunk #" + std::to_string(chunks_read_) + " of the file";
  uint32_t index = 0;
  if (Status s = ReadU32(&index, what + "'s index"); !s.ok()) return s;
  if (index >= manifest_.slots.size() || static_cast<int64_t>(index) <= last_index_ ||
      manifest_.slots[index].count == 0) {
    return Status::Error(what + " says index " + std::to_string(index) +
                         ": not the next non-empty slot of the manifest");
  }
  const std::string name = "chunk " + std::to_string(index);
  Bytes chunk;
  if (Status s = ReadBytes(&chunk, manifest_.slots[index].size, name); !s.ok()) return s;
  if (chunk.size() != manifest_.slots[index].size) {
    return Status::Error(name + ": " + std::to_string(chunk.size()) +
                         " bytes, but the manifest says " +
                         std::to_string(manifest_.slots[index].size));
  }
  last_index_ = index;
  chunks_read_ += 1;
  return Out(std::pair<uint32_t, Bytes>(index, std::move(chunk)));
}

Status SnapshotFileReader::SkipChunksToHeaders() {
  while (chunks_read_ < chunk_count_) {
    const std::string what = "chunk #" + std::to_string(chunks_read_) + " of the file";
    uint32_t index = 0;
    uint32_t len = 0;
    if (Status s = ReadU32(&index, what + "'s index"); !s.ok()) return s;
    if (Status s = ReadU32(&len, what + "'s length"); !s.ok()) return s;
    if (index >= manifest_.slots.size() || static_cast<int64_t>(index) <= last_index_ ||
        len != manifest_.slots[index].size || len == 0) {
      return Status::Error(what + " (index " + std::to_string(index) + ", " + std::to_string(len) +
                           " bytes) is not the manifest's next chunk");
    }
    if (std::fseek(f_, len, SEEK_CUR) != 0) return Status::Error("seeking: " + Errno());
    last_index_ = index;
    chunks_read_ += 1;
  }
  uint64_t count = 0;
  if (Status s = ReadU64(&count, "the header count"); !s.ok()) return s;
  if (count != height_ - 1) {
    return Status::Error("the file holds " + std::to_string(count) + " headers below " +
                         std::to_string(height_) + ", not " + std::to_string(height_ - 1) +
                         " (every header from 1 up is needed to link it to genesis)");
  }
  headers_at_ = std::ftell(f_);
  headers_read_ = 0;
  return Status::Ok();
}

Result<std::optional<std::pair<ledger::BlockHeader, Bytes>>> SnapshotFileReader::NextHeader() {
  using Out = std::optional<std::pair<ledger::BlockHeader, Bytes>>;
  if (headers_read_ == height_ - 1) {
    uint8_t extra;
    if (std::fread(&extra, 1, 1, f_) == 1) {
      return Status::Error("the file has bytes after its last header");
    }
    return Out();
  }
  const uint64_t h = height_ - 1 - headers_read_;
  const std::string what = "header " + std::to_string(h);
  Bytes bytes;
  Bytes cert;
  if (Status s = ReadBytes(&bytes, kMaxFileHeaderBytes, what); !s.ok()) return s;
  if (Status s = ReadBytes(&cert, kMaxFileCertificateBytes, what + "'s certificate"); !s.ok()) {
    return s;
  }
  auto header = ledger::BlockHeader::Decode(bytes);
  if (!header.ok()) return Status::Error(what + " does not decode: " + header.error());
  headers_read_ += 1;
  return Out(std::pair<ledger::BlockHeader, Bytes>(std::move(header.value()), std::move(cert)));
}

Status SnapshotFileReader::RewindToChunks() {
  if (std::fseek(f_, chunks_at_, SEEK_SET) != 0) return Status::Error("seeking: " + Errno());
  chunks_read_ = 0;
  last_index_ = -1;
  return Status::Ok();
}

Status SnapshotFileReader::RewindToHeaders() {
  if (headers_at_ == 0) {
    if (Status s = RewindToChunks(); !s.ok()) return s;
    return SkipChunksToHeaders();
  }
  if (std::fseek(f_, headers_at_, SEEK_SET) != 0) return Status::Error("seeking: " + Errno());
  headers_read_ = 0;
  return Status::Ok();
}

Result<std::unique_ptr<SnapshotFileWriter>> SnapshotFileWriter::Create(const std::string& path) {
  if (::access(path.c_str(), F_OK) == 0) {
    return Status::Error(path + " exists: refusing to overwrite it");
  }
  std::unique_ptr<SnapshotFileWriter> w(new SnapshotFileWriter());
  w->path_ = path;
  w->partial_ = path + ".partial";
  w->f_ = std::fopen(w->partial_.c_str(), "wb");
  if (!w->f_) return Status::Error(w->partial_ + ": " + Errno());
  return w;
}

SnapshotFileWriter::~SnapshotFileWriter() {
  if (f_) std::fclose(f_);
  if (!done_) ::unlink(partial_.c_str());
}

Status SnapshotFileWriter::Write(ByteView b) {
  if (!b.empty() && std::fwrite(b.data(), 1, b.size(), f_) != b.size()) {
    return Status::Error("writing " + partial_ + ": " + Errno());
  }
  written_ += b.size();
  return Status::Ok();
}

Status SnapshotFileWriter::WriteU32(uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return Write(ByteView(b, 4));
}

Status SnapshotFileWriter::WriteU64(uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return Write(ByteView(b, 8));
}

Status SnapshotFileWriter::WriteBytes(ByteView b) {
  if (Status s = WriteU32(static_cast<uint32_t>(b.size())); !s.ok()) return s;
  return Write(b);
}

Status SnapshotFileWriter::Finish() {
  if (std::fflush(f_) != 0 || ::fsync(::fileno(f_)) != 0) {
    return Status::Error("writing " + partial_ + ": " + Errno());
  }
  std::fclose(f_);
  f_ = nullptr;
  if (::rename(partial_.c_str(), path_.c_str()) != 0) {
    return Status::Error("renaming " + partial_ + " to " + path_ + ": " + Errno());
  }
  done_ = true;
  return Status::Ok();
}

}  // namespace cairn::cli
