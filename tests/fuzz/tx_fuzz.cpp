// Transaction::Decode on hostile bytes (RPC sendTransaction, gossip, blocks). A decoded
// transaction re-encodes to the same bytes, decodes back equal, and its size and hash are
// those of its encoding; signature checking must not crash on anything decodable.
#include "ledger/transaction.h"
#include "tests/fuzz/fuzz_util.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView in = fuzz::Input(data, size);
  auto tx = ledger::Transaction::Decode(in);
  if (!tx.ok()) {
    FUZZ_CHECK(!tx.error().empty());
    return 0;
  }
  FUZZ_CHECK(size <= ledger::kMaxTxSize);
  const Bytes re = tx->Encode();
  fuzz::CheckSameBytes(in, re, "tx");
  FUZZ_CHECK(tx->EncodedSize() == re.size());
  auto again = ledger::Transaction::Decode(re);
  FUZZ_CHECK(again.ok() && *again == *tx);
  FUZZ_CHECK(tx->Hash() == crypto::Sha256Of(re));
  (void)tx->VerifySignature();
  (void)ledger::PayloadKindName(ledger::KindOf(tx->payload));
  return 0;
}
