// getLease: one state read (the system record "lease/<name>") at a height, decoded by the
// ledger's own ledger::Lease, never re-derived here.
#include "api/lease.h"

#include <optional>
#include <string>
#include <utility>

#include "api/errors.h"
#include "api/methods.h"
#include "crypto/hex.h"
#include "ledger/lease.h"

namespace cairn::api::lease {
namespace {

using rpc::FindParam;
using rpc::RpcError;
using rpc::RpcResult;

}  // namespace

RpcResult GetLease(NodeApi& node, const Json& params) {
  const Json* n = FindParam(params, 0, "name");
  if (n == nullptr || !n->is_string()) return BadParams("missing \"name\" (a lease name)");
  const std::string name = n->get<std::string>();
  if (!ledger::IsValidLeaseName(name)) {
    return BadParams("\"name\" must be 1 to " + std::to_string(ledger::kMaxLeaseName) +
                     " bytes of A-Z a-z 0-9 . _ - / :");
  }
  std::optional<uint64_t> height;
  if (const Json* h = FindParam(params, 1, "height"); h && !h->is_null()) {
    if (!h->is_number_unsigned()) return BadParams("\"height\" must be a non-negative integer");
    height = h->get<uint64_t>();
  }
  bool with_proof = false;
  if (const Json* p = FindParam(params, 2, "proof"); p && !p->is_null()) {
    if (!p->is_boolean()) return BadParams("\"proof\" must be true or false");
    with_proof = p->get<bool>();
  }
  const Bytes state_key = ledger::SystemKey(ledger::LeaseRecordName(name));
  auto proved = node.GetStateProof(state_key, height);
  if (!proved.ok()) {
    if (proved.code() == StatusCode::kNotFound) return NotFound(proved.error());
    if (proved.code() == StatusCode::kUnavailable) {
      return RpcError{rpc::kResourceUnavailable, "Resource unavailable",
                      Json{{"reason", "busy"}, {"detail", proved.error()}}};
    }
    return Internal(proved.status());
  }
  std::optional<ledger::Lease> lease;
  if (proved->value) {
    auto decoded = ledger::Lease::Decode(*proved->value);
    if (!decoded.ok()) return Internal(decoded.status().Wrap("lease \"" + name + "\""));
    lease = *decoded;
  }
  const uint64_t at = proved->height;
  const bool has_holder = lease && !lease->released();
  Json j{{"name", name},
         {"height", at},
         {"exists", lease.has_value()},
         {"holder", has_holder ? Json(lease->holder.ToHex()) : Json()},
         {"token", lease ? lease->token : 0},
         {"expires_at", lease ? lease->expires_at : 0},
         {"ttl_blocks", lease ? lease->ttl_blocks : 0},
         {"held", lease && lease->HeldAt(at)}};
  if (!with_proof) return j;
  auto header = node.GetHeader(at);
  if (!header.ok()) return Internal(header.status());
  if (!header->has_value()) {
    return Internal(Status::Error("block " + std::to_string(at) + " is missing"));
  }
  auto cert = node.GetCertificate(at);
  if (!cert.ok()) return Internal(cert.status());
  j["state_key"] = crypto::ToHex(state_key);
  j["value"] = proved->value ? Json(crypto::ToHex(*proved->value)) : Json();
  j["proof"] = crypto::ToHex(proved->proof);
  j["header"] = crypto::ToHex((*header)->Encode());
  j["certificate"] = cert->has_value() ? Json(crypto::ToHex((*cert)->raw)) : Json();
  return j;
}

}  // namespace cairn::api::lease
