// OpenLevelDb's failures carry codes a caller can act on: a held lock, a missing store.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "ledger/kv.h"

namespace cairn::ledger {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "cairn-kv-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

TEST_CASE("leveldb: a directory already open is reported as locked", "[ledger][kv]") {
  ScratchDir dir;
  const std::string db = dir.Sub("db");
  auto first = OpenLevelDb(db, /*create=*/true);
  REQUIRE(first.ok());
  auto second = OpenLevelDb(db, /*create=*/false);
  REQUIRE_FALSE(second.ok());
  CHECK(second.code() == StatusCode::kLocked);
  CHECK_THAT(second.error(), Catch::Contains("is another process using this directory?"));

  first.value().reset();  // closing releases the lock
  auto third = OpenLevelDb(db, /*create=*/false);
  CHECK(third.ok());
}

TEST_CASE("leveldb: opening a store that does not exist is not found", "[ledger][kv]") {
  ScratchDir dir;
  auto missing = OpenLevelDb(dir.Sub("absent"), /*create=*/false);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.code() == StatusCode::kNotFound);
}

TEST_CASE("leveldb: a file where the store should be is an invalid argument", "[ledger][kv]") {
  ScratchDir dir;
  const std::string file = dir.Sub("file");
  std::FILE* f = std::fopen(file.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fclose(f);
  auto r = OpenLevelDb(file, /*create=*/true);
  REQUIRE_FALSE(r.ok());
  CHECK(r.code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cairn::ledger
