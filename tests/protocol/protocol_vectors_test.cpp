// Asserts every test vector printed in docs/PROTOCOL.md, read from the document itself.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <regex>

#include <sys/stat.h>

#include <cstdlib>
#include <iostream>

#include "api/json.h"
#include "api/tx_proof.h"
#include "crypto/hex.h"
#include "crypto/key_file.h"
#include "crypto/merkle.h"
#include "genesis/genesis.h"
#include "ledger/block.h"
#include "ledger/executor.h"
#include "ledger/governance.h"
#include "ledger/receipt.h"
#include "ledger/state_tree.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::crypto;
using namespace cairn::ledger;

namespace {
// The `name: hex` rows of the test vectors section, and its ```json blocks in order.
struct Vectors {
  std::map<std::string, std::string> rows;
  std::vector<std::string> json;
};

Vectors ReadDoc() {
  std::ifstream in(std::string(CAIRN_SOURCE_DIR) + "/docs/PROTOCOL.md");
  REQUIRE(in.good());
  Vectors out;
  std::string line;
  bool in_section = false, in_json = false;
  std::regex row(R"(^([a-z_0-9]+):\s+([0-9a-f]+)\s*$)");
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line.find("Test vectors") != std::string::npos;
    if (!in_section) continue;
    if (in_json) {
      if (line.rfind("```", 0) == 0) {
        in_json = false;
      } else {
        out.json.back() += line + "\n";
      }
      continue;
    }
    if (line == "```json") {
      in_json = true;
      out.json.emplace_back();
      continue;
    }
    std::smatch m;
    if (std::regex_match(line, m, row)) out.rows[m[1]] = m[2];
  }
  return out;
}

std::map<std::string, std::string> ReadVectors() { return ReadDoc().rows; }

// CAIRN_PRINT_VECTORS=1 prints what the code computes, to write a new vector into the document;
// the checks still run.
void Expect(std::map<std::string, std::string>& v, const std::string& name,
            const std::string& actual) {
  if (const char* p = std::getenv("CAIRN_PRINT_VECTORS"); p && std::string(p) == "1") {
    std::cout << name << ": " << actual << "\n";
  }
  INFO(name);
  CHECK(actual == v[name]);
}

Transaction TransferTx(const KeyPair& key, const KeyPair& to, uint64_t nonce) {
  Transaction tx;
  tx.chain_id = "cairn-test";
  tx.nonce = nonce;
  tx.payload = Transfer{to.public_key(), 1000};
  tx.Sign(key);
  return tx;
}
KeyPair SeedKey(uint8_t first) {
  std::array<uint8_t, 32> s;
  for (int i = 0; i < 32; ++i) s[i] = static_cast<uint8_t>(first + i);
  return KeyPair::FromSeed(PrivateKey(s));
}
}  // namespace

TEST_CASE("docs/PROTOCOL.md test vectors hold", "[protocol]") {
  auto v = ReadVectors();
  REQUIRE(v.size() >= 13);
  KeyPair key = SeedKey(0x00), recipient = SeedKey(0x20);
  CHECK(key.seed().ToHex() == v["seed"]);
  CHECK(key.public_key().ToHex() == v["public_key"]);
  CHECK(recipient.public_key().ToHex() == v["recipient"]);

  Transaction tx;
  tx.chain_id = "cairn-test";
  tx.nonce = 7;
  tx.payload = Transfer{recipient.public_key(), 1000};
  tx.Sign(key);
  CHECK(ToHex(tx.SigningBytes()) == v["tx_signing_bytes"]);
  CHECK(tx.signature.ToHex() == v["tx_signature"]);
  CHECK(ToHex(tx.Encode()) == v["tx_encoded"]);
  CHECK(tx.Hash().ToHex() == v["tx_hash"]);
  // The documented encoding decodes back to the same transaction, and verifies.
  auto decoded = Transaction::Decode(*FromHex(v["tx_encoded"]));
  REQUIRE(decoded.ok());
  CHECK(*decoded == tx);
  CHECK(decoded->VerifySignature());

  Block b;
  b.header.chain_id = "cairn-test";
  b.header.height = 1;
  b.header.prev_hash = Sha256Of({});
  b.header.timestamp_ms = 1767225600000ull;
  b.txs = {tx};
  b.header.tx_count = 1;
  b.header.tx_root = b.ComputeTxRoot();
  CHECK(b.header.tx_root.ToHex() == v["tx_root"]);
  Account acct{.balance = 5000, .nonce = 8, .role = Role::kAdmin};
  CHECK(ToHex(acct.Encode()) == v["account_encoded"]);
  StateDiff diff;
  diff[AccountKey(key.public_key())] = acct.Encode();
  b.header.state_root = StateRootOf(diff);  // the one-account state
  Expect(v, "state_root", b.header.state_root.ToHex());
  b.Sign(key);
  Expect(v, "header_encoded", ToHex(b.header.Encode()));
  Expect(v, "block_hash", b.Hash().ToHex());
  Expect(v, "block_signature", b.proposer_sig.ToHex());
  CHECK(b.VerifyProposerSignature());
  auto decoded_block = Block::Decode(b.Encode());
  REQUIRE(decoded_block.ok());
  CHECK(*decoded_block == b);
}

