// The node's side of BFT consensus: checking a proposal before this validator votes for it,
// checking commit certificates on blocks from peers, and keeping evidence of equivocation.
// All of it runs on the loop thread except GetCertificate/GetEvidence (RPC threads).
#include <chrono>

#include "consensus/bft/messages.h"
#include "crypto/hex.h"
#include "ledger/codec.h"
#include "ledger/executor.h"
#include "node/logging.h"
#include "node/node.h"

namespace cairn::node {
namespace {

// A proposal whose timestamp is further ahead of this validator's clock than this gets no
// vote: a proposer cannot push the chain's time arbitrarily into the future.
constexpr uint64_t kMaxClockDriftMs = 10'000;
constexpr size_t kMaxStoredEvidence = 100'000;

uint64_t UnixMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string Short(const crypto::Hash256& h) { return h.ToHex().substr(0, 12); }

// Evidence records: 'C' 'e' sha256(evidence) -> recorded_ms:u64 evidence:bytes
Bytes EvidenceKey(const crypto::Hash256& h) {
  Bytes k = {'C', 'e'};
  k.insert(k.end(), h.view().begin(), h.view().end());
  return k;
}

}  // namespace

// Adapts the engine's validation question to Node::ValidateProposal.
class Node::ProposalCheck final : public consensus::bft::ProposalValidator {
 public:
  explicit ProposalCheck(Node& node) : node_(node) {}
  Status CheckIdentity(const consensus::Block& block) override {
    return Node::CheckBlockIdentity(block);
  }
  Status Validate(const consensus::Block& block, const consensus::BlockRef& parent) override {
    return node_.ValidateProposal(block, parent);
  }

