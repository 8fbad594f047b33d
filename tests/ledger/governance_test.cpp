// On-chain governance (ledger/governance.h, docs/PROTOCOL.md §3 and §7): one TEST_CASE per
// rule and failure code, the h + 2 rule and the queue, and a seeded property test that set(H)
// from state agrees with a naive replay of the executed actions.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <random>

#include "ledger/chain_store.h"
#include "ledger/governance.h"
#include "ledger/kv.h"
#include "ledger_test_util.h"

using namespace cairn;
using namespace cairn::ledger;
using namespace cairn::ledger::testing;

namespace {

crypto::KeyPair AdminKey(uint32_t i) { return testkit::TestKey(i, 0x60); }
crypto::KeyPair NodeKey(uint32_t i) { return testkit::TestKey(i, 0x61); }

// A chain whose genesis has `admins` governance admins (threshold `threshold`), one account
// that is no governance admin (`outsider`, a role admin), and `validators` validators plus
// one observer. Every block is built with BuildBlock and checked with VerifyBlock on the same
// parent before it is applied, so both paths agree on every test's blocks.
struct GovChain {
  std::vector<crypto::KeyPair> admins;
  crypto::KeyPair outsider = testkit::TestKey(99, 0x60);
  crypto::KeyPair proposer = testkit::TestKey(0, 0x62);
  MemoryState state;
  BlockHeader head;
  StateTree::View view;
  MemberSet genesis_set;
  std::map<crypto::PublicKey, uint64_t> nonces;

  GovChain(size_t num_admins, uint16_t threshold, size_t validators = 4, bool governed = true) {
    StateDiff diff;
    GovConfig config;
    config.threshold = threshold;
    for (size_t i = 0; i < num_admins; ++i) {
      admins.push_back(AdminKey(static_cast<uint32_t>(i)));
      config.admins.push_back(admins.back().public_key());
      diff[AccountKey(admins.back().public_key())] = Account{0, 0, Role::kMember}.Encode();
    }
    diff[AccountKey(outsider.public_key())] = Account{0, 0, Role::kAdmin}.Encode();
    for (size_t i = 0; i < validators; ++i) {
      auto k = NodeKey(static_cast<uint32_t>(i)).public_key();
      genesis_set.members.push_back(Member{genesis_set.next_id++, MemberKind::kValidator,
                                           "v" + std::to_string(i), k, k, "127.0.0.1:1"});
    }
    auto ok = NodeKey(500).public_key();
    genesis_set.members.push_back(
        Member{genesis_set.next_id++, MemberKind::kObserver, "obs", ok, ok, ""});
    for (auto& [k, v] :
         GenesisSystemRecords(genesis_set, governed ? std::optional(config) : std::nullopt)) {
      diff[k] = v;
    }
    state.Apply(diff);
    head.chain_id = kChain;
    head.state_root = StateRootOf(diff);
    head.validators_hash = SetHash(genesis_set.Validators());
    head.next_validators_hash = head.validators_hash;
    view = testkit::TreeOf(state);
  }

  Transaction Tx(const crypto::KeyPair& from, Payload p) {
    return SignedTx(from, nonces[from.public_key()]++, std::move(p));
  }
  Transaction ProposeTx(size_t admin, Action a, uint64_t expires_in = 100) {
    return Tx(admins[admin], GovPropose{head.height + 1 + expires_in, std::move(a)});
  }
  Transaction ApproveTx(size_t admin, const crypto::Hash256& id) {
    return Tx(admins[admin], GovApprove{id});
  }

  // Builds, verifies and applies the next block; returns its receipts.
  std::vector<Receipt> Run(std::vector<Transaction> txs) {
    BuiltBlock built =
        BuildBlock(state, head, view, std::move(txs), head.timestamp_ms + 1000, proposer);
    REQUIRE(built.skipped.empty());
    auto verified = VerifyBlock(state, head, view, built.block);
    REQUIRE(verified.ok());
    CHECK(verified->state_root == built.exec.state_root);
    state.Apply(built.exec.diff);
    head = built.block.header;
    view = built.exec.view;
    return built.exec.receipts;
  }
  TxCode RunOne(Transaction tx) { return Run({std::move(tx)}).at(0).code; }
  void Empty(size_t blocks) {
    for (size_t i = 0; i < blocks; ++i) Run({});
  }

