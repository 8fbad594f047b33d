// Compact blocks on real processes: four BFT and four Raft validators on loopback commit a
// load whose blocks travel as transaction hashes, and the nodes' counter lines (logged every
// 10 s and at exit: "compact blocks: sent N ...") show it. A validator that lacks transactions
// fetching them is shown in-process (tests/node/compact_test.cpp), where gossip can be cut.
#include <catch2/catch.hpp>
#include <regex>

#include "tests/integration/temp_network.h"

using namespace cairn;
using namespace cairn::testing;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kAll = {"v0", "v1", "v2", "v3"};

// The last value of `counter` ("sent", "received", "rebuilt from the mempool") in the
// node's compact-block lines; -1 when it logged none.
long long Counter(const Network& net, const std::string& node, const std::string& counter) {
  const std::string log = net.Log(node);
  const std::regex re("compact blocks: .*?" + counter + " ([0-9]+)");
  long long last = -1;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
       ++it) {
    last = std::stoll((*it)[1].str());
  }
  return last;
}

void CommitThroughCompactBlocks(const std::string& consensus, bool compact) {
  INFO(consensus << " compact_blocks " << compact);
  TempNetwork net("it-compact-" + consensus, 4, 0, consensus);
  for (const std::string& n : kAll) {
    net.EditConfig(n, [&](nlohmann::json& c) { c["consensus"]["compact_blocks"] = compact; });
  }
  net.StartAll(kAll);
  uint64_t nonce = 0;
  std::vector<std::string> all;
  for (int round = 0; round < 4; ++round) {
    auto got = net.Load(kAll[static_cast<size_t>(round) % 4], &nonce, 60);
    CHECK(got.size() == 60);
    all.insert(all.end(), got.begin(), got.end());
    REQUIRE(Eventually([&] { return AllCommitted(net, "v0", got); }, 60s));
  }
  for (const std::string& n : kAll) {
    REQUIRE(Eventually([&] { return AllCommitted(net, n, all); }, 60s));
  }
  long long sent = 0, received = 0, rebuilt = 0;
  for (const std::string& n : kAll) {
    REQUIRE(net.Stop(n) == 0);  // the counters are logged at exit
    sent += std::max(0LL, Counter(net, n, "sent"));
    received += std::max(0LL, Counter(net, n, "received"));
    rebuilt += std::max(0LL, Counter(net, n, "rebuilt from the mempool"));
  }
  if (compact) {
    CHECK(sent > 0);
    CHECK(received > 0);
    CHECK(rebuilt > 0);
  } else {
    CHECK(sent == 0);
    CHECK(received == 0);
  }
}

}  // namespace

TEST_CASE("compact blocks: four BFT validators commit a load through compact proposals",
          "[integration][compact]") {
  CommitThroughCompactBlocks("bft", /*compact=*/true);
}

TEST_CASE("compact blocks: four Raft validators commit a load through compact appends",
          "[integration][compact]") {
  CommitThroughCompactBlocks("raft", /*compact=*/true);
}

TEST_CASE("compact blocks: consensus.compact_blocks false sends whole blocks",
          "[integration][compact]") {
  CommitThroughCompactBlocks("bft", /*compact=*/false);
}
