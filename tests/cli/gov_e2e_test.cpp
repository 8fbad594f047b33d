// `cairn gov` and `cairn validators` against a real solo cairnd (--dev, whose one admin account
// is the one governance admin): what an admin types and sees through a governance round, the
// refusals a non-admin and a late approver get, a proposal that expires without quorum, a set
// change that takes effect two blocks after it executes, and a light client that follows it.
#include <catch2/catch.hpp>
#include <filesystem>
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

TEST_CASE("cairn gov: propose, approve, expire, refuse, and a set change at h + 2",
          "[cli][integration][membership]") {
  REQUIRE_FALSE(CairnPath().empty());
  TempDir dir("cli-gov");
  const std::string home = dir.path() + "/home";
  DevNode node(home);
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  Cli cli{node.url()};
  const std::string admin_key = home + "/admin_key.json";
  const std::string admin = node.AdminKey().public_key().ToHex();

  // The genesis set and governance: one validator, its one admin.
  json set0 = cli.Json({"validators"});
  REQUIRE(set0["validators"].size() == 1);
  CHECK(set0["validators"][0]["id"] == 0);
  CHECK(set0["observers"].empty());
  CHECK(set0["pending"].is_null());
  CHECK(set0["governance"]["enabled"] == true);
  CHECK(set0["governance"]["threshold"] == 1);
  CHECK(set0["governance"]["admins"] == json::array({admin}));
  CommandResult table = cli.Run({"validators"});
  CHECK_THAT(table.out, Catch::Contains("governance: 1 of 1 admins"));

  // A second admin-to-be and a plain member, both registered accounts.
  const std::string bob_key = dir.path() + "/bob.json", alice_key = dir.path() + "/alice.json";
  const std::string bob = Trim(cli.Run({"keys", "new", "--out", bob_key}).out);
  const std::string alice = Trim(cli.Run({"keys", "new", "--out", alice_key}).out);
  for (const std::string& who : {bob, alice}) {
    REQUIRE(
        cli.Run({"send", "register", "--key", admin_key, "--pubkey", who, "--wait"}).exit_code ==
        0);
  }
  const std::string observer_key = std::string(63, '0') + "7";

  // A non-admin is told before anything is sent, and by the chain when it insists.
  CommandResult early = cli.Run({"gov", "propose", "add-observer", "--key", alice_key, "--name",
                                 "obs", "--p2p-key", observer_key});
  CHECK(early.exit_code == 1);
  CHECK_THAT(early.err, Catch::Contains("is not a governance admin"));
  CommandResult refused = cli.Run({"gov", "propose", "add-observer", "--key", alice_key, "--name",
                                   "obs", "--p2p-key", observer_key, "--skip-checks", "--wait"});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("failed: not_governance_admin") &&
                              Catch::Contains("is not a governance admin"));

  // With threshold 1 the admin's proposal runs at once: two admins, threshold 2.
  json gov = cli.Json({"gov", "propose", "set-governance", "--key", admin_key, "--threshold", "2",
                       "--admin", admin, "--admin", bob, "--wait"});
  CHECK(gov["receipt"]["result"] == "ok");
  CHECK(gov["proposal"]["status"] == "executed");
  CHECK(gov["proposal_id"] == gov["hash"]);
  json config = cli.Json({"validators"})["governance"];
  CHECK(config["threshold"] == 2);
  CHECK(config["admins"] == json::array({admin, bob}));

  // A proposal that gets no second approval before it expires has no effect.
  json lone = cli.Json({"gov", "propose", "add-observer", "--key", admin_key, "--name", "obs",
                        "--p2p-key", observer_key, "--expires-in", "3", "--wait"});
  REQUIRE(lone["proposal"]["status"] == "open");
  CHECK(lone["proposal"]["approvals"] == json::array({admin}));
  const std::string lone_id = lone["hash"];
  const uint64_t expires_at = lone["proposal"]["expires_at"];
  json listed = cli.Json({"gov", "list"});
  REQUIRE(listed["proposals"].size() == 1);
  CHECK(listed["proposals"][0]["id"] == lone_id);
  CHECK_THAT(cli.Run({"gov", "list"}).out, Catch::Contains("add_observer obs"));
  while (cli.Json({"status"})["height"].get<uint64_t>() < expires_at) {
    REQUIRE(
        cli.Run({"send", "transfer", "--key", admin_key, "--to", alice, "--amount", "1", "--wait"})
            .exit_code == 0);
  }
  json shown = cli.Json({"gov", "show", lone_id});
  CHECK(shown["status"] == "expired");
  CHECK(shown["stored_status"] == "open");
  CHECK(cli.Json({"gov", "list"})["proposals"].empty());
  CHECK(cli.Json({"gov", "list", "--all"})["proposals"].size() == 1);
  CommandResult late = cli.Run({"gov", "approve", lone_id, "--key", bob_key});
  CHECK(late.exit_code == 1);
  CHECK_THAT(late.err, Catch::Contains("expired: it could be approved up to block " +
                                       std::to_string(expires_at)));
  CommandResult late_sent =
      cli.Run({"gov", "approve", lone_id, "--key", bob_key, "--skip-checks", "--wait"});
  CHECK(late_sent.exit_code == 1);
  CHECK_THAT(late_sent.err, Catch::Contains("failed: proposal_expired"));
  CHECK(cli.Json({"gov", "show", lone_id})["stored_status"] == "expired");
  CHECK(cli.Json({"validators"})["observers"].empty());

  // A non-admin's approval is refused too.
  json add = cli.Json({"gov", "propose", "add-validator", "--key", admin_key, "--name", "v1",
                       "--consensus-key", bob, "--wait"});
  REQUIRE(add["proposal"]["status"] == "open");
  const std::string add_id = add["hash"];
  CommandResult alice_approves = cli.Run({"gov", "approve", add_id, "--key", alice_key});
  CHECK(alice_approves.exit_code == 1);
  CHECK_THAT(alice_approves.err, Catch::Contains("is not a governance admin"));
  CommandResult twice = cli.Run({"gov", "approve", add_id, "--key", admin_key});
  CHECK(twice.exit_code == 1);
  CHECK_THAT(twice.err, Catch::Contains("already approved"));

  // The second approval executes it at h; set(h + 1) is unchanged, set(h + 2) has v1.
  json approved = cli.Json({"gov", "approve", add_id, "--key", bob_key, "--wait"});
  CHECK(approved["receipt"]["result"] == "ok");
  REQUIRE(approved["proposal"]["status"] == "executed");
  const uint64_t h = approved["proposal"]["result_height"];
  CHECK(h == approved["height"].get<uint64_t>());
  json at1 = cli.Json({"validators", "--at", std::to_string(h + 1)});
  CHECK(at1["validators"].size() == 1);
  REQUIRE(at1["pending"].is_object());
  CHECK(at1["pending"]["effective_height"] == h + 2);
  json at2 = cli.Json({"validators", "--at", std::to_string(h + 2)});
  REQUIRE(at2["validators"].size() == 2);
  CHECK(at2["validators"][1]["id"] == 1);
  CHECK(at2["validators"][1]["name"] == "v1");
  CHECK(at2["validators"][1]["consensus_key"] == bob);
  CHECK(at2["validators_hash"] != at1["validators_hash"]);
  CHECK(cli.Json({"validators", "--at", std::to_string(h)})["validators_hash"] ==
        set0["validators_hash"]);
  CommandResult ahead = cli.Run(
      {"validators", "--at", std::to_string(cli.Json({"status"})["height"].get<uint64_t>() + 3)});
  CHECK(ahead.exit_code == 1);
  CHECK_THAT(ahead.err, Catch::Contains("is not known yet"));
  CommandResult closed = cli.Run({"gov", "approve", add_id, "--key", bob_key});
  CHECK(closed.exit_code == 1);
  CHECK_THAT(closed.err, Catch::Contains("is executed"));

  // The chain goes on past h + 2, and headers name the new set.
  while (cli.Json({"status"})["height"].get<uint64_t>() < h + 3) {
    REQUIRE(
        cli.Run({"send", "transfer", "--key", admin_key, "--to", alice, "--amount", "1", "--wait"})
            .exit_code == 0);
  }
  json block = cli.Json({"block", std::to_string(h + 2)});
  CHECK(block["validators_hash"] == at2["validators_hash"]);

  // The light client crosses the change: it fetches set(h + 2), checks it against header
  // h + 1's next_validators_hash, keeps it, and resumes with it.
  const std::string light = dir.path() + "/light";
  json synced = cli.Json(
      {"light", "sync", "--genesis", home + "/genesis.json", "--light-dir", light, "--verbose"});
  CHECK(synced["height"].get<uint64_t>() >= h + 3);
  CHECK(std::filesystem::exists(light + "/set"));
  REQUIRE(
      cli.Run({"send", "transfer", "--key", admin_key, "--to", alice, "--amount", "1", "--wait"})
          .exit_code == 0);
  json resumed =
      cli.Json({"light", "sync", "--genesis", home + "/genesis.json", "--light-dir", light});
  CHECK(resumed["height"].get<uint64_t>() > synced["height"].get<uint64_t>());
  // Without the saved set (a crash between appending headers and saving it) the next sync
  // follows the set again from the newest trusted header.
  std::filesystem::remove(light + "/set");
  REQUIRE(
      cli.Run({"send", "transfer", "--key", admin_key, "--to", alice, "--amount", "1", "--wait"})
          .exit_code == 0);
  json refollowed =
      cli.Json({"light", "sync", "--genesis", home + "/genesis.json", "--light-dir", light});
  CHECK(refollowed["height"].get<uint64_t>() > resumed["height"].get<uint64_t>());
  CHECK(std::filesystem::exists(light + "/set"));

  // Removing the validator this node is leaves no one it sees online to make blocks: the
  // command warns (and sends; without a second approval it just expires).
  CommandResult remove = cli.Run(
      {"gov", "propose", "remove", "--key", admin_key, "--id", "0", "--expires-in", "2", "--wait"});
  CHECK(remove.exit_code == 0);
  CHECK_THAT(remove.err, Catch::Contains("warning: this node sees 0 of the 1 remaining validators "
                                         "online"));

  CommandResult too_short =
      cli.Run({"gov", "propose", "remove", "--key", admin_key, "--id", "0", "--expires-in", "1"});
  CHECK(too_short.exit_code == 1);
  CHECK_THAT(too_short.err, Catch::Contains("--expires-in 1: give 2 to 100000 blocks"));

  // And the audit replays it all.
  CHECK(cli.Json({"audit", "--genesis", home + "/genesis.json"})["ok"] == true);
}
