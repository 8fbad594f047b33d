// A fresh directory under the system temp directory, removed with its contents on destruction
// (kept when CAIRN_KEEP_TEST_DIRS is set, to inspect a failed run). Not thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace cairn::testkit {

class TempDir {
 public:
  // The directory is named cairn-<tag>-XXXXXX, so a kept one shows which test made it.
  // Throws std::runtime_error when it cannot be created.
  explicit TempDir(std::string_view tag = "test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Sub(std::string_view name) const;

 private:
  std::string path_;
};

}  // namespace cairn::testkit
