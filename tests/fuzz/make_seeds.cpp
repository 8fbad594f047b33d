// Writes the committed seed corpora (tests/fuzz/corpus/<harness>/<name>): valid encodings of
// every message, record and file the harnesses fuzz, made with the project's own encoders
// from the fixtures, so libFuzzer starts past the first length and version checks.
// Deterministic: running it again rewrites the same bytes. Usage: fuzz_make_seeds <corpus dir>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "api/methods.h"
#include "config/node_config.h"
#include "consensus/bft/state.h"
#include "consensus/raft/messages.h"
#include "ledger/receipt.h"
#include "node/wire.h"
#include "p2p/message.h"
#include "tests/fuzz/fake_node.h"
#include "tests/fuzz/p2p_fixture.h"
#include "tests/fuzz/snapshot_fixture.h"

using namespace cairn;
using rpc::Json;
namespace bft = consensus::bft;
namespace raft = consensus::raft;

namespace {

std::string g_root;
int g_files = 0;

void Write(const std::string& harness, const std::string& name, ByteView bytes) {
  const std::string dir = g_root + "/" + harness;
  ::mkdir(g_root.c_str(), 0755);
  ::mkdir(dir.c_str(), 0755);
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s/%s\n", dir.c_str(), name.c_str());
    std::exit(1);
  }
  ++g_files;
}
void Write(const std::string& harness, const std::string& name, const std::string& text) {
  Write(harness, name, AsBytes(text));
}
Bytes Cat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A seed a decoder refuses is useless: fail loudly.
template <typename R>
void Expect(const R& r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "seed %s does not decode: %s\n", what, r.error().c_str());
    std::exit(1);
  }
}

struct Fixture {
  genesis::Genesis genesis = fuzz::BftGenesis();
  crypto::Hash256 chain = genesis.Block0().Hash();
  ledger::Block block1 = fuzz::Block1(genesis);
  Bytes block1_bytes = block1.Encode();
  bft::Certificate cert = fuzz::MakeCertificate(chain, 1, 0, block1.Hash(), 3);
};

void LedgerSeeds(const Fixture& f) {
  const auto txs = fuzz::SampleTxs();
  const char* names[] = {"transfer", "put", "register", "set_role"};
  for (size_t i = 0; i < txs.size(); ++i) {
    Expect(ledger::Transaction::Decode(txs[i].Encode()), names[i]);
    Write("tx", names[i], txs[i].Encode());
  }
  Write("block", "block0", f.genesis.Block0().Encode());
  Write("block", "block1", f.block1_bytes);
  Write("block", "header1", f.block1.header.Encode());
  std::vector<ledger::Receipt> receipts = {{ledger::TxCode::kOk, 1, 0},
                                           {ledger::TxCode::kInsufficientBalance, 1, 1},
                                           {ledger::TxCode::kAccountExists, 1, 2}};
  Write("receipt", "three", ledger::EncodeReceipts(receipts));
  Write("receipt", "empty", ledger::EncodeReceipts({}));
}

void CertificateSeeds(const Fixture& f) {
  Write("certificate", "quorum", f.cert.Encode());
  Write("certificate", "all",
        fuzz::MakeCertificate(f.chain, 1, 0, f.block1.Hash(), fuzz::kValidators).Encode());
  auto a = fuzz::SignedVote(f.chain, bft::VoteType::kPrevote, 1, 0, f.block1.Hash(), 2);
  auto b = fuzz::SignedVote(f.chain, bft::VoteType::kPrevote, 1, 0, std::nullopt, 2);
  Write("certificate", "evidence", bft::MakeEvidence(a, b).Encode());
}

