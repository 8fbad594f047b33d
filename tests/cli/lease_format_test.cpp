// cairn lease watch's lines (cli/lease_command.h): one per change of holder, token or held.
#include <catch2/catch.hpp>

#include "cli/lease_command.h"

using namespace cairn;
using nlohmann::json;

TEST_CASE("lease watch: a line per holder, token, expiry or held change, none otherwise",
          "[cli][lease]") {
  const std::string k(64, 'a');
  json never{{"exists", false}, {"holder", nullptr}, {"held", false}, {"token", 0}};
  json held{{"exists", true}, {"holder", k},      {"held", true},
            {"token", 3},     {"expires_at", 20}, {"height", 10}};
  json later = held;
  later["height"] = 11;  // the same term a block later: nothing to say
  json renewed = held;
  renewed["expires_at"] = 25;
  json expired = held;
  expired["held"] = false;
  json released{{"exists", true}, {"holder", nullptr}, {"held", false}, {"token", 3}};

  CHECK(cli::LeaseStateLine(never) == "free (never acquired)");
  CHECK(cli::LeaseStateLine(held) == "held by " + k + " token 3 until block 20");
  CHECK(cli::LeaseChange(never, held) == cli::LeaseStateLine(held));
  CHECK(cli::LeaseChange(held, later).empty());
  CHECK(cli::LeaseChange(held, renewed) == "held by " + k + " token 3 until block 25");
  CHECK(cli::LeaseChange(held, expired) == "expired at block 20 (holder " + k + ", token 3)");
  CHECK(cli::LeaseChange(held, released) == "released (token 3)");
}