  Proposal Get(const crypto::Hash256& id) const {
    auto p = ReadProposal(state, id);
    REQUIRE(p);
    return *p;
  }
  std::vector<uint32_t> ValidatorIds(uint64_t height) const {
    std::vector<uint32_t> ids;
    auto set = ValidatorSetAt(state, height);
    REQUIRE(set);
    for (const Member& m : *set) ids.push_back(m.id);
    return ids;
  }
};

AddValidator NewValidator(uint32_t n) {
  auto k = NodeKey(1000 + n).public_key();
  return AddValidator{"new" + std::to_string(n), k, k, "10.0.0.1:26656"};
}

}  // namespace

TEST_CASE("genesis system records give set(1) and the header's set hashes",
          "[ledger][governance]") {
  GovChain c(3, 2);
  REQUIRE(
      ReadGovConfig(c.state) ==
      GovConfig{2, {c.admins[0].public_key(), c.admins[1].public_key(), c.admins[2].public_key()}});
  CHECK(c.ValidatorIds(1) ==
        std::vector<uint32_t>{0, 1, 2, 3});  // the observer (4) is no validator
  c.Empty(1);
  CHECK(c.head.validators_hash == SetHash(c.genesis_set.Validators()));
  CHECK(c.head.next_validators_hash == c.head.validators_hash);
  CHECK_FALSE(ReadPending(c.state));
}

TEST_CASE("not_governance_admin: a non-admin, a role admin and a chain without governance",
          "[ledger][governance]") {
  GovChain c(3, 2);
  auto prop = c.ProposeTx(0, NewValidator(1));
  const auto id = prop.Hash();
  REQUIRE(c.RunOne(std::move(prop)) == TxCode::kOk);
  // The outsider holds Role::kAdmin, which moves no governance power; a bad expiry comes
  // later in the table, so the admin check wins.
  CHECK(c.RunOne(c.Tx(c.outsider, GovPropose{0, NewValidator(2)})) == TxCode::kNotGovernanceAdmin);
  CHECK(c.RunOne(c.Tx(c.outsider, GovApprove{id})) == TxCode::kNotGovernanceAdmin);
  // A failed governance tx still uses its nonce.
  CHECK(c.state.GetAccount(c.outsider.public_key())->nonce == 2);
  CHECK(c.Get(id).approvals.size() == 1);

  GovChain bare(3, 2, 4, /*governed=*/false);
  CHECK(bare.RunOne(bare.ProposeTx(0, NewValidator(1))) == TxCode::kNotGovernanceAdmin);
}

TEST_CASE("bad_expiry: at or below the height, or more than 100,000 ahead",
          "[ledger][governance]") {
  GovChain c(3, 2);
  c.Empty(4);  // the next block is height 5
  CHECK(c.RunOne(c.Tx(c.admins[0], GovPropose{5, NewValidator(1)})) == TxCode::kBadExpiry);
  CHECK(c.RunOne(c.Tx(c.admins[0], GovPropose{3, NewValidator(1)})) == TxCode::kBadExpiry);
  // Height 7 now: 7 + 100,000 is the last accepted expiry.
  CHECK(c.RunOne(c.Tx(c.admins[0], GovPropose{7 + kMaxProposalLifetime + 1, NewValidator(1)})) ==
        TxCode::kBadExpiry);
  CHECK(c.RunOne(c.Tx(c.admins[0], GovPropose{8 + kMaxProposalLifetime, NewValidator(1)})) ==
        TxCode::kOk);
  CHECK(c.RunOne(c.Tx(c.admins[0], GovPropose{10, NewValidator(2)})) == TxCode::kOk);
}

