// The JSON views of ledger and consensus values that the node's methods return (docs/RPC.md
// "Methods"); the CLI's formatters read the same shapes. Pure functions; thread-safe.
#pragma once

#include <vector>

#include "api/node_api.h"
#include "rpc/dispatcher.h"

namespace cairn::api {

using rpc::Json;

// A governance action as getTransaction shows it: {"type": "add_validator", ...} (docs/RPC.md).
Json ActionToJson(const ledger::Action& action);
Json TxToJson(const ledger::Transaction& tx, const crypto::Hash256& hash);
Json ReceiptToJson(const ledger::Receipt& r);
Json HeaderToJson(const ledger::BlockHeader& h, const crypto::Hash256& hash);
// The header plus proposer_sig and txs: hashes only, or with `full` each transaction in full,
// carrying its receipt when `receipts` (indexed like b.txs) has one. `receipts` may be null.
Json BlockToJson(const ledger::Block& b, bool full, const std::vector<ledger::Receipt>* receipts);
Json CertificateToJson(const CertificateInfo& c);
Json EvidenceToJson(const EvidenceInfo& e);
Json PeerToJson(const PeerInfo& p);
Json StatusToJson(const NodeStatus& s);

}  // namespace cairn::api
