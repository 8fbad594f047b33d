#include "crypto/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/file.h"

namespace cairn::crypto {
namespace {
constexpr size_t kMaxKeyFileBytes = 64 << 10;
}  // namespace

Status WriteKeyFile(const std::string& path, const KeyPair& key) {
  nlohmann::json j = {{"type", "ed25519"},
                      {"public_key", key.public_key().ToHex()},
                      {"private_key", key.seed().ToHex()}};
  std::string text = j.dump(2) + "\n";
  // O_EXCL: never clobber a key; mode is set at creation so the secret is never world-readable.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error("key file " + path + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = std::strerror(errno);
      ::close(fd);
      return Status::Error("key file " + path + ": write: " + err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Status::Error("key file " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<KeyPair> ReadKeyFile(const std::string& path) {
  // A key file is about 200 bytes; anything over 64 KiB is not one.
  auto file = ReadRegularFile(path, kMaxKeyFileBytes);
  if (!file.ok()) return file.status().Wrap("key file");
  if ((file->mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(file->mode & 07777));
    return Status::Error("key file " + path + " has mode " + mode +
                         ", readable or writable by others; run: chmod 600 " + path);
  }
  const std::string& text = file->data;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Error("key file " + path + ": not a JSON object");
  }
  auto field = [&](const char* name) -> std::string {
    auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (field("type") != "ed25519") {
    return Status::Error("key file " + path + ": \"type\" must be \"ed25519\"");
  }
  auto seed = PrivateKey::FromHex(field("private_key"));
  if (!seed) {
    return Status::Error("key file " + path + ": \"private_key\" must be 64 hex digits");
  }
  KeyPair kp = KeyPair::FromSeed(*seed);
  std::string pub = field("public_key");
  if (!pub.empty() && PublicKey::FromHex(pub) != kp.public_key()) {
    return Status::Error("key file " + path + ": \"public_key\" does not match \"private_key\"");
  }
  return kp;
}

}  // namespace cairn::crypto
