// crypto::ReadKeyFile on a hostile key file (mode 0600, so the content is what is tested).
// Properties: an accepted file's key pair writes and reads back to the same key, and its
// public key is the one derived from the private key.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "crypto/key_file.h"
#include "tests/fuzz/fuzz_util.h"

using namespace cairn;

namespace {

const std::string& Dir() {
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/cairn-keyfuzz-XXXXXX";
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    return new std::string(pattern);
  }();
  // libFuzzer ends a timed run with exit(): leave no directory behind.
  static const bool registered = [] {
    std::atexit([] {
      ::unlink((*dir + "/key.json").c_str());
      ::unlink((*dir + "/copy.json").c_str());
      ::rmdir(dir->c_str());
    });
    return true;
  }();
  (void)registered;
  return *dir;
}

void WriteFile(const std::string& path, const uint8_t* data, size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(::write(fd, data, size) == static_cast<ssize_t>(size));
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = Dir() + "/key.json";
  WriteFile(path, data, size);
  auto kp = crypto::ReadKeyFile(path);
  if (!kp.ok()) {
    FUZZ_CHECK(!kp.error().empty());
    return 0;
  }
  FUZZ_CHECK(crypto::KeyPair::FromSeed(kp->seed()).public_key() == kp->public_key());
  const std::string copy = Dir() + "/copy.json";
  ::unlink(copy.c_str());
  FUZZ_CHECK(crypto::WriteKeyFile(copy, *kp).ok());
  auto back = crypto::ReadKeyFile(copy);
  FUZZ_CHECK(back.ok() && back->public_key() == kp->public_key() && back->seed() == kp->seed());
  return 0;
}
