// Deterministic values the harnesses check against and the seed generator encodes: a BFT
// chain "fuzz" of four validators (keys 1..4) with one admin account (key 5), its block 1
// with one transaction of each kind, and that block's commit certificate. Header-only, so a
// harness links only the libraries of what it fuzzes. Pure functions; thread-compatible.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "consensus/bft/messages.h"
#include "consensus/signer.h"
#include "genesis/genesis.h"
#include "ledger/block.h"
#include "ledger/transaction.h"
#include "tests/fuzz/fuzz_util.h"

namespace cairn::fuzz {

inline constexpr const char* kChainId = "fuzz";
inline constexpr uint32_t kValidators = 4;

inline crypto::KeyPair ValidatorKey(uint32_t i) { return Key(static_cast<uint8_t>(1 + i)); }
inline crypto::KeyPair AdminKey() { return Key(5); }
inline crypto::KeyPair MemberKey() { return Key(6); }

inline genesis::Genesis BftGenesis() {
  genesis::Genesis g;
  g.chain_id = kChainId;
  g.genesis_time_ms = 1764547200000;
  g.consensus = genesis::ConsensusKind::kBft;
  for (uint32_t i = 0; i < kValidators; ++i) {
    g.validators.push_back({"v" + std::to_string(i), ValidatorKey(i).public_key(),
                            "127.0.0.1:" + std::to_string(26656 + i)});
  }
  g.observers.push_back({"o0", Key(9).public_key(), "127.0.0.1:26700"});
  g.accounts.push_back({AdminKey().public_key(), ledger::Role::kAdmin, 1000000});
  g.accounts.push_back({MemberKey().public_key(), ledger::Role::kMember, 50});
  return g;
}

inline ledger::Transaction SignedTx(uint64_t nonce, ledger::Payload payload) {
  ledger::Transaction tx;
  tx.chain_id = kChainId;
  tx.nonce = nonce;
  tx.payload = std::move(payload);
  tx.Sign(AdminKey());
  return tx;
}

// One transaction of each payload kind.
inline std::vector<ledger::Transaction> SampleTxs() {
  const crypto::PublicKey member = MemberKey().public_key();
  return {SignedTx(0, ledger::Transfer{member, 25}),
          SignedTx(1, ledger::Put{{0x6b, 0x65, 0x79}, {0x76, 0x00}}),
          SignedTx(2, ledger::RegisterAccount{Key(7).public_key(), ledger::Role::kMember}),
          SignedTx(3, ledger::SetRole{member, ledger::Role::kAdmin})};
}

// Block 1 of BftGenesis(), proposed by validator 1, holding SampleTxs(). Its state root is
// not the executed one: decoders and certificate checks never execute.
inline ledger::Block Block1(const genesis::Genesis& g) {
  ledger::Block b;
  b.header.chain_id = kChainId;
  b.header.height = 1;
  b.header.prev_hash = g.Block0().Hash();
  b.header.timestamp_ms = g.genesis_time_ms + 1000;
  b.header.state_root = crypto::Sha256Of(AsBytes("state"));
  b.header.consensus_data = {0x00, 0x00, 0x00, 0x00};
  b.txs = SampleTxs();
  b.header.tx_count = static_cast<uint32_t>(b.txs.size());
  b.header.tx_root = b.ComputeTxRoot();
  b.Sign(ValidatorKey(1));
  return b;
}

inline consensus::bft::Vote SignedVote(const crypto::Hash256& chain, consensus::bft::VoteType type,
                                       uint64_t height, uint32_t round,
                                       std::optional<crypto::Hash256> block, uint32_t voter) {
  consensus::bft::Vote v;
  v.type = type;
  v.height = height;
  v.round = round;
  v.block = block;
  consensus::Ed25519Signer signer(voter, ValidatorKey(voter));
  return consensus::bft::SignVote(chain, v, signer);
}

// Precommits of validators 0..count-1 for `block` at (height, round).
inline consensus::bft::Certificate MakeCertificate(const crypto::Hash256& chain, uint64_t height,
                                                   uint32_t round, const crypto::Hash256& block,
                                                   uint32_t count) {
  consensus::bft::Certificate c;
  c.height = height;
  c.round = round;
  c.block = block;
  for (uint32_t i = 0; i < count; ++i) {
    auto v = SignedVote(chain, consensus::bft::VoteType::kPrecommit, height, round, block, i);
    c.sigs.push_back({i, v.sig});
  }
  return c;
}

inline consensus::Ed25519Verifier MakeVerifier() {
  std::vector<crypto::PublicKey> keys;
  for (uint32_t i = 0; i < kValidators; ++i) keys.push_back(ValidatorKey(i).public_key());
  return consensus::Ed25519Verifier(std::move(keys));
}

}  // namespace cairn::fuzz
