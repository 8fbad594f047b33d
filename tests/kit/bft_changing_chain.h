// ChangingChain: a BFT chain of 7 blocks whose validator set changes twice by governance, each
// block committed with a certificate of a quorum of set(H): for tests of whatever follows
// validator sets (the audit, the state-sync light client).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "consensus/bft/messages.h"
#include "consensus/signer.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "ledger/governance.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/keys.h"
#include "tests/kit/make_tx.h"

namespace cairn::testkit {

// Genesis: validators ids 0..3 and one role admin, who is therefore the only governance admin
// (threshold 1), so each proposal executes in its own block.
//   block 1: add validator id 4            (in force from height 3)
//   block 4: remove validator id 3         (in force from height 6)
// Blocks 1..7 are committed, each with a certificate of a quorum of set(H) by index:
//   H 1-2: ids 0,1,3 of 4; H 3-5: ids 0,1,2,4 of 5; H 6-7: ids 0,1,4 of 4 (indices 0,1,3).
inline crypto::KeyPair ChainKey(uint8_t n) { return TestKey(n, /*family=*/0x17); }

struct ChangingChain {
  std::map<uint32_t, crypto::KeyPair> keys;  // by member id
  crypto::KeyPair admin = ChainKey(2);
  genesis::Genesis genesis;
  std::vector<ledger::Block> blocks;        // 1..7
  std::vector<Bytes> certificates;          // 1..7
  std::vector<std::vector<uint32_t>> sets;  // member ids of set(H), H = 1..7

  ChangingChain() {
    for (uint32_t id = 0; id <= 4; ++id) keys.emplace(id, ChainKey(static_cast<uint8_t>(11 + id)));
    genesis.chain_id = "audit-set";
    genesis.genesis_time_ms = 1'767'225'600'000;
    genesis.consensus = genesis::ConsensusKind::kBft;
    for (uint32_t id = 0; id < 4; ++id) {
      genesis.validators.push_back(
          {"v" + std::to_string(id), keys.at(id).public_key(), "127.0.0.1:1"});
    }
    genesis.accounts.push_back({admin.public_key(), ledger::Role::kAdmin, 1'000'000});
  }

  // A certificate of `signers` (member ids) for `b`, by their indices in `set`; `keyed_as`
  // overrides the key that signs for an id (a removed validator signing in another's slot).
  Bytes Certificate(const ledger::Block& b, const std::vector<uint32_t>& set,
                    const std::vector<uint32_t>& signers,
                    const std::map<uint32_t, uint32_t>& keyed_as = {}) const {
    consensus::bft::Certificate c;
    c.height = b.header.height;
    c.round = 0;
    c.block = b.Hash();
    for (uint32_t id : signers) {
      const auto index =
          static_cast<consensus::ReplicaId>(std::find(set.begin(), set.end(), id) - set.begin());
      consensus::bft::Vote v;
      v.type = consensus::bft::VoteType::kPrecommit;
      v.height = c.height;
      v.round = c.round;
      v.block = c.block;
      auto k = keyed_as.find(id);
      consensus::Ed25519Signer signer(index, keys.at(k == keyed_as.end() ? id : k->second));
      v = consensus::bft::SignVote(genesis.Block0().Hash(), v, signer);
      c.sigs.push_back({index, v.sig});
    }
    return c.Encode();
  }

  // set(H) of blocks[H - 1] as members (id and consensus key: what SetHash covers).
  std::vector<ledger::Member> SetAt(uint64_t h) const {
    std::vector<ledger::Member> out;
    for (uint32_t id : sets.at(h - 1)) {
      ledger::Member m;
      m.id = id;
      m.consensus_key = keys.at(id).public_key();
      out.push_back(m);
    }
    return out;
  }

  // Builds and commits blocks 1..7. `proposer_of` picks the proposer's member id by height.
  void Build(ledger::ChainStore& store, uint32_t proposer_at_7 = 0) {
    ledger::BlockHeader parent = genesis.Block0().header;
    uint64_t nonce = 0;
    for (uint64_t h = 1; h <= 7; ++h) {
      std::vector<ledger::Transaction> txs;
      if (h == 1) {
        const auto k = keys.at(4).public_key();
        txs.push_back(
            MakeTx(admin, genesis.chain_id, nonce++,
                   ledger::GovPropose{h + 10, ledger::AddValidator{"v4", k, k, "127.0.0.1:1"}}));
      } else if (h == 4) {
        txs.push_back(MakeTx(admin, genesis.chain_id, nonce++,
                             ledger::GovPropose{h + 10, ledger::RemoveMember{3}}));
      } else {
        txs.push_back(MakeTx(admin, genesis.chain_id, nonce++,
                             ledger::Put{Bytes{'k', static_cast<uint8_t>(h)}, Bytes{1}}));
      }
      std::vector<uint32_t> set = h <= 2   ? std::vector<uint32_t>{0, 1, 2, 3}
                                  : h <= 5 ? std::vector<uint32_t>{0, 1, 2, 3, 4}
                                           : std::vector<uint32_t>{0, 1, 2, 4};
      std::vector<uint32_t> signers = h <= 2   ? std::vector<uint32_t>{0, 1, 3}
                                      : h <= 5 ? std::vector<uint32_t>{0, 1, 2, 4}
                                               : std::vector<uint32_t>{0, 1, 4};
      const uint32_t proposer = h == 7 ? proposer_at_7 : (h <= 2 ? 0 : 4);
      auto built = ledger::BuildBlock(store, parent, TreeOf(store), std::move(txs),
                                      genesis.genesis_time_ms + h, keys.at(proposer));
      REQUIRE(built.skipped.empty());
      REQUIRE(built.exec.receipts.at(0).code == ledger::TxCode::kOk);
      Bytes cert = Certificate(built.block, set, signers);
      REQUIRE(store.Commit(built.block, built.exec, true, nullptr, cert).ok());
      blocks.push_back(built.block);
      certificates.push_back(cert);
      sets.push_back(set);
      parent = built.block.header;
    }
  }
};

}  // namespace cairn::testkit
