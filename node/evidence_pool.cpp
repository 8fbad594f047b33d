#include "node/evidence_pool.h"

#include <algorithm>

#include "consensus/bft/messages.h"
#include "node/logging.h"

namespace cairn::node {
namespace {}  // namespace

std::optional<api::EvidenceInfo> EvidencePool::Describe(ByteView raw, uint64_t recorded_ms) const {
  auto ev = consensus::bft::Evidence::Decode(raw);
  if (!ev.ok()) return std::nullopt;
  api::EvidenceInfo info;
  info.raw.assign(raw.begin(), raw.end());
  info.validator = ev->a.voter;
  if (key_of_) {
    if (auto key = key_of_(ev->a.height, ev->a.voter)) info.key = *key;
  } else if (ev->a.voter < genesis_.validators.size()) {
    info.key = genesis_.validators[ev->a.voter].public_key;
  }
  info.vote_type = ev->a.type == consensus::bft::VoteType::kPrevote ? "prevote" : "precommit";
  info.height = ev->a.height;
  info.round = ev->a.round;
  info.block_a = ev->a.block;
  info.block_b = ev->b.block;
  info.recorded_ms = recorded_ms;
  return info;
}

Status EvidencePool::Load() {
  std::vector<api::EvidenceInfo> loaded;
  Status s = store_.ScanEvidence([&](uint64_t ms, ByteView raw) {
    if (auto info = Describe(raw, ms)) loaded.push_back(std::move(*info));
  });
  if (!s.ok()) return s.Wrap("reading evidence");
  std::sort(loaded.begin(), loaded.end(),
            [](const api::EvidenceInfo& a, const api::EvidenceInfo& b) {
              return a.recorded_ms < b.recorded_ms;
            });
  MutexLock lock(&mu_);
  pieces_ = std::move(loaded);
  ids_.clear();
  for (const api::EvidenceInfo& e : pieces_) ids_.insert(crypto::Sha256Of(e.raw));
  return Status::Ok();
}

void EvidencePool::Record(ByteView raw) {
  auto info = Describe(raw, clock_.UnixMs());
  if (!info) {
    Log("consensus")->error("engine reported undecodable evidence");
    return;
  }
  const crypto::Hash256 id = crypto::Sha256Of(raw);
  {
    MutexLock lock(&mu_);
    if (!ids_.insert(id).second) return;
    if (pieces_.size() >= kMaxPieces) {
      // The engine keeps one piece per validator, height, round and vote type; this bound is
      // for a validator that misbehaves at every height for a very long time.
      if (!full_logged_) {
        Log("consensus")
            ->error("evidence store is full ({} pieces); not recording more", kMaxPieces);
        full_logged_ = true;
      }
      return;
    }
    pieces_.push_back(*info);
  }
  auto name = [](const std::optional<crypto::Hash256>& h) {
    return h ? crypto::ShortHex(*h) : "nil";
  };
  Log("consensus")
      ->warn("EVIDENCE: validator {} ({}) signed two {}s at height {} round {}: {} and {}",
             info->validator, crypto::ShortHex(info->key), info->vote_type, info->height,
             info->round, name(info->block_a), name(info->block_b));
  if (Status s = store_.PutEvidence(id, info->recorded_ms, raw); !s.ok()) {
    Log("consensus")->error("storing evidence: {}", s.message());
  }
}

std::vector<api::EvidenceInfo> EvidencePool::List() const {
  MutexLock lock(&mu_);
  return pieces_;
}

}  // namespace cairn::node
