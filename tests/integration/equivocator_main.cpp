// cairnd-equivocator: a cairnd whose validator is Byzantine in one precise way: for every
// vote for a block it casts, it also signs a vote for a different block at the same height,
// round and step, and sends both to the same peer. Built only with the integration tests and
// never installed; it exists so a test can show that honest validators catch it (evidence)
// and still agree on every block.
//
//   cairnd-equivocator --home DIR
#include <cstdio>
#include <memory>
#include <string>
#include <variant>

#include "config/node_config.h"
#include "consensus/bft/messages.h"
#include "consensus/signer.h"
#include "node/node.h"

using namespace cairn;
namespace bft = cairn::consensus::bft;

namespace {

class Equivocator final : public consensus::Engine {
 public:
  Equivocator(std::unique_ptr<consensus::Engine> inner, consensus::ReplicaId id,
              const crypto::KeyPair& key, const crypto::Hash256& chain)
      : inner_(std::move(inner)), signer_(id, key), chain_(chain) {}

  void Tick() override { inner_->Tick(); }
  bool Idle() const override { return inner_->Idle(); }
  void IdleTick() override { inner_->IdleTick(); }
  Status Step(consensus::ReplicaId from, ByteView m) override { return inner_->Step(from, m); }
  std::optional<consensus::ProposalSlot> ProposalWanted() const override {
    return inner_->ProposalWanted();
  }
  Status Propose(consensus::Block b) override { return inner_->Propose(std::move(b)); }
  Status SyncCompleted(const consensus::BlockRef& tip) override {
    return inner_->SyncCompleted(tip);
  }
  Status Compact(uint64_t h) override { return inner_->Compact(h); }
  bool HasReady() const override { return inner_->HasReady(); }
  void Advance() override { inner_->Advance(); }
  consensus::EngineStatus GetStatus() const override { return inner_->GetStatus(); }
  Status SetValidators(uint64_t height, std::vector<consensus::ValidatorInfo> set) override {
    return inner_->SetValidators(height, std::move(set));
  }
  Status ProposeBlock(consensus::Block b, bool changes_config) override {
    return inner_->ProposeBlock(std::move(b), changes_config);
  }

  consensus::Ready TakeReady() override {
    consensus::Ready rd = inner_->TakeReady();
    std::vector<consensus::OutboundMessage> extra;
    for (const consensus::OutboundMessage& m : rd.messages) {
      auto msg = bft::DecodeMessage(m.payload);
      if (!msg.ok()) continue;
      const auto* vote = std::get_if<bft::Vote>(&*msg);
      if (!vote || !vote->block || vote->voter != signer_.id()) continue;
      bft::Vote twin = *vote;
      Bytes seed(vote->block->view().begin(), vote->block->view().end());
      seed.push_back('X');
      twin.block = crypto::Sha256Of(seed);  // a block nobody proposed
      twin = bft::SignVote(chain_, twin, signer_);
      extra.push_back({m.to, bft::EncodeMessage(bft::Message(twin))});
    }
    // After the honest votes, so peers count the honest one and record the twin as evidence.
    for (consensus::OutboundMessage& m : extra) rd.messages.push_back(std::move(m));
    return rd;
  }

 private:
  std::unique_ptr<consensus::Engine> inner_;
  consensus::Ed25519Signer signer_;
  crypto::Hash256 chain_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::string(argv[1]) != "--home") {
    std::fprintf(stderr, "usage: cairnd-equivocator --home DIR\n");
    return 2;
  }
  std::string home = argv[2];
  auto config = config::NodeConfig::Load(home + "/config.json");
  if (!config.ok()) {
    std::fprintf(stderr, "cairnd-equivocator: %s\n", config.error().c_str());
    return 1;
  }
  node::NodeHooks hooks;
  hooks.wrap_engine = [](std::unique_ptr<consensus::Engine> engine, const crypto::KeyPair& key,
                         const genesis::Genesis& genesis) -> std::unique_ptr<consensus::Engine> {
    int id = genesis.ValidatorIndex(key.public_key());
    if (genesis.consensus != genesis::ConsensusKind::kBft || id < 0) return engine;
    std::fprintf(stderr, "cairnd-equivocator: validator %d will sign conflicting votes\n", id);
    return std::make_unique<Equivocator>(std::move(engine), static_cast<consensus::ReplicaId>(id),
                                         key, genesis.Block0().Hash());
  };
  auto n = node::Node::Open(*config, std::move(hooks));
  if (!n.ok()) {
    std::fprintf(stderr, "cairnd-equivocator: %s\n", n.error().c_str());
    return 1;
  }
  Status s = (*n)->Run([&](uint16_t port) {
    std::string host = config->rpc_listen.substr(0, config->rpc_listen.rfind(':'));
    std::printf("rpc: http://%s:%u\n", host.c_str(), port);
    std::fflush(stdout);
  });
  n->reset();
  if (!s.ok()) {
    std::fprintf(stderr, "cairnd-equivocator: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}
