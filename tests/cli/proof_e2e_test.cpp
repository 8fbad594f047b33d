// `cairn prove tx`, `cairn verify-proof` and `cairn light sync` against real cairnd processes:
// a proof made on a live network verifies with every node stopped, from the genesis file
// alone; a file with one hex digit changed (proof, header, certificate, a linked header, the
// statement) or a different genesis file is refused with the check that failed; a light store
// downloads only the headers it lacks.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/dev_node.h"
#include "tests/integration/temp_network.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::testing;
using namespace cairn::testkit;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

CommandResult Cairn(std::vector<std::string> args) {
  CommandResult r = RunCommand(CairnPath(), args, std::chrono::seconds(120));
  std::string line = "cairn";
  for (const auto& a : args) line += " " + a;
  UNSCOPED_INFO(line << "\n-> exit " << r.exit_code << "\nstdout: " << r.out
                     << "\nstderr: " << r.err);
  return r;
}

json JsonOf(const CommandResult& r) {
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

void WriteJson(const std::string& path, const json& j) {
  std::ofstream out(path, std::ios::trunc);
  out << j.dump(1);
}

// Another hex digit at `pos` of the string: one nibble changed.
std::string FlipDigit(std::string hex, size_t pos) {
  REQUIRE(pos < hex.size());
  hex[pos] = hex[pos] == '0' ? '1' : '0';
  return hex;
}

// The same, counting from the end: 1 is the last digit.
std::string FlipDigitFromEnd(const json& hex, size_t from_end) {
  const std::string s = hex.get<std::string>();
  REQUIRE(from_end <= s.size());
  return FlipDigit(s, s.size() - from_end);
}

// Runs verify-proof on `file` changed by `edit`; REQUIREs a refusal and returns stderr.
std::string Refusal(const std::string& dir, const json& file, const std::string& genesis,
                    const std::function<void(json&)>& edit) {
  json j = file;
  edit(j);
  const std::string path = dir + "/tampered.json";
  WriteJson(path, j);
  CommandResult r = Cairn({"verify-proof", path, "--genesis", genesis});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  return r.err;
}

// The byte offset of tx_root inside an encoded header (docs/PROTOCOL.md section 5, v2).
size_t TxRootHexOffset(const std::string& chain_id) {
  return 2 * (1 + 4 + chain_id.size() + 8 + 32 + 8 + 32);
}

}  // namespace

