#include "node/state_sync.h"

#include <algorithm>

#include "node/logging.h"
#include "node/metrics.h"
#include "node/set_history.h"

namespace cairn::node {
namespace {

constexpr uint64_t kReaskOffersMs = 3000;  // a peer that has not answered GetSnapshots
constexpr uint64_t kWaitLogMs = 10'000;
// The fewest headers an honest Headers answer holds when more were asked: 4 MiB over the
// largest header (65 KiB) and certificate (256 KiB).
constexpr uint64_t kMinPage =
    wire::kMaxHeadersBytes / (wire::kMaxHeaderBytes + wire::kMaxCertificateBytes);

bool IsVerdict(const Status& s) {
  // What a bad part gets from the verifiers; anything else is this node's own store failing.
  return s.code() == StatusCode::kRejected || s.code() == StatusCode::kInvalidArgument;
}

}  // namespace

StateSync::StateSync(ledger::Block genesis, Options options, std::unique_ptr<ledger::KvStore> kv,
                     Network& net, const Clock& clock)
    : genesis_(std::move(genesis)),
      options_(options),
      kv_(std::move(kv)),
      net_(net),
      clock_(clock) {}

StateSync::StateSync(ledger::Block genesis, Options options,
                     std::unique_ptr<ledger::ChainStore> store, Network& net, const Clock& clock)
    : genesis_(std::move(genesis)),
      options_(options),
      net_(net),
      clock_(clock),
      store_(std::move(store)) {}

Status StateSync::Start() {
  if (store_) {
    want_height_ = store_->HeadersFrom() - 1;
    phase_ = want_height_ == 0 ? Phase::kDone : Phase::kBackfill;
    Log("node")->info(
        "state sync: the chain in the data dir (head {}) lacks the headers below {}: resuming "
        "the header backfill",
        store_->head().height, want_height_ + 1);
    return Status::Ok();
  }
  auto pending = ledger::SnapshotImport::PendingIn(*kv_);
  if (!pending.ok()) return pending.status().Wrap("state sync: the import in progress");
  resume_ = std::move(pending.value());
  if (resume_) {
    Log("node")->info(
        "state sync: resuming the import of the snapshot at height {} found in the data dir",
        resume_->header.height);
    return Status::Ok();
  }
  if (options_.trust_height != 0 && !options_.trust_hash) {
    return Status::InvalidArgument(
        "state_sync.trust_height is set without state_sync.trust_hash: a height alone trusts "
        "nothing; give both, or neither on a BFT chain");
  }
  if (light()) {
    Log("node")->info(
        "state sync: no trust point given: a snapshot's header will be proven by its commit "
        "certificate from the genesis validator set, following set changes; asking peers for "
        "snapshots");
    return Status::Ok();
  }
  if (!options_.trust_hash) {
    return Status::InvalidArgument(
        "state sync needs a trust point: set state_sync.trust_height and state_sync.trust_hash "
        "to a block height and hash read from a node you trust (cairn status on it), at or "
        "above the snapshot heights its peers offer (docs/OPERATIONS.md \"Joining by state "
        "sync\")");
  }
  Log("node")->info("state sync: trusting block {} hash {}; asking peers for snapshots",
                    options_.trust_height, options_.trust_hash->ToHex());
  return Status::Ok();
}

void StateSync::OnPeerConnected(const p2p::NodeId& peer) { peers_.insert(peer); }

void StateSync::OnPeerGone(const p2p::NodeId& peer) {
  peers_.erase(peer);
  offers_.erase(peer);
  asked_offers_ms_.erase(peer);
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (it->second.peer == peer) {
      queue_.insert(queue_.begin(), it->first);
      it = in_flight_.erase(it);
    } else {
      ++it;
    }
  }
  load_.erase(peer);
  if (headers_request_ && headers_request_->peer == peer) headers_request_.reset();
  if (single_request_ && single_request_->peer == peer) single_request_.reset();
  if (set_request_ && set_request_->peer == peer) set_request_.reset();
}

void StateSync::Ban(const p2p::NodeId& peer, const std::string& why) {
  DropOffer(peer);
  banned_.insert(peer);
  ++counts_.bad_parts;
  if (metrics_) metrics_->OnStateSyncBadPart();
  Log("node")->warn(
      "state sync: peer {} served a bad part: {}; disconnected, and not asked again during this "
      "sync",
      peer.ToHex(), why);
  net_.Disconnect(peer, "state sync: bad snapshot part: " + why);
  OnPeerGone(peer);
}

