// The power-cut file system itself: what it keeps and what it drops, so the power-loss test's
// passing means something.
#include <catch2/catch.hpp>

#include <filesystem>

#include "ledger/kv.h"
#include "tests/kit/fault_env.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using cairn::testkit::FaultEnv;
using cairn::testkit::TempDir;

namespace {

Result<std::unique_ptr<ledger::KvStore>> Open(const std::string& dir, FaultEnv& env) {
  ledger::LevelDbOptions o;
  o.env = &env;
  return ledger::OpenLevelDb(dir, /*create=*/true, o);
}

void Put(ledger::KvStore& kv, const std::string& k, bool sync) {
  ledger::WriteBatch b;
  b.Put(Bytes(k.begin(), k.end()), Bytes{1});
  REQUIRE(kv.Write(b, sync).ok());
}

bool Has(const ledger::KvStore& kv, const std::string& k) {
  auto v = kv.Get(Bytes(k.begin(), k.end()));
  REQUIRE(v.ok());
  return v->has_value();
}

}  // namespace

TEST_CASE("fault env: a power cut keeps synced writes and drops the rest", "[chaos][faultenv]") {
  TempDir dir("faultenv");
  FaultEnv env;
  {
    auto kv = Open(dir.Sub("db"), env);
    REQUIRE(kv.ok());
    Put(**kv, "synced", /*sync=*/true);
    Put(**kv, "unsynced", /*sync=*/false);
    env.PowerOff();
    // The machine is dead: nothing more reaches the disk.
    ledger::WriteBatch b;
    b.Put(Bytes{'x'}, Bytes{1});
    CHECK_FALSE((*kv)->Write(b, true).ok());
    // Files still open: the cut waits for the database to close.
    CHECK_FALSE(env.DropUnsynced().ok());
  }
  auto dropped = env.DropUnsynced();
  REQUIRE(dropped.ok());
  CHECK(dropped->bytes > 0);
  env.PowerOn();
  auto kv = Open(dir.Sub("db"), env);
  REQUIRE(kv.ok());
  CHECK(Has(**kv, "synced"));
  CHECK_FALSE(Has(**kv, "unsynced"));
}

TEST_CASE("fault env: a file whose creation was never made durable vanishes", "[chaos][faultenv]") {
  TempDir dir("faultenv");
  FaultEnv::Options strict;
  strict.file_sync_syncs_dir = false;
  FaultEnv env(strict);
  const std::string path = dir.Sub("f");
  leveldb::WritableFile* raw = nullptr;
  REQUIRE(env.NewWritableFile(path, &raw).ok());
  std::unique_ptr<leveldb::WritableFile> f(raw);
  REQUIRE(f->Append("data").ok());
  REQUIRE(f->Sync().ok());  // the bytes, but not the directory entry
  f.reset();
  env.PowerOff();
  auto dropped = env.DropUnsynced();
  REQUIRE(dropped.ok());
  CHECK(dropped->files_removed == 1);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("fault env: the power fails at the n-th write", "[chaos][faultenv]") {
  TempDir dir("faultenv");
  FaultEnv env;
  auto kv = Open(dir.Sub("db"), env);
  REQUIRE(kv.ok());
  env.PowerOffAfter(20);
  ledger::WriteBatch b;
  b.Put(Bytes{'k'}, Bytes{1});
  int ok = 0, failed_then_ok = 0;
  for (int i = 0; i < 50; ++i) {
    const bool w = (*kv)->Write(b, /*sync=*/true).ok();
    if (w && ok < i) ++failed_then_ok;  // a write after the cut that went through
    ok += w;
  }
  CHECK(ok > 0);   // a few synced writes (each a few file operations) before the cut
  CHECK(ok < 50);  // and none after it
  CHECK(failed_then_ok == 0);
  CHECK_FALSE(env.powered());
}