TEST_CASE(
    "cairn prove tx, record and account on a 4-validator BFT network verify offline with "
    "every node stopped",
    "[cli][integration][bft][proof]") {
  REQUIRE_FALSE(CairnPath().empty());
  TempNetwork net("cli-proof-bft", 4, 0, "bft");
  net.StartAll({"v0", "v1", "v2", "v3"});
  const std::string rpc = net.Client("v2").url();
  const std::string genesis = net.dir() + "/genesis.json";
  uint64_t nonce = 0;
  std::vector<std::string> sent = net.Load("v0", &nonce, 30);
  REQUIRE(sent.size() == 30);
  auto c = net.Client("v2");
  for (const std::string& h : sent) REQUIRE(WaitCommitted(c, h, 60s));

  // A transaction in a block of several, so its proof has a path.
  std::string chosen;
  for (const std::string& h : sent) {
    auto p = c.Call("getTxProof", {{"hash", h}});
    REQUIRE(p.ok());
    if (p.value()["tx_count"].get<uint64_t>() > 1) {
      chosen = h;
      break;
    }
  }
  REQUIRE_FALSE(chosen.empty());
  const std::string file = net.dir() + "/proof.json";
  CommandResult made =
      Cairn({"--rpc", rpc, "prove", "tx", chosen, "--out", file, "--genesis", genesis});
  REQUIRE(made.exit_code == 0);
  CHECK_THAT(made.out, Catch::Contains("(verified)"));

  // A light store: the certificate comes with the proof, so no header is downloaded.
  const std::string light = net.dir() + "/light";
  json lj = JsonOf(Cairn({"--rpc", rpc, "--json", "prove", "tx", sent.back(), "--out",
                          net.dir() + "/proof2.json", "--genesis", genesis, "--light-dir", light}));
  CHECK(lj["light"]["headers_fetched"] == 0);
  CHECK(lj["light"]["store_height_after"] == lj["height"]);
  json sync = JsonOf(
      Cairn({"--rpc", rpc, "--json", "light", "sync", "--genesis", genesis, "--light-dir", light}));
  CHECK(sync["headers_fetched"].get<uint64_t>() <= 1);  // the head, with its certificate

  // State proofs (PROTOCOL §7.1): the admin's first record (key 0000, value 00, written by
  // Load), the admin's account, and a record it never wrote.
  const std::string admin = net.admin().public_key().ToHex();
  const std::string record_file = net.dir() + "/record.json";
  const std::string account_file = net.dir() + "/account.json";
  const std::string absent_file = net.dir() + "/absent.json";
  CommandResult made_record = Cairn(
      {"--rpc", rpc, "prove", "record", admin, "0000", "--out", record_file, "--genesis", genesis});
  REQUIRE(made_record.exit_code == 0);
  CHECK_THAT(made_record.out,
             Catch::Contains(" present after block ") && Catch::Contains("(verified)"));
  REQUIRE(
      Cairn({"--rpc", rpc, "prove", "account", admin, "--out", account_file, "--genesis", genesis})
          .exit_code == 0);
  CommandResult made_absent = Cairn({"--rpc", rpc, "prove", "record", admin, "ffffff", "--out",
                                     absent_file, "--genesis", genesis});
  REQUIRE(made_absent.exit_code == 0);
  CHECK_THAT(made_absent.out, Catch::Contains(" absent after block "));

  for (const char* n : {"v0", "v1", "v2", "v3"}) CHECK(net.Stop(n) == 0);

  CommandResult record_ok = Cairn({"verify-proof", record_file, "--genesis", genesis});
  REQUIRE(record_ok.exit_code == 0);
  CHECK_THAT(record_ok.out,
             Catch::StartsWith("record 0000 of account " + admin + " holds 00 after block ") &&
                 Catch::Contains("final by a certificate of "));
  CommandResult account_ok = Cairn({"verify-proof", account_file, "--genesis", genesis});
  REQUIRE(account_ok.exit_code == 0);
  CHECK_THAT(account_ok.out, Catch::StartsWith("account " + admin + " has balance ") &&
                                 Catch::Contains(", nonce 30, role admin after block "));
  CommandResult absent_ok = Cairn({"verify-proof", absent_file, "--genesis", genesis});
  REQUIRE(absent_ok.exit_code == 0);
  CHECK_THAT(absent_ok.out, Catch::StartsWith("record ffffff of account " + admin + " is absent"));
  {
    const json record = json::parse(ReadFile(record_file));
    const std::string refused = "cairn: proof refused: proof: against the state_root ";
    // Another value: the leaf differs, so the root does.
    CHECK_THAT(Refusal(net.dir(), record, genesis, [](json& j) { j["statement"]["value"] = "01"; }),
               Catch::StartsWith(refused) && Catch::Contains("root mismatch"));
    // One digit of the proof's last sibling.
    CHECK_THAT(Refusal(net.dir(), record, genesis,
                       [](json& j) { j["proof"] = FlipDigitFromEnd(j["proof"], 1); }),
               Catch::StartsWith(refused) && Catch::Contains("root mismatch"));
    // A proof of presence does not prove absence.
    CHECK_THAT(
        Refusal(net.dir(), record, genesis, [](json& j) { j["statement"]["value"] = nullptr; }),
        Catch::StartsWith(refused) && Catch::Contains("but the claim is absence"));
    // Another record key: the proof is for another path.
    CHECK_THAT(Refusal(net.dir(), record, genesis, [](json& j) { j["statement"]["key"] = "0001"; }),
               Catch::StartsWith("cairn: proof refused: proof: "));
  }

  CommandResult ok = Cairn({"verify-proof", file, "--genesis", genesis});
  REQUIRE(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::StartsWith("transaction " + chosen + " is at index ") &&
                         Catch::Contains("final by a certificate of ") &&
                         Catch::Contains(" of 4 validators"));
  json v = JsonOf(Cairn({"verify-proof", file, "--genesis", genesis, "--json"}));
  CHECK(v["basis"] == "certificate");
  CHECK(v["signers"].get<uint32_t>() >= 3);

  const json original = json::parse(ReadFile(file));
  const std::string dir = net.dir();
  const uint64_t height = original["height"];
  const std::string at = "cairn: proof refused: header " + std::to_string(height) + ": ";
  // One digit of the proof's last path hash.
  CHECK_THAT(Refusal(dir, original, genesis,
                     [](json& j) { j["proof"] = FlipDigitFromEnd(j["proof"], 1); }),
             Catch::StartsWith("cairn: proof refused: proof: tx proof: the path from transaction"));
  // One digit of the header's tx_root: the certificate is for another block.
  CHECK_THAT(Refusal(dir, original, genesis,
                     [&](json& j) {
                       j["header"] = FlipDigit(j["header"], TxRootHexOffset(net.chain_id()) + 5);
                     }),
             Catch::StartsWith(at + "certificate: for block "));
  // One digit of the certificate's last signature.
  CHECK_THAT(Refusal(dir, original, genesis,
                     [](json& j) { j["certificate"] = FlipDigitFromEnd(j["certificate"], 3); }),
             Catch::StartsWith(at + "certificate: signature of validator ") &&
                 Catch::Contains(" is invalid"));
  // Too few signers: the certificate cut to two of its signatures.
  CHECK_THAT(Refusal(dir, original, genesis,
                     [](json& j) {
                       std::string cert = j["certificate"];
                       const size_t fixed = 2 * (1 + 8 + 4 + 32);  // up to count
                       cert = cert.substr(0, fixed) + "02000000" +
                              cert.substr(fixed + 8, 2 * 2 * (4 + 64));
                       j["certificate"] = cert;
                     }),
             Catch::StartsWith(at + "certificate: 2 signers, a quorum of 4 validators needs 3"));
  CHECK_THAT(Refusal(dir, original, genesis, [](json& j) { j["certificate"] = nullptr; }),
             Catch::StartsWith(at + "no certificate"));
  // The statement: another transaction hash.
  CHECK_THAT(Refusal(dir, original, genesis,
                     [](json& j) {
                       j["statement"]["tx_hash"] = FlipDigit(j["statement"]["tx_hash"], 10);
                     }),
             Catch::StartsWith("cairn: proof refused: proof: tx proof: the path from transaction"));
  CHECK_THAT(Refusal(dir, original, genesis,
                     [](json& j) {
                       j["statement"]["index"] = j["statement"]["index"].get<uint32_t>() ^ 1;
                     }),
             Catch::StartsWith("cairn: proof refused: statement: index "));
  // Another genesis file: one account's balance changed.
  json g = json::parse(ReadFile(genesis));
  g["accounts"][0]["balance"] = "12345";
  const std::string other = dir + "/other_genesis.json";
  WriteJson(other, g);
  CommandResult wrong = Cairn({"verify-proof", file, "--genesis", other});
  CHECK(wrong.exit_code == 1);
  CHECK_THAT(wrong.err, Catch::StartsWith("cairn: proof refused: genesis: the proof is for the "
                                          "chain whose genesis hash is "));
}

