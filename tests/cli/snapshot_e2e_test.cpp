// `cairn snapshot export|import` with the cairn binary, on a LevelDB chain store built in this
// process (tests/audit's AuditChain, pruned so the export reads 'P' headers): export -> import
// -> `cairn audit` passes and the imported state equals the source's; a flipped byte in each
// part of the file (a header below h, header h, the manifest, a chunk) is refused, naming the
// part, and leaves no data dir behind.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ledger/chain_store.h"
#include "tests/audit/audit_fixture.h"
#include "tests/integration/dev_node.h"
#include "tests/kit/process.h"
#include "tests/kit/temp_dir.h"

namespace cairn::testing {
namespace {

namespace fs = std::filesystem;
using audit::testing::AuditChain;
using testkit::CommandResult;
using testkit::RunCommand;
using testkit::TempDir;

CommandResult Cairn(const std::vector<std::string>& args) {
  CommandResult r = RunCommand(CairnPath(), args, std::chrono::seconds(120));
  UNSCOPED_INFO("cairn exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
  return r;
}

std::vector<std::pair<Bytes, Bytes>> StateOf(const std::string& dir) {
  auto kv = ledger::OpenLevelDb(dir, /*create=*/false);
  REQUIRE(kv.ok());
  std::vector<std::pair<Bytes, Bytes>> rows;
  const uint8_t s[] = {'S'};
  const uint8_t e[] = {'S' + 1};
  REQUIRE((*kv)
              ->Scan(s, e,
                     [&](ByteView k, ByteView v) {
                       rows.emplace_back(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
                       return true;
                     })
              .ok());
  return rows;
}

// Where each part of a snapshot file starts (cli/snapshot_file.h's grammar), read the way a
// third party would: the offsets of one byte inside each part.
struct Layout {
  size_t header = 0;    // inside header h
  size_t manifest = 0;  // inside the manifest's slots
  size_t chunk = 0;     // inside the first chunk's entries
  size_t below = 0;     // inside header h-1
};

uint32_t U32At(const std::string& b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(b[at + i]);
  return v;
}

Layout LayoutOf(const std::string& b) {
  Layout l;
  size_t at = 16 + 8;
  const uint32_t header_len = U32At(b, at);
  l.header = at + 4 + 20;  // within the chain id / height
  at += 4 + header_len;
  at += 4 + U32At(b, at);  // certificate
  const uint32_t manifest_len = U32At(b, at);
  l.manifest = at + 4 + manifest_len - 40;  // a slot's subtree hash
  at += 4 + manifest_len;
  const uint32_t chunks = U32At(b, at);
  at += 4;
  for (uint32_t i = 0; i < chunks; ++i) {
    const uint32_t len = U32At(b, at + 4);
    if (i == 0) l.chunk = at + 8 + len - 3;  // the last bytes of an entry's value
    at += 8 + len;
  }
  at += 8;  // header count
  l.below = at + 4 + 40;
  return l;
}

TEST_CASE(
    "cairn snapshot: export, import and audit round trip, and a flipped byte in any part "
    "of the file is refused",
    "[cli][snapshot][integration]") {
  TempDir dir("snapshot-e2e");
  AuditChain chain;
  const std::string genesis_file = dir.Sub("genesis.json");
  REQUIRE(chain.genesis.Save(genesis_file).ok());
  const std::string src = dir.Sub("src");
  {
    auto store = ledger::OpenChainStore(src, chain.genesis.Block0(), chain.genesis.InitialState(),
                                        /*create=*/true);
    REQUIRE(store.ok());
    chain.Build(**store);
    // Pruned, so that the export reads the header-only records too.
    REQUIRE((*store)->SetRetainBlocks(2).ok());
    REQUIRE((*store)->BlocksFrom() == 4);
  }
  const std::string file = dir.Sub("chain.snap");
  CommandResult ex = Cairn({"--json", "snapshot", "export", "--data-dir", src, "--out", file});
  REQUIRE(ex.exit_code == 0);
  auto exj = nlohmann::json::parse(ex.out);
  CHECK(exj["height"] == 5);
  const std::string hash = exj["hash"];

  const std::string dst = dir.Sub("restored");
  CommandResult im = Cairn({"--json", "snapshot", "import", file, "--data-dir", dst, "--genesis",
                            genesis_file, "--trust-hash", hash});
  REQUIRE(im.exit_code == 0);
  CHECK(nlohmann::json::parse(im.out)["height"] == 5);
  CHECK_FALSE(fs::exists(dst + ".importing"));

  CommandResult au = Cairn({"--json", "audit", "--data-dir", dst, "--genesis", genesis_file});
  REQUIRE(au.exit_code == 0);
  auto auj = nlohmann::json::parse(au.out);
  CHECK(auj["ok"] == true);
  CHECK(auj["coverage"]["state_base"] == 5);
  CHECK(StateOf(dst) == StateOf(src));

  // Without --trust-hash the import says which hash it trusted.
  const std::string dst2 = dir.Sub("restored2");
  CommandResult im2 =
      Cairn({"snapshot", "import", file, "--data-dir", dst2, "--genesis", genesis_file});
  REQUIRE(im2.exit_code == 0);
  CHECK(im2.err.find(hash) != std::string::npos);
  CHECK(im2.err.find("Compare this hash") != std::string::npos);

  // A wrong --trust-hash is refused.
  const std::string dst3 = dir.Sub("restored3");
  CommandResult wrong = Cairn({"snapshot", "import", file, "--data-dir", dst3, "--genesis",
                               genesis_file, "--trust-hash", std::string(64, 'a')});
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err.find("not --trust-hash") != std::string::npos);
  CHECK_FALSE(fs::exists(dst3));

  const std::string bytes = testkit::ReadFile(file);
  const Layout at = LayoutOf(bytes);
  struct Case {
    const char* part;
    size_t offset;
    const char* named;  // what the refusal must mention
  };
  for (const Case& c :
       {Case{"header h", at.header, "header"}, Case{"the manifest", at.manifest, "manifest"},
        Case{"a chunk", at.chunk, "chunk"}, Case{"a header below h", at.below, "header 4"}}) {
    SECTION(std::string("a flipped byte in ") + c.part) {
      std::string damaged = bytes;
      REQUIRE(c.offset < damaged.size());
      damaged[c.offset] = static_cast<char>(damaged[c.offset] ^ 0x01);
      const std::string bad = dir.Sub("bad.snap");
      std::ofstream(bad, std::ios::binary) << damaged;
      const std::string out = dir.Sub("bad-restore");
      CommandResult r = Cairn({"snapshot", "import", bad, "--data-dir", out, "--genesis",
                               genesis_file, "--trust-hash", hash});
      CHECK(r.exit_code == 1);
      CHECK(r.err.find("refused") != std::string::npos);
      CHECK(r.err.find(c.named) != std::string::npos);
      CHECK_FALSE(fs::exists(out));
      CHECK_FALSE(fs::exists(out + ".importing"));
    }
  }
}

}  // namespace
}  // namespace cairn::testing
