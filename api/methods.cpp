// One function per method, registered by the table at the end of this file (as Bitcoin
// Core's src/rpc/*.cpp do). docs/RPC.md "Methods" is the contract for names, parameters,
// error codes and results; tests/api/methods_golden.txt records it.
#include "api/methods.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/errors.h"
#include "api/lease.h"
#include "api/membership.h"
#include "api/tx_proof.h"
#include "crypto/hex.h"

namespace cairn::api {
namespace {

using ledger::Block;
using ledger::Transaction;
using rpc::FindParam;
using rpc::RpcError;
using rpc::RpcResult;

constexpr size_t kMaxTxsPerCall = 10000;
constexpr uint64_t kMaxBlocksPerCall = 1000;

// Data this node no longer keeps (storage.retain_blocks): never an empty "not found", and
// `oldest` says where an archive node is not needed.
constexpr int kPruned = 1102;
RpcError Pruned(const NodeApi& node, const std::string& detail) {
  return rpc::AppError(
      kPruned, "pruned",
      Json{{"reason", "pruned"}, {"detail", detail}, {"oldest", node.BlocksFrom()}});
}
// A store read that failed: 1102 when what it wanted is pruned, else an internal error.
RpcError StoreError(const NodeApi& node, const Status& s) {
  return s.code() == StatusCode::kPruned ? Pruned(node, s.message()) : Internal(s);
}
// The tx index of pruned blocks is deleted with them, so a pruned node cannot tell a pruned
// transaction from one never committed; it says so instead of "unknown".
RpcError TxMaybePruned(const NodeApi& node, const crypto::Hash256& hash) {
  return Pruned(node, "transaction " + hash.ToHex() +
                          " is not in the blocks this node keeps (from " +
                          std::to_string(node.BlocksFrom()) +
                          "); it may be in a pruned block (storage.retain_blocks)");
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
  return rpc::AppError(kTxErrorBase + static_cast<int>(ledger::TxCode::kMalformed),
                       "malformed transaction", Json{{"reason", "malformed"}, {"detail", why}});
}

// An error as one entry of sendTransactions' results (the batch itself succeeds).
Json ErrorEntry(const RpcError& e) {
  return Json{{"code", e.code}, {"message", e.message}, {"data", *e.data}};
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

RpcResult SendTransaction(NodeApi& node, const Json& params) {
  const Json* tx = FindParam(params, 0, "tx");
  if (tx == nullptr) return BadParams("missing \"tx\" (hex-encoded signed transaction)");
  auto decoded = DecodeTxHex(*tx);
  if (!decoded.ok()) return MalformedTx(decoded.error());
  ledger::Admission a = node.SubmitTransaction(std::move(decoded.value()));
  if (!a.ok()) return AdmissionError(a);
  return Json{{"hash", a.hash.ToHex()}};
}

RpcResult SendTransactions(NodeApi& node, const Json& params) {
  const Json* txs = FindParam(params, 0, "txs");
  if (txs == nullptr || !txs->is_array()) return BadParams("\"txs\" must be an array of hex");
  if (txs->size() > kMaxTxsPerCall) {
    return BadParams("at most " + std::to_string(kMaxTxsPerCall) + " transactions per call");
  }
  // Malformed entries are answered in place; the rest go to the node in one call.
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
      out.push_back(Json{{"error", ErrorEntry(MalformedTx(*malformed[i]))}});
      continue;
    }
    const ledger::Admission& a = results[next++];
    if (a.ok()) {
      ++accepted;
      out.push_back(Json{{"hash", a.hash.ToHex()}});
    } else {
      out.push_back(Json{{"hash", a.hash.ToHex()}, {"error", ErrorEntry(AdmissionError(a))}});
    }
  }
  return Json{{"accepted", accepted}, {"results", std::move(out)}};
}

RpcResult GetTransaction(NodeApi& node, const Json& params) {
  RpcError err;
  auto hash = FixedParam<crypto::Hash256>(params, 0, "hash", &err);
  if (!hash) return err;
  auto found = node.GetTransaction(*hash);
  if (!found.ok()) return StoreError(node, found.status());
  const TxLookup& t = *found;
  Json j = {{"hash", hash->ToHex()}};
  switch (t.status) {
    case TxLookup::Status::kUnknown:
      if (node.BlocksFrom() > 1) return TxMaybePruned(node, *hash);
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
}

RpcResult GetBlock(NodeApi& node, const Json& params) {
  std::optional<RpcError> err;
  auto block = FindBlock(node, params, &err);
  if (err) return *err;
  if (!block.ok()) return StoreError(node, block.status());
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
}

// A range that does not fit the response at all: its first item alone is too big.
RpcError RangeTooLarge(uint64_t height, size_t bytes, const rpc::CallContext& ctx) {
  return rpc::StandardError(rpc::kLimitExceeded, "block " + std::to_string(height) + " takes " +
                                                     std::to_string(bytes) +
                                                     " bytes of the response, over the " +
                                                     std::to_string(ctx.response_budget) +
                                                     " bytes left (" + ctx.limit_name() + ")");
}

// Room for what surrounds a range's items: the JSON-RPC envelope and the result's fields.
constexpr size_t kRangeEnvelope = 256;

// Ends early, before `to`, when the next header would pass the response budget; the client
// continues from the last height + 1 (docs/RPC.md "Response size").
RpcResult GetBlocks(NodeApi& node, const Json& params, const rpc::CallContext& ctx) {
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
  size_t used = kRangeEnvelope;
  for (uint64_t h = *from; h <= to; ++h) {
    auto b = node.GetBlock(h);
    if (!b.ok()) return StoreError(node, b.status());
    if (!b->has_value()) break;
    Json header = HeaderToJson((*b)->header, (*b)->Hash());
    const size_t cost = header.dump().size() + 1;
    if (used + cost > ctx.response_budget) {
      if (out.empty()) return RangeTooLarge(h, cost, ctx);
      break;
    }
    used += cost;
    out.push_back(std::move(header));
  }
  return out;
}

// Returns fewer than `count` blocks, with "truncated": true, when the next one would pass the
// response budget; the client continues from `from` + the blocks returned.
RpcResult GetRawBlocks(NodeApi& node, const Json& params, const rpc::CallContext& ctx) {
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
  bool any_cert = false;  // a chain that is not BFT keeps none
  bool truncated = false;
  size_t used = kRangeEnvelope;
  for (uint64_t h = *from; h < *from + count; ++h) {
    auto b = node.GetBlock(h);
    if (!b.ok()) return StoreError(node, b.status());
    if (!b->has_value()) break;
    Bytes encoded = (*b)->Encode();
    auto cert = node.GetCertificate(h);
    if (!cert.ok()) return Internal(cert.status());
    // Hex doubles the bytes; quotes and a comma per item (null for a missing certificate).
    const size_t cost =
        2 * encoded.size() + 3 + (cert->has_value() ? 2 * (*cert)->raw.size() + 3 : 5);
    if (used + cost > ctx.response_budget) {
      if (out.empty()) return RangeTooLarge(h, cost, ctx);
      truncated = true;
      break;
    }
    used += cost;
    out.push_back(crypto::ToHex(encoded));
    if (cert->has_value()) {
      any_cert = true;
      certs.push_back(crypto::ToHex((*cert)->raw));
    } else {
      certs.push_back(nullptr);
    }
  }
  Json j{{"from", *from}, {"blocks", std::move(out)}, {"head", node.GetHead().height}};
  // On a BFT chain the field is always there, one entry per block (null for genesis), so a
  // client need not tell "no certificates kept" from "a page holding only genesis".
  if (any_cert || node.GetGenesis().consensus == genesis::ConsensusKind::kBft) {
    j["certificates"] = std::move(certs);
  }
  if (truncated) j["truncated"] = true;
  return j;
}

// getHeaders' count: explicit bounds rather than getRawBlocks' silent cap, since a light
// client that asked for more than it got must not mistake the cap for the head.
constexpr uint64_t kDefaultHeadersPerCall = 100;

// Headers with their certificates, for light clients: the canonical header bytes (what the
// block hash and the certificate sign) rather than JSON, so the client hashes what it checks.
// Ends early, like getBlocks, when the next item would pass the response budget.
RpcResult GetHeaders(NodeApi& node, const Json& params, const rpc::CallContext& ctx) {
  RpcError err;
  auto from = UintParam(params, 0, "from", &err);
  if (!from) return err;
  uint64_t count = kDefaultHeadersPerCall;
  if (const Json* c = FindParam(params, 1, "count"); c && !c->is_null()) {
    if (!c->is_number_unsigned() || c->get<uint64_t>() == 0 ||
        c->get<uint64_t>() > kMaxBlocksPerCall) {
      return BadParams("\"count\" must be an integer from 1 to " +
                       std::to_string(kMaxBlocksPerCall));
    }
    count = c->get<uint64_t>();
  }
  const uint64_t head = node.GetHead().height;
  if (*from > head) {
    return rpc::AppError(kNotFound, "not found",
                         Json{{"reason", "not_found"},
                              {"detail", "from " + std::to_string(*from) + " is above the head " +
                                             std::to_string(head)},
                              {"head", head}});
  }
  const uint64_t to = std::min(head, *from + count - 1);
  Json out = Json::array();
  size_t used = kRangeEnvelope;
  for (uint64_t h = *from; h <= to; ++h) {
    auto header = node.GetHeader(h);
    if (!header.ok()) return StoreError(node, header.status());
    if (!header->has_value()) break;
    auto cert = node.GetCertificate(h);
    if (!cert.ok()) return Internal(cert.status());
    Json item{{"height", h},
              {"header", crypto::ToHex((*header)->Encode())},
              {"certificate", cert->has_value() ? Json(crypto::ToHex((*cert)->raw)) : Json()}};
    const size_t cost = item.dump().size() + 1;
    if (used + cost > ctx.response_budget) {
      if (out.empty()) return RangeTooLarge(h, cost, ctx);
      break;
    }
    used += cost;
    out.push_back(std::move(item));
  }
  return out;
}

// A committed transaction's RFC 9162 inclusion proof against its block's tx_root, with the
// header and certificate a client needs to check it (docs/PROTOCOL.md section 6.1).
RpcResult GetTxProof(NodeApi& node, const Json& params) {
  RpcError err;
  auto hash = FixedParam<crypto::Hash256>(params, 0, "hash", &err);
  if (!hash) return err;
  auto found = node.GetTransaction(*hash);
  if (!found.ok()) return StoreError(node, found.status());
  if (found->status == TxLookup::Status::kUnknown && node.BlocksFrom() > 1) {
    return TxMaybePruned(node, *hash);
  }
  if (found->status != TxLookup::Status::kCommitted) {
    return NotFound("transaction " + hash->ToHex() + " is not committed" +
                    (found->status == TxLookup::Status::kPending ? " (it is pending)" : ""));
  }
  auto block = node.GetBlock(found->height);
  if (!block.ok()) return StoreError(node, block.status());
  if (!block->has_value()) {
    return Internal(Status::Error("block " + std::to_string(found->height) + " of transaction " +
                                  hash->ToHex() + " is missing"));
  }
  const Block& b = **block;
  std::vector<crypto::Hash256> leaves;
  leaves.reserve(b.txs.size());
  for (const Transaction& tx : b.txs) leaves.push_back(tx.Hash());
  // The index says where the node filed it; the block is what the proof must hold against.
  if (found->index >= leaves.size() || leaves[found->index] != *hash) {
    return Internal(Status::Error("the index files transaction " + hash->ToHex() + " at " +
                                  std::to_string(found->height) + "/" +
                                  std::to_string(found->index) + ", where the block has another"));
  }
  auto cert = node.GetCertificate(found->height);
  if (!cert.ok()) return Internal(cert.status());
  return Json{{"height", found->height},
              {"index", found->index},
              {"tx_count", b.txs.size()},
              {"proof", crypto::ToHex(EncodeTxProof(crypto::MerkleProve(leaves, found->index)))},
              {"header", crypto::ToHex(b.header.Encode())},
              {"certificate", cert->has_value() ? Json(crypto::ToHex((*cert)->raw)) : Json()}};
}

// A state entry's value (or its absence) after a block with its proof against that block's
// state_root, the header and the certificate (docs/PROTOCOL.md section 7.1).
RpcResult GetProof(NodeApi& node, const Json& params) {
  RpcError err;
  auto addr = FixedParam<ledger::Address>(params, 0, "address", &err);
  if (!addr) return err;
  std::optional<std::string> key_hex;
  if (const Json* k = FindParam(params, 1, "key"); k && !k->is_null()) {
    key_hex = StringParam(params, 1, "key", &err);
    if (!key_hex) return err;
  }
  std::optional<uint64_t> height;
  if (const Json* h = FindParam(params, 2, "height"); h && !h->is_null()) {
    if (!h->is_number_unsigned()) return BadParams("\"height\" must be a non-negative integer");
    height = h->get<uint64_t>();
  }
  Bytes state_key;
  if (key_hex) {
    auto key = crypto::FromHex(*key_hex);
    if (!key || key->empty() || key->size() > ledger::kMaxRecordKey) {
      return BadParams("\"key\" must be 1 to 128 bytes in hex");
    }
    state_key = ledger::RecordKey(*addr, *key);
  } else {
    state_key = ledger::AccountKey(*addr);
  }
  auto proved = node.GetStateProof(state_key, height);
  if (!proved.ok()) {
    if (proved.code() == StatusCode::kNotFound) return NotFound(proved.error());
    if (proved.code() == StatusCode::kUnavailable) {
      return RpcError{rpc::kResourceUnavailable, "Resource unavailable",
                      Json{{"reason", "busy"}, {"detail", proved.error()}}};
    }
    return Internal(proved.status());
  }
  auto header = node.GetHeader(proved->height);
  if (!header.ok()) return Internal(header.status());
  if (!header->has_value()) {
    return Internal(Status::Error("block " + std::to_string(proved->height) + " is missing"));
  }
  auto cert = node.GetCertificate(proved->height);
  if (!cert.ok()) return Internal(cert.status());
  return Json{{"height", proved->height},
              {"value", proved->value ? Json(crypto::ToHex(*proved->value)) : Json()},
              {"proof", crypto::ToHex(proved->proof)},
              {"header", crypto::ToHex((*header)->Encode())},
              {"certificate", cert->has_value() ? Json(crypto::ToHex((*cert)->raw)) : Json()}};
}

RpcResult GetAccount(NodeApi& node, const Json& params) {
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
}

RpcResult GetRecord(NodeApi& node, const Json& params) {
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
}

RpcResult GetStatus(NodeApi& node, const Json&) { return StatusToJson(node.GetStatus()); }

RpcResult GetGenesis(NodeApi& node, const Json&) {
  const genesis::Genesis& g = node.GetGenesis();
  Json j = Json::parse(g.ToJson());
  return Json{{"genesis", j}, {"genesis_hash", g.Block0().Hash().ToHex()}};
}

RpcResult GetEvidence(NodeApi& node, const Json&) {
  Json out = Json::array();
  for (const EvidenceInfo& e : node.GetEvidence()) out.push_back(EvidenceToJson(e));
  return out;
}

RpcResult GetPeers(NodeApi& node, const Json&) {
  Json out = Json::array();
  for (const PeerInfo& p : node.GetPeers()) out.push_back(PeerToJson(p));
  return out;
}

// A plain function pointer and a string_view: the table is constant-initialised, with no
// std::string or std::function to construct (GCC 12 at -O3 reported a false -Warray-bounds
// through the std::pair<std::string, std::function> vector this table replaces).
// Exactly one of `handler` and `ranged` is set: a ranged method reads the response budget.
// `lane`: light methods cost little whatever their params (docs/RPC.md "Lanes").
struct MethodEntry {
  std::string_view name;
  RpcResult (*handler)(NodeApi& node, const Json& params);
  RpcResult (*ranged)(NodeApi& node, const Json& params, const rpc::CallContext& ctx);
  rpc::Lane lane;
};

constexpr rpc::Lane kLight = rpc::Lane::kLight;
constexpr rpc::Lane kHeavy = rpc::Lane::kHeavy;

constexpr MethodEntry kMethods[] = {
    {"sendTransaction", SendTransaction, nullptr, kLight},
    {"sendTransactions", SendTransactions, nullptr, kLight},
    {"getTransaction", GetTransaction, nullptr, kLight},
    {"getBlock", GetBlock, nullptr, kHeavy},
    {"getBlocks", nullptr, GetBlocks, kHeavy},
    {"getRawBlocks", nullptr, GetRawBlocks, kHeavy},
    {"getHeaders", nullptr, GetHeaders, kHeavy},
    {"getTxProof", GetTxProof, nullptr, kHeavy},
    // Light: an in-memory walk of ~20 tree nodes, at most one state read, a header and a
    // certificate read: the cost of getAccount, not of a block.
    {"getProof", GetProof, nullptr, kHeavy},
    {"getAccount", GetAccount, nullptr, kLight},
    {"getRecord", GetRecord, nullptr, kLight},
    {"getStatus", GetStatus, nullptr, kLight},
    // Heavy: with a height, a state read at that height (getProof's cost and its rebuilds).
    {"getValidators", membership::GetValidators, nullptr, kHeavy},
    {"getGovernance", membership::GetGovernance, nullptr, kLight},
    {"getProposal", membership::GetProposal, nullptr, kLight},
    // Heavy: up to every open and queued proposal, each a state read.
    {"listProposals", membership::ListProposals, nullptr, kHeavy},
    // Heavy: a state read at any retained height, as getProof (and the proof when asked).
    {"getLease", lease::GetLease, nullptr, kHeavy},
    {"getGenesis", GetGenesis, nullptr, kLight},
    {"getEvidence", GetEvidence, nullptr, kHeavy},
    {"getPeers", GetPeers, nullptr, kLight},
};

}  // namespace

rpc::RpcError AdmissionError(const ledger::Admission& a) {
  std::string reason(ledger::TxCodeName(a.code));
  std::string message = reason;
  for (char& c : message) {
    if (c == '_') c = ' ';
  }
  Json data{{"reason", reason}, {"detail", a.detail}, {"hash", a.hash.ToHex()}};
  if (a.retry_after_ms > 0) data["retry_after_ms"] = a.retry_after_ms;
  return rpc::AppError(kTxErrorBase + static_cast<int>(a.code), message, std::move(data));
}

Status RegisterNodeMethods(rpc::Dispatcher& dispatcher, NodeApi& node) {
  for (const MethodEntry& m : kMethods) {
    rpc::ContextHandler call;
    if (m.ranged != nullptr) {
      call = [&node, ranged = m.ranged](const Json& params, const rpc::CallContext& ctx) {
        return ranged(node, params, ctx);
      };
    } else {
      call = [&node, handler = m.handler](const Json& params, const rpc::CallContext&) {
        return handler(node, params);
      };
    }
    if (Status s = dispatcher.Register(std::string(m.name), std::move(call), m.lane); !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

}  // namespace cairn::api