TEST_CASE("docs/PROTOCOL.md state key and receipt vectors hold", "[protocol]") {
  auto v = ReadVectors();
  KeyPair key = SeedKey(0x00);
  const Bytes greeting = {'g', 'r', 'e', 'e', 't', 'i', 'n', 'g'};
  Expect(v, "account_state_key", ToHex(AccountKey(key.public_key())));
  Expect(v, "record_key", ToHex(greeting));
  // Raw key bytes after the address, no length prefix: the key's length is what is left.
  Expect(v, "record_state_key", ToHex(RecordKey(key.public_key(), greeting)));

  const Receipt ok{TxCode::kOk, 1, 0}, failed{TxCode::kInsufficientBalance, 1, 1};
  Expect(v, "receipts_encoded", ToHex(EncodeReceipts({ok, failed})));
  auto back = DecodeReceipts(*FromHex(v["receipts_encoded"]));
  REQUIRE(back.ok());
  CHECK(*back == std::vector<Receipt>{ok, failed});
}

// Section 7: the tree's hashes and one proof of each kind, over the state of the sender's
// account (the §8 Account), the recipient's account and the sender's record "greeting".
TEST_CASE("docs/PROTOCOL.md state tree and state proof vectors hold", "[protocol]") {
  Vectors doc = ReadDoc();
  auto& v = doc.rows;
  KeyPair key = SeedKey(0x00), recipient = SeedKey(0x20);
  const Bytes account = Account{.balance = 5000, .nonce = 8, .role = Role::kAdmin}.Encode();
  const Bytes recipient_account =
      Account{.balance = 1000, .nonce = 0, .role = Role::kMember}.Encode();
  const Bytes greeting = {'g', 'r', 'e', 'e', 't', 'i', 'n', 'g'};
  const Bytes hello = {'h', 'e', 'l', 'l', 'o'};
  const Bytes account_key = AccountKey(key.public_key());
  Expect(v, "smt_key_hash", KeyHash(account_key).ToHex());
  Expect(v, "smt_value_hash", ValueHash(account).ToHex());
  Expect(v, "smt_leaf_hash", LeafHash(KeyHash(account_key), ValueHash(account)).ToHex());
  StateDiff state;
  CHECK(StateRootOf(state) == kEmptyTreeHash);  // the empty state: 32 zero bytes
  state[account_key] = account;
  Expect(v, "smt_root_one_account", StateRootOf(state).ToHex());
  CHECK(StateRootOf(state) == LeafHash(KeyHash(account_key), ValueHash(account)));
  state[AccountKey(recipient.public_key())] = recipient_account;
  state[RecordKey(key.public_key(), greeting)] = hello;
  const Hash256 root = StateRootOf(state);
  Expect(v, "smt_root_three", root.ToHex());
  const StateTree::View view = ProcessStateTree().Update(StateTree::View(), state, 0);
  REQUIRE(StateTree::Root(view) == root);

  const Bytes present = ProcessStateTree().Prove(view, account_key);
  Expect(v, "smt_proof_present", ToHex(present));
  CHECK(VerifyStateProof(root, account_key, StateClaim::Present(account), present).ok());
  // The first record keys 0x00, 0x01, ... of the sender that land on another leaf and on an
  // empty subtree.
  std::optional<uint8_t> other_leaf, empty;
  for (unsigned k = 0; k < 256 && (!other_leaf || !empty); ++k) {
    const Bytes sk = RecordKey(key.public_key(), Bytes{static_cast<uint8_t>(k)});
    auto p = StateProof::Decode(ProcessStateTree().Prove(view, sk));
    REQUIRE(p.ok());
    if (p->kind == StateProofKind::kAbsentOtherLeaf && !other_leaf) other_leaf = k;
    if (p->kind == StateProofKind::kAbsentEmpty && !empty) empty = k;
  }
  REQUIRE(other_leaf);
  REQUIRE(empty);
  for (const auto& [k, name] : {std::pair{*other_leaf, std::string("smt_proof_absent_leaf")},
                                std::pair{*empty, std::string("smt_proof_absent_empty")}}) {
    const Bytes sk = RecordKey(key.public_key(), Bytes{k});
    const Bytes proof = ProcessStateTree().Prove(view, sk);
    Expect(v, name + "_key", ToHex(Bytes{k}));
    Expect(v, name, ToHex(proof));
    CHECK(VerifyStateProof(root, sk, StateClaim::Absent(), *FromHex(v[name])).ok());
    CHECK_FALSE(VerifyStateProof(root, sk, StateClaim::Present(hello), proof).ok());
  }
  // The documented bytes verify, for the documented claim only.
  CHECK(VerifyStateProof(root, account_key, StateClaim::Present(account),
                         *FromHex(v["smt_proof_present"]))
            .ok());
  CHECK_FALSE(
      VerifyStateProof(root, account_key, StateClaim::Absent(), *FromHex(v["smt_proof_present"]))
          .ok());
}