TEST_CASE("too_many_proposals: 16 open per proposer, expired ones stop counting",
          "[ledger][governance]") {
  GovChain c(3, 2);
  std::vector<Transaction> txs;
  for (uint32_t i = 0; i < kMaxOpenProposals; ++i) {
    txs.push_back(c.ProposeTx(0, NewValidator(i), /*expires_in=*/3));
  }
  for (const Receipt& r : c.Run(std::move(txs))) CHECK(r.code == TxCode::kOk);
  CHECK(ReadOpenList(c.state).size() == kMaxOpenProposals);
  // Checked after bad_expiry: an expiry in the past wins over the count.
  CHECK(c.RunOne(c.Tx(c.admins[0], GovPropose{1, NewValidator(99)})) == TxCode::kBadExpiry);
  CHECK(c.RunOne(c.ProposeTx(0, NewValidator(99))) == TxCode::kTooManyProposals);
  CHECK(c.RunOne(c.ProposeTx(1, NewValidator(99))) == TxCode::kOk);  // per proposer
  c.Empty(2);  // the 16 have expired (expires_at 4; the next block is 7)
  CHECK(c.RunOne(c.ProposeTx(0, NewValidator(98))) == TxCode::kOk);
  // Rewriting gov/open dropped the expired entries.
  CHECK(ReadOpenList(c.state).size() == 2);
}

TEST_CASE("invalid_action: actions that do not fit the current set or config",
          "[ledger][governance]") {
  GovChain c(3, 2);
  const auto v1 = NodeKey(1).public_key();
  const auto fresh = NodeKey(2000).public_key();
  const auto fresh2 = NodeKey(2001).public_key();
  auto code = [&](Action a) { return c.RunOne(c.ProposeTx(0, std::move(a))); };
  CHECK(code(RemoveMember{77}) == TxCode::kInvalidAction);                      // unknown id
  CHECK(code(AddValidator{"v1", fresh, fresh, ""}) == TxCode::kInvalidAction);  // name taken
  CHECK(code(AddValidator{"x", v1, fresh, ""}) == TxCode::kInvalidAction);      // key taken
  CHECK(code(AddObserver{"x", v1, ""}) == TxCode::kInvalidAction);              // key taken
  CHECK(code(RotateKeys{4, fresh, fresh}) == TxCode::kInvalidAction);           // an observer
  CHECK(code(RotateKeys{1, NodeKey(2).public_key(), fresh}) == TxCode::kInvalidAction);
  CHECK(code(SetGovernance{0, {fresh}}) == TxCode::kInvalidAction);         // threshold 0
  CHECK(code(SetGovernance{2, {fresh}}) == TxCode::kInvalidAction);         // above the count
  CHECK(code(SetGovernance{1, {fresh, fresh}}) == TxCode::kInvalidAction);  // duplicate
  // Valid ones: a rotation keeping one of its own keys, a fresh validator, a removal.
  CHECK(code(RotateKeys{1, v1, fresh}) == TxCode::kOk);
  CHECK(code(AddValidator{"x", fresh2, fresh2, ""}) == TxCode::kOk);
  CHECK(code(RemoveMember{4}) == TxCode::kOk);
  CHECK(code(SetGovernance{1, {fresh}}) == TxCode::kOk);
  // Every failure used a nonce and left no proposal behind.
  CHECK(c.state.GetAccount(c.admins[0].public_key())->nonce == 13);
  CHECK(ReadOpenList(c.state).size() == 4);
}

