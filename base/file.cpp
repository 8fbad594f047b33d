#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cairn {
namespace {

// What a non-regular file is, in the words an operator would use.
const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

Status FromErrno(const std::string& path, const char* what, int err) {
  std::string msg = path + ": " + what + ": " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(path + ": does not exist");
  // open(2) of a Unix socket fails with ENXIO: say what it is rather than "No such device".
  if (err == ENXIO) return Status::InvalidArgument(path + " is a socket or a device, not a file");
  return Status::IoError(msg);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result<FileContents> ReadRegularFile(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  // O_NOCTTY: a terminal device must not become our controlling terminal.
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (fd.get() < 0) return FromErrno(path, "cannot open", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return FromErrno(path, "cannot stat", errno);
  if (!S_ISREG(st.st_mode)) {
    const char* kind = KindOf(st.st_mode);
    return Status::InvalidArgument(path + " is " + kind + ", not a file");
  }
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Status::InvalidArgument(path + " is " + std::to_string(st.st_size) +
                                   " bytes, more than the " + std::to_string(max_bytes) +
                                   " allowed");
  }
  FileContents out;
  out.mode = static_cast<uint32_t>(st.st_mode & 07777);
  out.data.reserve(static_cast<size_t>(st.st_size));
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FromErrno(path, "cannot read", errno);
    if (n == 0) break;
    out.data.append(buf, static_cast<size_t>(n));
    // The file may grow between fstat and read: the bound holds on what is read.
    if (out.data.size() > max_bytes) {
      return Status::InvalidArgument(path + " is more than the " + std::to_string(max_bytes) +
                                     " bytes allowed");
    }
  }
  return out;
}

}  // namespace cairn