TEST_CASE("docs/PROTOCOL.md transaction proof vector verifies as section 6.1 says", "[protocol]") {
  auto v = ReadVectors();
  KeyPair key = SeedKey(0x00), recipient = SeedKey(0x20);
  Block b;
  b.header.chain_id = "cairn-test";
  b.header.height = 1;
  b.header.prev_hash = Sha256Of({});
  b.header.timestamp_ms = 1767225600000ull;
  b.txs = {TransferTx(key, recipient, 7), TransferTx(key, recipient, 8),
           TransferTx(key, recipient, 9)};
  b.header.tx_count = 3;
  b.header.tx_root = b.ComputeTxRoot();
  b.Sign(key);
  std::vector<Hash256> leaves;
  for (const Transaction& tx : b.txs) leaves.push_back(tx.Hash());
  CHECK(leaves[0].ToHex() == v["tx_hash"]);  // the transaction of the first vectors
  Expect(v, "txproof_tx_hash_1", leaves[1].ToHex());
  Expect(v, "txproof_tx_hash_2", leaves[2].ToHex());
  Expect(v, "txproof_tx_root", b.header.tx_root.ToHex());
  Expect(v, "txproof_header", ToHex(b.header.Encode()));
  Expect(v, "txproof_block_hash", b.Hash().ToHex());
  const Bytes proof1 = api::EncodeTxProof(MerkleProve(leaves, 1));
  const Bytes proof2 = api::EncodeTxProof(MerkleProve(leaves, 2));
  Expect(v, "txproof_proof_1", ToHex(proof1));
  Expect(v, "txproof_proof_2", ToHex(proof2));
  // The steps of section 6.1 for index 1: leaf, then node(leaf 0, r), then node(r, leaf 2).
  auto leaf = [](const Hash256& d) {
    Bytes b = {0x00};
    b.insert(b.end(), d.view().begin(), d.view().end());
    return Sha256Of(b);
  };
  auto node = [](const Hash256& l, const Hash256& r) {
    Bytes b = {0x01};
    b.insert(b.end(), l.view().begin(), l.view().end());
    b.insert(b.end(), r.view().begin(), r.view().end());
    return Sha256Of(b);
  };
  Expect(v, "txproof_leaf_1", leaf(leaves[1]).ToHex());
  Expect(v, "txproof_step_1", node(leaf(leaves[0]), leaf(leaves[1])).ToHex());
  CHECK(node(node(leaf(leaves[0]), leaf(leaves[1])), leaf(leaves[2])) == b.header.tx_root);

  // The documented bytes verify, for the documented transactions only.
  const Bytes header = *FromHex(v["txproof_header"]);
  for (const auto& [index, name] : {std::pair{1u, "txproof_proof_1"}, {2u, "txproof_proof_2"}}) {
    auto ok = api::VerifyTxProof(header, leaves[index], *FromHex(v[name]));
    REQUIRE(ok.ok());
    CHECK(ok->index == index);
    CHECK(ok->height == 1);
    CHECK(ok->block_hash.ToHex() == v["txproof_block_hash"]);
    CHECK_FALSE(api::VerifyTxProof(header, leaves[0], *FromHex(v[name])).ok());
  }
}

