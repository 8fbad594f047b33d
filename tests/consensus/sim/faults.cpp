// The chaos phase of a simulation: every 20..100 time units one fault of the schedule's
// kinds (crash or restart, partition or heal, link cut, compaction, a strike at the leader);
// then Heal undoes them all for the liveness phase.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "tests/consensus/sim/simulation.h"

namespace cairn::consensus::sim::detail {

void Simulation::OnChaos() {
  if (!faulty_) return;
  Event next;
  next.time = now_ + rng_.Range(20, 100);
  next.kind = EventKind::kChaos;
  Schedule(std::move(next));

  const FaultSchedule& f = cfg_.faults;
  std::vector<int> kinds;
  if (f.crashes) kinds.push_back(0);
  if (f.partitions) kinds.push_back(1);
  if (f.link_cuts) kinds.push_back(2);
  if (f.compaction) kinds.push_back(3);
  if (f.leader_churn) kinds.push_back(4);
  if (kinds.empty()) return;
  switch (kinds[rng_.Uniform(kinds.size())]) {
    case 0:
      return CrashOrRestartOne();
    case 1:
      return SplitOrHeal();
    case 2:
      return ToggleLinkCut();
    case 3:
      return CompactOne();
    case 4:
      return StrikeLeader();
  }
}

void Simulation::CrashOrRestartOne() {
  std::vector<ReplicaId> up, down;
  for (ReplicaId i = 0; i < cfg_.replicas; ++i) (nodes_[i].engine ? up : down).push_back(i);
  if (!down.empty() && (up.empty() || rng_.Chance(1, 2))) {
    OpenNode(down[rng_.Uniform(down.size())]);
  } else {
    Crash(up[rng_.Uniform(up.size())], "by chaos");
  }
}

void Simulation::SplitOrHeal() {
  const uint32_t n = cfg_.replicas;
  bool split =
      std::any_of(group_.begin(), group_.end(), [&](uint32_t g) { return g != group_[0]; });
  if (split) {
    std::fill(group_.begin(), group_.end(), 0);
    Trace("partition healed");
  } else if (n > 1) {
    for (uint32_t& g : group_) g = static_cast<uint32_t>(rng_.Uniform(2));
    if (std::all_of(group_.begin(), group_.end(), [&](uint32_t g) { return g == group_[0]; })) {
      group_[rng_.Uniform(n)] ^= 1;
    }
    ++stats_.partitions;
    std::string groups;
    for (uint32_t g : group_) groups += std::to_string(g);
    Trace("partition " + groups);
  }
}

void Simulation::ToggleLinkCut() {
  const uint32_t n = cfg_.replicas;
  if (n < 2) return;
  ReplicaId a = static_cast<ReplicaId>(rng_.Uniform(n));
  ReplicaId b = static_cast<ReplicaId>((a + 1 + rng_.Uniform(n - 1)) % n);
  cut_[a][b] = !cut_[a][b];
  Trace("link " + std::to_string(a) + "->" + std::to_string(b) +
        (cut_[a][b] ? " cut" : " restored"));
}

void Simulation::CompactOne() {
  ReplicaId i = static_cast<ReplicaId>(rng_.Uniform(cfg_.replicas));
  Node& node = nodes_[i];
  if (!node.engine || node.sync_target) return;
  uint64_t above_genesis = node.tip.height - chain_.front().height;
  uint64_t h = node.tip.height - rng_.Uniform(std::min<uint64_t>(above_genesis, 4) + 1);
  if (Status s = node.engine->Compact(h); !s.ok()) {
    return Fail("compact: replica " + std::to_string(i) + " to height " + std::to_string(h) + ": " +
                s.message());
  }
  Trace("n" + std::to_string(i) + " compact to " + std::to_string(h));
  Drive(i);
}

void Simulation::StrikeLeader() {
  const uint32_t n = cfg_.replicas;
  // First undo the previous blow (restart one crashed replica, heal the split)...
  std::fill(group_.begin(), group_.end(), 0);
  for (ReplicaId i = 0; i < n; ++i) {
    if (!nodes_[i].engine) {
      OpenNode(i);
      break;
    }
  }
  // ...then strike whoever leads now.
  std::vector<ReplicaId> leaders;
  for (ReplicaId i = 0; i < n; ++i) {
    if (nodes_[i].engine && nodes_[i].engine->GetStatus().role == Role::kLeader) {
      leaders.push_back(i);
    }
  }
  if (leaders.empty()) return;
  ReplicaId leader = leaders[rng_.Uniform(leaders.size())];
  if (rng_.Chance(1, 2)) {
    Crash(leader, "(the leader) by chaos");
  } else {
    // The leader and at most one other replica on the minority side.
    group_[leader] = 1;
    if (n >= 5 && rng_.Chance(1, 2)) group_[(leader + 1 + rng_.Uniform(n - 1)) % n] = 1;
    ++stats_.partitions;
    Trace("partition isolates leader n" + std::to_string(leader));
  }
}

void Simulation::Heal() {
  faulty_ = false;
  std::fill(group_.begin(), group_.end(), 0);
  for (auto& row : cut_) std::fill(row.begin(), row.end(), false);
  for (ReplicaId i = 0; i < cfg_.replicas; ++i) {
    if (!nodes_[i].engine) OpenNode(i);
  }
  uint64_t top = chain_.back().height;
  for (ReplicaId i = 0; i < cfg_.replicas; ++i) {
    const Node& n = nodes_[i];
    if (n.engine && Honest(i)) top = std::max(top, n.engine->GetStatus().commit_height);
  }
  liveness_target_ = top + cfg_.liveness_blocks;
  deadline_ = now_ + cfg_.liveness_ticks * kTickUnits;
  Trace("faults stop; liveness target height " + std::to_string(liveness_target_));
}

}  // namespace cairn::consensus::sim::detail
