// The node's JSON-RPC methods (docs/RPC.md "Methods"), registered on a Dispatcher against a
// NodeApi. Stateless apart from the NodeApi; safe to call concurrently.
#pragma once

#include "base/status.h"
#include "rpc/dispatcher.h"
#include "rpc/node_api.h"

namespace cairn::rpc {

// Application error codes: 1000 + ledger::TxCode for refused transactions (so 1036 is
// nonce_too_low), and these for everything else.
inline constexpr int kTxErrorBase = 1000;
inline constexpr int kNotFound = 1100;

// Registers every method. REQUIRES: `node` outlives the dispatcher.
Status RegisterNodeMethods(Dispatcher& dispatcher, NodeApi& node);

// JSON views shared by the methods (and by tests).
Json TxToJson(const ledger::Transaction& tx, const crypto::Hash256& hash);
Json ReceiptToJson(const ledger::Receipt& r);
Json HeaderToJson(const ledger::BlockHeader& h, const crypto::Hash256& hash);
RpcError AdmissionError(const ledger::Admission& a);

}  // namespace cairn::rpc