void RaftSeeds(const Fixture& f) {
  raft::Entry noop{.index = 5, .term = 2, .type = raft::EntryType::kNoop, .height = 0};
  raft::Entry block{.index = 6,
                    .term = 2,
                    .type = raft::EntryType::kBlock,
                    .height = 1,
                    .hash = f.block1.Hash(),
                    .data = f.block1_bytes};
  raft::Message app{.type = raft::MsgType::kApp, .term = 2, .index = 4, .log_term = 1, .commit = 4};
  app.entries = {noop, block};
  Write("raft_message", "app", raft::EncodeMessage(app));
  raft::Message resp{.type = raft::MsgType::kAppResp,
                     .term = 2,
                     .index = 3,
                     .reject = true,
                     .reject_hint = 2,
                     .hint_term = 1};
  Write("raft_message", "app_resp", raft::EncodeMessage(resp));
  Write("raft_message", "vote",
        raft::EncodeMessage({.type = raft::MsgType::kVote, .term = 3, .index = 6, .log_term = 2}));
  Write("raft_message", "prevote_resp",
        raft::EncodeMessage({.type = raft::MsgType::kPreVoteResp, .term = 3}));
  Write("raft_message", "heartbeat",
        raft::EncodeMessage({.type = raft::MsgType::kHeartbeat, .term = 3, .commit = 6}));
  raft::Message snap{.type = raft::MsgType::kSnapshot, .term = 3};
  snap.snapshot = {.index = 6, .term = 2, .block = {1, f.block1.Hash()}};
  Write("raft_message", "snapshot", raft::EncodeMessage(snap));
  Expect(raft::DecodeMessage(raft::EncodeMessage(app)), "raft app");
  Expect(raft::DecodeMessage(raft::EncodeMessage(snap)), "raft snapshot");
  Write("raft_message", "entry_block", raft::EncodeEntry(block));
  Write("raft_message", "entry_noop", raft::EncodeEntry(noop));
  raft::HardState hs{.term = 3, .vote = 1, .commit = 6, .base = snap.snapshot};
  Expect(raft::DecodeHardState(raft::EncodeHardState(hs)), "raft hard state");
  Write("raft_message", "hard_state", raft::EncodeHardState(hs));
}

void BftSeeds(const Fixture& f) {
  consensus::Block cb{1, f.block1.Hash(), f.block1_bytes, {}};
  bft::Proposal p{.height = 1, .round = 1, .valid_round = 0, .block = cb, .proposer = 2};
  consensus::Ed25519Signer signer(2, fuzz::ValidatorKey(2));
  p.sig = signer.Sign(bft::ProposalSignBytes(f.chain, p));
  Expect(bft::DecodeMessage(bft::EncodeMessage(p)), "bft proposal");
  Write("bft_message", "proposal", bft::EncodeMessage(p));
  auto prevote = fuzz::SignedVote(f.chain, bft::VoteType::kPrevote, 1, 1, f.block1.Hash(), 0);
  auto nil = fuzz::SignedVote(f.chain, bft::VoteType::kPrecommit, 1, 1, std::nullopt, 3);
  Write("bft_message", "prevote", bft::EncodeMessage(prevote));
  Write("bft_message", "precommit_nil", bft::EncodeMessage(nil));
  bft::Decision d{.block = {1, f.block1.Hash(), f.block1_bytes, {}}, .cert = f.cert};
  Expect(bft::DecodeMessage(bft::EncodeMessage(d)), "bft decision");
  Write("bft_message", "decision", bft::EncodeMessage(d));
  auto other = fuzz::SignedVote(f.chain, bft::VoteType::kPrevote, 1, 1, std::nullopt, 0);
  Write("bft_message", "evidence", bft::EncodeMessage(bft::MakeEvidence(prevote, other)));

  bft::HardState hs;
  hs.height = 1;
  hs.round = 1;
  hs.step = bft::RoundStep::kPrecommit;
  hs.locked_round = 1;
  hs.locked_hash = f.block1.Hash();
  hs.valid_round = 1;
  hs.valid_hash = f.block1.Hash();
  hs.next_record = 3;
  hs.proposal = bft::HardState::OwnProposal{0, f.block1.Hash(), p.sig};
  hs.votes.push_back({0, bft::VoteType::kPrevote, std::nullopt, nil.sig});
  hs.votes.push_back({1, bft::VoteType::kPrevote, f.block1.Hash(), prevote.sig});
  hs.votes.push_back({1, bft::VoteType::kPrecommit, f.block1.Hash(), prevote.sig});
  Expect(bft::DecodeHardState(bft::EncodeHardState(hs)), "bft hard state");
  Write("bft_message", "hard_state", bft::EncodeHardState(hs));
  Write("bft_message", "record_block", bft::EncodeBlockRecord(cb));
  Write("bft_message", "record_pol", bft::EncodePolRecord(bft::PolRecord{f.cert}));
}

