// Field names and number formats here are the RPC contract (docs/RPC.md): amounts and
// balances are decimal strings because JSON numbers lose precision above 2^53.
#include "api/json.h"

#include <string>
#include <utility>
#include <variant>

#include "crypto/hex.h"

namespace cairn::api {
namespace {

Json HashOrNil(const std::optional<crypto::Hash256>& h) {
  return h ? Json(h->ToHex()) : Json(nullptr);
}

}  // namespace

Json ActionToJson(const ledger::Action& action) {
  Json j = {{"type", std::string(ledger::ActionKindName(ledger::KindOf(action)))}};
  if (auto* a = std::get_if<ledger::AddValidator>(&action)) {
    j["name"] = a->name;
    j["consensus_key"] = a->consensus_key.ToHex();
    j["p2p_key"] = a->p2p_key.ToHex();
    j["address"] = a->address;
  } else if (auto* r = std::get_if<ledger::RemoveMember>(&action)) {
    j["id"] = r->id;
  } else if (auto* o = std::get_if<ledger::AddObserver>(&action)) {
    j["name"] = o->name;
    j["p2p_key"] = o->p2p_key.ToHex();
    j["address"] = o->address;
  } else if (auto* k = std::get_if<ledger::RotateKeys>(&action)) {
    j["id"] = k->id;
    j["consensus_key"] = k->consensus_key.ToHex();
    j["p2p_key"] = k->p2p_key.ToHex();
  } else if (auto* g = std::get_if<ledger::SetGovernance>(&action)) {
    j["threshold"] = g->threshold;
    Json admins = Json::array();
    for (const auto& key : g->admins) admins.push_back(key.ToHex());
    j["admins"] = std::move(admins);
  }
  return j;
}

Json TxToJson(const ledger::Transaction& tx, const crypto::Hash256& hash) {
  Json j = {{"hash", hash.ToHex()},
            {"chain_id", tx.chain_id},
            {"sender", tx.sender.ToHex()},
            {"nonce", tx.nonce},
            {"type", std::string(ledger::PayloadKindName(ledger::KindOf(tx.payload)))},
            {"signature", tx.signature.ToHex()}};
  if (auto* t = std::get_if<ledger::Transfer>(&tx.payload)) {
    j["to"] = t->to.ToHex();
    j["amount"] = std::to_string(t->amount);
  } else if (auto* p = std::get_if<ledger::Put>(&tx.payload)) {
    j["key"] = crypto::ToHex(p->key);
    j["value"] = crypto::ToHex(p->value);
  } else if (auto* r = std::get_if<ledger::RegisterAccount>(&tx.payload)) {
    j["public_key"] = r->public_key.ToHex();
    j["role"] = std::string(ledger::RoleName(r->role));
  } else if (auto* s = std::get_if<ledger::SetRole>(&tx.payload)) {
    j["account"] = s->account.ToHex();
    j["role"] = std::string(ledger::RoleName(s->role));
  } else if (auto* g = std::get_if<ledger::GovPropose>(&tx.payload)) {
    j["expires_at"] = g->expires_at;
    j["action"] = ActionToJson(g->action);
  } else if (auto* a = std::get_if<ledger::GovApprove>(&tx.payload)) {
    j["proposal"] = a->proposal.ToHex();
  } else if (auto* la = std::get_if<ledger::LeaseAcquire>(&tx.payload)) {
    j["name"] = la->name;
    j["ttl_blocks"] = la->ttl_blocks;
  } else if (auto* lr = std::get_if<ledger::LeaseRenew>(&tx.payload)) {
    j["name"] = lr->name;
    j["token"] = lr->token;
  } else if (auto* ll = std::get_if<ledger::LeaseRelease>(&tx.payload)) {
    j["name"] = ll->name;
    j["token"] = ll->token;
  }
  return j;
}

Json ReceiptToJson(const ledger::Receipt& r) {
  return Json{{"code", static_cast<int>(r.code)},
              {"result", std::string(ledger::TxCodeName(r.code))},
              {"height", r.height},
              {"index", r.index}};
}

Json HeaderToJson(const ledger::BlockHeader& h, const crypto::Hash256& hash) {
  return Json{{"hash", hash.ToHex()},
              {"chain_id", h.chain_id},
              {"height", h.height},
              {"prev_hash", h.prev_hash.ToHex()},
              {"timestamp_ms", h.timestamp_ms},
              {"time", genesis::FormatRfc3339Ms(h.timestamp_ms)},
              {"proposer", h.proposer.ToHex()},
              {"tx_root", h.tx_root.ToHex()},
              {"state_root", h.state_root.ToHex()},
              {"validators_hash", h.validators_hash.ToHex()},
              {"next_validators_hash", h.next_validators_hash.ToHex()},
              {"tx_count", h.tx_count},
              {"consensus_data", crypto::ToHex(h.consensus_data)}};
}

Json BlockToJson(const ledger::Block& b, bool full, const std::vector<ledger::Receipt>* receipts) {
  crypto::Hash256 hash = b.Hash();
  Json j = HeaderToJson(b.header, hash);
  j["proposer_sig"] = b.proposer_sig.ToHex();
  Json txs = Json::array();
  for (size_t i = 0; i < b.txs.size(); ++i) {
    crypto::Hash256 h = b.txs[i].Hash();
    if (!full) {
      txs.push_back(h.ToHex());
      continue;
    }
    Json t = TxToJson(b.txs[i], h);
    if (receipts && i < receipts->size()) t["receipt"] = ReceiptToJson((*receipts)[i]);
    txs.push_back(std::move(t));
  }
  j["txs"] = std::move(txs);
  return j;
}

Json CertificateToJson(const CertificateInfo& c) {
  Json sigs = Json::array();
  for (const CertificateInfo::Signer& s : c.signers) {
    sigs.push_back(Json{
        {"validator", s.validator}, {"public_key", s.key.ToHex()}, {"signature", s.sig.ToHex()}});
  }
  return Json{{"height", c.height},
              {"round", c.round},
              {"block", c.block.ToHex()},
              {"signatures", std::move(sigs)},
              {"raw", crypto::ToHex(c.raw)}};
}

Json EvidenceToJson(const EvidenceInfo& e) {
  return Json{{"validator", e.validator},
              {"public_key", e.key.ToHex()},
              {"vote_type", e.vote_type},
              {"height", e.height},
              {"round", e.round},
              {"block_a", HashOrNil(e.block_a)},
              {"block_b", HashOrNil(e.block_b)},
              {"recorded_ms", e.recorded_ms},
              {"raw", crypto::ToHex(e.raw)}};
}

Json PeerToJson(const PeerInfo& p) {
  return Json{{"node_id", p.node_id},
              {"name", p.name},
              {"address", p.address},
              {"direction", p.direction},
              {"connected_since_ms", p.connected_since_ms},
              {"bytes_in", p.bytes_in},
              {"bytes_out", p.bytes_out},
              {"messages_in", p.messages_in},
              {"messages_out", p.messages_out}};
}

Json StatusToJson(const NodeStatus& s) {
  return Json{{"chain_id", s.chain_id},
              {"genesis_hash", s.genesis_hash.ToHex()},
              {"node_id", s.node_id.ToHex()},
              {"node_name", s.node_name},
              {"version", s.version},
              {"consensus", s.consensus},
              {"validator", s.validator},
              {"height", s.head.height},
              {"head_hash", s.head.hash.ToHex()},
              {"head_time", genesis::FormatRfc3339Ms(s.head_time_ms)},
              {"state_root", s.head.state_root.ToHex()},
              {"mempool_size", s.mempool_size},
              {"mempool_bytes", s.mempool_bytes},
              {"peers", s.peers},
              {"role", s.role},
              {"term", s.term},
              {"leader", s.leader},
              {"commit_height", s.commit_height},
              {"blocks_from", s.blocks_from},
              {"headers_from", s.headers_from},
              {"state_synced_at", s.state_synced_at ? Json(*s.state_synced_at) : Json()}};
}

}  // namespace cairn::api
