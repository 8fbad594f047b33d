// The membership and governance methods (docs/RPC.md "getValidators", "getGovernance",
// "getProposal", "listProposals"): set(H) and the gov/* system records, read from the state of
// a height through NodeApi::GetStateProof, so every height whose state the node retains is
// served the way getProof serves it. Internal to api/ (methods.cpp registers them); stateless,
// safe to call concurrently.
#pragma once

#include "api/json.h"
#include "api/node_api.h"
#include "rpc/dispatcher.h"

namespace cairn::api::membership {

rpc::RpcResult GetValidators(NodeApi& node, const Json& params);
rpc::RpcResult GetGovernance(NodeApi& node, const Json& params);
rpc::RpcResult GetProposal(NodeApi& node, const Json& params);
rpc::RpcResult ListProposals(NodeApi& node, const Json& params);

// A member as the methods show it: {id, kind, name, consensus_key, p2p_key, address}.
Json MemberToJson(const ledger::Member& m);

}  // namespace cairn::api::membership