TEST_CASE("approve: unknown_proposal, proposal_closed, proposal_expired, already_approved",
          "[ledger][governance]") {
  GovChain c(4, 3);
  crypto::Hash256 unknown;
  CHECK(c.RunOne(c.ApproveTx(1, unknown)) == TxCode::kUnknownProposal);

  auto prop = c.ProposeTx(0, NewValidator(1), /*expires_in=*/5);
  const auto id = prop.Hash();
  REQUIRE(c.RunOne(std::move(prop)) == TxCode::kOk);
  CHECK(c.RunOne(c.ApproveTx(0, id)) == TxCode::kAlreadyApproved);  // the proposer's own
  CHECK(c.RunOne(c.ApproveTx(1, id)) == TxCode::kOk);
  CHECK(c.RunOne(c.ApproveTx(1, id)) == TxCode::kAlreadyApproved);
  CHECK(c.Get(id).status == ProposalStatus::kOpen);
  CHECK(c.Run({c.ApproveTx(2, id), c.ApproveTx(3, id)}) ==
        std::vector<Receipt>{{TxCode::kOk, 6, 0}, {TxCode::kProposalClosed, 6, 1}});
  CHECK(c.Get(id).status == ProposalStatus::kExecuted);
  CHECK(c.Get(id).result_height == 6);

  // Expiry: approvable at expires_at, expired after it; expired wins over already_approved.
  auto late = c.ProposeTx(0, NewValidator(2), /*expires_in=*/2);  // expires_at 9
  const auto late_id = late.Hash();
  REQUIRE(c.RunOne(std::move(late)) == TxCode::kOk);                     // height 7
  c.Empty(1);                                                            // 8
  CHECK(c.RunOne(c.ApproveTx(1, late_id)) == TxCode::kOk);               // 9 == expires_at
  CHECK(c.RunOne(c.ApproveTx(1, late_id)) == TxCode::kProposalExpired);  // 10
  Proposal p = c.Get(late_id);
  CHECK(p.status == ProposalStatus::kExpired);
  CHECK(p.result_height == 10);
  CHECK(p.approvals.size() == 2);
  CHECK(c.RunOne(c.ApproveTx(2, late_id)) == TxCode::kProposalClosed);
  // Nothing of it reached the set.
  CHECK(c.ValidatorIds(c.head.height + 1) == std::vector<uint32_t>{0, 1, 2, 3, 5});
}

TEST_CASE("a set change executed at h governs h + 2 and the headers say so",
          "[ledger][governance]") {
  GovChain c(3, 2);
  auto prop = c.ProposeTx(0, NewValidator(7));
  const auto id = prop.Hash();
  REQUIRE(c.RunOne(std::move(prop)) == TxCode::kOk);     // h = 1: open
  REQUIRE(c.RunOne(c.ApproveTx(2, id)) == TxCode::kOk);  // h = 2: executed
  CHECK(c.Get(id).status == ProposalStatus::kExecuted);
  const auto before = SetHash(c.genesis_set.Validators());
  MemberSet after_set = c.genesis_set;
  auto k = NodeKey(1007).public_key();
  after_set.members.push_back(Member{5, MemberKind::kValidator, "new7", k, k, "10.0.0.1:26656"});
  after_set.next_id = 6;
  const auto after = SetHash(after_set.Validators());
  REQUIRE(ReadPending(c.state) == PendingSet{4, after_set});
  CHECK(c.head.validators_hash == before);
  CHECK(c.head.next_validators_hash == before);  // set(3) is still the old one
  c.Empty(1);                                    // h = 3
  CHECK(c.head.validators_hash == before);
  CHECK(c.head.next_validators_hash == after);
  c.Empty(1);  // h = 4: set/pending moved into set/members before the first tx
  CHECK(c.head.validators_hash == after);
  CHECK(c.head.next_validators_hash == after);
  CHECK_FALSE(ReadPending(c.state));
  CHECK(ReadMembers(c.state) == after_set);
  // A header that claims another set is refused.
  BuiltBlock next = BuildBlock(c.state, c.head, c.view, {}, c.head.timestamp_ms + 1, c.proposer);
  next.block.header.next_validators_hash = before;
  next.block.Sign(c.proposer);
  auto verified = VerifyBlock(c.state, c.head, c.view, next.block);
  REQUIRE_FALSE(verified.ok());
  CHECK_THAT(verified.error(), Catch::Matchers::Contains("next_validators_hash"));
}

