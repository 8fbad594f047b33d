// The BFT engine stepped with hostile messages: replica 0 of four, and the fuzzer writes a
// script for the other three (all of them Byzantine, more than the f = 1 the protocol
// tolerates): ticks, raw bytes, and well-formed proposals, votes, decisions and evidence
// with fuzzed fields, signed with the real validator keys so they pass the signature checks.
// The engine must refuse what it cannot use, never crash or trip an assert. Safety needs
// 2f+1 honest replicas, so the properties are those no coalition can break: every block the
// engine commits carries a certificate that verifies for it, holds the data of its hash,
// and heights commit in order.
#include <fuzzer/FuzzedDataProvider.h>

#include "consensus/bft/bft.h"
#include "tests/fuzz/fixtures.h"

using namespace cairn;
using namespace cairn::consensus;
using namespace cairn::consensus::bft;

namespace {

class Validator final : public ProposalValidator {
 public:
  Status CheckIdentity(const Block& b) override {
    if (crypto::Sha256Of(b.data) != b.hash) return Status::Error("hash mismatch");
    return Status::Ok();
  }
  Status Validate(const Block& b, const BlockRef&) override { return CheckIdentity(b); }
};

struct Keys {
  std::vector<Ed25519Signer> signers;
  Ed25519Verifier verifier = fuzz::MakeVerifier();
  Keys() {
    for (uint32_t i = 0; i < fuzz::kValidators; ++i) signers.emplace_back(i, fuzz::ValidatorKey(i));
  }
};

const Keys& TheKeys() {
  static const Keys* k = new Keys();
  return *k;
}

const BlockRef kGenesis{0, crypto::Sha256Of(AsBytes("genesis"))};

Block MakeBlock(uint64_t height, uint8_t variant) {
  Block b;
  b.height = height;
  b.data = Bytes{static_cast<uint8_t>(height), static_cast<uint8_t>(height >> 8), variant};
  b.hash = crypto::Sha256Of(b.data);
  return b;
}

std::optional<crypto::Hash256> FuzzedTarget(FuzzedDataProvider& p, uint64_t height) {
  switch (p.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:
      return std::nullopt;
    case 1: {
      std::array<uint8_t, 32> h{};
      h[0] = p.ConsumeIntegral<uint8_t>();
      return crypto::Hash256(h);
    }
    default:
      return MakeBlock(height, p.ConsumeIntegral<uint8_t>() % 3).hash;
  }
}

Vote FuzzedVote(FuzzedDataProvider& p, ReplicaId voter) {
  Vote v;
  v.type = p.ConsumeBool() ? VoteType::kPrevote : VoteType::kPrecommit;
  v.height = p.ConsumeIntegralInRange<uint64_t>(1, 4);
  v.round = p.ConsumeIntegralInRange<uint32_t>(0, 4);
  v.block = FuzzedTarget(p, v.height);
  v = SignVote(kGenesis.hash, v, TheKeys().signers[voter]);
  if (p.ConsumeIntegralInRange<int>(0, 15) == 0) v.voter = p.ConsumeIntegral<uint32_t>();
  return v;
}

Message FuzzedMessage(FuzzedDataProvider& p, ReplicaId from) {
  switch (p.ConsumeIntegralInRange<int>(0, 5)) {
    case 0: {
      Proposal pr;
      pr.height = p.ConsumeIntegralInRange<uint64_t>(1, 4);
      pr.round = p.ConsumeIntegralInRange<uint32_t>(0, 4);
      pr.valid_round = p.ConsumeBool() || pr.round == 0
                           ? kNoRound
                           : p.ConsumeIntegralInRange<uint32_t>(0, pr.round - 1);
      pr.block = MakeBlock(pr.height, p.ConsumeIntegral<uint8_t>() % 3);
      if (p.ConsumeIntegralInRange<int>(0, 7) == 0) pr.block.data.push_back(0xff);  // wrong body
      pr.proposer = p.ConsumeBool() ? from : ProposerOf(pr.height, pr.round, fuzz::kValidators);
      pr.proposer %= fuzz::kValidators;
      pr.sig = TheKeys().signers[pr.proposer].Sign(ProposalSignBytes(kGenesis.hash, pr));
      return pr;
    }
    case 1: {
      Decision d;
      d.block =
          MakeBlock(p.ConsumeIntegralInRange<uint64_t>(1, 4), p.ConsumeIntegral<uint8_t>() % 3);
      d.cert = fuzz::MakeCertificate(kGenesis.hash, d.block.height,
                                     p.ConsumeIntegralInRange<uint32_t>(0, 4), d.block.hash, 0);
      const uint32_t signers = p.ConsumeIntegralInRange<uint32_t>(0, fuzz::kValidators);
      for (uint32_t i = 0; i < signers; ++i) {
        Vote v{VoteType::kPrecommit, d.cert.height, d.cert.round, d.cert.block, i, {}};
        d.cert.sigs.push_back({i, SignVote(kGenesis.hash, v, TheKeys().signers[i]).sig});
      }
      return d;
    }
    case 2: {
      Vote a = FuzzedVote(p, from);
      Vote b = a;
      b.block = FuzzedTarget(p, b.height);
      b = SignVote(kGenesis.hash, b, TheKeys().signers[from]);
      return MakeEvidence(a, b);
    }
    default:
      return FuzzedVote(p, from);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  BftConfig cfg;
  cfg.id = 0;
  cfg.replicas = fuzz::kValidators;
  cfg.genesis = kGenesis;
  cfg.propose_timeout_ticks = 3;
  cfg.vote_timeout_ticks = 2;
  cfg.timeout_delta_ticks = 1;
  cfg.max_timeout_ticks = 8;
  cfg.rebroadcast_ticks = 4;
  Validator validator;
  auto opened = BftEngine::Open(cfg, TheKeys().signers[0], TheKeys().verifier, validator,
                                DurableState{}, kGenesis);
  FUZZ_CHECK(opened.ok());
  BftEngine& engine = **opened;
  uint64_t applied = 0;
  std::optional<BlockRef> syncing;
  for (int steps = 0; steps < 48 && p.remaining_bytes() > 0; ++steps) {
    const ReplicaId from = p.ConsumeIntegralInRange<ReplicaId>(1, fuzz::kValidators - 1);
    switch (p.ConsumeIntegralInRange<int>(0, 5)) {
      case 0:
        for (int t = p.ConsumeIntegralInRange<int>(1, 8); t > 0; --t) engine.Tick();
        break;
      case 1: {
        const Bytes raw = p.ConsumeBytes<uint8_t>(p.ConsumeIntegralInRange<size_t>(0, 256));
        (void)engine.Step(from, raw);
        break;
      }
      case 2:
        if (auto slot = engine.ProposalWanted()) {
          (void)engine.Propose(MakeBlock(slot->parent.height + 1, 0));
        }
        break;
      default:
        (void)engine.Step(from, EncodeMessage(FuzzedMessage(p, from)));
        break;
    }
    while (engine.HasReady()) {
      Ready r = engine.TakeReady();
      if (r.sync_to) syncing = r.sync_to;
      for (const Block& b : r.committed) {
        FUZZ_CHECK(b.height == applied + 1);
        FUZZ_CHECK(crypto::Sha256Of(b.data) == b.hash);
        auto cert = Certificate::Decode(b.certificate);
        FUZZ_CHECK(cert.ok());
        FUZZ_CHECK(VerifyCertificate(*cert, kGenesis.hash, b.height, b.hash, fuzz::kValidators,
                                     TheKeys().verifier)
                       .ok());
        applied = b.height;
      }
      engine.Advance();
    }
    if (syncing) {
      // Block sync fetched certified blocks up to the tip (the node checks them).
      if (engine.SyncCompleted(*syncing).ok()) applied = syncing->height;
      syncing.reset();
    }
  }
  return 0;
}
