// Block::Decode and BlockHeader::Decode on hostile bytes (block sync, NewBlock, BFT proposals,
// the store). A decoded block or header re-encodes to the same bytes and decodes back equal;
// hashing, the tx root and the proposer signature check run on whatever decodes.
#include "ledger/block.h"
#include "tests/fuzz/fuzz_util.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView in = fuzz::Input(data, size);
  if (auto header = ledger::BlockHeader::Decode(in); header.ok()) {
    const Bytes re = header->Encode();
    fuzz::CheckSameBytes(in, re, "block header");
    auto again = ledger::BlockHeader::Decode(re);
    FUZZ_CHECK(again.ok() && *again == *header);
    FUZZ_CHECK(header->Hash() == crypto::Sha256Of(re));
  } else {
    FUZZ_CHECK(!header.error().empty());
  }
  auto block = ledger::Block::Decode(in);
  if (!block.ok()) {
    FUZZ_CHECK(!block.error().empty());
    return 0;
  }
  FUZZ_CHECK(block->txs.size() == block->header.tx_count);
  const Bytes re = block->Encode();
  fuzz::CheckSameBytes(in, re, "block");
  auto again = ledger::Block::Decode(re);
  FUZZ_CHECK(again.ok() && *again == *block);
  (void)block->ComputeTxRoot();
  (void)block->VerifyProposerSignature();
  return 0;
}