TEST_CASE("a second set change queues until the first takes effect, then runs",
          "[ledger][governance]") {
  GovChain c(2, 1);  // threshold 1: each proposal runs in its own transaction
  auto first = c.ProposeTx(0, NewValidator(1));
  auto second = c.ProposeTx(1, RemoveMember{0});
  auto gov = c.ProposeTx(0, SetGovernance{1, {c.admins[0].public_key()}});
  const auto first_id = first.Hash(), second_id = second.Hash(), gov_id = gov.Hash();
  REQUIRE(c.Run({first, second, gov}) ==
          std::vector<Receipt>{{TxCode::kOk, 1, 0}, {TxCode::kOk, 1, 1}, {TxCode::kOk, 1, 2}});
  CHECK(c.Get(first_id).status == ProposalStatus::kExecuted);
  CHECK(c.Get(second_id).status == ProposalStatus::kQueued);
  CHECK(c.Get(gov_id).status == ProposalStatus::kExecuted);  // not a set change: not queued
  CHECK(ReadGovConfig(c.state)->admins.size() == 1);
  CHECK(ReadQueue(c.state) == std::vector<crypto::Hash256>{second_id});
  c.Empty(1);  // 2
  CHECK(c.Get(second_id).status == ProposalStatus::kQueued);
  c.Empty(1);  // 3: the first takes effect, the queued one runs, effective at 5
  CHECK(c.Get(second_id).status == ProposalStatus::kExecuted);
  CHECK(c.Get(second_id).result_height == 3);
  CHECK_FALSE(ReadQueue(c.state).size());
  CHECK(c.ValidatorIds(4) == std::vector<uint32_t>{0, 1, 2, 3, 5});
  CHECK(ReadPending(c.state)->effective_height == 5);
  c.Empty(2);
  CHECK(c.ValidatorIds(6) == std::vector<uint32_t>{1, 2, 3, 5});
}

TEST_CASE("a queued action re-checks at run time and expired queued ones are dropped",
          "[ledger][governance]") {
  GovChain c(1, 1);
  auto ka = NodeKey(3000).public_key(), kc = NodeKey(3001).public_key();
  // One runs (pending until 3); behind it: one that expires in the queue, one that runs at 3,
  // one whose name the previous one takes (it fails when it runs at 5), one that runs at 5.
  std::vector<Transaction> txs = {
      c.ProposeTx(0, AddValidator{"a", ka, ka, ""}),
      c.ProposeTx(0, RemoveMember{1}, /*expires_in=*/1),
      c.ProposeTx(0, AddValidator{"c", kc, kc, ""}),
      c.ProposeTx(0, AddObserver{"c", NodeKey(3002).public_key(), ""}),
      c.ProposeTx(0, RemoveMember{2}),
  };
  std::vector<crypto::Hash256> ids;
  for (const auto& tx : txs) ids.push_back(tx.Hash());
  for (const Receipt& r : c.Run(txs)) CHECK(r.code == TxCode::kOk);
  CHECK(ReadQueue(c.state) == std::vector<crypto::Hash256>(ids.begin() + 1, ids.end()));
  c.Empty(2);  // height 3: block 1's pending set takes effect, the queue runs
  CHECK(c.Get(ids[1]).status == ProposalStatus::kExpired);
  CHECK(c.Get(ids[1]).result_height == 3);
  CHECK(c.Get(ids[2]).status == ProposalStatus::kExecuted);
  CHECK(ReadQueue(c.state) == std::vector<crypto::Hash256>{ids[3], ids[4]});
  c.Empty(2);  // height 5
  Proposal failed = c.Get(ids[3]);
  CHECK(failed.status == ProposalStatus::kFailed);
  CHECK(failed.result_code == static_cast<uint16_t>(TxCode::kInvalidAction));
  CHECK(c.Get(ids[4]).status == ProposalStatus::kExecuted);
  CHECK(c.Get(ids[4]).result_height == 5);
  CHECK(ReadQueue(c.state).empty());
  c.Empty(2);
  CHECK(c.ValidatorIds(8) == std::vector<uint32_t>{0, 1, 3, 5, 6});
}

TEST_CASE("SetGovernance changes who approves and how many and old approvals stop counting",
          "[ledger][governance]") {
  GovChain c(3, 2);
  auto add = c.ProposeTx(0, NewValidator(1));
  const auto add_id = add.Hash();
  auto gov = c.ProposeTx(1, SetGovernance{2, {c.admins[1].public_key(), c.admins[2].public_key()}});
  const auto gov_id = gov.Hash();
  REQUIRE(c.Run({add, gov}).size() == 2);
  REQUIRE(c.RunOne(c.ApproveTx(2, gov_id)) == TxCode::kOk);
  CHECK(ReadGovConfig(c.state)->admins.size() == 2);
  // Admin 0 is out: its proposal's own approval no longer counts, and it can no longer act.
  CHECK(c.RunOne(c.ApproveTx(0, add_id)) == TxCode::kNotGovernanceAdmin);
  CHECK(c.RunOne(c.ApproveTx(1, add_id)) == TxCode::kOk);
  CHECK(c.Get(add_id).status == ProposalStatus::kOpen);
  CHECK(c.RunOne(c.ApproveTx(2, add_id)) == TxCode::kOk);
  CHECK(c.Get(add_id).status == ProposalStatus::kExecuted);
}