TEST_CASE("docs/PROTOCOL.md genesis and key file vectors hold", "[protocol]") {
  Vectors doc = ReadDoc();
  auto& v = doc.rows;
  REQUIRE(doc.json.size() == 2);
  auto g = genesis::Genesis::FromJson(doc.json[0]);
  REQUIRE(g.ok());
  // The defaults the file leaves out.
  CHECK(g->params.max_block_txs == 5000);
  CHECK(g->observers.empty());
  CHECK(g->accounts[0].balance == 1000);
  CHECK(g->accounts[1].balance == 0);
  Expect(v, "genesis_time_ms", std::to_string(g->genesis_time_ms));
  Expect(v, "genesis_config_hash", g->ConfigHash().ToHex());
  const Block block0 = g->Block0();
  Expect(v, "genesis_state_root", block0.header.state_root.ToHex());
  Expect(v, "genesis_header", ToHex(block0.header.Encode()));
  Expect(v, "genesis_hash", block0.Hash().ToHex());
  CHECK(block0.header.tx_root == Sha256Of({}));
  CHECK(block0.proposer_sig == Signature());

  testkit::TempDir dir("protocol");
  const std::string path = dir.Sub("key.json");
  { std::ofstream(path) << doc.json[1]; }
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  auto kp = ReadKeyFile(path);
  REQUIRE(kp.ok());
  CHECK(kp->public_key().ToHex() == v["public_key"]);
  CHECK(kp->seed().ToHex() == v["seed"]);
  // What WriteKeyFile writes is that same text.
  const std::string written = dir.Sub("written.json");
  REQUIRE(WriteKeyFile(written, *kp).ok());
  std::ifstream in(written);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == doc.json[1]);
}

// Section 3 "State writes", as the executor does it: writes that change nothing and the
// nonce of a failed transaction are among a block's writes ('S'); the state root is the tree
// of the state after them, so a write of the present value leaves it as it was (§7).
TEST_CASE("docs/PROTOCOL.md state writes: no-op writes and failed transactions", "[protocol]") {
  KeyPair admin = SeedKey(0x00), member = SeedKey(0x20);
  MemoryState state;
  StateDiff genesis;
  genesis[AccountKey(admin.public_key())] =
      Account{.balance = 10, .nonce = 0, .role = Role::kAdmin}.Encode();
  genesis[AccountKey(member.public_key())] =
      Account{.balance = 0, .nonce = 0, .role = Role::kMember}.Encode();
  genesis[RecordKey(admin.public_key(), Bytes{'k'})] = Bytes{'v'};
  state.Apply(genesis);
  auto tx = [&](const KeyPair& from, uint64_t nonce, Payload p) {
    Transaction t;
    t.chain_id = "cairn-test";
    t.nonce = nonce;
    t.payload = std::move(p);
    t.Sign(from);
    return t;
  };
  auto run = [&](std::vector<Transaction> txs) {
    Block b;
    b.header.chain_id = "cairn-test";
    b.header.height = 1;
    b.txs = std::move(txs);
    auto r = ExecuteBlock(state, testkit::TreeOf(state), b, ExecOptions{});
    REQUIRE(r.ok());
    MemoryState after = state;
    after.Apply(r->diff);
    CHECK(r->state_root == StateTree::Root(testkit::TreeOf(after)));
    return *r;
  };
  const Bytes admin_key = AccountKey(admin.public_key());
  const Bytes member_key = AccountKey(member.public_key());

  SECTION("a Put of the value the record already holds") {
    ExecResult r = run({tx(admin, 0, Put{Bytes{'k'}, Bytes{'v'}})});
    REQUIRE(r.diff.count(RecordKey(admin.public_key(), Bytes{'k'})) == 1);
    CHECK(r.diff.at(RecordKey(admin.public_key(), Bytes{'k'})) == Bytes{'v'});
    CHECK(r.diff.size() == 2);  // and the sender's account (its nonce)
    // The record's write changes no root: only the nonce does.
    MemoryState only_nonce = state;
    StateDiff nonce;
    nonce[admin_key] = r.diff.at(admin_key);
    only_nonce.Apply(nonce);
    CHECK(r.state_root == StateTree::Root(testkit::TreeOf(only_nonce)));
  }
  SECTION("a SetRole to the role the account already has") {
    ExecResult r = run({tx(admin, 0, SetRole{member.public_key(), Role::kMember})});
    CHECK(r.receipts[0].code == TxCode::kOk);
    REQUIRE(r.diff.count(member_key) == 1);
    CHECK(r.diff.at(member_key) == genesis.at(member_key));  // unchanged, still written
  }
  SECTION("a failed transaction writes the sender's nonce and nothing else") {
    ExecResult r = run({tx(member, 0, Transfer{admin.public_key(), 5})});
    CHECK(r.receipts[0].code == TxCode::kInsufficientBalance);
    REQUIRE(r.diff.size() == 1);
    CHECK(r.diff.at(member_key) ==
          (Account{.balance = 0, .nonce = 1, .role = Role::kMember}.Encode()));
  }
  SECTION("the failure table in order: a member's register of an account is not_permitted") {
    ExecResult r = run({tx(member, 0, RegisterAccount{admin.public_key(), Role::kMember}),
                        tx(member, 1, Transfer{member.public_key(), 0})});
    CHECK(r.receipts[0].code == TxCode::kNotPermitted);  // not account_exists
    CHECK(r.receipts[1].code == TxCode::kZeroAmount);    // not self_transfer
    CHECK(r.diff.size() == 1);
  }
  SECTION("an entry written twice is hashed once, with its last value") {
    ExecResult r =
        run({tx(admin, 0, Put{Bytes{'k'}, Bytes{'a'}}), tx(admin, 1, Put{Bytes{'k'}, Bytes{'b'}})});
    CHECK(r.diff.size() == 2);
    CHECK(r.diff.at(RecordKey(admin.public_key(), Bytes{'k'})) == Bytes{'b'});
    CHECK(r.diff.at(admin_key) ==
          (Account{.balance = 10, .nonce = 2, .role = Role::kAdmin}.Encode()));
  }
}