Bytes Typed(uint8_t type, const Bytes& payload) {
  Bytes out{type};
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

void WireSeeds(const Fixture& f) {
  std::vector<Bytes> txs;
  for (const auto& tx : fuzz::SampleTxs()) txs.push_back(tx.Encode());
  {
    const fuzz::SnapshotFixture snap;
    Write("snapshot", "manifest", Typed(0, snap.manifest.Encode()));
    const auto& [index, chunk] = *snap.chunks.begin();
    Write("snapshot", "chunk", Typed(1, chunk));
    Bytes verify = {static_cast<uint8_t>(index)};
    verify.insert(verify.end(), chunk.begin(), chunk.end());
    Write("snapshot", "verify", Typed(2, verify));
  }
  Write("node_wire", "txs", Typed(0, node::wire::EncodeTxs(txs)));
  Write("node_wire", "status", Typed(1, node::wire::EncodeStatus({1, f.block1.Hash()})));
  Write("node_wire", "get_blocks", Typed(2, node::wire::EncodeGetBlocks({1, 16})));
  Write(
      "node_wire", "validators",
      Typed(4, node::wire::EncodeValidators({3, true, {{0, fuzz::ValidatorKey(0).public_key()}}})));
  Write("node_wire", "blocks",
        Typed(3, node::wire::EncodeBlocks(
                     {{f.genesis.Block0().Encode(), {}}, {f.block1_bytes, f.cert.Encode()}})));
}

void P2pSeeds(const Fixture& f) {
  p2p::Handshake local(fuzz::LocalKey(), fuzz::FuzzNetworkId(),
                       fuzz::Secret(fuzz::kLocalSecretFill));
  p2p::Handshake remote(fuzz::RemoteKey(), fuzz::FuzzNetworkId(),
                        fuzz::Secret(fuzz::kRemoteSecretFill));
  if (!remote.OnRemoteHello(local.hello()).ok()) std::exit(1);
  const Bytes auth = remote.AuthFrame();
  Write("p2p_handshake", "hello_only", remote.hello());
  Write("p2p_handshake", "handshake", Cat({remote.hello(), auth}));
  p2p::FrameSealer sealer = remote.TakeSealer();
  Bytes frames;
  const uint8_t nonce[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  sealer.SealMessage(p2p::kPing, nonce, &frames);
  sealer.SealMessage(node::wire::kStatus, node::wire::EncodeStatus({1, f.block1.Hash()}), &frames);
  sealer.SealMessage(node::wire::kNewBlock,
                     node::wire::EncodeBlocks({{f.block1_bytes, f.cert.Encode()}}), &frames);
  Write("p2p_handshake", "handshake_frames", Cat({remote.hello(), auth, frames}));

  // p2p_frame: flip position (2 bytes), mask, then len:u8 plaintext pieces.
  Bytes pieces;
  for (const Bytes& pt :
       {Bytes{p2p::kEnvelopeVersion, p2p::kPing, 1, 2, 3, 4, 5, 6, 7, 8},
        Bytes{p2p::kEnvelopeVersion, node::wire::kStatus, 9, 9, 9}, Bytes(200, 0xab)}) {
    pieces.push_back(static_cast<uint8_t>(pt.size()));
    pieces.insert(pieces.end(), pt.begin(), pt.end());
  }
  Write("p2p_frame", "clean", Cat({Bytes{0, 0, 0}, pieces}));
  Write("p2p_frame", "tampered_body", Cat({Bytes{40, 0, 0x01}, pieces}));
  Write("p2p_frame", "tampered_header", Cat({Bytes{2, 0, 0x80}, pieces}));
}

std::string Request(int id, const std::string& method, const Json& params) {
  Json r = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) r["params"] = params;
  return r.dump();
}

void RpcSeeds(const Fixture& f) {
  const std::string tx = crypto::ToHex(fuzz::SampleTxs()[0].Encode());
  const std::string tx_hash = fuzz::SampleTxs()[0].Hash().ToHex();
  const std::string admin = fuzz::AdminKey().public_key().ToHex();
  const std::vector<std::pair<std::string, Json>> calls = {
      {"sendTransaction", {{"tx", tx}}},
      {"sendTransactions", {{"txs", {tx, "zz"}}}},
      {"getTransaction", {{"hash", tx_hash}}},
      {"getBlock", {{"height", 1}, {"full", true}}},
      {"getBlock", Json::array({f.block1.Hash().ToHex()})},
      {"getBlocks", Json::array({0, 1})},
      {"getRawBlocks", {{"from", 0}, {"count", 2}}},
      {"getAccount", {{"address", admin}}},
      {"getRecord", {{"address", admin}, {"key", "6b6579"}}},
      {"getStatus", nullptr},
      {"getValidators", nullptr},
      {"getGenesis", nullptr},
      {"getEvidence", nullptr},
      {"getPeers", nullptr},
  };
  Json batch = Json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string body = Request(static_cast<int>(i), calls[i].first, calls[i].second);
    Write("rpc_dispatcher", "call" + std::to_string(i), body);
    batch.push_back(Json::parse(body));
  }
  Write("rpc_dispatcher", "batch", batch.dump());
  Write("rpc_dispatcher", "notification", Json{{"jsonrpc", "2.0"}, {"method", "getStatus"}}.dump());
  Write("rpc_dispatcher", "not_json", std::string("{\"jsonrpc\":\"2.0\",\"id\":"));

  // rpc_methods: the method's index among the sorted names, then its params.
  api::testing::FakeNode node{fuzz::FixtureChain()};
  rpc::Dispatcher d;
  if (!api::RegisterNodeMethods(d, node).ok()) std::exit(1);
  const std::vector<std::string> names = d.Methods();
  for (size_t i = 0; i < calls.size(); ++i) {
    size_t index = 0;
    while (names[index] != calls[i].first) ++index;
    std::string text(1, static_cast<char>(index));
    if (!calls[i].second.is_null()) text += calls[i].second.dump();
    Write("rpc_methods", "call" + std::to_string(i), text);
  }
}