TEST_CASE("governance records round-trip and refuse bad encodings", "[ledger][governance]") {
  GovChain c(2, 1);
  Proposal p{c.admins[0].public_key(),
             9,
             NewValidator(1),
             {c.admins[0].public_key()},
             ProposalStatus::kQueued,
             0,
             0};
  REQUIRE(Proposal::Decode(p.Encode()).value() == p);
  REQUIRE(MemberSet::Decode(c.genesis_set.Encode()).value() == c.genesis_set);
  PendingSet ps{12, c.genesis_set};
  REQUIRE(PendingSet::Decode(ps.Encode()).value() == ps);
  MemberSet unsorted = c.genesis_set;
  std::swap(unsorted.members[0], unsorted.members[1]);
  CHECK_THAT(MemberSet::Decode(unsorted.Encode()).error(),
             Catch::Matchers::Contains("ids must increase"));
  Bytes bad = GovConfig{3, {c.admins[0].public_key()}}.Encode();
  CHECK_THAT(GovConfig::Decode(bad).error(), Catch::Matchers::Contains("threshold"));
  Bytes huge = p.Encode();
  huge.push_back(0);
  CHECK_THAT(Proposal::Decode(huge).error(), Catch::Matchers::Contains("trailing"));
}

// Random proposals and approvals (seeded, seed printed) against a naive model: set(H) is the
// genesis set with every executed set-changing action applied at its result height + 2, in
// execution order; at most one set change executes per block, and never while another waits.
TEST_CASE("property: random governance never has two changes in flight and set(H) matches replay",
          "[ledger][governance]") {
  const uint64_t seed = std::random_device{}();
  std::printf("governance property seed: %llu\n", static_cast<unsigned long long>(seed));
  size_t total_changes = 0, total_queued = 0;
  for (uint64_t round = 0; round < 8; ++round) {
    std::mt19937_64 rng(seed + round);
    INFO("seed " << seed + round);
    GovChain c(4, static_cast<uint16_t>(1 + rng() % 3), 4);
    std::vector<crypto::Hash256> ids;
    std::map<crypto::Hash256, ProposalStatus> seen;
    std::vector<std::pair<uint64_t, Action>> executed;  // (height, action), in order
    uint32_t fresh = 0;
    for (int block = 0; block < 40; ++block) {
      std::vector<Transaction> txs;
      const size_t n = rng() % 4;
      for (size_t t = 0; t < n; ++t) {
        size_t admin = rng() % c.admins.size();
        if (ids.empty() || rng() % 3 == 0) {
          Action a;
          switch (rng() % 4) {
            case 0:
              a = NewValidator(fresh++);
              break;
            case 1:
              a = RemoveMember{static_cast<uint32_t>(rng() % (6 + fresh))};
              break;
            case 2: {
              auto k = NodeKey(5000 + fresh++).public_key();
              a = RotateKeys{static_cast<uint32_t>(rng() % 5), k, k};
              break;
            }
            default:
              a = AddObserver{"o" + std::to_string(fresh), NodeKey(7000 + fresh).public_key(), ""};
              ++fresh;
          }
          auto tx = c.ProposeTx(admin, std::move(a), 1 + rng() % 8);
          ids.push_back(tx.Hash());
          txs.push_back(std::move(tx));
        } else {
          txs.push_back(c.ApproveTx(admin, ids[rng() % ids.size()]));
        }
      }
      const bool waiting = ReadPending(c.state).has_value() &&
                           ReadPending(c.state)->effective_height > c.head.height + 1;
      c.Run(std::move(txs));
      int changes = 0;
      for (const auto& id : ids) {
        auto p = ReadProposal(c.state, id);
        if (!p) continue;  // a refused proposal was never stored
        if (p->status == ProposalStatus::kExecuted && seen[id] != ProposalStatus::kExecuted) {
          REQUIRE(p->result_height == c.head.height);
          executed.emplace_back(p->result_height, p->action);
          ++changes;
        }
        if (p->status == ProposalStatus::kQueued && seen[id] != ProposalStatus::kQueued) {
          ++total_queued;
        }
        seen[id] = p->status;
      }
      total_changes += changes;
      REQUIRE(changes <= 1);
      if (waiting) REQUIRE(changes == 0);
      // The naive set of the next two heights against ValidatorSetAt and the header.
      for (uint64_t h : {c.head.height + 1, c.head.height + 2}) {
        MemberSet naive = c.genesis_set;
        for (const auto& [at, action] : executed) {
          if (at + kSetChangeDelay <= h) {
            // Applying through the public path: a one-action pending set.
            MemoryState scratch;
            StateDiff d;
            d[SystemKey(kMembersName)] = naive.Encode();
            scratch.Apply(d);
            StateOverlay o(scratch);
            // Executed actions were valid on the set they ran against.
            GovConfig cfg{1, {c.admins[0].public_key()}};
            o.PutSystem(kGovConfigName, cfg.Encode());
            Transaction tx = SignedTx(c.admins[0], 0, GovPropose{at + 5, action});
            REQUIRE(ExecuteGov(o, tx, tx.Hash(), at) == TxCode::kOk);
            naive = ReadPending(o)->set;
          }
        }
        REQUIRE(SetHash(*ValidatorSetAt(c.state, h)) == SetHash(naive.Validators()));
        REQUIRE(MemberSetAt(c.state, h) == naive);
      }
      REQUIRE(c.head.next_validators_hash == SetHash(*ValidatorSetAt(c.state, c.head.height + 1)));
    }
  }
  // The runs exercised what they check: changes executed, and some waited in the queue.
  std::printf("governance property: %zu set changes, %zu queued\n", total_changes, total_queued);
  CHECK(total_changes >= 8);
  CHECK(total_queued >= 1);
}