 private:
  Node& node_;
};

std::unique_ptr<consensus::bft::ProposalValidator> Node::MakeProposalCheck() {
  return std::make_unique<ProposalCheck>(*this);
}

rpc::EvidenceInfo Node::DescribeEvidence(const consensus::bft::Evidence& ev, ByteView raw,
                                         uint64_t recorded_ms) const {
  rpc::EvidenceInfo info;
  info.raw.assign(raw.begin(), raw.end());
  info.validator = ev.a.voter;
  if (ev.a.voter < genesis_.validators.size()) {
    info.key = genesis_.validators[ev.a.voter].public_key;
  }
  info.vote_type = ev.a.type == consensus::bft::VoteType::kPrevote ? "prevote" : "precommit";
  info.height = ev.a.height;
  info.round = ev.a.round;
  info.block_a = ev.a.block;
  info.block_b = ev.b.block;
  info.recorded_ms = recorded_ms;
  return info;
}

Status Node::CheckBlockIdentity(const consensus::Block& cb) {
  auto decoded = ledger::Block::Decode(cb.data);
  if (!decoded.ok()) return decoded.status().Wrap("block body");
  if (decoded->Hash() != cb.hash || decoded->header.height != cb.height) {
    return Status::Error("block body is not the block " + std::to_string(cb.height) + " " +
                         Short(cb.hash) + " it was sent as");
  }
  return Status::Ok();
}

Status Node::ValidateProposal(const consensus::Block& cb, const consensus::BlockRef& parent) {
  ledger::Head head = store_->head();
  if (parent.hash != head.hash || cb.height != head.height + 1) {
    return Status::Error("proposal for height " + std::to_string(cb.height) + " on " +
                         Short(parent.hash) + ", but this node's head is " +
                         std::to_string(head.height) + " " + Short(head.hash));
  }
  // The engine asked CheckIdentity first (the body is the block its hash names), so a block
  // known by hash needs no second decode; the hash is still compared below, cheaply.
  if (built_.count(cb.hash) || validated_.count(cb.hash)) return Status::Ok();
  auto decoded = ledger::Block::Decode(cb.data);
  if (!decoded.ok()) return decoded.status().Wrap("proposed block");
  ledger::Block block = std::move(decoded.value());
  if (block.Hash() != cb.hash || block.header.height != cb.height) {
    return Status::Error("proposed block does not hash to the hash it was proposed under");
  }
  if (!IsAllowedProposer(block.header.proposer)) {
    return Status::Error("proposed block was built by " + block.header.proposer.ToHex() +
                         ", not a validator");
  }
  if (block.header.timestamp_ms > UnixMs() + kMaxClockDriftMs) {
    return Status::Error("proposed block's timestamp is more than " +
                         std::to_string(kMaxClockDriftMs / 1000) +
                         " s ahead of this validator's clock");
  }
  auto parent_header = store_->HeaderAt(head.height);
  if (!parent_header.ok() || !parent_header->has_value()) {
    return Status::Error("cannot read head header " + std::to_string(head.height));
  }
  ledger::ExecOptions opts;
  opts.verify_threads = 2;
  // Transactions this node admitted were verified then; the rest are verified here, once.
  opts.signature_known_valid = [this](const crypto::Hash256& h) { return sig_cache_.Contains(h); };
  auto exec = ledger::VerifyBlock(*store_, **parent_header, block, opts);
  if (!exec.ok()) return exec.status();
  sig_cache_.Insert(exec->tx_hashes);
  if (Status s = store_->StateReadError(); !s.ok()) return s.Wrap("reading state");
  validated_.emplace(cb.hash, Validated{std::move(block), std::move(exec.value())});
  // Rounds that do not decide bring new proposals: keep the newest few.
  validated_order_.push_back(cb.hash);
  while (validated_order_.size() > 16) {
    validated_.erase(validated_order_.front());
    validated_order_.pop_front();
  }
  return Status::Ok();
}

Status Node::CheckCertificate(const ledger::Block& block, ByteView certificate) const {
  const uint64_t height = block.header.height;
  if (certificate.empty()) {
    return Status::Error("block " + std::to_string(height) + " came without a commit certificate");
  }
  auto cert = consensus::bft::Certificate::Decode(certificate);
  if (!cert.ok()) return cert.status().Wrap("certificate of block " + std::to_string(height));
  return consensus::bft::VerifyCertificate(*cert, genesis_hash_, height, block.Hash(),
                                           static_cast<uint32_t>(genesis_.validators.size()),
                                           *verifier_)
      .Wrap("certificate of block " + std::to_string(height));
}

void Node::RecordEvidence(ByteView raw) {
  auto ev = consensus::bft::Evidence::Decode(raw);
  if (!ev.ok()) {
    Log("consensus")->error("engine reported undecodable evidence: {}", ev.error());
    return;
  }
  rpc::EvidenceInfo info = DescribeEvidence(*ev, raw, UnixMs());
  crypto::Hash256 id = crypto::Sha256Of(raw);
  {
    std::lock_guard<std::mutex> lock(evidence_mu_);
    if (!evidence_ids_.insert(id).second) return;
    if (evidence_.size() >= kMaxStoredEvidence) {
      // The engine keeps one piece per validator, height, round and vote type; this bound is
      // for a validator that misbehaves at every height for a very long time.
      if (!evidence_full_logged_) {
        Log("consensus")
            ->error("evidence store is full ({} pieces); not recording more", kMaxStoredEvidence);
        evidence_full_logged_ = true;
      }
      return;
    }
    evidence_.push_back(info);
  }
  auto name = [](const std::optional<crypto::Hash256>& h) { return h ? Short(*h) : "nil"; };
  Log("consensus")
      ->warn("EVIDENCE: validator {} ({}) signed two {}s at height {} round {}: {} and {}",
             info.validator, info.key.ToHex().substr(0, 12), info.vote_type, info.height,
             info.round, name(info.block_a), name(info.block_b));
  ledger::Writer w;
  w.U64(info.recorded_ms).Var(raw);
  ledger::WriteBatch batch;
  batch.Put(EvidenceKey(id), w.Take());
  // Evidence is not needed for safety; an unsynced write keeps it off the commit path.
  if (Status s = store_->kv().Write(batch, /*sync=*/false); !s.ok()) {
    Log("consensus")->error("storing evidence: {}", s.message());
  }
}

Status Node::LoadEvidence() {
  Bytes start = {'C', 'e'}, end = {'C', 'f'};
  std::vector<rpc::EvidenceInfo> loaded;
  Status s = store_->kv().Scan(start, end, [&](ByteView, ByteView value) {
    ledger::Reader r(value, "stored evidence");
    uint64_t ms = 0;
    Bytes raw;
    r.U64(&ms, "recorded_ms");
    r.Var(&raw, 1u << 20, "evidence");
    if (!r.Finish().ok()) return true;  // a damaged record is skipped, not fatal
    auto ev = consensus::bft::Evidence::Decode(raw);
    if (!ev.ok()) return true;
    loaded.push_back(DescribeEvidence(*ev, raw, ms));
    return true;
  });
  if (!s.ok()) return s.Wrap("reading evidence");
  std::sort(loaded.begin(), loaded.end(),
            [](const rpc::EvidenceInfo& a, const rpc::EvidenceInfo& b) {
              return a.recorded_ms < b.recorded_ms;
            });
  std::lock_guard<std::mutex> lock(evidence_mu_);
  evidence_ = std::move(loaded);
  evidence_ids_.clear();
  for (const rpc::EvidenceInfo& e : evidence_) evidence_ids_.insert(crypto::Sha256Of(e.raw));
  return Status::Ok();
}

std::vector<rpc::EvidenceInfo> Node::GetEvidence() const {
  std::lock_guard<std::mutex> lock(evidence_mu_);
  return evidence_;
}

Result<std::optional<rpc::CertificateInfo>> Node::GetCertificate(uint64_t height) const {
  auto raw = store_->CertificateAt(height);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<rpc::CertificateInfo>();
  auto cert = consensus::bft::Certificate::Decode(**raw);
  if (!cert.ok())
    return cert.status().Wrap("stored certificate of block " + std::to_string(height));
  rpc::CertificateInfo info;
  info.raw = std::move(**raw);
  info.height = cert->height;
  info.round = cert->round;
  info.block = cert->block;
  for (const auto& s : cert->sigs) {
    rpc::CertificateInfo::Signer signer;
    signer.validator = s.validator;
    if (s.validator < genesis_.validators.size()) {
      signer.key = genesis_.validators[s.validator].public_key;
    }
    signer.sig = s.sig;
    info.signers.push_back(signer);
  }
  return std::optional<rpc::CertificateInfo>(std::move(info));
}

}  // namespace cairn::node
