// The node's JSON-RPC methods (docs/RPC.md "Methods"), registered on an rpc::Dispatcher
// against a NodeApi. Stateless apart from the NodeApi; safe to call concurrently.
#pragma once

#include "api/json.h"
#include "api/node_api.h"
#include "base/status.h"
#include "rpc/dispatcher.h"

namespace cairn::api {

// Application error codes: 1000 + ledger::TxCode for refused transactions (so 1036 is
// nonce_too_low), and these for everything else.
inline constexpr int kTxErrorBase = 1000;
inline constexpr int kNotFound = 1100;

// Registers every method (the table in methods.cpp). Fails on the first name the dispatcher
// already has. REQUIRES: `node` outlives the dispatcher.
Status RegisterNodeMethods(rpc::Dispatcher& dispatcher, NodeApi& node);

// The error a refused transaction is answered with: code kTxErrorBase + its TxCode.
rpc::RpcError AdmissionError(const ledger::Admission& a);

}  // namespace cairn::api
