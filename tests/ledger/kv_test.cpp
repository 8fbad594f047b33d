#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ledger/kv.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::ledger;
using cairn::testkit::TempDir;

namespace {

Bytes B(std::string_view s) {
  ByteView v = AsBytes(s);
  return Bytes(v.begin(), v.end());
}

std::optional<std::string> GetStr(const KvStore& kv, std::string_view key) {
  auto got = kv.Get(AsBytes(key));
  REQUIRE(got.ok());
  if (!got.value()) return std::nullopt;
  return AsString(**got);
}

// Every key=value in [start, end) as "k=v;" so a test can compare a whole range at once.
std::string Dump(const KvStore& kv, std::string_view start = "", std::string_view end = "") {
  std::string out;
  Status s = kv.Scan(AsBytes(start), AsBytes(end), [&](ByteView k, ByteView v) {
    out += AsString(k) + "=" + AsString(v) + ";";
    return true;
  });
  REQUIRE(s.ok());
  return out;
}

void PutOne(KvStore& kv, std::string_view k, std::string_view v, bool sync) {
  WriteBatch b;
  b.Put(AsBytes(k), AsBytes(v));
  REQUIRE(kv.Write(b, sync).ok());
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("WriteBatch keeps its operations in order and counts their bytes", "[store][kv]") {
  WriteBatch b;
  b.Put(B("ab"), B("xyz"));
  b.Delete(B("q"));
  REQUIRE(b.size() == 2);
  CHECK(b.bytes() == 6);
  CHECK(b.ops()[0].key == B("ab"));
  CHECK(b.ops()[0].value == B("xyz"));
  CHECK(b.ops()[1].key == B("q"));
  CHECK_FALSE(b.ops()[1].value.has_value());
}

TEST_CASE("MemoryKv drops unsynced writes on a power cut and keeps synced ones",
          "[store][kv][memory]") {
  MemoryKv kv;
  PutOne(kv, "a", "1", /*sync=*/true);
  PutOne(kv, "b", "2", /*sync=*/false);
  // Unsynced writes are visible before the cut.
  CHECK(GetStr(kv, "b") == "2");
  CHECK(Dump(kv) == "a=1;b=2;");

  kv.DropUnsynced();
  CHECK(GetStr(kv, "a") == "1");
  CHECK_FALSE(GetStr(kv, "b"));
  CHECK(Dump(kv) == "a=1;");

  // A synced write makes the unsynced writes before it durable too (one log, one fsync).
  PutOne(kv, "c", "3", /*sync=*/false);
  PutOne(kv, "d", "4", /*sync=*/true);
  kv.DropUnsynced();
  CHECK(Dump(kv) == "a=1;c=3;d=4;");

  // An unsynced delete or overwrite of a durable key is undone by the cut.
  WriteBatch del;
  del.Delete(B("a"));
  del.Put(B("c"), B("33"));
  REQUIRE(kv.Write(del, /*sync=*/false).ok());
  CHECK_FALSE(GetStr(kv, "a"));
  CHECK(Dump(kv) == "c=33;d=4;");
  kv.DropUnsynced();
  CHECK(Dump(kv) == "a=1;c=3;d=4;");
}

TEST_CASE("MemoryKv copies share one store, like handles to one disk", "[store][kv][memory]") {
  MemoryKv kv;
  MemoryKv handle = kv;
  PutOne(kv, "k", "v", /*sync=*/false);
  CHECK(GetStr(handle, "k") == "v");
  handle.DropUnsynced();
  CHECK_FALSE(GetStr(kv, "k"));
}

TEST_CASE("MemoryKv scans merge unsynced writes and deletes in key order within a range",
          "[store][kv][memory]") {
  MemoryKv kv;
  WriteBatch durable;
  for (std::string k : {"a", "b", "c", "d", "e"}) durable.Put(AsBytes(k), AsBytes(k + k));
  REQUIRE(kv.Write(durable, /*sync=*/true).ok());
  WriteBatch pending;
  pending.Delete(B("b"));
  pending.Put(B("c"), B("C"));
  pending.Put(B("bb"), B("new"));
  pending.Delete(B("zz"));  // deleting an absent key is harmless
  REQUIRE(kv.Write(pending, /*sync=*/false).ok());
  CHECK(Dump(kv) == "a=aa;bb=new;c=C;d=dd;e=ee;");
  CHECK(Dump(kv, "b", "d") == "bb=new;c=C;");
  CHECK(Dump(kv, "bb", "bb") == "");

  int seen = 0;
  REQUIRE(kv.Scan({}, {}, [&](ByteView, ByteView) { return ++seen < 2; }).ok());
  CHECK(seen == 2);
}

TEST_CASE("LevelDB store writes, deletes, scans a key range and persists across reopen",
          "[store][kv][leveldb]") {
  TempDir dir;
  const std::string path = dir.Sub("db");
  {
    auto kv = OpenLevelDb(path, /*create=*/true);
    REQUIRE(kv.ok());
    WriteBatch b;
    b.Put(B("k1"), B("v1"));
    b.Put(B("k2"), B("v2"));
    b.Put(B("k3"), B("v3"));
    b.Put(Bytes{0x00, 0xff}, Bytes{});  // binary key, empty value
    REQUIRE((*kv)->Write(b, /*sync=*/true).ok());
    WriteBatch d;
    d.Delete(B("k2"));
    REQUIRE((*kv)->Write(d, /*sync=*/false).ok());
    CHECK(Dump(**kv, "k", "k9") == "k1=v1;k3=v3;");
  }
  auto kv = OpenLevelDb(path, /*create=*/false);
  REQUIRE(kv.ok());
  CHECK(GetStr(**kv, "k1") == "v1");
  CHECK_FALSE(GetStr(**kv, "k2"));
  auto bin = (*kv)->Get(Bytes{0x00, 0xff});
  REQUIRE(bin.ok());
  REQUIRE(bin.value());
  CHECK(bin.value()->empty());
  CHECK(Dump(**kv, "k2") == "k3=v3;");
}

TEST_CASE("scans read one snapshot and may call back into the store", "[store][kv]") {
  TempDir dir;
  auto level = OpenLevelDb(dir.Sub("db"), /*create=*/true);
  REQUIRE(level.ok());
  MemoryKv memory;
  for (KvStore* kv : {level->get(), static_cast<KvStore*>(&memory)}) {
    PutOne(*kv, "a", "1", /*sync=*/true);
    PutOne(*kv, "c", "3", /*sync=*/true);
    std::string seen;
    REQUIRE(kv->Scan({}, {}, [&](ByteView k, ByteView v) {
                if (AsString(k) == "a") {
                  PutOne(*kv, "b", "2", /*sync=*/false);  // lands ahead of the scan
                  CHECK(GetStr(*kv, "b") == "2");
                }
                seen += AsString(k) + "=" + AsString(v) + ";";
                return true;
              }).ok());
    CHECK(seen == "a=1;c=3;");
    CHECK(Dump(*kv) == "a=1;b=2;c=3;");
  }
}

TEST_CASE("OpenLevelDb refuses a non-empty directory that holds no LevelDB, touching nothing",
          "[store][kv][leveldb]") {
  TempDir dir;
  const std::filesystem::path path = dir.Sub("not-a-db");
  std::filesystem::create_directories(path / "sub");
  { std::ofstream(path / "notes.txt") << "my precious files"; }

  for (bool create : {true, false}) {
    auto kv = OpenLevelDb(path.string(), create);
    REQUIRE_FALSE(kv.ok());
    CHECK_THAT(kv.error(), Catch::Contains("not empty") && Catch::Contains("no LevelDB"));
  }
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(path)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"notes.txt", "sub"});
  CHECK(ReadFile(path / "notes.txt") == "my precious files");
  CHECK(std::filesystem::is_empty(path / "sub"));
}