// The store path: system records written, read back through ChainStore::GetSystem, and
// set/pending deleted when it takes effect; the audit replays the chain with VerifyBlock.
TEST_CASE("a ChainStore commits, reads and deletes system records", "[ledger][governance]") {
  testkit::ChainFixture fx(4, kChain);
  const crypto::KeyPair& admin = fx.accounts[0];  // a member account, a governance admin
  MemberSet set;
  auto v = fx.proposer.public_key();
  set.members.push_back(Member{set.next_id++, MemberKind::kValidator, "v0", v, v, ""});
  for (auto& [k, val] : GenesisSystemRecords(set, GovConfig{1, {admin.public_key()}})) {
    fx.genesis_state[k] = val;
  }
  fx.genesis.header.state_root = StateRootOf(fx.genesis_state);
  fx.genesis.header.validators_hash = SetHash(set.Validators());
  fx.genesis.header.next_validators_hash = fx.genesis.header.validators_hash;

  auto store = ChainStore::Open(std::make_unique<MemoryKv>(), fx.genesis, fx.genesis_state);
  REQUIRE(store.ok());
  ChainStore& s = **store;
  REQUIRE(ReadMembers(s) == set);
  auto k = NodeKey(4000).public_key();
  auto head = testkit::CommitChain(
      s, fx.genesis.header,
      {{fx.Sign(admin, 0, GovPropose{50, AddValidator{"v1", k, k, "h:1"}})}, {}}, fx.proposer);
  REQUIRE(head.ok());
  REQUIRE(ReadPending(s));
  CHECK(ReadPending(s)->effective_height == 3);
  auto h2 = s.HeaderAt(2);
  REQUIRE((h2.ok() && h2->has_value()));
  CHECK((*h2)->next_validators_hash != (*h2)->validators_hash);
  REQUIRE(testkit::CommitChain(s, **h2, {{}}, fx.proposer).ok());
  CHECK_FALSE(s.GetSystem(kPendingName));
  CHECK(ReadMembers(s)->members.size() == 2);
  auto h3 = s.HeaderAt(3);
  REQUIRE((h3.ok() && h3->has_value()));
  CHECK((*h3)->validators_hash == SetHash(ReadMembers(s)->Validators()));
  CHECK(s.StateReadError().ok());
  CHECK(testkit::AuditStore(s, fx).ok());
}