std::vector<p2p::NodeId> StateSync::Servers() const {
  std::vector<p2p::NodeId> out;
  if (!target_) return out;
  for (const auto& [peer, offers] : offers_) {
    if (banned_.count(peer) || !net_.IsConnected(peer)) continue;
    for (const wire::SnapshotOffer& o : offers) {
      if (o.height == target_->height && o.manifest_hash == target_->manifest_hash) {
        out.push_back(peer);
        break;
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [this](const p2p::NodeId& a, const p2p::NodeId& b) {
    auto la = load_.find(a), lb = load_.find(b);
    return (la == load_.end() ? 0 : la->second) < (lb == load_.end() ? 0 : lb->second);
  });
  return out;
}

std::optional<p2p::NodeId> StateSync::PickServer(const std::set<p2p::NodeId>& avoid) const {
  // Never a paused server (it said "busy"); an avoided one only when no other is left.
  const uint64_t now = clock_.SteadyMs();
  std::vector<p2p::NodeId> ready;
  for (const p2p::NodeId& p : Servers()) {
    auto paused = paused_until_.find(p);
    if (paused == paused_until_.end() || now >= paused->second) ready.push_back(p);
  }
  for (const p2p::NodeId& p : ready) {
    if (!avoid.count(p)) return p;
  }
  if (!ready.empty()) return ready.front();
  return std::nullopt;
}

Status StateSync::Tick() {
  const uint64_t now = clock_.SteadyMs();
  if (phase_ == Phase::kTrust || phase_ == Phase::kManifest) {
    // Every peer offering the target was dropped, left or cannot serve it (a made-up offer,
    // a snapshot it deleted): after a part timeout, choose another snapshot instead of
    // waiting forever. Offerers that stay but make no progress get three part timeouts.
    // Waiting for a validator set is not the offer's fault (no peer may hold the history).
    if (light_ && light_->next().kind == LightTrust::Need::Kind::kSet) progress_ms_ = now;
    if (!Servers().empty()) {
      stuck_since_ms_ = 0;
    } else if (stuck_since_ms_ == 0) {
      stuck_since_ms_ = now;
    } else if (now - stuck_since_ms_ >= options_.part_timeout_ms) {
      return Rediscover("no connected peer that offered it can prove or serve it", target_faulted_);
    }
    if (now - progress_ms_ >= 3 * options_.part_timeout_ms) {
      return Rediscover("its offerers made no progress for " +
                            std::to_string(3 * options_.part_timeout_ms / 1000) + " s",
                        /*reject=*/true);
    }
  }
  switch (phase_) {
    case Phase::kDiscover:
      return Discover(now);
    case Phase::kTrust:
      if (light()) {
        if ((!headers_request_ && !set_request_) || Late(headers_request_, now) ||
            Late(set_request_, now)) {
          return AskLight();
        }
        return Status::Ok();
      }
      if (!headers_request_ || Late(headers_request_, now)) {
        return AskTrust();
      }
      return Status::Ok();
    case Phase::kManifest:
      if (!single_request_ || Late(single_request_, now)) {
        std::set<p2p::NodeId> avoid;
        if (single_request_) avoid.insert(single_request_->peer);
        single_request_.reset();
        if (auto p = PickServer(avoid)) SendPart(*p, wire::kPartManifest, now);
      }
      return Status::Ok();
    case Phase::kChunks:
      if (Status s = Fill(now); !s.ok()) return s;
      LogProgress(now, /*final=*/false);
      return MaybeFinish();
    case Phase::kBackfill:
      if (!headers_request_ || Late(headers_request_, now)) {
        return AskBackfill();
      }
      return Status::Ok();
    case Phase::kDone:
      return Status::Ok();
  }
  return Status::Ok();
}

Status StateSync::Discover(uint64_t now) {
  for (const p2p::NodeId& peer : peers_) {
    if (offers_.count(peer) || banned_.count(peer)) continue;
    auto asked = asked_offers_ms_.find(peer);
    if (asked != asked_offers_ms_.end() && now - asked->second < kReaskOffersMs) continue;
    if (net_.Send(peer, wire::kGetSnapshots, {}).ok()) asked_offers_ms_[peer] = now;
  }
  if (first_offer_ms_ == 0) return Status::Ok();
  bool all_answered = true;
  for (const p2p::NodeId& peer : peers_) all_answered = all_answered && offers_.count(peer);
  if (!all_answered && now - first_offer_ms_ < options_.discovery_ms) return Status::Ok();
  return Choose();
}

Status StateSync::Choose() {
  const uint64_t now = clock_.SteadyMs();
  std::optional<crypto::Hash256> want;
  if (resume_) want = crypto::Sha256Of(resume_->manifest);
  // (height, hash) -> offer and how many peers have it.
  std::map<std::pair<uint64_t, crypto::Hash256>, std::pair<wire::SnapshotOffer, size_t>> seen;
  for (const auto& [peer, offers] : offers_) {
    if (banned_.count(peer)) continue;
    for (const wire::SnapshotOffer& o : offers) {
      if (o.height == 0 || rejected_.count({o.height, o.manifest_hash})) continue;
      if (want ? o.manifest_hash != *want : (!light() && o.height > options_.trust_height)) {
        continue;
      }
      auto& e = seen[{o.height, o.manifest_hash}];
      e.first = o;
      ++e.second;
    }
  }
  if (seen.empty()) {
    if (now - last_progress_ms_ >= kWaitLogMs) {
      last_progress_ms_ = now;
      if (resume_) {
        Log("node")->warn(
            "state sync: no peer offers the snapshot at height {} this data dir was importing; "
            "waiting (to start over, empty the data dir)",
            resume_->header.height);
      } else if (light()) {
        Log("node")->info("state sync: no peer offers a snapshot yet; waiting");
      } else {
        Log("node")->info(
            "state sync: no peer offers a snapshot at or below the trust height {} yet; waiting",
            options_.trust_height);
      }
    }
    // Ask again: peers take new snapshots as blocks commit.
    offers_.clear();
    first_offer_ms_ = 0;
    return Status::Ok();
  }
  // The newest; among equals, the one the most peers offer.
  auto best = seen.begin();
  for (auto it = seen.begin(); it != seen.end(); ++it) {
    if (it->first.first > best->first.first ||
        (it->first.first == best->first.first && it->second.second > best->second.second)) {
      best = it;
    }
  }
  target_ = best->second.first;
  Log("node")->info(
      "state sync: snapshot at height {} ({} chunks, {:.1f} MB, manifest {}) offered by {} "
      "peer(s)",
      target_->height, target_->chunks, target_->bytes / 1e6,
      crypto::ShortHex(target_->manifest_hash), best->second.second);
  if (resume_) {
    // The header and manifest were proven before the import began.
    header_ = resume_->header;
    certificate_ = resume_->certificate;
    manifest_bytes_ = resume_->manifest;
    return BeginImport();
  }
  phase_ = Phase::kTrust;
  stuck_since_ms_ = 0;
  progress_ms_ = now;
  target_faulted_ = false;
  if (light()) {
    light_ = std::make_unique<LightTrust>(*options_.rules, genesis_.header, target_->height);
    return AskLight();
  }
  want_height_ = options_.trust_height;
  want_hash_ = options_.trust_hash;
  return AskTrust();
}

Status StateSync::AskTrust() {
  const uint64_t now = clock_.SteadyMs();
  std::set<p2p::NodeId> avoid;
  if (headers_request_) avoid.insert(headers_request_->peer);
  headers_request_.reset();
  auto peer = PickServer(avoid);
  if (!peer) return Status::Ok();
  const uint64_t count =
      std::min<uint64_t>(wire::kMaxHeadersPerRequest, want_height_ - target_->height + 1);
  if (net_.Send(*peer, wire::kGetHeaders,
                wire::EncodeGetHeaders({want_height_, static_cast<uint32_t>(count)}))
          .ok()) {
    headers_request_ = InFlight{*peer, now, want_height_};
  }
  return Status::Ok();
}

Status StateSync::AskBackfill() {
  const uint64_t now = clock_.SteadyMs();
  std::optional<p2p::NodeId> peer;
  for (const p2p::NodeId& p : peers_) {
    if (banned_.count(p) || !net_.IsConnected(p)) continue;
    if (headers_request_ && headers_request_->peer == p && peers_.size() > 1) continue;
    peer = p;
    break;
  }
  headers_request_.reset();
  if (!peer) return Status::Ok();
  const uint64_t count = std::min<uint64_t>(wire::kMaxHeadersPerRequest, want_height_);
  if (net_.Send(*peer, wire::kGetHeaders,
                wire::EncodeGetHeaders({want_height_, static_cast<uint32_t>(count)}))
          .ok()) {
    headers_request_ = InFlight{*peer, now, want_height_};
  }
  return Status::Ok();
}

Status StateSync::OnMessage(const p2p::NodeId& from, p2p::MessageType type, ByteView payload) {
  // What a dropped peer sent before its connection closed counts for nothing.
  if (banned_.count(from)) return Status::Ok();
  switch (type) {
    case wire::kSnapshots: {
      auto offers = wire::DecodeSnapshots(payload);
      if (!offers.ok()) {
        net_.Disconnect(from, "malformed snapshots: " + offers.error());
        return Status::Ok();
      }
      if (phase_ != Phase::kDiscover && !offers_.count(from)) {
        // A peer that connected late can still serve chunks of the target.
        offers_[from] = std::move(offers.value());
        return Status::Ok();
      }
      offers_[from] = std::move(offers.value());
      if (first_offer_ms_ == 0) first_offer_ms_ = clock_.SteadyMs();
      return Status::Ok();
    }
    case wire::kHeaders:
      return OnHeaders(from, payload);
    case wire::kSnapshotPart:
      return OnPart(from, payload);
    case wire::kValidators:
      return OnValidators(from, payload);
    default:
      return Status::Ok();
  }
}

Status StateSync::OnHeaders(const p2p::NodeId& from, ByteView payload) {
  if (!headers_request_ || headers_request_->peer != from) return Status::Ok();  // unasked
  auto items = wire::DecodeHeaders(payload);
  if (!items.ok()) {
    headers_request_.reset();
    Ban(from, "malformed headers: " + items.error());
    return Status::Ok();
  }
  // A late answer to an earlier request of ours (re-asked of the same peer after a timeout)
  // starts at another height: not a lie, so it is dropped, not held against the peer.
  if (!items->empty()) {
    auto first = ledger::BlockHeader::Decode(items->front().block);
    if (first.ok() && first->height != headers_request_->from) return Status::Ok();
  }
  headers_request_.reset();
  if (phase_ == Phase::kTrust && light()) {
    std::vector<LightTrust::Certified> got;
    for (const wire::CertifiedBlockView& item : *items) {
      auto h = ledger::BlockHeader::Decode(item.block);
      if (!h.ok()) {
        Ban(from, "undecodable header: " + h.error());
        return AskLight();
      }
      got.emplace_back(std::move(h.value()),
                       Bytes(item.certificate.begin(), item.certificate.end()));
    }
    return OnLightHeaders(from, std::move(got));
  }
  std::vector<std::pair<ledger::BlockHeader, Bytes>> below;
  for (const wire::CertifiedBlockView& item : *items) {
    auto h = ledger::BlockHeader::Decode(item.block);
    if (!h.ok()) {
      Ban(from, "undecodable header: " + h.error());
      return Status::Ok();
    }
    if (phase_ == Phase::kTrust) {
      // Each header must be the one the header above it (or the trust point) names.
      if (h->height != want_height_ || h->Hash() != *want_hash_) {
        Ban(from, "header " + std::to_string(h->height) + " is not the block " +
                      std::to_string(want_height_) + " the trusted chain names (" +
                      crypto::ShortHex(*want_hash_) + ")");
        return Status::Ok();
      }
      if (h->height == target_->height) {
        header_ = std::move(h.value());
        certificate_.assign(item.certificate.begin(), item.certificate.end());
        Log("node")->info("state sync: header {} proven by hash links from the trust point",
                          header_->height);
        phase_ = Phase::kManifest;
        progress_ms_ = clock_.SteadyMs();
        return Tick();
      }
      want_hash_ = h->prev_hash;
      --want_height_;
      progress_ms_ = clock_.SteadyMs();
    } else if (phase_ == Phase::kBackfill) {
      below.emplace_back(std::move(h.value()),
                         Bytes(item.certificate.begin(), item.certificate.end()));
    }
  }
  if (phase_ == Phase::kBackfill && !below.empty()) {
    Status s = store_->PutHeadersBelow(below);
    if (!s.ok()) {
      if (!IsVerdict(s)) return s.Wrap("state sync: header backfill");
      Ban(from, s.message());
      return Status::Ok();
    }
    want_height_ = store_->HeadersFrom() - 1;
    if (want_height_ == 0) {
      phase_ = Phase::kDone;
      Log("node")->info("state sync: headers backfilled down to genesis");
      return Status::Ok();
    }
  }
  if (items->empty()) {
    // It lacks those headers: Tick asks another peer in a second, not in a tight loop.
    headers_request_ = InFlight{from, clock_.SteadyMs(), 0, 1000};
    return Status::Ok();
  }
  // A short answer (its byte limit): ask for the rest.
  return phase_ == Phase::kTrust ? AskTrust() : AskBackfill();
}

bool StateSync::SendPart(const p2p::NodeId& to, uint32_t part, uint64_t now) {
  wire::PartRef ref{target_->height, target_->manifest_hash, part};
  if (!net_.Send(to, wire::kGetSnapshotPart, wire::EncodeGetSnapshotPart(ref)).ok()) return false;
  if (part == wire::kPartManifest || part == wire::kPartHeader) {
    single_request_ = InFlight{to, now};
  } else {
    in_flight_[part] = InFlight{to, now};
    ++load_[to];
  }
  return true;
}

Status StateSync::OnPart(const p2p::NodeId& from, ByteView payload) {
  auto part = wire::DecodeSnapshotPart(payload);
  if (!part.ok()) {
    Ban(from, "malformed snapshot part: " + part.error());
    return Status::Ok();
  }
  if (!target_ || part->ref.height != target_->height ||
      part->ref.manifest_hash != target_->manifest_hash) {
    return Status::Ok();  // of another snapshot: unasked
  }
  const uint32_t index = part->ref.part;
  if (part->busy) {
    // Over that server's budget: the part is asked again (of it or another) once it says.
    // A pause is honoured up to a part timeout: a server cannot park the sync for longer.
    ++counts_.busy;
    const uint64_t now = clock_.SteadyMs();
    paused_until_[from] = now + std::min<uint64_t>(part->retry_after_ms, options_.part_timeout_ms);
    if (index == wire::kPartManifest && single_request_ && single_request_->peer == from) {
      single_request_.reset();  // another offerer now, this one once its pause is over
      return Tick();
    }
    auto it = in_flight_.find(index);
    if (it != in_flight_.end() && it->second.peer == from) {
      in_flight_.erase(it);
      --load_[from];
      tried_[index].insert(from);  // the next ask of this chunk prefers another server
      queue_.insert(queue_.begin(), index);
      if (phase_ == Phase::kChunks) return Fill(now);
    }
    return Status::Ok();
  }
  if (!part->found) {
    // It no longer has the snapshot (it kept newer ones): ask the others.
    DropOffer(from);
    if (index == wire::kPartManifest && single_request_ && single_request_->peer == from) {
      single_request_.reset();
      return Tick();
    }
    auto it = in_flight_.find(index);
    if (it != in_flight_.end() && it->second.peer == from) {
      in_flight_.erase(it);
      --load_[from];
      queue_.insert(queue_.begin(), index);
    }
    return phase_ == Phase::kChunks ? Fill(clock_.SteadyMs()) : Status::Ok();
  }
  if (index == wire::kPartManifest) {
    if (phase_ != Phase::kManifest || !single_request_ || single_request_->peer != from) {
      return Status::Ok();
    }
    single_request_.reset();
    return OnManifest(from, part->data);
  }
  if (index == wire::kPartHeader) return Status::Ok();  // never asked by this client
  return OnChunk(from, index, part->data);
}

Status StateSync::OnManifest(const p2p::NodeId& from, ByteView data) {
  if (crypto::Sha256Of(data) != target_->manifest_hash) {
    Ban(from, "manifest does not hash to the manifest hash it offered");
    return Tick();
  }
  auto manifest = ledger::Manifest::Decode(data);
  Status s = manifest.ok() ? ledger::VerifyManifest(*manifest, *header_) : manifest.status();
  if (!s.ok()) {
    Ban(from, s.message());
    return Tick();
  }
  manifest_bytes_.assign(data.begin(), data.end());
  return BeginImport();
}

Status StateSync::BeginImport() {
  auto import = ledger::SnapshotImport::Begin(std::move(kv_), genesis_, manifest_bytes_, *header_,
                                              certificate_);
  if (!import.ok()) return import.status().Wrap("state sync");
  import_ = std::move(import.value());
  const ledger::Manifest& m = import_->manifest();
  queue_ = import_->Missing();
  std::set<uint32_t> missing(queue_.begin(), queue_.end());
  total_chunks_ = 0;
  for (uint32_t i = 0; i < m.slots.size(); ++i) {
    if (m.slots[i].count == 0) continue;
    ++total_chunks_;
    if (!missing.count(i)) {
      ++done_chunks_;
      done_bytes_ += m.slots[i].size;
    }
  }
  start_bytes_ = done_bytes_;
  phase_ = Phase::kChunks;
  fetch_start_ms_ = last_progress_ms_ = clock_.SteadyMs();
  Log("node")->info("state sync: fetching {} of {} chunks ({} already in the data dir)",
                    queue_.size(), total_chunks_, done_chunks_);
  if (Status s = Fill(fetch_start_ms_); !s.ok()) return s;
  return MaybeFinish();
}

Status StateSync::Fill(uint64_t now) {
  // Timeouts first: re-asked, elsewhere when another peer offers the snapshot.
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (now - it->second.sent_ms < options_.part_timeout_ms) {
      ++it;
      continue;
    }
    Log("node")->info("state sync: chunk {} from peer {} timed out after {} ms; re-asking",
                      it->first, crypto::ShortHex(it->second.peer), options_.part_timeout_ms);
    ++counts_.timeouts;
    if (metrics_) metrics_->OnStateSyncTimeout();
    tried_[it->first].insert(it->second.peer);
    --load_[it->second.peer];
    queue_.insert(queue_.begin(), it->first);
    it = in_flight_.erase(it);
  }
  // Peers that connected (or reconnected) since discovery are asked what they offer, so
  // every peer with the snapshot shares the work.
  for (const p2p::NodeId& peer : peers_) {
    if (banned_.count(peer) || offers_.count(peer)) continue;
    auto asked = asked_offers_ms_.find(peer);
    if (asked != asked_offers_ms_.end() && now - asked->second < kReaskOffersMs) continue;
    if (net_.Send(peer, wire::kGetSnapshots, {}).ok()) asked_offers_ms_[peer] = now;
  }
  std::vector<p2p::NodeId> servers = Servers();
  if (servers.empty()) {
    if (target_ && !queue_.empty() && now - last_progress_ms_ >= kWaitLogMs) {
      last_progress_ms_ = now;
      Log("node")->warn("state sync: no connected peer offers the snapshot at height {}; waiting",
                        target_->height);
    }
    return Status::Ok();
  }
  for (auto it = queue_.begin(); it != queue_.end();) {
    const std::set<p2p::NodeId>& avoid = tried_[*it];
    std::optional<p2p::NodeId> pick;
    for (bool allow_tried : {false, true}) {
      for (const p2p::NodeId& p : servers) {
        if (load_[p] >= options_.max_in_flight_per_peer) continue;
        if (auto paused = paused_until_.find(p);
            paused != paused_until_.end() && now < paused->second) {
          continue;
        }
        if (!allow_tried && avoid.count(p)) continue;
        if (!pick || load_[p] < load_[*pick]) pick = p;
      }
      if (pick) break;
    }
    if (!pick) break;  // every server is full
    if (!SendPart(*pick, *it, now)) {
      ++it;
      continue;
    }
    it = queue_.erase(it);
  }
  return Status::Ok();
}

Status StateSync::OnChunk(const p2p::NodeId& from, uint32_t index, ByteView data) {
  auto it = in_flight_.find(index);
  const bool queued = std::find(queue_.begin(), queue_.end(), index) != queue_.end();
  if (it == in_flight_.end() && !queued) return Status::Ok();  // done already, or unasked
  // Late (after a timeout) or not: whoever sent it answers for it.
  Status s = import_->AddChunk(index, data);
  if (!s.ok() && !IsVerdict(s)) return s.Wrap("state sync: writing chunk " + std::to_string(index));
  if (it != in_flight_.end()) {
    --load_[it->second.peer];
    in_flight_.erase(it);
  }
  if (!s.ok()) {
    if (!queued) queue_.insert(queue_.begin(), index);
    Ban(from, s.message());
  } else {
    if (queued) queue_.erase(std::find(queue_.begin(), queue_.end(), index));
    ++done_chunks_;
    done_bytes_ += data.size();
    ++counts_.chunks;
    if (metrics_) metrics_->OnStateSyncChunk();
    // One line per chunk, as CometBFT logs each applied chunk: a sync is a rare event.
    Log("node")->info("state sync: chunk {} ({} bytes) from peer {} written", index, data.size(),
                      crypto::ShortHex(from));
  }
  const uint64_t now = clock_.SteadyMs();
  if (Status f = Fill(now); !f.ok()) return f;
  LogProgress(now, /*final=*/false);
  return MaybeFinish();
}

void StateSync::LogProgress(uint64_t now, bool final) {
  if (!final && now - last_progress_ms_ < options_.progress_every_ms) return;
  last_progress_ms_ = now;
  const uint64_t total_bytes = target_ ? target_->bytes : 0;
  const double secs = std::max<double>(0.001, (now - fetch_start_ms_) / 1000.0);
  const double rate = (done_bytes_ - start_bytes_) / 1e6 / secs;
  const double left = (total_bytes > done_bytes_ ? total_bytes - done_bytes_ : 0) / 1e6;
  std::string eta = rate > 0 ? std::to_string(static_cast<uint64_t>(left / rate + 0.5)) + " s"
                             : std::string("unknown");
  Log("node")->info("state sync: {}/{} chunks, {:.1f}/{:.1f} MB, {:.1f} MB/s, ETA {}", done_chunks_,
                    total_chunks_, done_bytes_ / 1e6, total_bytes / 1e6, rate, eta);
}

Status StateSync::MaybeFinish() {
  if (phase_ != Phase::kChunks || !queue_.empty() || !in_flight_.empty()) return Status::Ok();
  const uint64_t now = clock_.SteadyMs();
  LogProgress(now, /*final=*/true);
  auto store = import_->Finish();
  if (!store.ok()) return store.status().Wrap("state sync: finishing the import");
  import_.reset();
  store_ = std::move(store.value());
  if (light_) {
    // The sets the light client proved, so this node can answer the next joiner's walk.
    for (const std::vector<ledger::Member>& set : light_->followed()) {
      if (Status s = RememberSet(store_->kv(), set); !s.ok()) {
        return s.Wrap("state sync: storing a validator set");
      }
    }
  }
  Log("node")->info(
      "state sync: state at height {} restored and its root checked ({} chunks, {:.1f} MB in "
      "{:.1f} s)",
      target_->height, total_chunks_, done_bytes_ / 1e6, (now - fetch_start_ms_) / 1000.0);
  want_height_ = store_->HeadersFrom() - 1;
  if (want_height_ == 0) {
    phase_ = Phase::kDone;
    return Status::Ok();
  }
  phase_ = Phase::kBackfill;
  return AskBackfill();
}

Status StateSync::AskLight() {
  const uint64_t now = clock_.SteadyMs();
  const LightTrust::Need need = light_->next();
  if (need.kind == LightTrust::Need::Kind::kSet) {
    if (set_request_ && set_request_->peer != p2p::NodeId()) {
      set_lacking_.insert(set_request_->peer);  // timed out: as good as "not found"
    }
    set_request_.reset();
    // Any peer may hold the set, not only those offering the snapshot; those first.
    std::vector<p2p::NodeId> order = Servers();
    for (const p2p::NodeId& p : peers_) {
      if (std::find(order.begin(), order.end(), p) == order.end()) order.push_back(p);
    }
    for (const p2p::NodeId& p : order) {
      if (banned_.count(p) || set_lacking_.count(p) || !net_.IsConnected(p)) continue;
      if (net_.Send(p, wire::kGetValidators, wire::EncodeGetValidators(need.set_height)).ok()) {
        set_request_ = InFlight{p, now, need.set_height};
        return Status::Ok();
      }
    }
    if (now - last_progress_ms_ >= kWaitLogMs) {
      last_progress_ms_ = now;
      Log("node")->warn(
          "state sync: no connected peer holds set({}) (SetHash {}), which the certified "
          "header {} names: its validator set history is not kept there; waiting (or give "
          "state_sync.trust_height and trust_hash)",
          need.set_height, crypto::ShortHex(need.set_hash), light_->trusted_height());
    }
    // Everyone is asked again after a part timeout, not in a tight loop.
    set_lacking_.clear();
    set_request_ = InFlight{p2p::NodeId(), now, need.set_height};
    return Status::Ok();
  }
  if (need.kind != LightTrust::Need::Kind::kHeaders) return Status::Ok();
  // Pages rotate over the offerers: one slow or stingy peer does not set the pace.
  // After an answer, another peer than its sender; after a timeout or an empty answer,
  // anyone but the peer that failed (which may well be the last sender).
  std::set<p2p::NodeId> avoid{headers_request_ ? headers_request_->peer : last_pager_};
  headers_request_.reset();
  auto peer = PickServer(avoid);
  if (!peer) return Status::Ok();
  auto page = page_.find(*peer);
  const uint64_t count = std::min<uint64_t>(page == page_.end() ? LightTrust::kPage : page->second,
                                            need.high - need.low + 1);
  const uint64_t top = need.low + count - 1;
  if (net_.Send(*peer, wire::kGetHeaders,
                wire::EncodeGetHeaders({top, static_cast<uint32_t>(count)}))
          .ok()) {
    headers_request_ = InFlight{*peer, now, top};
  }
  return Status::Ok();
}

Status StateSync::OnLightHeaders(const p2p::NodeId& from,
                                 std::vector<LightTrust::Certified> descending) {
  const uint64_t now = clock_.SteadyMs();
  last_pager_ = from;
  if (descending.empty()) {
    // Headers at or below a snapshot it offered: it must have them (a server keeps every
    // header). Its offer is dropped; another peer is asked in a second.
    DropOffer(from);
    headers_request_ = InFlight{from, now, 0, 1000};
    return Status::Ok();
  }
  for (size_t i = 1; i < descending.size(); ++i) {
    if (descending[i].first.height + i != descending.front().first.height) {
      Ban(from, "headers are not consecutive heights down from the one asked");
      return AskLight();
    }
  }
  std::reverse(descending.begin(), descending.end());
  const LightTrust::Need need = light_->next();
  if (need.kind != LightTrust::Need::Kind::kHeaders) return Status::Ok();
  uint64_t& page = page_.try_emplace(from, LightTrust::kPage).first->second;
  if (descending.front().first.height > need.low) {
    // A short answer (the 4 MiB bound): this peer gets pages of what fit, never fewer than
    // an honest answer of the largest headers and certificates holds.
    page = std::max<uint64_t>(kMinPage, descending.size());
    return AskLight();
  }
  Status s = light_->AddHeaders(descending);
  if (!s.ok()) {
    Ban(from, s.message());
    return AskLight();
  }
  progress_ms_ = now;
  // A whole answer: its pages grow back.
  page = std::min<uint64_t>(LightTrust::kPage, page * 2);
  if (light_->next().kind == LightTrust::Need::Kind::kSet) {
    change_from_ = from;
    Log("node")->info("state sync: the validator set changes at {}: asking for it",
                      light_->next().set_height);
  }
  if (light_->done()) return Trusted();
  return AskLight();
}

Status StateSync::OnValidators(const p2p::NodeId& from, ByteView payload) {
  auto answer = wire::DecodeValidators(payload);
  if (!answer.ok()) {
    Ban(from, "malformed validators: " + answer.error());
    return Status::Ok();
  }
  if (phase_ != Phase::kTrust || !light_ || !set_request_ || set_request_->peer != from ||
      answer->height != set_request_->from) {
    return Status::Ok();  // unasked, or late
  }
  set_request_.reset();
  if (!answer->found) {
    set_lacking_.insert(from);
    return AskLight();
  }
  std::vector<ledger::Member> set;
  for (const wire::SetMember& m : answer->set) {
    ledger::Member member;
    member.id = m.id;
    member.consensus_key = m.consensus_key;
    set.push_back(std::move(member));
  }
  Status s = light_->AddSet(answer->height, std::move(set));
  if (!s.ok()) {
    if (s.code() != StatusCode::kRejected) return Status::Ok();
    if (light_->blame_headers()) {
      Ban(change_from_, s.message());
    } else {
      Ban(from, s.message());
    }
    return AskLight();
  }
  set_lacking_.clear();
  progress_ms_ = clock_.SteadyMs();
  Log("node")->info("state sync: followed the validator set change at {} ({} validators)",
                    answer->height, answer->set.size());
  if (light_->done()) return Trusted();
  return AskLight();
}

Status StateSync::Trusted() {
  header_ = light_->proven().first;
  certificate_ = light_->proven().second;
  Log("node")->info(
      "state sync: header {} proven by its commit certificate from the genesis validator set "
      "({} headers fetched, {} certificates checked, {} set change(s) followed)",
      header_->height, light_->headers_seen(), light_->certificates_checked(),
      light_->followed().size());
  headers_request_.reset();
  set_request_.reset();
  phase_ = Phase::kManifest;
  stuck_since_ms_ = 0;
  progress_ms_ = clock_.SteadyMs();
  return Tick();
}

void StateSync::DropOffer(const p2p::NodeId& peer) {
  if (!target_) return;
  auto it = offers_.find(peer);
  if (it == offers_.end()) return;
  for (const wire::SnapshotOffer& o : it->second) {
    if (o.height == target_->height && o.manifest_hash == target_->manifest_hash) {
      target_faulted_ = true;
    }
  }
  offers_.erase(it);
}

Status StateSync::Rediscover(const std::string& why, bool reject) {
  Log("node")->warn("state sync: giving up on the snapshot at height {} (manifest {}): {}; {}",
                    target_->height, crypto::ShortHex(target_->manifest_hash), why,
                    reject ? "not choosing it again" : "choosing again");
  if (reject) rejected_.insert({target_->height, target_->manifest_hash});
  target_.reset();
  header_.reset();
  certificate_.clear();
  light_.reset();
  headers_request_.reset();
  single_request_.reset();
  set_request_.reset();
  set_lacking_.clear();
  offers_.clear();
  asked_offers_ms_.clear();
  first_offer_ms_ = 0;
  stuck_since_ms_ = 0;
  phase_ = Phase::kDiscover;
  return Status::Ok();
}

}  // namespace cairn::node