TEST_CASE("OpenLevelDb creates only when asked, in an absent or empty directory",
          "[store][kv][leveldb]") {
  TempDir dir;
  auto missing = OpenLevelDb(dir.Sub("absent"), /*create=*/false);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error(), Catch::Contains("does not exist"));
  CHECK_FALSE(std::filesystem::exists(dir.Sub("absent")));

  std::filesystem::create_directory(dir.Sub("empty"));
  auto empty = OpenLevelDb(dir.Sub("empty"), /*create=*/false);
  REQUIRE_FALSE(empty.ok());
  CHECK_THAT(empty.error(), Catch::Contains("empty"));
  CHECK(std::filesystem::is_empty(dir.Sub("empty")));
  CHECK(OpenLevelDb(dir.Sub("empty"), /*create=*/true).ok());

  CHECK(OpenLevelDb(dir.Sub("a/b/c"), /*create=*/true).ok());
  CHECK(std::filesystem::exists(dir.Sub("a/b/c/CURRENT")));

  { std::ofstream(dir.Sub("file")) << "x"; }
  auto file = OpenLevelDb(dir.Sub("file"), /*create=*/true);
  REQUIRE_FALSE(file.ok());
  CHECK_THAT(file.error(), Catch::Contains("not a directory"));
}

TEST_CASE("OpenLevelDb refuses a directory another open store holds", "[store][kv][leveldb]") {
  TempDir dir;
  auto first = OpenLevelDb(dir.Sub("db"), /*create=*/true);
  REQUIRE(first.ok());
  auto second = OpenLevelDb(dir.Sub("db"), /*create=*/false);
  REQUIRE_FALSE(second.ok());
  CHECK_THAT(second.error(), Catch::Contains("another process"));
}
