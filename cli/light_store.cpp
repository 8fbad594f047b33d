// <dir>/set := MemberSet (ledger/governance.h), the validators the newest header names
// <dir>/headers := Record*
// Record := height:u64 header:bytes[222..65821] proof:bytes[0..69677]   (little endian)
// `proof` is the proposer signature (solo, Raft) or the certificate (BFT). The file is ours,
// but a disk or an editor can damage it, so it is read with the same bounds as the network.
#include "cli/light_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/codec.h"
#include "base/file.h"

namespace cairn::cli {
namespace {

constexpr size_t kMaxHeaderBytes = 65'821;  // a v2 header (docs/PROTOCOL.md section 5)
constexpr size_t kMaxProofBytes = 1 + 8 + 4 + 32 + 4 + 1024 * (4 + 64);
// A store this size holds about two million solo or Raft headers.
constexpr size_t kMaxStoreBytes = size_t{512} << 20;
// 1,024 members of at most 8 + 64 + 64 + 255 + 2 bytes.
constexpr size_t kMaxSetBytes = 512 * 1024;

// Writes `b` to `path` (truncating, or appending with O_APPEND in `flags`) and fsyncs it: what
// is on disk when this returns ok survives a crash.
Status WriteSynced(const std::string& path, const Bytes& b, int flags = O_TRUNC) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
  if (fd < 0) return Status::IoError(path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < b.size()) {
    const ssize_t n = ::write(fd, b.data() + done, b.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return Status::IoError(path + ": write: " + why);
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return Status::IoError(path + ": fsync failed");
  return Status::Ok();
}

}  // namespace

std::string LightStore::DefaultDir(const crypto::Hash256& genesis_hash) {
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cairn/light/" + genesis_hash.ToHex();
}

Result<LightStore> LightStore::Open(const std::string& dir, bool linked) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("light store " + dir + ": " + ec.message());
  LightStore store(dir, linked);
  const std::string lock = dir + "/lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("light store " + lock + ": " + std::strerror(errno));
  store.lock_fd_ = std::shared_ptr<int>(new int(fd), [](int* p) {
    ::close(*p);
    delete p;
  });
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return Status::Error("light store " + dir + " is in use by another cairn (" + lock + ")");
  }
  if (auto set = ReadRegularFile(dir + "/set", kMaxSetBytes); set.ok()) {
    // A damaged set file is ignored, not an error: the set is re-derived from a node and
    // checked against a trusted header whenever it is needed (cli/prove_command.cpp).
    auto decoded = ledger::MemberSet::Decode(AsBytes(set->data));
    if (decoded.ok()) store.saved_set_ = decoded->Validators();
  } else if (set.status().code() != StatusCode::kNotFound) {
    return Status::Error("light store: " + set.status().message());
  }
  auto file = ReadRegularFile(store.path(), kMaxStoreBytes);
  if (!file.ok()) {
    if (file.status().code() == StatusCode::kNotFound) return store;
    return Status::Error("light store: " + file.status().message());
  }
  const ByteView data = AsBytes(file->data);
  codec::Reader r(data, "light store " + store.path());
  while (r.ok() && r.remaining() > 0) {
    const size_t start = r.offset();
    uint64_t height = 0;
    TrustedHeader t;
    if (!r.U64(&height, "height") || !r.Var(&t.encoded, kMaxHeaderBytes, "header") ||
        !r.Var(&t.proof, kMaxProofBytes, "proof")) {
      // A record cut short is an append a crash interrupted: it was never trusted.
      if (r.status().message().find("truncated") != std::string::npos ||
          r.status().message().find("end of") != std::string::npos) {
        if (::truncate(store.path().c_str(), static_cast<off_t>(start)) != 0) {
          return Status::IoError("light store: cannot drop the cut-short record at offset " +
                                 std::to_string(start) + ": " + std::strerror(errno));
        }
        break;
      }
      return r.status();
    }
    auto h = ledger::BlockHeader::Decode(t.encoded);
    if (!h.ok()) return h.status().Wrap("light store at offset " + std::to_string(start));
    if (h->height != height) {
      return Status::Corruption("light store at offset " + std::to_string(start) +
                                ": record height " + std::to_string(height) + " holds header " +
                                std::to_string(h->height));
    }
    t.header = std::move(*h);
    const uint64_t want = store.height() + 1;
    if ((linked && height != want) || (!linked && height < want)) {
      return Status::Corruption("light store at offset " + std::to_string(start) + ": header " +
                                std::to_string(height) + " after header " +
                                std::to_string(store.height()));
    }
    if (linked && !store.headers_.empty() &&
        t.header.prev_hash != store.headers_.back().header.Hash()) {
      return Status::Corruption("light store: header " + std::to_string(height) +
                                " does not link to the header before it");
    }
    store.headers_.push_back(std::move(t));
  }
  return store;
}

const TrustedHeader* LightStore::Find(uint64_t height) const {
  auto it =
      std::lower_bound(headers_.begin(), headers_.end(), height,
                       [](const TrustedHeader& t, uint64_t h) { return t.header.height < h; });
  if (it == headers_.end() || it->header.height != height) return nullptr;
  return &*it;
}

Status LightStore::Append(std::vector<TrustedHeader> headers) {
  if (headers.empty()) return Status::Ok();
  codec::Writer w;
  for (const TrustedHeader& t : headers) {
    w.U64(t.header.height).Var(t.encoded).Var(t.proof);
  }
  // Synced before the caller reports the headers trusted.
  if (Status st = WriteSynced(path(), w.bytes(), O_APPEND); !st.ok()) {
    return st.Wrap("light store");
  }
  for (TrustedHeader& t : headers) headers_.push_back(std::move(t));
  return Status::Ok();
}

Status LightStore::SaveSet(const std::vector<ledger::Member>& set) {
  ledger::MemberSet ms;
  ms.members = set;
  ms.next_id = set.empty() ? 0 : set.back().id + 1;
  const std::string path = dir_ + "/set";
  if (Status s = WriteSynced(path + ".tmp", ms.Encode()); !s.ok()) {
    return s.Wrap("light store");
  }
  if (::rename((path + ".tmp").c_str(), path.c_str()) != 0) {
    return Status::IoError("light store " + path + ": rename: " + std::strerror(errno));
  }
  saved_set_ = set;
  return Status::Ok();
}

}  // namespace cairn::cli
