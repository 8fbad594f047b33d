// JsonTooDeepAt: the nesting bound applied to untrusted JSON before nlohmann parses it (a
// WebSocket subscribe call, a proof file). Checked against nlohmann's own tree on seeded
// random documents whose strings are full of brackets, quotes and backslashes.
#include "base/json_depth.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace cairn {
namespace {

constexpr size_t npos = std::string_view::npos;

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST_CASE("json depth: exactly the limit passes, one more level is refused where it opens",
          "[base][json]") {
  CHECK(JsonNestingWithin("", 0));
  CHECK(JsonNestingWithin("1", 0));
  CHECK(JsonTooDeepAt("[1]", 1) == npos);
  CHECK_FALSE(JsonNestingWithin("[]", 0));
  CHECK(JsonTooDeepAt("[]", 0) == 0);
  // {"a":[{"b":[1]}]} is 4 deep.
  const std::string four = R"({"a":[{"b":[1]}]})";
  CHECK(JsonNestingWithin(four, 4));
  CHECK(JsonTooDeepAt(four, 3) == four.find('[', 6));
  for (size_t n : {1u, 8u, 64u}) {
    const std::string exact = Repeat("[", n) + Repeat("]", n);
    const std::string over = Repeat("[", n + 1) + Repeat("]", n + 1);
    CHECK(JsonNestingWithin(exact, n));
    CHECK_FALSE(JsonNestingWithin(over, n));
    CHECK(JsonTooDeepAt(over, n) == n);
  }
  // Siblings do not add up: depth is nesting, not a count of brackets.
  CHECK(JsonNestingWithin(Repeat("[[]]", 1000), 2));
}

TEST_CASE("json depth: brackets inside strings do not count, escapes included", "[base][json]") {
  CHECK(JsonNestingWithin(R"(["[[[[{{{{"])", 1));
  // An escaped quote does not end the string; the brackets after it are still inside it.
  CHECK(JsonNestingWithin(R"(["\"[[[[", 1])", 1));
  // An escaped backslash does not escape the quote after it: the string ends there.
  CHECK_FALSE(JsonNestingWithin(R"(["\\", [[1]]])", 2));
  CHECK(JsonNestingWithin(R"(["\\", [[1]]])", 3));
  // A string left open hides the rest: harmless, the parser refuses it.
  CHECK(JsonNestingWithin(R"([" )" + Repeat("[", 100), 1));
  // A key is a string too.
  CHECK(JsonNestingWithin(R"({"[[[[":{"}}}}{{{{":1}})", 2));
}

TEST_CASE("json depth: closers with nothing open buy no room for more openers", "[base][json]") {
  // A scan whose depth went negative here would let 8 + 100 levels through a limit of 8.
  const std::string text = Repeat("]", 100) + Repeat("[", 9);
  CHECK(JsonTooDeepAt(text, 8) == 108);
  CHECK_FALSE(JsonNestingWithin(R"({"method":"subscribe"}]]]]]]]]]][[[[[[[[[)", 8));
}

TEST_CASE("json depth: huge inputs are one pass, and stop at the first level too deep",
          "[base][json][slow]") {
  // 16 MiB of openers: refused at the first one past the limit, whatever follows.
  const std::string deep(16u << 20, '[');
  CHECK(JsonTooDeepAt(deep, 64) == 64);
  // 16 MiB that must be read to the end: a string of escapes and brackets, and flat siblings.
  const std::string str = "[\"" + Repeat("\\\"[{\\\\", 3u << 20) + "\"]";
  CHECK(JsonNestingWithin(str, 1));
  CHECK(JsonNestingWithin(Repeat("[1,{}],", 2u << 20), 2));
}

// A random value nested exactly `depth` deep (depth 0: a scalar), with strings made of the
// characters a scanner can get wrong.
nlohmann::json RandomValue(std::mt19937_64& rng, size_t depth) {
  auto str = [&rng] {
    static constexpr char kChars[] = "[]{}\"\\ax,:";
    std::string s(rng() % 12, ' ');
    for (char& c : s) c = kChars[rng() % (sizeof kChars - 1)];
    return s;
  };
  if (depth == 0) {
    switch (rng() % 3) {
      case 0:
        return str();
      case 1:
        return static_cast<int64_t>(rng() % 1000);
      default:
        return nullptr;
    }
  }
  const size_t n = 1 + rng() % 3;
  const size_t deep_one = rng() % n;  // one child carries the full depth
  const bool object = rng() % 2 == 0;
  nlohmann::json out = object ? nlohmann::json::object() : nlohmann::json::array();
  for (size_t i = 0; i < n; ++i) {
    nlohmann::json child = RandomValue(rng, i == deep_one ? depth - 1 : rng() % depth);
    if (object) {
      out[str() + std::to_string(i)] = std::move(child);
    } else {
      out.push_back(std::move(child));
    }
  }
  return out;
}

TEST_CASE("json depth: agrees with nlohmann's tree on seeded random documents", "[base][json]") {
  const uint64_t seed = std::random_device{}();
  std::printf("json depth seed %llu\n", static_cast<unsigned long long>(seed));
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 2000; ++round) {
    const size_t depth = rng() % 12;
    const std::string text = RandomValue(rng, depth).dump();
    INFO(text);
    CHECK(JsonNestingWithin(text, depth));
    if (depth > 0) CHECK_FALSE(JsonNestingWithin(text, depth - 1));
  }
}

}  // namespace
}  // namespace cairn