void FileSeeds() {
  Write("genesis", "bft", fuzz::BftGenesis().ToJson());
  genesis::Genesis raft = fuzz::BftGenesis();
  raft.consensus = genesis::ConsensusKind::kRaft;
  raft.observers.clear();
  Write("genesis", "raft", raft.ToJson());

  config::NodeConfig c;
  c.peers.push_back({"127.0.0.1:26657", fuzz::ValidatorKey(1).public_key().ToHex()});
  Expect(config::NodeConfig::FromJson(c.ToJson(), "/h"), "config");
  Write("node_config", "default_with_peer", c.ToJson());
  Write("node_config", "minimal", std::string("{\"name\":\"n\"}"));

  const crypto::KeyPair k = fuzz::ValidatorKey(0);
  Write("key_file", "valid",
        Json{{"type", "ed25519"},
             {"public_key", k.public_key().ToHex()},
             {"private_key", k.seed().ToHex()}}
            .dump());
  Write("key_file", "no_public",
        Json{{"type", "ed25519"}, {"private_key", k.seed().ToHex()}}.dump());

  const std::string peer = fuzz::ValidatorKey(1).public_key().ToHex();
  Write("text", "peer", std::string(1, '\0') + peer + "@127.0.0.1:26656");
  Write("text", "peer_v6", std::string(1, '\0') + peer + "@[::1]:26656");
  Write("text", "time", std::string("\x01") + "2026-11-23T00:00:00.123Z");
  Write("text", "host_port", std::string("\x02") + "localhost:8545");
  Write("text", "hex", std::string("\x03") + "00ff7a");
  Write("text", "chain_id", std::string("\x04") + "cairn-dev");
}

// The engine harnesses read a script through FuzzedDataProvider: any bytes are a valid
// script, so a few fixed pseudo-random ones (seeded, reproducible) start them.
void EngineSeeds() {
  uint64_t x = 0x9e3779b97f4a7c15;  // splitmix64 from a fixed seed
  auto next = [&x] {
    uint64_t z = (x += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  };
  for (const char* harness : {"raft_engine", "bft_engine"}) {
    for (int i = 0; i < 4; ++i) {
      Bytes script(256 << i);
      for (uint8_t& b : script) b = static_cast<uint8_t>(next());
      Write(harness, "script" + std::to_string(i), script);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  const Fixture f;
  LedgerSeeds(f);
  CertificateSeeds(f);
  RaftSeeds(f);
  BftSeeds(f);
  WireSeeds(f);
  P2pSeeds(f);
  RpcSeeds(f);
  FileSeeds();
  EngineSeeds();
  std::printf("wrote %d seeds under %s\n", g_files, g_root.c_str());
  return 0;
}
