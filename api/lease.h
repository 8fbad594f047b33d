// The lease method (docs/RPC.md "getLease"): a lease's record after a block, read through
// NodeApi::GetStateProof, with the state proof, header and certificate getProof gives, so a
// fencing service can check a token against a header it trusts. Internal to api/
// (methods.cpp registers it); stateless, safe to call concurrently.
#pragma once

#include "api/json.h"
#include "api/node_api.h"
#include "rpc/dispatcher.h"

namespace cairn::api::lease {

rpc::RpcResult GetLease(NodeApi& node, const Json& params);

}  // namespace cairn::api::lease
