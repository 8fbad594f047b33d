// `cairn lease` and the fencing example against a real solo cairnd (--dev): two clients race for
// one lease and exactly one wins; the lease expires exactly at its documented height; the
// other client then acquires it with a larger token; the expired holder's renew is refused; the
// fencing service refuses the old holder's write; and the audit replays it all from the data
// directory.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

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
  // --json output; the exit code is the caller's to check (a failed receipt exits 1).
  json Json(std::vector<std::string> args, int* exit_code = nullptr) const {
    args.insert(args.begin(), "--json");
    CommandResult r = Run(args);
    if (exit_code != nullptr) {
      *exit_code = r.exit_code;
    } else {
      REQUIRE(r.exit_code == 0);
    }
    return json::parse(r.out);
  }
};

CommandResult Fencing(std::vector<std::string> args) {
  CommandResult r = RunCommand(CAIRN_FENCING_STORE_PATH, args, std::chrono::seconds(30));
  std::string line = "fencing-store";
  for (const auto& a : args) line += " " + a;
  UNSCOPED_INFO(line << "\n-> exit " << r.exit_code << "\nstdout: " << r.out
                     << "\nstderr: " << r.err);
  return r;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

TEST_CASE("cairn lease: a race, expiry at expires_at, a takeover, fencing, and the audit",
          "[cli][integration][lease]") {
  REQUIRE_FALSE(CairnPath().empty());
  TempDir dir("cli-lease");
  const std::string home = dir.path() + "/home";
  DevNode node(home);
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  Cli cli{node.url()};
  const std::string admin_key = home + "/admin_key.json";

  const std::string a_key = dir.path() + "/a.json", b_key = dir.path() + "/b.json";
  const std::string a = Trim(cli.Run({"keys", "new", "--out", a_key}).out);
  const std::string b = Trim(cli.Run({"keys", "new", "--out", b_key}).out);
  for (const std::string& who : {a, b}) {
    REQUIRE(
        cli.Run({"send", "register", "--key", admin_key, "--pubkey", who, "--wait"}).exit_code ==
        0);
  }
  // A block with a transaction of nobody in this story, to move the height on.
  auto next_block = [&] {
    REQUIRE(cli.Run({"send", "put", "--key", admin_key, "--name", "tick", "--value", "x", "--wait"})
                .exit_code == 0);
  };

  // Never acquired: shown as such.
  json never = cli.Json({"lease", "show", "db/primary"});
  CHECK(never["exists"] == false);
  CHECK(never["holder"].is_null());

  // The race: both send at once (--skip-checks: no pre-check can turn one away first); the
  // chain orders them, so exactly one receipt is ok and the other is lease_held.
  json race[2];
  int race_exit[2] = {0, 0};
  {
    std::thread ta([&] {
      race[0] = cli.Json({"lease", "acquire", "db/primary", "--ttl", "4", "--key", a_key,
                          "--skip-checks", "--wait"},
                         &race_exit[0]);
    });
    std::thread tb([&] {
      race[1] = cli.Json({"lease", "acquire", "db/primary", "--ttl", "4", "--key", b_key,
                          "--skip-checks", "--wait"},
                         &race_exit[1]);
    });
    ta.join();
    tb.join();
  }
  const int winner_i = race[0]["receipt"]["result"] == "ok" ? 0 : 1;
  const int loser_i = 1 - winner_i;
  INFO("race: " << race[0].dump() << " / " << race[1].dump());
  REQUIRE(race[winner_i]["receipt"]["result"] == "ok");
  CHECK(race_exit[winner_i] == 0);
  CHECK(race[loser_i]["receipt"]["result"] == "lease_held");
  CHECK(race[loser_i]["receipt"]["code"] == 17);
  CHECK(race_exit[loser_i] == 1);
  const std::string w_key = winner_i == 0 ? a_key : b_key, l_key = winner_i == 0 ? b_key : a_key;
  const std::string w = winner_i == 0 ? a : b, l = winner_i == 0 ? b : a;

  json held = cli.Json({"lease", "show", "db/primary"});
  CHECK(held["holder"] == w);
  CHECK(held["held"] == true);
  const uint64_t token1 = held["token"];
  CHECK(token1 == 1);
  const uint64_t acquired_at = race[winner_i]["height"];
  const uint64_t expires_at = held["expires_at"];
  CHECK(expires_at == acquired_at + 4);
  CHECK(race[winner_i]["lease"]["token"] == token1);

  // The fencing service takes the holder's write, checked against the chain too.
  const std::string state = dir.path() + "/fencing-state";
  CHECK(
      Fencing({"--state", state, "write", "db/primary", "--token", std::to_string(token1), "--data",
               "from-first", "--rpc", node.url(), "--lease", "db/primary", "--writer", w})
          .exit_code == 0);

  // The loser is told before sending while the lease is held.
  CommandResult early = cli.Run({"lease", "acquire", "db/primary", "--ttl", "4", "--key", l_key});
  CHECK(early.exit_code == 1);
  CHECK_THAT(early.err, Catch::Contains("is held by " + w));

  // Up to expires_at - 1 the lease is held; the first block at expires_at frees it.
  while (cli.Json({"status"})["height"].get<uint64_t>() < expires_at - 1) next_block();
  json last_held = cli.Json({"lease", "show", "db/primary"});
  CHECK(last_held["height"] == expires_at - 1);
  CHECK(last_held["held"] == true);
  next_block();
  json expired = cli.Json({"lease", "show", "db/primary"});
  REQUIRE(expired["height"] == expires_at);
  CHECK(expired["held"] == false);
  CHECK(expired["holder"] == w);  // the last holder, no longer holding
  CHECK_THAT(cli.Run({"lease", "show", "db/primary"}).out, Catch::Contains("expired"));

  // The expired holder's renew is refused: told before sending, and lease_expired on chain.
  CommandResult late =
      cli.Run({"lease", "renew", "db/primary", "--token", std::to_string(token1), "--key", w_key});
  CHECK(late.exit_code == 1);
  int renew_exit = 0;
  json renew = cli.Json({"lease", "renew", "db/primary", "--token", std::to_string(token1), "--key",
                         w_key, "--skip-checks", "--wait"},
                        &renew_exit);
  CHECK(renew_exit == 1);
  CHECK(renew["receipt"]["result"] == "lease_expired");
  CHECK(renew["receipt"]["code"] == 19);

  // The other client acquires it with a larger token.
  json took = cli.Json({"lease", "acquire", "db/primary", "--ttl", "50", "--key", l_key, "--wait"});
  CHECK(took["receipt"]["result"] == "ok");
  CHECK(took["lease"]["holder"] == l);
  const uint64_t token2 = took["lease"]["token"];
  CHECK(token2 == token1 + 1);
  // Now the old holder is no holder at all.
  json renew2 = cli.Json({"lease", "renew", "db/primary", "--token", std::to_string(token1),
                          "--key", w_key, "--skip-checks", "--wait"},
                         &renew_exit);
  CHECK(renew2["receipt"]["result"] == "not_holder");

  // Fencing: the new holder writes; the old holder's write is refused, by the token order alone
  // and by the chain check.
  CHECK(
      Fencing({"--state", state, "write", "db/primary", "--token", std::to_string(token2), "--data",
               "from-second", "--rpc", node.url(), "--lease", "db/primary", "--writer", l})
          .exit_code == 0);
  CommandResult stale = Fencing({"--state", state, "write", "db/primary", "--token",
                                 std::to_string(token1), "--data", "stale"});
  CHECK(stale.exit_code == 3);
  CHECK_THAT(stale.err, Catch::Contains("stale fencing token 1"));
  CommandResult stale_checked =
      Fencing({"--state", state, "write", "other", "--token", std::to_string(token1), "--data",
               "stale", "--rpc", node.url(), "--lease", "db/primary", "--writer", w});
  CHECK(stale_checked.exit_code == 3);
  CommandResult read = Fencing({"--state", state, "read", "db/primary"});
  CHECK(read.exit_code == 0);
  CHECK_THAT(read.out, Catch::Contains("from-second"));

  // Release, then watch shows the released state; a new acquire gets token + 1.
  CHECK(cli.Run({"lease", "release", "db/primary", "--token", std::to_string(token2), "--key",
                 l_key, "--wait"})
            .exit_code == 0);
  CommandResult watch = cli.Run({"lease", "watch", "db/primary", "--timeout", "0"});
  CHECK(watch.exit_code == 0);
  CHECK_THAT(watch.out, Catch::Contains("released (token " + std::to_string(token2) + ")"));
  json third = cli.Json({"lease", "acquire", "db/primary", "--ttl", "5", "--key", w_key, "--wait"});
  CHECK(third["lease"]["token"] == token2 + 1);

  // The proof the node gives verifies (cairn lease show --proof carries it).
  json proved = cli.Json({"lease", "show", "db/primary", "--proof"});
  CHECK(proved["proof"].is_string());
  CHECK(proved["state_key"].is_string());

  // The audit replays every block (expiry included) and compares the stored state.
  REQUIRE(node.Stop() == 0);
  CommandResult audit =
      cli.Run({"audit", "--data-dir", home + "/data", "--genesis", home + "/genesis.json"});
  CHECK(audit.exit_code == 0);
  CHECK_THAT(audit.out, Catch::Contains("audit passed") &&
                            Catch::Contains("(the stored state equals the replay)"));
}
