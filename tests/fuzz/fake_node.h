// The fixture chain (block 0 and block 1 of fixtures.h, with block 1's real certificate) as
// the RPC harnesses' fake node holds it. Nothing in it fails, so an internal error in a
// response means a method threw on its parameters. Pure function; thread-compatible.
#pragma once
#include "tests/api/fake_node.h"
#include "tests/fuzz/fixtures.h"

namespace cairn::fuzz {

inline api::testing::FakeChain FixtureChain() {
  api::testing::FakeChain c;
  c.genesis = BftGenesis();
  c.blocks = {c.genesis.Block0(), Block1(c.genesis)};
  for (uint32_t i = 0; i < c.blocks[1].txs.size(); ++i) {
    c.head_receipts.push_back({ledger::TxCode::kOk, 1, i});
  }
  const consensus::bft::Certificate cert =
      MakeCertificate(c.blocks[0].Hash(), 1, 0, c.blocks[1].Hash(), 3);
  api::CertificateInfo info;
  info.raw = cert.Encode();
  info.height = cert.height;
  info.round = cert.round;
  info.block = cert.block;
  for (const auto& s : cert.sigs) {
    info.signers.push_back({s.validator, ValidatorKey(s.validator).public_key(), s.sig});
  }
  c.certificate = std::move(info);
  c.peers = {
      {ValidatorKey(1).public_key().ToHex(), "v1", "127.0.0.1:26657", "outbound", 1, 2, 3, 4, 5}};
  c.status.chain_id = kChainId;
  c.status.genesis_hash = c.blocks[0].Hash();
  c.status.node_id = ValidatorKey(0).public_key();
  c.status.node_name = "v0";
  c.status.consensus = "bft";
  c.status.validator = true;
  c.status.role = "leader";
  c.status.version = "fuzz";
  c.account_address = AdminKey().public_key();
  c.account = ledger::Account{1000, 4, ledger::Role::kAdmin};
  c.next_nonce = 4;
  c.record_key = {0x6b, 0x65, 0x79};
  c.record_value = {0x76, 0x00};
  return c;
}

}  // namespace cairn::fuzz
