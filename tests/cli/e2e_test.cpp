// The cairn binary against a real cairnd: what a user types, what they see, and exit codes.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/dev_node.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::testing;
using namespace cairn::testkit;
using nlohmann::json;

namespace {

struct Cli {
  std::string url;

  CommandResult Run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--rpc", url});
    CommandResult r = RunCommand(CairnPath(), args, std::chrono::seconds(60));
    std::string line = "cairn";
    for (const auto& a : args) line += " " + a;
    UNSCOPED_INFO(line << "\n-> exit " << r.exit_code << "\nstdout: " << r.out
                       << "\nstderr: " << r.err);
    return r;
  }
  // Runs with --json and parses stdout. REQUIRES: exit 0.
  json Json(std::vector<std::string> args) const {
    args.insert(args.begin(), "--json");
    CommandResult r = Run(args);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
  }
};

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

TEST_CASE("cairn: wallet, explorer and audit against a dev node", "[cli][integration]") {
  REQUIRE_FALSE(CairnPath().empty());
  TempDir dir("cli-e2e");
  const std::string home = dir.path() + "/home";
  DevNode node(home);
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  Cli cli{node.url()};
  const std::string admin_key = home + "/admin_key.json";
  const std::string admin = node.AdminKey().public_key().ToHex();

  // keys new prints the address alone and writes a 0600 file.
  const std::string alice_key = dir.path() + "/alice.json";
  CommandResult created = cli.Run({"keys", "new", "--out", alice_key});
  REQUIRE(created.exit_code == 0);
  const std::string alice = Trim(created.out);
  REQUIRE(alice.size() == 64);
  struct stat st {};
  REQUIRE(stat(alice_key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(cli.Json({"keys", "show", "--key", alice_key})["address"] == alice);
  CHECK(cli.Run({"keys", "new", "--out", alice_key}).exit_code == 1);  // never overwrites

  // Register, fund, notarise.
  CommandResult reg =
      cli.Run({"send", "register", "--key", admin_key, "--pubkey", alice, "--wait"});
  REQUIRE(reg.exit_code == 0);
  CHECK_THAT(reg.out, Catch::Contains("status  committed") && Catch::Contains("result  ok"));
  json fund = cli.Json(
      {"send", "transfer", "--key", admin_key, "--to", alice, "--amount", "5000", "--wait"});
  CHECK(fund["status"] == "committed");
  CHECK(fund["receipt"]["result"] == "ok");
  CommandResult put = cli.Run(
      {"send", "put", "--key", alice_key, "--name", "doc-1", "--value", "sha256:3f2a", "--wait"});
  REQUIRE(put.exit_code == 0);

  // Read them back.
  json acct = cli.Json({"account", alice});
  CHECK(acct["balance"] == "5000");
  CHECK(acct["role"] == "member");
  CHECK(acct["nonce"] == 1);
  CommandResult rec = cli.Run({"record", "--address", alice, "--name", "doc-1"});
  REQUIRE(rec.exit_code == 0);
  CHECK_THAT(rec.out, Catch::Contains("value     sha256:3f2a"));
  json tx = cli.Json({"tx", fund["hash"]});
  CHECK(tx["status"] == "committed");
  CHECK(tx["tx"]["amount"] == "5000");

  json blocks = cli.Json({"blocks", "--from", "0"});
  json status = cli.Json({"status"});
  CHECK(blocks.size() == status["height"].get<size_t>() + 1);
  CommandResult table = cli.Run({"blocks"});
  CHECK_THAT(table.out, Catch::StartsWith("HEIGHT  TIME"));
  CHECK(cli.Json({"block", "latest"})["height"] == status["height"]);
  CHECK(cli.Json({"validators"})["validators"].size() == 1);
  CHECK(cli.Json({"peers"}).empty());
  // A solo chain has no equivocation to prove.
  CHECK(cli.Json({"evidence"}).empty());
  CHECK(cli.Run({"evidence"}).out.find("no evidence") != std::string::npos);

  // follow prints the next block as it commits; --from pins which one, so it does not matter
  // whether follow or the commit gets there first.
  const uint64_t next = cli.Json({"status"})["height"].get<uint64_t>() + 1;
  Process follow(CairnPath(),
                 {"--rpc", cli.url, "--json", "follow", "--from", std::to_string(next), "--count",
                  "1", "--timeout", "60"},
                 dir.path() + "/follow.err");
  CommandResult sent =
      cli.Run({"send", "transfer", "--key", admin_key, "--to", alice, "--amount", "1", "--wait"});
  REQUIRE(sent.exit_code == 0);
  auto line = follow.WaitForLine("{", std::chrono::seconds(60));
  REQUIRE(line);
  CHECK(json::parse(*line)["height"] == next);
  CHECK(follow.Wait(std::chrono::seconds(30)) == 0);

  // Failures: exit 1 with one line on stderr; usage errors exit 2.
  CommandResult low = cli.Run(
      {"send", "transfer", "--key", alice_key, "--to", admin, "--amount", "1", "--nonce", "0"});
  CHECK(low.exit_code == 1);
  CHECK(low.err == "cairn: rejected: nonce_too_low: nonce 0 is used; next is 1\n");
  CHECK(low.out.empty());
  CommandResult usage = cli.Run({"send", "transfer", "--key", alice_key, "--to", "xyz"});
  CHECK(usage.exit_code == 2);
  CHECK(std::count(usage.err.begin(), usage.err.end(), '\n') == 1);
  CommandResult unknown = cli.Run({"account", std::string(64, '0')});
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::StartsWith("cairn: not found: "));

  // The audit over RPC, then offline once the node is stopped.
  json online = cli.Json({"audit", "--genesis", home + "/genesis.json"});
  CHECK(online["ok"] == true);
  REQUIRE(node.Stop() == 0);
  CommandResult offline =
      cli.Run({"audit", "--data-dir", home + "/data", "--genesis", home + "/genesis.json"});
  CHECK(offline.exit_code == 0);
  CHECK_THAT(offline.out, Catch::Contains("audit passed") &&
                              Catch::Contains("(the stored state equals the replay)"));
  CommandResult down = cli.Run({"status"});
  CHECK(down.exit_code == 1);
  CHECK_THAT(down.err, Catch::StartsWith("cairn: cannot reach the node at "));
}
