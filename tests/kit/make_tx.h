// MakeTx: a signed transaction in one call, for the tests of ledger/ and above. Header-only
// (the kit's cairn_testkit needs only crypto); a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "crypto/ed25519.h"
#include "ledger/transaction.h"

namespace cairn::testkit {

// A transaction of `chain` from `from` with `nonce`, signed by `from`.
inline ledger::Transaction MakeTx(const crypto::KeyPair& from, const std::string& chain,
                                  uint64_t nonce, ledger::Payload payload) {
  ledger::Transaction tx;
  tx.chain_id = chain;
  tx.nonce = nonce;
  tx.payload = std::move(payload);
  tx.Sign(from);
  return tx;
}

}  // namespace cairn::testkit
