// Transaction admission as a client sees it through a node's API (TxPool behind NodeService):
// forged transactions refused by the cheapest check that applies and verified at most once,
// and a node that is catching up saying so instead of blaming the transaction.
#include <catch2/catch.hpp>

#include "tests/node/node_harness.h"

namespace cairn::node {
namespace {

using testing::FakeHub;
using testing::TestNetwork;

ledger::Transaction Forge(ledger::Transaction tx) {
  tx.signature.data()[7] ^= 0x20;
  return tx;
}

std::vector<ledger::TxCode> Codes(const std::vector<ledger::Admission>& as) {
  std::vector<ledger::TxCode> out;
  for (const ledger::Admission& a : as) out.push_back(a.code);
  return out;
}

// Delivers only the Status messages addressed to `to`; everything else waits in the queue.
void DeliverStatusOnly(TestNetwork& net, size_t to) {
  std::deque<FakeHub::Envelope> held;
  FakeHub& hub = net.hub();
  while (!hub.queue.empty()) {
    FakeHub::Envelope e = std::move(hub.queue.front());
    hub.queue.pop_front();
    if (e.to == net.id(to) && e.type == wire::kStatus) {
      REQUIRE(net.node(to).core->OnMessage(e.from, e.type, e.payload).ok());
    } else {
      held.push_back(std::move(e));
    }
  }
  hub.queue = std::move(held);
}

}  // namespace

TEST_CASE("copies of a forged transaction cost one signature check, ever", "[node][admission]") {
  TestNetwork net(genesis::ConsensusKind::kSolo, 1);
  net.Start();
  api::NodeApi& api = net.node(0).core->api();
  // Passes every cheap check (registered sender, nonce inside the window, funds): only the
  // signature is wrong.
  const ledger::Transaction forged = Forge(net.Transfer(net.admin(), 5, net.bob().public_key(), 1));
  std::vector<ledger::Transaction> batch(2000, forged);

  uint64_t before = ledger::SignatureVerifications();
  auto first = api.SubmitTransactions(batch);
  CHECK(ledger::SignatureVerifications() - before == 1);
  REQUIRE(first.size() == batch.size());
  for (const ledger::Admission& a : first) {
    REQUIRE(a.code == ledger::TxCode::kBadSignature);
    REQUIRE(a.hash == forged.Hash());
  }
  // Sent again, in a batch or alone: the bad signature is remembered by hash.
  before = ledger::SignatureVerifications();
  auto again = api.SubmitTransactions(batch);
  CHECK(api.SubmitTransaction(forged).code == ledger::TxCode::kBadSignature);
  CHECK(ledger::SignatureVerifications() == before);
  CHECK(Codes(again) == Codes(first));

  // A forgery refused by a cheap check is never verified at all.
  before = ledger::SignatureVerifications();
  ledger::Transaction wrong_chain = net.Transfer(net.admin(), 0, net.bob().public_key(), 1);
  wrong_chain.chain_id = "another-chain";
  CHECK(api.SubmitTransaction(Forge(wrong_chain)).code == ledger::TxCode::kWrongChain);
  CHECK(api.SubmitTransaction(Forge(net.Transfer(net.admin(), 900, net.bob().public_key(), 1)))
            .code == ledger::TxCode::kNonceTooHigh);
  CHECK(
      api.SubmitTransaction(Forge(net.Transfer(net.bob(), 0, net.admin().public_key(), 1))).code ==
      ledger::TxCode::kInsufficientBalance);
  CHECK(ledger::SignatureVerifications() == before);

  // Legitimate transactions sent alongside are admitted (a copy in the same call is answered
  // already_known) and commit.
  const ledger::Transaction legit = net.Transfer(net.admin(), 0, net.bob().public_key(), 7);
  std::vector<ledger::Transaction> mixed = {forged, legit, forged, legit};
  auto mixed_out = api.SubmitTransactions(mixed);
  CHECK(Codes(mixed_out) ==
        std::vector<ledger::TxCode>{ledger::TxCode::kBadSignature, ledger::TxCode::kOk,
                                    ledger::TxCode::kBadSignature, ledger::TxCode::kAlreadyKnown});
  // The pending legit transaction is already known without a check; so is a forgery of its
  // nonce (refused before its signature).
  before = ledger::SignatureVerifications();
  CHECK(api.SubmitTransaction(legit).code == ledger::TxCode::kAlreadyKnown);
  CHECK(
      api.SubmitTransaction(Forge(net.Transfer(net.admin(), 0, net.bob().public_key(), 8))).code ==
      ledger::TxCode::kAlreadyKnown);
  CHECK(ledger::SignatureVerifications() == before);
  REQUIRE(net.RunUntil([&] {
    auto acct = net.node(0).store->GetAccount(net.bob().public_key());
    return acct && acct->balance == 7;
  }));
  CHECK(net.node(0).core->api().GetStatus().mempool_size == 0);
}

TEST_CASE("a node catching up answers syncing where stale state would refuse",
          "[node][admission]") {
  TestNetwork net(genesis::ConsensusKind::kRaft, 3, /*observers=*/1);
  const size_t kLate = 3;
  for (size_t i = 0; i < net.size(); ++i) REQUIRE(net.node(i).core->Start().ok());
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = i + 1; j < 3; ++j) net.Connect(i, j);
  }
  net.RunUntil([&] { return false; }, 40);  // elect a leader
  // While the late node is away, the admin uses 70 nonces and registers carol.
  const crypto::KeyPair carol = testkit::TestKey(9, 0xad);
  // Two rounds: a nonce may run at most max_nonce_gap (64) ahead of the committed one.
  auto commit_admin_txs = [&](uint64_t from, uint64_t to, bool register_carol) {
    std::vector<ledger::Transaction> txs;
    for (uint64_t n = from; n < to; ++n) {
      txs.push_back(net.Transfer(net.admin(), n, net.bob().public_key(), 1));
    }
    if (register_carol) {
      ledger::Transaction reg;
      reg.chain_id = net.genesis().chain_id;
      reg.nonce = to;
      reg.payload = ledger::RegisterAccount{carol.public_key(), ledger::Role::kMember};
      reg.Sign(net.admin());
      txs.push_back(reg);
    }
    for (const ledger::Admission& a : net.node(0).core->api().SubmitTransactions(txs)) {
      INFO(a.detail);
      REQUIRE(a.ok());
    }
    const uint64_t want = to + (register_carol ? 1 : 0);
    REQUIRE(net.RunUntil([&] {
      auto acct = net.node(0).store->GetAccount(net.admin().public_key());
      return acct && acct->nonce == want;
    }));
  };
  commit_admin_txs(0, 40, false);
  commit_admin_txs(40, 69, true);

  // Valid transactions on the up-to-date chain; stale state refuses both.
  const ledger::Transaction next = net.Transfer(net.admin(), 70, net.bob().public_key(), 1);
  ledger::Transaction carols;
  carols.chain_id = net.genesis().chain_id;
  carols.payload = ledger::Put{{'k'}, {'v'}};
  carols.Sign(carol);
  api::NodeApi& late = net.node(kLate).core->api();
  // Alone, the node cannot know it is behind: it blames the transaction.
  CHECK(late.SubmitTransaction(next).code == ledger::TxCode::kNonceTooHigh);
  CHECK(late.SubmitTransaction(carols).code == ledger::TxCode::kUnknownSender);

  // Connected, it has heard a peer's head but not fetched the blocks yet.
  net.Connect(0, kLate);
  DeliverStatusOnly(net, kLate);
  REQUIRE(net.node(kLate).store->head().height < net.node(0).store->head().height);
  ledger::Admission a = late.SubmitTransaction(next);
  CHECK(a.code == ledger::TxCode::kSyncing);
  CHECK_THAT(a.detail, Catch::Contains("catching up") && Catch::Contains("nonce_too_high"));
  CHECK(late.SubmitTransaction(carols).code == ledger::TxCode::kSyncing);
  // Refusals that no missing block can explain keep their own code.
  ledger::Transaction used = net.Transfer(net.admin(), 0, net.bob().public_key(), 2);
  CHECK(late.SubmitTransaction(Forge(next)).code == ledger::TxCode::kSyncing);
  ledger::Transaction other_chain = next;
  other_chain.chain_id = "elsewhere";
  CHECK(late.SubmitTransaction(other_chain).code == ledger::TxCode::kWrongChain);

  // Caught up, it admits both, and they commit.
  REQUIRE(net.RunUntil([&] { return net.MinHeight() == net.node(0).store->head().height; }));
  CHECK(late.SubmitTransaction(next).code == ledger::TxCode::kOk);
  CHECK(late.SubmitTransaction(carols).code == ledger::TxCode::kOk);
  CHECK(late.SubmitTransaction(used).code == ledger::TxCode::kNonceTooLow);
  REQUIRE(net.RunUntil([&] {
    auto acct = net.node(0).store->GetAccount(carol.public_key());
    return acct && acct->nonce == 1;
  }));
  for (size_t i = 0; i < net.size(); ++i) CHECK(net.node(i).halted.ok());
}

}  // namespace cairn::node
