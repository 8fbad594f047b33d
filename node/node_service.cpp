#include "node/node_service.h"

#include "consensus/bft/messages.h"

namespace cairn::node {
namespace {

constexpr const char* kVersion = "0.1.0";

}  // namespace

ledger::Admission NodeService::SubmitTransaction(ledger::Transaction tx) {
  std::vector<ledger::Transaction> one;
  one.push_back(std::move(tx));
  return SubmitTransactions(std::move(one)).front();
}

std::vector<ledger::Admission> NodeService::SubmitTransactions(
    std::vector<ledger::Transaction> txs) {
  std::vector<ledger::Admission> out = p_.pool.Admit(std::move(txs), TxPool::Source::kClient);
  if (p_.on_admitted) {
    for (const ledger::Admission& a : out) {
      if (a.ok()) {
        p_.on_admitted();
        break;
      }
    }
  }
  return out;
}

Result<api::TxLookup> NodeService::GetTransaction(const crypto::Hash256& hash) const {
  api::TxLookup out;
  auto loc = p_.store.FindTx(hash);
  if (!loc.ok()) return loc.status();
  if (!loc->has_value()) {
    if (auto tx = p_.pool.Get(hash)) {
      out.status = api::TxLookup::Status::kPending;
      out.tx = std::move(tx);
    }
    return out;
  }
  auto block = p_.store.BlockAt((*loc)->height);
  if (!block.ok()) return block.status();
  if (!block->has_value() || (*loc)->index >= (*block)->txs.size()) {
    return Status::Error("tx index points at a missing block or position");
  }
  out.status = api::TxLookup::Status::kCommitted;
  out.height = (*loc)->height;
  out.index = (*loc)->index;
  out.block_hash = (*block)->Hash();
  out.tx = (*block)->txs[(*loc)->index];
  auto receipts = p_.store.ReceiptsAt(out.height);
  if (receipts.ok() && receipts->has_value() && out.index < (*receipts)->size()) {
    out.receipt = (**receipts)[out.index];
  }
  return out;
}

uint64_t NodeService::NextNonce(const ledger::Address& a) const {
  auto acct = p_.store.GetAccount(a);
  return p_.pool.NextNonce(a, acct ? acct->nonce : 0);
}

api::NodeStatus NodeService::GetStatus() const {
  api::NodeStatus s;
  s.chain_id = p_.genesis.chain_id;
  s.genesis_hash = p_.store.genesis_hash();
  s.node_id = p_.node_id;
  s.node_name = p_.node_name;
  s.consensus = std::string(genesis::ConsensusName(p_.genesis.consensus));
  s.validator = p_.engine_open.load();
  s.head = p_.store.head();
  if (auto h = p_.store.HeaderAt(s.head.height); h.ok() && h->has_value()) {
    s.head_time_ms = (*h)->timestamp_ms;
  }
  s.version = kVersion;
  s.blocks_from = p_.store.BlocksFrom();
  s.headers_from = p_.store.HeadersFrom();
  s.state_synced_at = p_.store.StateSyncedAt();
  const Network* net = net_.load();
  s.peers = net ? net->Peers().size() : 0;
  s.mempool_size = p_.pool.size();
  s.mempool_bytes = p_.pool.bytes();
  if (!s.validator) {
    // Observers run no engine: they follow what validators committed.
    s.role = "observer";
    s.commit_height = s.head.height;
    return s;
  }
  const consensus::EngineStatus es = p_.driver.status();
  s.role = es.removed   ? "removed"
           : es.learner ? "learner"
                        : std::string(consensus::RoleName(es.role));
  s.term = es.term;
  if (es.leader != consensus::kNoReplica) {
    if (const ledger::Member* m = p_.membership.Get()->Validator(es.leader)) {
      s.leader = m->consensus_key.ToHex();
    }
  }
  s.commit_height = es.commit_height;
  return s;
}

std::vector<api::PeerInfo> NodeService::GetPeers() const {
  std::vector<api::PeerInfo> out;
  const Network* net = net_.load();
  if (!net) return out;
  auto members = p_.membership.Get();
  for (const p2p::PeerInfo& p : net->Peers()) {
    api::PeerInfo r;
    r.node_id = p.id.ToHex();
    r.name = members->NameOf(p.id);
    r.address = p.remote_address;
    r.direction = p2p::DirectionName(p.direction);
    r.connected_since_ms = static_cast<uint64_t>(p.connected_since_unix_ms);
    r.bytes_in = p.bytes_in;
    r.bytes_out = p.bytes_out;
    r.messages_in = p.messages_in;
    r.messages_out = p.messages_out;
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<api::CertificateInfo>> NodeService::GetCertificate(uint64_t height) const {
  auto raw = p_.store.CertificateAt(height);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<api::CertificateInfo>();
  auto cert = consensus::bft::Certificate::Decode(**raw);
  if (!cert.ok()) {
    return cert.status().Wrap("stored certificate of block " + std::to_string(height));
  }
  api::CertificateInfo info;
  info.raw = std::move(**raw);
  info.height = cert->height;
  info.round = cert->round;
  info.block = cert->block;
  // Signers are indices in set(height): a set this node has seen whose hash the header names
  // (never a state rebuild on this RPC path); a key it cannot name is left out.
  const std::vector<ledger::Member> set = p_.membership.ValidatorsOf(height);
  for (const auto& sig : cert->sigs) {
    api::CertificateInfo::Signer signer;
    signer.validator = sig.validator;
    if (sig.validator < set.size()) signer.key = set[sig.validator].consensus_key;
    signer.sig = sig.sig;
    info.signers.push_back(signer);
  }
  return std::optional<api::CertificateInfo>(std::move(info));
}

}  // namespace cairn::node
