#include "node/engine_driver.h"

#include <algorithm>

#include "consensus/bft/messages.h"
#include "node/logging.h"
#include "node/wire.h"

namespace cairn::node {
namespace {

constexpr uint64_t kRefusedLogIntervalMs = 10'000;
// The engine may drop log entries the ledger holds durably, keeping a margin for followers
// that are slightly behind.
constexpr uint64_t kCompactEvery = 512;
constexpr uint64_t kCompactMargin = 256;
constexpr uint64_t kCompactLogIntervalMs = 10'000;

}  // namespace

EngineDriver::EngineDriver(Parts parts, bool empty_blocks, CompactRelay::Options compact)
    : p_(parts),
      empty_blocks_(empty_blocks),
      relay_(
          parts.genesis.consensus,
          [&pool = parts.pool](std::span<const crypto::Hash256> hashes, std::vector<Bytes>& out) {
            pool.GetEncoded(hashes, out);
          },
          parts.clock, compact) {}

Status EngineDriver::Open(const consensus::EngineOptions& options, const Wrap& wrap, LostState lost,
                          bool joining) {
  auto durable = p_.engine_store.Load();
  if (!durable.ok()) return durable.status().Wrap("consensus state");
  const ledger::Head head = p_.store.head();
  raft_members_ = options.raft_members.has_value();
  self_id_ = options.id;
  // Solo signs no votes, and a first boot (or a member's first open) has nothing to forget.
  const bool first_boot =
      (head.height == 0 || joining) && !durable->hard_state && durable->records.empty();
  if (options.kind == consensus::EngineKind::kSolo || first_boot) {
    return Install(options, wrap, *durable);
  }
  std::string problem;
  if (durable->hard_state) {
    Status opened = Install(options, wrap, *durable);
    if (opened.ok()) return opened;
    problem = "is unreadable (" + opened.message() + ")";
  } else {
    problem = "is missing";
  }

  // The state is lost. What this validator signed at heights up to the head can never be
  // signed again (the engine starts at head + 1), so only height head + 1 is in danger:
  // the engine persists its state for a height only once the ledger holds the one below.
  const uint64_t floor = head.height + 1;
  std::vector<std::string> evidence = SigningEvidence(options, *durable);
  // A record that exists but does not read shows by itself that the engine ran here.
  if (durable->hard_state) evidence.insert(evidence.begin(), "its engine record exists");
  const std::string who = "validator " + std::to_string(options.id);
  if (evidence.empty()) {
    Log("consensus")
        ->warn("consensus state {}, but the last {} blocks hold no signature of {}: starting clean",
               problem, kLostStateLookback, who);
    if (Status s = p_.engine_store.ClearEngineState(); !s.ok()) return s.Wrap("consensus state");
    return Install(options, wrap, consensus::DurableState{});
  }
  std::string shown;
  for (const std::string& e : evidence) shown += (shown.empty() ? "" : "; ") + e;
  const std::string at = std::to_string(floor);
  if (lost == LostState::kRefuse) {
    return Status::Rejected(
        "consensus state lost: the engine record of this validator (store key 'C' 'h') " + problem +
        ", but the data dir shows " + who + " has signed (" + shown +
        "). It may have voted at height " + at + " (the head " + std::to_string(head.height) +
        " + 1) before the record was lost, and starting without it could sign a conflicting "
        "vote there: a double-sign. To recover, restore the data dir from a copy that holds "
        "its 'C' keys, or start with --i-know-this-may-double-sign: it then signs nothing "
        "until its ledger holds height " +
        at + " (committed by the other validators, fetched by block sync) and votes from " +
        std::to_string(floor + 1) + " on; if height " + at + " is not reached within " +
        std::to_string(kLostStateWaitTicks) +
        " ticks (no quorum without this validator) it signs at height " + at +
        " anyway, which may double-sign. See docs/CONSENSUS.md, \"Lost validator state\".");
  }
  Log("consensus")
      ->warn(
          "consensus state {} ({}); --i-know-this-may-double-sign: starting clean, signing "
          "nothing until the ledger holds height {} or {} ticks pass",
          problem, shown, at, kLostStateWaitTicks);
  if (Status s = p_.engine_store.ClearEngineState(); !s.ok()) return s.Wrap("consensus state");
  deferred_ = Deferred{options, wrap, floor, 0};
  return MaybeOpenDeferred();
}

Status EngineDriver::Install(const consensus::EngineOptions& options, const Wrap& wrap,
                             const consensus::DurableState& durable) {
  const ledger::Head head = p_.store.head();
  auto engine = consensus::OpenEngine(options, durable, {head.height, head.hash});
  if (!engine.ok()) return engine.status();
  engine_ = std::move(engine.value());
  if (wrap) engine_ = wrap(std::move(engine_));
  MutexLock lock(&status_mu_);
  status_ = engine_->GetStatus();
  return Status::Ok();
}

Status EngineDriver::MaybeOpenDeferred() {
  if (!deferred_) return Status::Ok();
  const uint64_t head = p_.store.head().height;
  if (head < deferred_->floor && deferred_->waited_ticks < kLostStateWaitTicks) {
    return Status::Ok();
  }
  if (head < deferred_->floor) {
    Log("consensus")
        ->warn(
            "the ledger did not reach height {} within {} ticks: signing from height {} on, "
            "where this validator may have voted before its state was lost",
            deferred_->floor, kLostStateWaitTicks, head + 1);
  } else {
    Log("consensus")
        ->info("the ledger holds height {}: signing from height {} on", deferred_->floor, head + 1);
  }
  Deferred d = std::move(*deferred_);
  deferred_.reset();
  if (Status s = Install(d.options, d.wrap, consensus::DurableState{}); !s.ok()) return s;
  // The sets captured at Open may be stale: blocks were applied while the open waited.
  if (engine_) FeedMembership(p_.store.head().height, /*both=*/true);
  return Status::Ok();
}

std::vector<std::string> EngineDriver::SigningEvidence(
    const consensus::EngineOptions& options, const consensus::DurableState& durable) const {
  std::vector<std::string> out;
  if (!durable.records.empty()) {
    out.push_back("it holds " + std::to_string(durable.records.size()) + " consensus log records");
  }
  const uint64_t head = p_.store.head().height;
  if (options.kind == consensus::EngineKind::kRaft && head > 0) {
    // Raft votes leave no trace in blocks, and a ledger past genesis was built by elections
    // every validator votes in.
    out.push_back("its ledger holds " + std::to_string(head) +
                  " blocks committed by Raft, whose elections every validator votes in");
  }
  const crypto::PublicKey& self = p_.self_key;
  // A certificate names signers by index in set(H); the current set's index stands in for
  // the lookback (a set change moves it only for blocks before the change).
  std::optional<uint32_t> self_index;
  {
    auto snap = p_.membership.Get();
    for (uint32_t i = 0; i < snap->next.size(); ++i) {
      if (snap->next[i].id == options.id) self_index = i;
    }
  }
  std::optional<uint64_t> proposed, certified;
  const uint64_t lowest = head >= kLostStateLookback ? head - kLostStateLookback + 1 : 1;
  for (uint64_t h = head; h >= lowest && h > 0 && !(proposed && certified); --h) {
    if (!proposed) {
      auto header = p_.store.HeaderAt(h);
      if (header.ok() && header->has_value() && (*header)->proposer == self) proposed = h;
    }
    if (!certified && options.kind == consensus::EngineKind::kBft) {
      auto raw = p_.store.CertificateAt(h);
      if (raw.ok() && raw->has_value()) {
        auto cert = consensus::bft::Certificate::Decode(**raw);
        if (cert.ok()) {
          for (const auto& sig : cert->sigs) {
            if (self_index && sig.validator == *self_index) certified = h;
          }
        }
      }
    }
  }
  if (certified) {
    out.push_back("it signed the commit certificate of block " + std::to_string(*certified));
  }
  if (proposed) out.push_back("it proposed block " + std::to_string(*proposed));
  return out;
}

consensus::EngineStatus EngineDriver::status() const {
  MutexLock lock(&status_mu_);
  return status_;
}

Status EngineDriver::Tick() {
  if (deferred_) {
    ++deferred_->waited_ticks;
    if (Status s = MaybeOpenDeferred(); !s.ok()) return s;
  }
  if (!engine_) return Status::Ok();
  for (CompactRelay::Completed& c :
       net_ ? relay_.Tick(*net_) : std::vector<CompactRelay::Completed>{}) {
    const ledger::Member* from = p_.membership.Get()->ValidatorByP2p(c.from);
    if (!from) continue;
    if (Status s = Step(from->id, c.message); !s.ok()) return s;
  }
  LogCompactStats();
  // Nothing is happening at this height and nothing of ours to propose: holding the round
  // timers keeps an idle network from churning through rounds (and growing its timeouts), as
  // Tendermint does without empty blocks. Any message, or a transaction here, starts it again.
  const bool idle = engine_->Idle() && p_.pool.size() == 0 && !empty_blocks_;
  if (idle) {
    engine_->IdleTick();  // the clock still moves for what is not a round timer
  } else {
    engine_->Tick();
  }
  if (Status s = CheckSyncTarget(); !s.ok()) return s;
  return AfterInput();
}

Status EngineDriver::CheckSyncTarget() {
  if (!pending_sync_to_ || p_.store.head().height < pending_sync_to_->height) return Status::Ok();
  // Block sync follows peers' heads, so the ledger is usually past the target: check the
  // block at the target height is the one consensus named, then report the target itself.
  auto at = p_.store.HeaderAt(pending_sync_to_->height);
  if (!at.ok() || !at->has_value() || (*at)->Hash() != pending_sync_to_->hash) {
    return Status::Error("block sync reached height " + std::to_string(pending_sync_to_->height) +
                         " but holds a different block there than consensus committed");
  }
  // Raft resumes from the target it asked for (its log continues there). A BFT engine
  // accepts any certified tip, and must be told the real head, or it would vote at a height
  // the ledger has passed.
  const ledger::Head head = p_.store.head();
  const bool bft = p_.genesis.consensus == genesis::ConsensusKind::kBft;
  const consensus::BlockRef tip =
      bft ? consensus::BlockRef{head.height, head.hash} : *pending_sync_to_;
  if (bft) {
    FeedMembership(head.height, /*both=*/true);
    if (KeyRetired()) return Status::Ok();
  }
  if (Status s = engine_->SyncCompleted(tip); !s.ok()) {
    Log("consensus")->warn("sync completed refused: {}", s.message());
  } else {
    pending_sync_to_.reset();
    // Raft: the members as of the synced tip (the ledger may be a little past it: the engine
    // hands those blocks out again, and their config is the same or the next one).
    if (!bft) FeedMembership(tip.height, /*both=*/false);
  }
  return Status::Ok();
}

Status EngineDriver::Step(consensus::ReplicaId replica, ByteView payload) {
  if (!engine_) return Status::Ok();
  if (Status s = engine_->Step(replica, payload); !s.ok()) {
    // A faulty validator could send these without end: one line per peer per 10 s at most.
    RefusedLog& r = refused_log_[replica];
    const uint64_t now = p_.clock.SteadyMs();
    if (r.last_ms == 0 || now - r.last_ms >= kRefusedLogIntervalMs) {
      Log("consensus")
          ->warn("message from validator {} refused: {}{}", replica, s.message(),
                 r.suppressed ? " (and " + std::to_string(r.suppressed) +
                                    " more refused since the last such line)"
                              : "");
      r.last_ms = now;
      r.suppressed = 0;
    } else {
      ++r.suppressed;
    }
  }
  return AfterInput();
}

Status EngineDriver::StepCompact(consensus::ReplicaId replica, const p2p::NodeId& from,
                                 ByteView payload) {
  if (!engine_ || !net_) return Status::Ok();
  std::optional<Bytes> message = relay_.OnCompact(*net_, from, payload);
  return message ? Step(replica, *message) : Status::Ok();
}

Status EngineDriver::StepWhole(consensus::ReplicaId replica, const p2p::NodeId& from,
                               ByteView payload) {
  if (relay_.Holds(from)) {
    relay_.QueueWhole(from, payload);
    return Status::Ok();
  }
  return Step(replica, payload);
}

Status EngineDriver::OnBlockTxs(consensus::ReplicaId replica, const p2p::NodeId& from,
                                ByteView payload) {
  if (!engine_ || !net_) return Status::Ok();
  for (const Bytes& message : relay_.OnBlockTxs(*net_, from, payload)) {
    if (Status s = Step(replica, message); !s.ok()) return s;
  }
  return Status::Ok();
}

void EngineDriver::ServeBlockTxs(const p2p::NodeId& from, ByteView payload) {
  if (net_) relay_.OnGetBlockTxs(*net_, from, payload);
}

EngineDriver::~EngineDriver() { LogCompactStats(/*now=*/true); }

void EngineDriver::Close() {
  engine_.reset();
  deferred_.reset();
  pending_sync_to_.reset();
  MutexLock lock(&status_mu_);
  status_.role = consensus::Role::kFollower;
  status_.leader = consensus::kNoReplica;
  status_.removed = true;
}

void EngineDriver::FeedMembership(uint64_t height, bool both) {
  p_.membership.Refresh();
  auto snap = p_.membership.Get();
  if (!snap->from_state || !engine_) return;
  // The snapshot is of the ledger's head, which the engine's blocks may trail (a sync
  // overlap): its sets are those of head + 1 and head + 2.
  if (p_.genesis.consensus == genesis::ConsensusKind::kBft) {
    if (snap->head != height) return;
    if (both) {
      if (Status s = engine_->SetValidators(height + 1, Membership::Infos(snap->next)); !s.ok()) {
        Log("consensus")->warn("validator set of height {} refused: {}", height + 1, s.message());
      }
    }
    if (Status s = engine_->SetValidators(height + 2, Membership::Infos(snap->after)); !s.ok()) {
      Log("consensus")->warn("validator set of height {} refused: {}", height + 2, s.message());
    }
    return;
  }
  if (p_.genesis.consensus != genesis::ConsensusKind::kRaft || !raft_members_) return;
  // The members after block `height` (set(height + 2)), which the ledger may have passed (a
  // block applied from a push before the engine saw it committed): every replica must apply
  // the same config at the same log index, so never a later head's.
  std::vector<ledger::Member> set;
  if (snap->head == height) {
    set = snap->after;
  } else if (snap->head == height + 1) {
    set = snap->next;
  } else {
    set = p_.membership.ValidatorsOf(height + 2, /*read_history=*/true);
    if (set.empty()) {
      Log("consensus")->warn("members after block {} unknown: config not applied", height);
      return;
    }
  }
  if (Status s = engine_->ApplyMembers(Membership::Ids(set), snap->members.next_id, height);
      !s.ok()) {
    Log("consensus")->warn("member set after block {} refused: {}", height, s.message());
  }
}

void EngineDriver::LogCompactStats(bool now) {
  const uint64_t ms = p_.clock.SteadyMs();
  if (!now && ms - last_compact_log_ms_ < kCompactLogIntervalMs) return;
  last_compact_log_ms_ = ms;
  const CompactRelay::Stats s = relay_.stats();
  if (s.compact_sent == logged_compact_.compact_sent &&
      s.compact_received == logged_compact_.compact_received) {
    return;
  }
  logged_compact_ = s;
  Log("consensus")
      ->info(
          "compact blocks: sent {} ({} bytes instead of {}), received {}, rebuilt from the "
          "mempool {}, fetches {} ({} txs), completed {}, dropped {}, bad answers {}, served {}",
          s.compact_sent, s.compact_bytes, s.whole_bytes, s.compact_received, s.rebuilt_local,
          s.fetches, s.fetched_txs, s.completed, s.dropped, s.bad_answers, s.served);
}

Status EngineDriver::CatchUp() {
  // Raft hands blocks out itself and asks for sync explicitly (Ready::sync_to). A BFT engine
  // instead accepts the certified blocks the node applied on its own and moves past them.
  if (!engine_ || p_.genesis.consensus != genesis::ConsensusKind::kBft) return Status::Ok();
  const ledger::Head head = p_.store.head();
  if (engine_->GetStatus().applied_height >= head.height) return Status::Ok();
  FeedMembership(head.height, /*both=*/true);
  if (KeyRetired()) return Status::Ok();
  if (Status s = engine_->SyncCompleted({head.height, head.hash}); !s.ok()) {
    Log("consensus")->warn("engine refused the synced head {}: {}", head.height, s.message());
    return Status::Ok();
  }
  if (pending_sync_to_ && pending_sync_to_->height <= head.height) {
    // Settled, if the block there is the one the engine named; otherwise Tick halts.
    auto at = p_.store.HeaderAt(pending_sync_to_->height);
    if (at.ok() && at->has_value() && (*at)->Hash() == pending_sync_to_->hash) {
      pending_sync_to_.reset();
    }
  }
  return AfterInput();
}

Status EngineDriver::OnArrival() {
  if (!engine_) return Status::Ok();
  return AfterInput();
}

Status EngineDriver::AfterInput() {
  if (!engine_) return Status::Ok();
  if (Status s = DrainReady(); !s.ok()) return s;
  if (!engine_) return Status::Ok();  // closed: this node's key was rotated out
  MaybePropose();
  if (Status s = DrainReady(); !s.ok()) return s;
  if (!engine_) return Status::Ok();
  const uint64_t head = p_.store.head().height;
  if (head >= last_compact_ + kCompactEvery) {
    if (engine_->Compact(head - kCompactMargin).ok()) last_compact_ = head;
  }
  const consensus::EngineStatus now = engine_->GetStatus();
  if (metrics_) metrics_->OnEngineStatus(now, p_.genesis.consensus == genesis::ConsensusKind::kBft);
  // Its own lock: admission holds the mempool lock for whole batches, and consensus must not
  // wait on it.
  MutexLock lock(&status_mu_);
  status_ = now;
  return Status::Ok();
}

void EngineDriver::MaybePropose() {
  auto slot = engine_->ProposalWanted();
  if (!slot) return;
  if (!MayPropose(slot->parent.height + 1)) return;
  std::optional<consensus::Block> block = p_.builder.Build(*slot);
  if (!block) return;
  const crypto::Hash256 hash = block->hash;
  const bool changes = p_.builder.WritesPendingSet(hash);
  if (changes)
    Log("consensus")->info("proposing block {}, which changes the member set", block->height);
  if (Status s = engine_->ProposeBlock(std::move(*block), changes); !s.ok()) {
    Log("consensus")->warn("proposal refused: {}", s.message());
    p_.builder.Forget(hash);
  }
}

Status EngineDriver::DrainReady() {
  while (engine_->HasReady()) {
    consensus::Ready ready = engine_->TakeReady();
    // 1. Persist, before sending anything.
    if (Status s = p_.engine_store.Persist(ready); !s.ok()) {
      return s.Wrap("persisting consensus state");
    }
    if (ready.discard_through) p_.engine_store.Discard(*ready.discard_through);
    // 2. Send, after persisting. Not connected: the engine retries on its own. Gossip
    // waiting for the tick goes first, so a compact block's receivers hold what this node
    // admitted since (the same connection keeps the order).
    if (net_ && !ready.messages.empty()) p_.pool.FlushGossip(*net_);
    if (!ready.messages.empty()) {
      auto members = p_.membership.Get();
      for (consensus::OutboundMessage& m : ready.messages) {
        const ledger::Member* to = members->Validator(m.to);
        if (!net_ || !to) continue;
        Status sent = relay_.Send(*net_, to->p2p_key, std::move(m.payload));
        if (!sent.ok()) Log("consensus")->debug("to validator {}: {}", m.to, sent.message());
      }
    }
    // 3. Sync (through block sync, which follows peers' heads), then apply.
    if (ready.sync_to) {
      Log("consensus")
          ->info("consensus compacted past this node: block-syncing to height {}",
                 ready.sync_to->height);
      pending_sync_to_ = ready.sync_to;
    }
    for (const consensus::Block& b : ready.committed) {
      CommitResult r = p_.acceptor.ApplyCommitted(b);
      if (!r.ok()) return r.status;
      FeedMembership(b.height, /*both=*/false);
    }
    // 4. Record evidence of misbehaviour.
    for (const Bytes& ev : ready.evidence) p_.evidence.Record(ev);
    engine_->Advance();
    if (KeyRetired()) return Status::Ok();
  }
  return Status::Ok();
}

bool EngineDriver::MayPropose(uint64_t height) const {
  auto snap = p_.membership.Get();
  if (!snap->from_state) return true;
  // Followers refuse a block whose proposer is not a validator of set(height) (BlockRules), and
  // this node commits its own blocks without that check: it builds only what they accept. A
  // change in flight holds the engine's next proposal back until the block is applied (Raft
  // and BFT alike), so a slot above head + 2 has the set of head + 2.
  const std::vector<ledger::Member>& set = height <= snap->head + 1 ? snap->next : snap->after;
  return std::any_of(set.begin(), set.end(), [&](const ledger::Member& m) {
    return m.consensus_key == p_.self_key && (!self_id_ || m.id == *self_id_);
  });
}

bool EngineDriver::KeyRetired() {
  // BFT: its votes would carry signatures the set refuses. Raft: as leader it would propose
  // blocks followers refuse. Solo runs no set changes through an engine it could close.
  if (!engine_ || p_.genesis.consensus == genesis::ConsensusKind::kSolo || !self_id_) return false;
  auto snap = p_.membership.Get();
  if (!snap->from_state) return false;
  for (const ledger::Member& m : snap->next) {
    if (m.id != *self_id_ || m.consensus_key == p_.self_key) continue;
    // Its votes of height head + 1 on would carry a signature the set does not accept, and
    // its own certificates would count them: it stops signing (a restart with the new key
    // file opens the engine again, docs/OPERATIONS.md).
    Log("consensus")
        ->warn("from height {} validator {} signs with key {}, not this node's: its engine stops",
               snap->head + 1, m.id, m.consensus_key.ToHex());
    Close();
    return true;
  }
  return false;
}

}  // namespace cairn::node
