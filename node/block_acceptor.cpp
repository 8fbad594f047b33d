#include "node/block_acceptor.h"

#include "node/logging.h"
#include "node/wire.h"

namespace cairn::node {
namespace {

CommitResult Fail(CommitResult::Kind kind, Status status,
                  chain::Verdict verdict = chain::Verdict::kAccepted) {
  return CommitResult{kind, verdict, std::move(status)};
}

}  // namespace

BlockAcceptor::BlockAcceptor(const genesis::Genesis& genesis, ledger::ChainStore& store,
                             TxPool& pool, BlockCache& cache, const Clock& clock, Options options)
    : store_(store),
      pool_(pool),
      cache_(cache),
      clock_(clock),
      options_(options),
      rules_(genesis) {}

CommitResult BlockAcceptor::ApplyCommitted(const consensus::Block& cb) {
  const ledger::Head head = store_.head();
  if (cb.height <= head.height) {
    // Already applied through block sync or a NewBlock push: it must be the same block.
    auto stored = store_.HeaderAt(cb.height);
    if (!stored.ok() || !stored->has_value() || (*stored)->Hash() != cb.hash) {
      return Fail(CommitResult::Kind::kDiskError,
                  Status::Error("consensus committed block " + std::to_string(cb.height) + " " +
                                crypto::ShortHex(cb.hash) +
                                " but this node holds a different block there"));
    }
    return CommitResult{};
  }
  if (auto cached = cache_.Take(cb.hash)) {
    const bool built = cached->origin == BlockCache::Origin::kBuilt;
    // A block of ours reports its commit time from when it was built (consensus included).
    return DoCommit(std::move(cached->block), std::move(cached->exec), built, cb.certificate,
                    built ? cached->cached_ms : clock_.SteadyMs());
  }
  auto decoded = ledger::Block::Decode(cb.data);
  if (!decoded.ok()) {
    return Fail(CommitResult::Kind::kDiskError,
                decoded.status().Wrap("committed block " + std::to_string(cb.height)));
  }
  if (decoded->Hash() != cb.hash || decoded->header.height != cb.height) {
    return Fail(CommitResult::Kind::kDiskError,
                Status::Error("committed block " + std::to_string(cb.height) +
                              " does not hash to the hash consensus gave"));
  }
  return Commit(std::move(decoded.value()), std::nullopt, /*built=*/false, cb.certificate);
}

CommitResult BlockAcceptor::Commit(ledger::Block block, std::optional<ledger::ExecResult> exec,
                                   bool built, ByteView certificate) {
  return DoCommit(std::move(block), std::move(exec), built, certificate, clock_.SteadyMs());
}

CommitResult BlockAcceptor::DoCommit(ledger::Block block, std::optional<ledger::ExecResult> exec,
                                     bool built, ByteView certificate, uint64_t since_ms) {
  const uint64_t started = clock_.SteadyMs();
  double verify_s = 0, execute_s = 0;  // for the metrics: zero when `exec` came checked
  const uint64_t height = block.header.height;
  const crypto::Hash256 hash = block.Hash();
  // Every block of a BFT chain is stored with its proof of finality.
  if (rules_.certificates_required() && certificate.empty()) {
    return Fail(CommitResult::Kind::kRefused,
                Status::Error("block " + std::to_string(height) + " has no commit certificate"),
                chain::Verdict::kCertificate);
  }
  if (!exec) {
    const ledger::Head head = store_.head();
    if (height != head.height + 1) {
      return Fail(CommitResult::Kind::kNotNext,
                  Status::Error("block " + std::to_string(height) + " does not follow head " +
                                std::to_string(head.height)));
    }
    auto parent = store_.HeaderAt(head.height);
    if (!parent.ok() || !parent->has_value()) {
      return Fail(CommitResult::Kind::kDiskError, Status::Error("cannot read head header"));
    }
    chain::CheckOptions opts;
    opts.verify_threads = options_.verify_threads;
    // Transactions this node admitted had their signatures checked then. Under Raft the
    // proposer is a trusted validator that admitted or was relayed each one.
    SigCache& sigs = pool_.sig_cache();
    const bool trusted = pool_.trust_validators();
    opts.signature_known_valid = [&sigs, trusted](const crypto::Hash256& h) {
      return trusted || sigs.Contains(h);
    };
    chain::Checked checked =
        rules_.Check(store_, **parent, store_.HeadView(), block, certificate, opts);
    if (Status s = store_.StateReadError(); !s.ok()) {
      return Fail(CommitResult::Kind::kDiskError, s.Wrap("reading state"));
    }
    if (!checked.ok()) {
      return Fail(CommitResult::Kind::kRefused, checked.ToStatus(height), checked.verdict);
    }
    // The same transactions may still arrive by gossip: they need no second verification.
    sigs.Insert(checked.exec->tx_hashes);
    exec = std::move(checked.exec);
    verify_s = std::chrono::duration<double>(checked.verify_time).count();
    execute_s = std::chrono::duration<double>(checked.execute_time).count();
  }
  const uint64_t verified_at = clock_.SteadyMs();
  if (Status s = store_.Commit(block, *exec, options_.sync_writes, nullptr, certificate); !s.ok()) {
    return Fail(CommitResult::Kind::kDiskError, s.Wrap("store commit"));
  }
  const uint64_t stored_at = clock_.SteadyMs();
  pool_.OnCommitted(block.txs, exec->tx_hashes, height, block.header.timestamp_ms);
  const uint64_t done = clock_.SteadyMs();
  if (metrics_) {
    auto sec = [](uint64_t ms) { return static_cast<double>(ms) / 1000.0; };
    metrics_->OnBlockCommitted(block.txs.size(), block.header.timestamp_ms, clock_.UnixMs(),
                               NodeMetrics::CommitTiming{.verify = verify_s,
                                                         .execute = execute_s,
                                                         .store = sec(stored_at - verified_at),
                                                         .mempool = sec(done - stored_at),
                                                         .total = sec(done - since_ms)},
                               built);
  }
  // The split says where a slow commit went: checking and executing, the synced write, the
  // mempool update.
  Log("node")->info(
      "committed block height={} hash={} txs={} commit_ms={} (verify {} store {} "
      "mempool {}){}",
      height, crypto::ShortHex(hash), block.txs.size(), done - since_ms, verified_at - started,
      stored_at - verified_at, done - stored_at, built ? "" : " (from peer)");
  // Our proposals at this height or below that lost (a new leader's block won) are dead,
  // and so are other validators' proposals we checked for it.
  cache_.PruneThrough(height);
  Announce(block, certificate, built);
  if (observer_) observer_(block, hash, exec->tx_hashes, exec->receipts);
  return CommitResult{};
}

void BlockAcceptor::Announce(const ledger::Block& block, ByteView certificate, bool built) {
  if (!net_) return;
  // The producer pushes its block; everyone tells peers its new head.
  if (built) {
    std::vector<wire::CertifiedBlock> one;
    one.push_back({block.Encode(), Bytes(certificate.begin(), certificate.end())});
    net_->Broadcast(wire::kNewBlock, wire::EncodeBlocks(one));
  }
  const ledger::Head head = store_.head();
  net_->Broadcast(wire::kStatus, wire::EncodeStatus({head.height, head.hash}));
}

Status BlockAcceptor::CheckIdentity(const consensus::Block& cb) {
  auto decoded = ledger::Block::Decode(cb.data);
  if (!decoded.ok()) return decoded.status().Wrap("block body");
  if (decoded->Hash() != cb.hash || decoded->header.height != cb.height) {
    return Status::Error("block body is not the block " + std::to_string(cb.height) + " " +
                         crypto::ShortHex(cb.hash) + " it was sent as");
  }
  return Status::Ok();
}

Status BlockAcceptor::Validate(const consensus::Block& cb, const consensus::BlockRef& parent) {
  const ledger::Head head = store_.head();
  if (parent.hash != head.hash || cb.height != head.height + 1) {
    return Status::Error("proposal for height " + std::to_string(cb.height) + " on " +
                         crypto::ShortHex(parent.hash) + ", but this node's head is " +
                         std::to_string(head.height) + " " + crypto::ShortHex(head.hash));
  }
  // The engine asked CheckIdentity first (the body is the block its hash names), so a block
  // known by hash needs no second decode.
  if (cache_.Contains(cb.hash)) return Status::Ok();
  const uint64_t started = clock_.SteadyMs();
  auto decoded = ledger::Block::Decode(cb.data);
  if (!decoded.ok()) return decoded.status().Wrap("proposed block");
  ledger::Block block = std::move(decoded.value());
  if (block.Hash() != cb.hash || block.header.height != cb.height) {
    return Status::Error("proposed block does not hash to the hash it was proposed under");
  }
  auto parent_header = store_.HeaderAt(head.height);
  if (!parent_header.ok() || !parent_header->has_value()) {
    return Status::Error("cannot read head header " + std::to_string(head.height));
  }
  chain::CheckOptions opts;
  opts.check_certificate = false;  // it is being voted on: no certificate exists yet
  opts.now_unix_ms = clock_.UnixMs();
  opts.verify_threads = options_.verify_threads;
  // Transactions this node admitted were verified then; the rest are verified here, once.
  SigCache& sigs = pool_.sig_cache();
  opts.signature_known_valid = [&sigs](const crypto::Hash256& h) { return sigs.Contains(h); };
  chain::Checked checked =
      rules_.Check(store_, **parent_header, store_.HeadView(), block, {}, opts);
  if (Status s = store_.StateReadError(); !s.ok()) return s.Wrap("reading state");
  if (!checked.ok()) return checked.ToStatus(cb.height);
  sigs.Insert(checked.exec->tx_hashes);
  if (metrics_) {
    metrics_->OnProposalChecked(static_cast<double>(clock_.SteadyMs() - started) / 1000.0,
                                std::chrono::duration<double>(checked.verify_time).count(),
                                std::chrono::duration<double>(checked.execute_time).count());
  }
  // Rounds that do not decide bring new proposals: the cache keeps the newest few.
  cache_.Add(cb.hash, BlockCache::Entry{std::move(block), std::move(*checked.exec),
                                        BlockCache::Origin::kValidated, clock_.SteadyMs()});
  return Status::Ok();
}

}  // namespace cairn::node