TEST_CASE(
    "cairn prove tx on a solo chain links the header to genesis, and a light store fetches "
    "only new headers",
    "[cli][integration][proof][light]") {
  REQUIRE_FALSE(CairnPath().empty());
  TempDir dir("cli-proof-solo");
  const std::string home = dir.path() + "/home";
  DevNode node(home);
  std::string why;
  REQUIRE(node.Start({}, &why));
  const std::string genesis = home + "/genesis.json";
  const std::string admin_key = home + "/admin_key.json";
  auto put = [&](const std::string& name) {
    json r = JsonOf(Cairn({"--rpc", node.url(), "--json", "send", "put", "--key", admin_key,
                           "--name", name, "--value", "v", "--wait"}));
    REQUIRE(r["status"] == "committed");
    return r["hash"].get<std::string>();
  };
  const std::string light = dir.path() + "/light";
  std::vector<std::string> first;
  for (int i = 0; i < 3; ++i) first.push_back(put("a" + std::to_string(i)));

  // First proof through the light store: every header up to the block.
  const std::string p1 = dir.path() + "/p1.json";
  json one = JsonOf(Cairn({"--rpc", node.url(), "--json", "prove", "tx", first.back(), "--out", p1,
                           "--genesis", genesis, "--light-dir", light}));
  const uint64_t h1 = one["height"];
  CHECK(one["light"]["store_height_before"] == 0);
  CHECK(one["light"]["headers_fetched"] == h1);
  CHECK(one["headers"] == h1 - 1);

  std::vector<std::string> second;
  for (int i = 0; i < 3; ++i) second.push_back(put("b" + std::to_string(i)));
  // Second proof: only the headers past the store's newest.
  const std::string p2 = dir.path() + "/p2.json";
  CommandResult r2 = Cairn({"--rpc", node.url(), "--json", "prove", "tx", second.back(), "--out",
                            p2, "--genesis", genesis, "--light-dir", light, "--verbose"});
  json two = JsonOf(r2);
  const uint64_t h2 = two["height"];
  REQUIRE(h2 > h1);
  CHECK(two["light"]["store_height_before"] == h1);
  CHECK(two["light"]["headers_fetched"] == h2 - h1);
  CHECK(two["light"]["store_height_after"] == h2);
  CHECK_THAT(r2.err, Catch::Contains("light: fetched headers " + std::to_string(h1 + 1) + ".." +
                                     std::to_string(h2)));
  // A proof of an older block needs nothing new.
  json three = JsonOf(Cairn({"--rpc", node.url(), "--json", "prove", "tx", first.front(), "--out",
                             dir.path() + "/p3.json", "--genesis", genesis, "--light-dir", light}));
  CHECK(three["light"]["headers_fetched"] == 0);
  // A short file: headers from h1 + 1 only, for a verifier whose store trusts h1.
  const std::string p4 = dir.path() + "/p4.json";
  REQUIRE(Cairn({"--rpc", node.url(), "prove", "tx", second.back(), "--out", p4, "--genesis",
                 genesis, "--light-dir", light, "--headers-from", std::to_string(h1 + 1)})
              .exit_code == 0);
  const std::string verifier_store = dir.path() + "/verifier";
  json synced = JsonOf(Cairn({"--rpc", node.url(), "--json", "light", "sync", "--genesis", genesis,
                              "--light-dir", verifier_store, "--to", std::to_string(h1)}));
  CHECK(synced["height"] == h1);

  REQUIRE(node.Stop() == 0);

  CommandResult ok = Cairn({"verify-proof", p2, "--genesis", genesis});
  REQUIRE(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::StartsWith("transaction " + second.back() + " is at index 0 of block " +
                                       std::to_string(h2)) &&
                         Catch::Contains("linked to genesis by " + std::to_string(h2) +
                                         " signed headers (authorship, not finality"));
  CommandResult short_alone = Cairn({"verify-proof", p4, "--genesis", genesis});
  CHECK(short_alone.exit_code == 1);
  CHECK_THAT(short_alone.err, Catch::Contains("headers start at " + std::to_string(h1 + 1)));
  CommandResult short_ok =
      Cairn({"verify-proof", p4, "--genesis", genesis, "--light-dir", verifier_store});
  CHECK(short_ok.exit_code == 0);
  CHECK_THAT(short_ok.out,
             Catch::Contains("linked to the light store's trusted header " + std::to_string(h1)));

  const json original = json::parse(ReadFile(p2));
  REQUIRE(original["headers"].size() == h2 - 1);
  const std::string chain_id = original["chain_id"];
  // A linked header's tx_root: the next header's prev_hash no longer names it.
  CHECK_THAT(Refusal(dir.path(), original, genesis,
                     [&](json& j) {
                       j["headers"][0]["header"] =
                           FlipDigit(j["headers"][0]["header"], TxRootHexOffset(chain_id) + 3);
                     }),
             Catch::StartsWith("cairn: proof refused: header 1: proposer_signature: ") ||
                 Catch::StartsWith("cairn: proof refused: header 2: header: prev_hash "));
  // A linked header's signature.
  CHECK_THAT(Refusal(dir.path(), original, genesis,
                     [](json& j) {
                       j["headers"][1]["proposer_sig"] =
                           FlipDigit(j["headers"][1]["proposer_sig"], 7);
                     }),
             Catch::StartsWith("cairn: proof refused: header 2: proposer_signature: "));
  // The proven header itself.
  CHECK_THAT(Refusal(dir.path(), original, genesis,
                     [&](json& j) {
                       j["header"] = FlipDigit(j["header"], TxRootHexOffset(chain_id) + 1);
                     }),
             Catch::StartsWith("cairn: proof refused: header " + std::to_string(h2) +
                               ": proposer_signature: "));
  // A header left out.
  CHECK_THAT(Refusal(dir.path(), original, genesis,
                     [](json& j) { j["headers"].erase(j["headers"].begin()); }),
             Catch::StartsWith("cairn: proof refused: headers: " + std::to_string(h2 - 2) +
                               " entries, but heights 1 to " + std::to_string(h2 - 1)));
  CHECK_THAT(Refusal(dir.path(), original, genesis,
                     [](json& j) { j["proof"] = FlipDigit(j["proof"], 2); }),
             Catch::StartsWith("cairn: proof refused: proof: "));

  // Hostile files through the binary: one line on stderr, exit 1, no crash.
  const std::string text = ReadFile(p2);
  const std::string cut = dir.path() + "/cut.json";
  {
    std::ofstream out(cut, std::ios::trunc);
    out << text.substr(0, text.size() / 3);
  }
  CommandResult truncated = Cairn({"verify-proof", cut, "--genesis", genesis});
  CHECK(truncated.exit_code == 1);
  CHECK_THAT(truncated.err, Catch::StartsWith("cairn: proof refused: " + cut + ": not JSON: "));
  CHECK(std::count(truncated.err.begin(), truncated.err.end(), '\n') == 1);
  json huge = original;
  for (int i = 0; i < 250'000; ++i) huge["headers"].push_back(json::object());
  WriteJson(cut, huge);
  CommandResult many = Cairn({"verify-proof", cut, "--genesis", genesis});
  CHECK(many.exit_code == 1);
  CHECK_THAT(many.err, Catch::Contains("proof file: headers: ") &&
                           Catch::Contains(" entries exceeds 200000"));
}

TEST_CASE("cairn prove tx on a 3-validator Raft network verifies offline through the header chain",
          "[cli][integration][raft][proof]") {
  REQUIRE_FALSE(CairnPath().empty());
  TempNetwork net("cli-proof-raft", 3, 0, "raft");
  net.StartAll({"v0", "v1", "v2"});
  const std::string genesis = net.dir() + "/genesis.json";
  auto c = net.Client("v1");
  REQUIRE(Eventually(
      [&] {
        const json s = net.Status("v1");
        return s.is_object() && !s.value("leader", std::string()).empty();
      },
      30s));
  uint64_t nonce = 0;
  std::vector<std::string> sent;
  for (int round = 0; round < 3; ++round) {  // several blocks, so the chain has links
    std::vector<std::string> batch = net.Load("v1", &nonce, 5);
    REQUIRE(batch.size() == 5);
    for (const std::string& h : batch) REQUIRE(WaitCommitted(c, h, 60s));
    sent.insert(sent.end(), batch.begin(), batch.end());
  }
  const std::string file = net.dir() + "/proof.json";
  REQUIRE(Cairn({"--rpc", c.url(), "prove", "tx", sent.back(), "--out", file, "--genesis", genesis})
              .exit_code == 0);
  for (const char* n : {"v0", "v1", "v2"}) CHECK(net.Stop(n) == 0);

  json v = JsonOf(Cairn({"verify-proof", file, "--genesis", genesis, "--json"}));
  CHECK(v["basis"] == "header_chain");
  CHECK(v["linked_headers"] == v["height"]);
  const json original = json::parse(ReadFile(file));
  CHECK(original["certificate"].is_null());
  CHECK(original["headers"].size() == original["height"].get<size_t>() - 1);
  CHECK_THAT(Refusal(net.dir(), original, genesis,
                     [](json& j) { j["proposer_sig"] = FlipDigit(j["proposer_sig"], 0); }),
             Catch::Contains(": proposer_signature: the signature by "));
}
