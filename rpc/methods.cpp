#include "rpc/methods.h"

#include "crypto/hex.h"

namespace cairn::rpc {
namespace {

using ledger::Block;
using ledger::Transaction;

constexpr size_t kMaxTxsPerCall = 10000;
constexpr uint64_t kMaxBlocksPerCall = 1000;

RpcError BadParams(const std::string& what) {
  return RpcError{kInvalidParams, "Invalid params", Json{{"reason", what}}};
}
RpcError NotFound(const std::string& what) {
  return AppError(kNotFound, "not found", Json{{"reason", "not_found"}, {"detail", what}});
}
RpcError Internal(const Status& s) {
  return RpcError{kInternalError, "Internal error", Json{{"reason", s.message()}}};
}

// Typed parameter readers: nullopt plus *err set on a bad or missing value.
std::optional<std::string> StringParam(const Json& params, size_t pos, const char* name,
                                       RpcError* err, bool required = true) {
  const Json* v = FindParam(params, pos, name);
  if (v == nullptr || v->is_null()) {
    if (required) *err = BadParams(std::string("missing \"") + name + "\"");
    return std::nullopt;
  }
  if (!v->is_string()) {
    *err = BadParams(std::string("\"") + name + "\" must be a string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

template <typename T>
std::optional<T> FixedParam(const Json& params, size_t pos, const char* name, RpcError* err) {
  auto s = StringParam(params, pos, name, err);
  if (!s) return std::nullopt;
  auto v = T::FromHex(*s);
  if (!v) {
    *err = BadParams(std::string("\"") + name + "\" must be " + std::to_string(2 * T::kSize) +
                     " hex digits");
  }
  return v;
}

std::optional<uint64_t> UintParam(const Json& params, size_t pos, const char* name, RpcError* err) {
  const Json* v = FindParam(params, pos, name);
  if (v == nullptr || !v->is_number_unsigned()) {
    *err = BadParams(std::string("\"") + name + "\" must be a non-negative integer");
    return std::nullopt;
  }
  return v->get<uint64_t>();
}

Result<Transaction> DecodeTxHex(const Json& v) {
  if (!v.is_string()) return Status::Error("transaction must be a hex string");
  auto bytes = crypto::FromHex(v.get<std::string>());
  if (!bytes) return Status::Error("transaction is not valid hex");
  return Transaction::Decode(*bytes);
}

RpcError MalformedTx(const std::string& why) {
  return AppError(kTxErrorBase + static_cast<int>(ledger::TxCode::kMalformed),
                  "malformed transaction", Json{{"reason", "malformed"}, {"detail", why}});
}

Json BlockToJson(const Block& b, bool full, const std::vector<ledger::Receipt>* receipts) {
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

Json HashOrNil(const std::optional<crypto::Hash256>& h) {
  return h ? Json(h->ToHex()) : Json(nullptr);
}

// Resolves {height} | {hash} | "latest" | a bare height or hash.
Result<std::optional<Block>> FindBlock(NodeApi& node, const Json& params,
                                       std::optional<RpcError>* err) {
  const Json* by_height = FindParam(params, 0, "height");
  const Json* by_hash = params.is_object() ? FindParam(params, 99, "hash") : nullptr;
  if (by_height && by_height->is_string() && params.is_array()) {
    // Positional: a string is "latest" or a hash.
    by_hash = by_height;
    by_height = nullptr;
  }
  if (by_height && by_height->is_string() && by_height->get<std::string>() == "latest") {
    return node.GetBlock(node.GetHead().height);
  }
  if (by_hash && by_hash->is_string()) {
    if (by_hash->get<std::string>() == "latest") return node.GetBlock(node.GetHead().height);
    auto h = crypto::Hash256::FromHex(by_hash->get<std::string>());
    if (!h) {
      *err = BadParams("\"hash\" must be 64 hex digits");
      return std::optional<Block>();
    }
    return node.GetBlockByHash(*h);
  }
  if (by_height && by_height->is_number_unsigned()) {
    return node.GetBlock(by_height->get<uint64_t>());
  }
  *err = BadParams("give \"height\" (integer or \"latest\") or \"hash\"");
  return std::optional<Block>();
}

}  // namespace

RpcError AdmissionError(const ledger::Admission& a) {
  std::string reason(ledger::TxCodeName(a.code));
  std::string message = reason;
  for (char& c : message) {
    if (c == '_') c = ' ';
  }
  return AppError(kTxErrorBase + static_cast<int>(a.code), message,
                  Json{{"reason", reason}, {"detail", a.detail}, {"hash", a.hash.ToHex()}});
}

Json TxToJson(const Transaction& tx, const crypto::Hash256& hash) {
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
              {"tx_count", h.tx_count},
              {"consensus_data", crypto::ToHex(h.consensus_data)}};
}

Status RegisterNodeMethods(Dispatcher& d, NodeApi& node) {
  std::vector<std::pair<std::string, Handler>> methods;

  methods.emplace_back("sendTransaction", [&node](const Json& params) -> RpcResult {
    const Json* tx = FindParam(params, 0, "tx");
    if (tx == nullptr) return BadParams("missing \"tx\" (hex-encoded signed transaction)");
    auto decoded = DecodeTxHex(*tx);
    if (!decoded.ok()) return MalformedTx(decoded.error());
    ledger::Admission a = node.SubmitTransaction(std::move(decoded.value()));
    if (!a.ok()) return AdmissionError(a);
    return Json{{"hash", a.hash.ToHex()}};
  });

  methods.emplace_back("sendTransactions", [&node](const Json& params) -> RpcResult {
    const Json* txs = FindParam(params, 0, "txs");
    if (txs == nullptr || !txs->is_array()) return BadParams("\"txs\" must be an array of hex");
    if (txs->size() > kMaxTxsPerCall) {
      return BadParams("at most " + std::to_string(kMaxTxsPerCall) + " transactions per call");
    }
    std::vector<Transaction> decoded;
    std::vector<std::optional<std::string>> malformed(txs->size());
    decoded.reserve(txs->size());
    for (size_t i = 0; i < txs->size(); ++i) {
      auto tx = DecodeTxHex((*txs)[i]);
      if (!tx.ok()) {
        malformed[i] = tx.error();
        continue;
      }
      decoded.push_back(std::move(tx.value()));
    }
    std::vector<ledger::Admission> results = node.SubmitTransactions(std::move(decoded));
    Json out = Json::array();
    size_t next = 0, accepted = 0;
    for (size_t i = 0; i < txs->size(); ++i) {
      if (malformed[i]) {
        RpcError e = MalformedTx(*malformed[i]);
        out.push_back(
            Json{{"error", {{"code", e.code}, {"message", e.message}, {"data", *e.data}}}});
        continue;
      }
      const ledger::Admission& a = results[next++];
      if (a.ok()) {
        ++accepted;
        out.push_back(Json{{"hash", a.hash.ToHex()}});
      } else {
        RpcError e = AdmissionError(a);
        out.push_back(
            Json{{"hash", a.hash.ToHex()},
                 {"error", {{"code", e.code}, {"message", e.message}, {"data", *e.data}}}});
      }
    }
    return Json{{"accepted", accepted}, {"results", std::move(out)}};
  });

  methods.emplace_back("getTransaction", [&node](const Json& params) -> RpcResult {
    RpcError err;
    auto hash = FixedParam<crypto::Hash256>(params, 0, "hash", &err);
    if (!hash) return err;
    auto found = node.GetTransaction(*hash);
    if (!found.ok()) return Internal(found.status());
    const TxLookup& t = *found;
    Json j = {{"hash", hash->ToHex()}};
    switch (t.status) {
      case TxLookup::Status::kUnknown:
        j["status"] = "unknown";
        return j;
      case TxLookup::Status::kPending:
        j["status"] = "pending";
        break;
      case TxLookup::Status::kCommitted:
        j["status"] = "committed";
        j["height"] = t.height;
        j["index"] = t.index;
        j["block_hash"] = t.block_hash.ToHex();
        break;
    }
    if (t.tx) j["tx"] = TxToJson(*t.tx, *hash);
    if (t.receipt) j["receipt"] = ReceiptToJson(*t.receipt);
    return j;
  });

  methods.emplace_back("getBlock", [&node](const Json& params) -> RpcResult {
    std::optional<RpcError> err;
    auto block = FindBlock(node, params, &err);
    if (err) return *err;
    if (!block.ok()) return Internal(block.status());
    if (!block->has_value()) return NotFound("no such block");
    const Json* full = FindParam(params, 1, "full");
    bool want_full = full && full->is_boolean() && full->get<bool>();
    std::optional<std::vector<ledger::Receipt>> receipts;
    if (want_full) {
      auto r = node.GetReceipts((*block)->header.height);
      if (r.ok() && r->has_value()) receipts = **r;
    }
    Json j = BlockToJson(**block, want_full, receipts ? &*receipts : nullptr);
    auto cert = node.GetCertificate((*block)->header.height);
    if (!cert.ok()) return Internal(cert.status());
    if (cert->has_value()) j["certificate"] = CertificateToJson(**cert);
    return j;
  });

  methods.emplace_back("getBlocks", [&node](const Json& params) -> RpcResult {
    RpcError err;
    auto from = UintParam(params, 0, "from", &err);
    if (!from) return err;
    uint64_t head = node.GetHead().height;
    uint64_t to = head;
    if (const Json* t = FindParam(params, 1, "to"); t && !t->is_null()) {
      if (!t->is_number_unsigned()) return BadParams("\"to\" must be a non-negative integer");
      to = std::min(t->get<uint64_t>(), head);
    }
    if (*from > to) return Json::array();
    if (to - *from + 1 > kMaxBlocksPerCall) {
      return BadParams("at most " + std::to_string(kMaxBlocksPerCall) + " blocks per call");
    }
    Json out = Json::array();
    for (uint64_t h = *from; h <= to; ++h) {
      auto b = node.GetBlock(h);
      if (!b.ok()) return Internal(b.status());
      if (!b->has_value()) break;
      out.push_back(HeaderToJson((*b)->header, (*b)->Hash()));
    }
    return out;
  });

  methods.emplace_back("getRawBlocks", [&node](const Json& params) -> RpcResult {
    RpcError err;
    auto from = UintParam(params, 0, "from", &err);
    if (!from) return err;
    uint64_t count = 100;
    if (const Json* c = FindParam(params, 1, "count"); c && !c->is_null()) {
      if (!c->is_number_unsigned()) return BadParams("\"count\" must be a non-negative integer");
      count = std::min<uint64_t>(c->get<uint64_t>(), kMaxBlocksPerCall);
    }
    Json out = Json::array();
    Json certs = Json::array();
    bool any_cert = false;
    for (uint64_t h = *from; h < *from + count; ++h) {
      auto b = node.GetBlock(h);
      if (!b.ok()) return Internal(b.status());
      if (!b->has_value()) break;
      out.push_back(crypto::ToHex((*b)->Encode()));
      auto cert = node.GetCertificate(h);
      if (!cert.ok()) return Internal(cert.status());
      if (cert->has_value()) {
        any_cert = true;
        certs.push_back(crypto::ToHex((*cert)->raw));
      } else {
        certs.push_back(nullptr);
      }
    }
    Json j{{"from", *from}, {"blocks", std::move(out)}, {"head", node.GetHead().height}};
    if (any_cert) j["certificates"] = std::move(certs);
    return j;
  });

  methods.emplace_back("getAccount", [&node](const Json& params) -> RpcResult {
    RpcError err;
    auto addr = FixedParam<ledger::Address>(params, 0, "address", &err);
    if (!addr) return err;
    auto acct = node.GetAccount(*addr);
    if (!acct) return NotFound("account " + addr->ToHex() + " is not registered");
    return Json{{"address", addr->ToHex()},
                {"balance", std::to_string(acct->balance)},
                {"nonce", acct->nonce},
                {"next_nonce", node.NextNonce(*addr)},
                {"role", std::string(ledger::RoleName(acct->role))}};
  });

  methods.emplace_back("getRecord", [&node](const Json& params) -> RpcResult {
    RpcError err;
    auto addr = FixedParam<ledger::Address>(params, 0, "address", &err);
    if (!addr) return err;
    auto key_hex = StringParam(params, 1, "key", &err);
    if (!key_hex) return err;
    auto key = crypto::FromHex(*key_hex);
    if (!key || key->empty() || key->size() > ledger::kMaxRecordKey) {
      return BadParams("\"key\" must be 1 to 128 bytes in hex");
    }
    auto value = node.GetRecord(*addr, *key);
    if (!value) return NotFound("no record " + *key_hex + " for " + addr->ToHex());
    return Json{{"address", addr->ToHex()}, {"key", *key_hex}, {"value", crypto::ToHex(*value)}};
  });

  methods.emplace_back("getStatus", [&node](const Json&) -> RpcResult {
    NodeStatus s = node.GetStatus();
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
                {"commit_height", s.commit_height}};
  });

  methods.emplace_back("getValidators", [&node](const Json&) -> RpcResult {
    const genesis::Genesis& g = node.GetGenesis();
    Json out = Json::array();
    for (size_t i = 0; i < g.validators.size(); ++i) {
      out.push_back(Json{{"index", i},
                         {"name", g.validators[i].name},
                         {"public_key", g.validators[i].public_key.ToHex()},
                         {"address", g.validators[i].address}});
    }
    return out;
  });

  methods.emplace_back("getGenesis", [&node](const Json&) -> RpcResult {
    const genesis::Genesis& g = node.GetGenesis();
    Json j = Json::parse(g.ToJson());
    return Json{{"genesis", j}, {"genesis_hash", g.Block0().Hash().ToHex()}};
  });

  methods.emplace_back("getEvidence", [&node](const Json&) -> RpcResult {
    Json out = Json::array();
    for (const EvidenceInfo& e : node.GetEvidence()) {
      out.push_back(Json{{"validator", e.validator},
                         {"public_key", e.key.ToHex()},
                         {"vote_type", e.vote_type},
                         {"height", e.height},
                         {"round", e.round},
                         {"block_a", HashOrNil(e.block_a)},
                         {"block_b", HashOrNil(e.block_b)},
                         {"recorded_ms", e.recorded_ms},
                         {"raw", crypto::ToHex(e.raw)}});
    }
    return out;
  });

  methods.emplace_back("getPeers", [&node](const Json&) -> RpcResult {
    Json out = Json::array();
    for (const PeerInfo& p : node.GetPeers()) {
      out.push_back(Json{{"node_id", p.node_id},
                         {"name", p.name},
                         {"address", p.address},
                         {"direction", p.direction},
                         {"connected_since_ms", p.connected_since_ms},
                         {"bytes_in", p.bytes_in},
                         {"bytes_out", p.bytes_out},
                         {"messages_in", p.messages_in},
                         {"messages_out", p.messages_out}});
    }
    return out;
  });

  for (auto& [name, handler] : methods) {
    if (Status s = d.Register(name, std::move(handler)); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace cairn::rpc
