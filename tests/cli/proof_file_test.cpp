// Proof files as hostile input (`cairn verify-proof` reads whatever it is given) and the light
// store's file: what a user sees for an oversized, truncated, mistyped or absurd file, and that
// nothing crashes or allocates from a forged length.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/light_store.h"
#include "cli/proof_file.h"
#include "tests/kit/process.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::cli;
using nlohmann::json;

namespace {

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A well-formed solo proof file with `n` linked headers (contents not meaningful: parsing only).
json ValidFile(size_t n = 1) {
  ProofFile f;
  f.chain_id = "cairn-dev";
  f.consensus = genesis::ConsensusKind::kSolo;
  f.height = n + 1;
  f.header = Bytes(158, 0x01);
  f.proposer_sig = crypto::Signature();
  for (size_t i = 0; i < n; ++i) f.headers.push_back(LinkedHeader{Bytes(158, 0x02), {}});
  f.proof = Bytes{0, 0, 0, 0, 1, 0, 0, 0, 0};
  return f.ToJson();
}

std::string ErrorOf(const std::string& path) {
  auto r = ReadProofFile(path);
  REQUIRE_FALSE(r.ok());
  return r.status().message();
}

}  // namespace

TEST_CASE("proof file: a written file reads back field for field", "[cli][proof]") {
  testkit::TempDir dir("proof-file");
  auto f = ProofFile::FromJson(ValidFile(3));
  REQUIRE(f.ok());
  REQUIRE(WriteProofFile(dir.path() + "/p.json", *f).ok());
  auto back = ReadProofFile(dir.path() + "/p.json");
  REQUIRE(back.ok());
  CHECK(back->ToJson() == f->ToJson());
  CHECK(back->headers.size() == 3);
  CHECK(back->headers_from == 1);
  CHECK_FALSE(back->certificate.has_value());
}

TEST_CASE("proof file: hostile files are refused with the reason, before any work",
          "[cli][proof]") {
  testkit::TempDir dir("proof-hostile");
  const std::string p = dir.path() + "/p.json";

  SECTION("larger than the bound: refused by size, unread") {
    { std::ofstream out(p, std::ios::binary); }
    REQUIRE(::truncate(p.c_str(), static_cast<off_t>(kMaxProofFileBytes + 1)) == 0);
    CHECK_THAT(ErrorOf(p), Catch::Contains("is 67108865 bytes, more than the 67108864 allowed"));
  }
  SECTION("truncated JSON") {
    const std::string text = ValidFile().dump();
    Write(p, text.substr(0, text.size() / 2));
    CHECK_THAT(ErrorOf(p), Catch::Contains("not JSON"));
  }
  SECTION("nesting deep enough to exhaust a recursive parser") {
    Write(p, std::string(1'000'000, '['));
    CHECK_THAT(ErrorOf(p), Catch::Contains("nested deeper than"));
  }
  SECTION("not an object") {
    Write(p, "[1, 2, 3]");
    CHECK_THAT(ErrorOf(p), Catch::Contains("not a JSON object"));
  }
  SECTION("wrong types name the field") {
    json j = ValidFile();
    j["height"] = "12";
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("height: must be an integer"));
    j = ValidFile();
    j["headers"][0]["header"] = 7;
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("headers[0].header: must be a hex string"));
    j = ValidFile();
    j["proof"] = "xyz";
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("proof: is not hex"));
    j = ValidFile();
    j["statement"]["tx_hash"] = "00";
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("statement.tx_hash: must be 64 hex digits"));
    j = ValidFile();
    j.erase("genesis_hash");
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("genesis_hash: missing"));
    j = ValidFile();
    j["format"] = "cairn-proof/9";
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("format: \"cairn-proof/9\" is not \"cairn-proof/1\""));
  }
  SECTION("a header array longer than any chain the file could hold") {
    json j = ValidFile(0);
    j["headers"] = json::array();
    for (size_t i = 0; i <= kMaxProofHeaders; ++i) j["headers"].push_back(nullptr);
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("headers: 200001 entries exceeds 200000"));
  }
  SECTION("a hex field longer than its type can be") {
    json j = ValidFile();
    j["header"] = std::string(kMaxHeaderHex + 2, 'a');
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("header: 131644 hex digits exceeds 131642"));
  }
  SECTION("state statements need their value (null for absence), records their key") {
    json j = ValidFile();
    j["statement"] = {{"kind", "account"}, {"address", std::string(64, 'a')}};
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("statement.value: missing"));
    j["statement"] = {{"kind", "record"}, {"address", std::string(64, 'a')}, {"value", nullptr}};
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("statement.key: missing"));
    j["statement"]["key"] = std::string(2 * 129, 'b');
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("statement.key: 258 hex digits exceeds 256"));
    j["statement"]["kind"] = "balance";
    Write(p, j.dump());
    CHECK_THAT(ErrorOf(p), Catch::Contains("\"balance\" is not \"tx\", \"account\" or \"record\""));
  }
  SECTION("a directory, not a file") {
    CHECK_THAT(ErrorOf(dir.path()), Catch::Contains("directory"));
  }
}

TEST_CASE("light store: appended headers survive a reopen and a cut-short record is dropped",
          "[cli][light]") {
  testkit::TempDir dir("light-store");
  const std::string d = dir.path() + "/store";
  std::vector<TrustedHeader> hs;
  crypto::Hash256 prev;
  for (uint64_t h = 1; h <= 3; ++h) {
    TrustedHeader t;
    t.header.chain_id = "c";
    t.header.height = h;
    t.header.prev_hash = prev;
    t.encoded = t.header.Encode();
    t.proof = Bytes(64, static_cast<uint8_t>(h));
    prev = t.header.Hash();
    hs.push_back(std::move(t));
  }
  {
    auto s = LightStore::Open(d, /*linked=*/true);
    REQUIRE(s.ok());
    CHECK(s->height() == 0);
    REQUIRE(s->Append({hs[0], hs[1]}).ok());
    REQUIRE(s->Append({hs[2]}).ok());
  }
  {
    auto s = LightStore::Open(d, /*linked=*/true);
    REQUIRE(s.ok());
    CHECK(s->height() == 3);
    REQUIRE(s->Find(2) != nullptr);
    CHECK(s->Find(2)->header == hs[1].header);
    CHECK(s->Find(4) == nullptr);
  }

  // A crash in the middle of an append leaves part of a record: it was never trusted.
  const std::string file = d + "/headers";
  const std::string text = testkit::ReadFile(file);
  Write(file, text.substr(0, text.size() - 10));
  {
    auto cut = LightStore::Open(d, /*linked=*/true);
    REQUIRE(cut.ok());
    CHECK(cut->height() == 2);
  }

  // A store whose headers do not link is refused, not trusted.
  std::string broken = text;
  broken[8 + 4 + 20] ^= 0x01;  // inside the first header
  Write(file, broken);
  CHECK_FALSE(LightStore::Open(d, /*linked=*/true).ok());
}

TEST_CASE("light store: a second opener of the same store is refused while the first holds it",
          "[cli][light]") {
  testkit::TempDir dir("light-lock");
  auto first = LightStore::Open(dir.path() + "/s", /*linked=*/true);
  REQUIRE(first.ok());
  auto second = LightStore::Open(dir.path() + "/s", /*linked=*/true);
  REQUIRE_FALSE(second.ok());
  CHECK_THAT(second.status().message(), Catch::Contains("is in use by another cairn"));
  first = Status::Error("closed");  // releases the lock
  CHECK(LightStore::Open(dir.path() + "/s", /*linked=*/true).ok());
}
