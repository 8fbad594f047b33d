// A quick throughput probe for block execution and verification; hidden ([.bench]) and
// never asserting speed. Run: ledger_test "[.bench]" in a RelWithDebInfo build.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "ledger_test_util.h"
#include "tests/kit/chain_fixture.h"

using namespace cairn;
using namespace cairn::ledger;
using namespace cairn::ledger::testing;

namespace {

// Best of `runs` wall times of fn, in seconds.
double BestSeconds(int runs, const std::function<void()>& fn) {
  double best = 1e9;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    fn();
    std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
    best = std::min(best, d.count());
  }
  return best;
}

}  // namespace

TEST_CASE("bench: execute and verify a block of 1,000 transfers", "[.bench][ledger]") {
  constexpr int kAccounts = 1000;
  constexpr int kRuns = 5;
  std::vector<crypto::KeyPair> keys;
  MemoryState state;
  StateDiff genesis;
  for (int i = 0; i < kAccounts; ++i) {
    keys.push_back(Key(1000 + i));
    genesis[AccountKey(keys.back().public_key())] = Account{1000000, 0, Role::kMember}.Encode();
  }
  state.Apply(genesis);
  BlockHeader parent;
  parent.chain_id = kChain;
  parent.state_root = StateRootOf(genesis);

  std::vector<Transaction> txs;
  for (int i = 0; i < kAccounts; ++i)
    txs.push_back(PayTx(keys[i], 0, keys[(i + 1) % kAccounts], 7));

  const StateTree::View parent_view = cairn::testkit::TreeOf(state);
  BuiltBlock built;
  const double build_s = BestSeconds(
      kRuns, [&] { built = BuildBlock(state, parent, parent_view, txs, 1, Key(9), {}); });
  REQUIRE(built.skipped.empty());
  REQUIRE(built.block.txs.size() == static_cast<size_t>(kAccounts));
  const Block& block = built.block;

  ExecOptions one, two, known;
  two.verify_threads = 2;
  known.signature_known_valid = [](const crypto::Hash256&) { return true; };

  auto run_exec = [&](const ExecOptions& o) {
    return BestSeconds(kRuns, [&] {
      auto r = ExecuteBlock(state, parent_view, block, o);
      REQUIRE(r.ok());
    });
  };
  auto run_verify = [&](const ExecOptions& o) {
    return BestSeconds(kRuns, [&] {
      auto r = VerifyBlock(state, parent, parent_view, block, o);
      REQUIRE(r.ok());
    });
  };
  const double exec1 = run_exec(one), exec2 = run_exec(two), exec_known = run_exec(known);
  const double ver1 = run_verify(one), ver2 = run_verify(two), ver_known = run_verify(known);
  const double decode_s = BestSeconds(kRuns, [&] {
    auto d = Block::Decode(block.Encode());
    REQUIRE(d.ok());
  });

  auto rate = [&](double s) { return kAccounts / s; };
  std::printf("ledger bench: block of %d transfers among %d accounts (best of %d)\n", kAccounts,
              kAccounts, kRuns);
  std::printf("  BuildBlock (verifies sigs, 1 thread)   %9.0f tx/s  %7.2f ms\n", rate(build_s),
              build_s * 1e3);
  std::printf("  ExecuteBlock, verify 1 thread          %9.0f tx/s  %7.2f ms\n", rate(exec1),
              exec1 * 1e3);
  std::printf("  ExecuteBlock, verify 2 threads         %9.0f tx/s  %7.2f ms\n", rate(exec2),
              exec2 * 1e3);
  std::printf("  ExecuteBlock, signatures known valid   %9.0f tx/s  %7.2f ms\n", rate(exec_known),
              exec_known * 1e3);
  std::printf("  VerifyBlock, verify 1 thread           %9.0f tx/s  %7.2f ms\n", rate(ver1),
              ver1 * 1e3);
  std::printf("  VerifyBlock, verify 2 threads          %9.0f tx/s  %7.2f ms\n", rate(ver2),
              ver2 * 1e3);
  std::printf("  VerifyBlock, signatures known valid    %9.0f tx/s  %7.2f ms\n", rate(ver_known),
              ver_known * 1e3);
  std::printf("  Block encode+decode                    %9.0f tx/s  %7.2f ms\n", rate(decode_s),
              decode_s * 1e3);
}