// Section 8 "Governance": the two governance transactions, the system records of the genesis
// vector, and what the proposal writes when it runs (threshold 1: in its own transaction).
TEST_CASE("docs/PROTOCOL.md governance vectors hold", "[protocol][governance]") {
  Vectors doc = ReadDoc();
  auto& v = doc.rows;
  auto g = genesis::Genesis::FromJson(doc.json[0]);
  REQUIRE(g.ok());
  KeyPair admin = SeedKey(0x20), joiner = SeedKey(0x40);

  MemoryState state;
  state.Apply(g->InitialState());
  Expect(v, "gov_config_state_key", ToHex(SystemKey(kGovConfigName)));
  Expect(v, "gov_config_encoded", ToHex(*state.GetSystem(kGovConfigName)));
  Expect(v, "members_state_key", ToHex(SystemKey(kMembersName)));
  Expect(v, "members_encoded", ToHex(*state.GetSystem(kMembersName)));
  const Hash256 set_hash = SetHash(*ValidatorSetAt(state, 1));
  Expect(v, "set_hash", set_hash.ToHex());
  CHECK(g->Block0().header.validators_hash == set_hash);

  Transaction propose;
  propose.chain_id = "cairn-test";
  propose.nonce = 0;
  propose.payload = GovPropose{
      100, AddValidator{"v1", joiner.public_key(), joiner.public_key(), "127.0.0.1:26657"}};
  propose.Sign(admin);
  Transaction approve;
  approve.chain_id = "cairn-test";
  approve.nonce = 1;
  approve.payload = GovApprove{propose.Hash()};
  approve.Sign(admin);
  Expect(v, "gov_propose_encoded", ToHex(propose.Encode()));
  Expect(v, "gov_propose_hash", propose.Hash().ToHex());
  Expect(v, "gov_approve_encoded", ToHex(approve.Encode()));
  for (const Transaction& tx : {propose, approve}) {
    auto back = Transaction::Decode(tx.Encode());
    REQUIRE(back.ok());
    CHECK(*back == tx);
    CHECK(back->VerifySignature());
  }

  // getTransaction's JSON (docs/RPC.md) of both.
  const auto pj = api::TxToJson(propose, propose.Hash());
  CHECK(pj["type"] == "gov_propose");
  CHECK(pj["expires_at"] == 100);
  CHECK(pj["action"] == api::Json{{"type", "add_validator"},
                                  {"name", "v1"},
                                  {"consensus_key", joiner.public_key().ToHex()},
                                  {"p2p_key", joiner.public_key().ToHex()},
                                  {"address", "127.0.0.1:26657"}});
  CHECK(api::TxToJson(approve, approve.Hash())["proposal"] == propose.Hash().ToHex());

  // At height 1 the propose runs at once (one admin, threshold 1); the approve then finds the
  // proposal closed.
  StateOverlay o(state);
  BeginBlock(o, 1);
  CHECK(ExecuteTx(o, propose, 1, propose.Hash()) == TxCode::kOk);
  CHECK(ExecuteTx(o, approve, 1, approve.Hash()) == TxCode::kProposalClosed);
  Expect(v, "proposal_state_key", ToHex(SystemKey(ProposalName(propose.Hash()))));
  Expect(v, "proposal_encoded", ToHex(*o.GetSystem(ProposalName(propose.Hash()))));
  Expect(v, "pending_encoded", ToHex(*o.GetSystem(kPendingName)));
  Expect(v, "set_hash_at_3", SetHash(*ValidatorSetAt(o, 3)).ToHex());
  CHECK(SetHash(*ValidatorSetAt(o, 2)) == set_hash);
}
