// DecodeReceipts on hostile bytes (the store, read back by RPC and the audit). Decoded
// receipts re-encode to the same bytes, and every code has a name.
#include "ledger/receipt.h"
#include "tests/fuzz/fuzz_util.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView in = fuzz::Input(data, size);
  auto receipts = ledger::DecodeReceipts(in);
  if (!receipts.ok()) {
    FUZZ_CHECK(!receipts.error().empty());
    return 0;
  }
  const Bytes re = ledger::EncodeReceipts(*receipts);
  fuzz::CheckSameBytes(in, re, "receipts");
  auto again = ledger::DecodeReceipts(re);
  FUZZ_CHECK(again.ok() && *again == *receipts);
  for (const ledger::Receipt& r : *receipts) {
    FUZZ_CHECK(!ledger::TxCodeName(r.code).empty());
    (void)ledger::IsExecutionFailure(r.code);
  }
  return 0;
}
