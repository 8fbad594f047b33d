// The BFT engine's decoders on hostile bytes: DecodeMessage (proposals, votes, decisions and
// evidence from a peer), DecodeHardState and DecodeRecord (from the store). Each value
// decoded re-encodes to the same bytes and decodes back equal, and Describe (the log line)
// and the sign bytes work on anything decodable.
#include "consensus/bft/state.h"
#include "tests/fuzz/fixtures.h"

using namespace cairn;
using namespace cairn::consensus::bft;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView in = fuzz::Input(data, size);
  static const crypto::Hash256 chain = fuzz::BftGenesis().Block0().Hash();
  if (auto m = DecodeMessage(in); m.ok()) {
    const Bytes re = EncodeMessage(*m);
    fuzz::CheckSameBytes(in, re, "bft message");
    auto again = DecodeMessage(re);
    FUZZ_CHECK(again.ok() && *again == *m);
    FUZZ_CHECK(!Describe(*m).empty());
    if (const auto* v = std::get_if<Vote>(&*m)) (void)VoteSignBytes(chain, *v);
    if (const auto* p = std::get_if<Proposal>(&*m)) (void)ProposalSignBytes(chain, *p);
  } else {
    FUZZ_CHECK(!m.error().empty());
  }
  if (auto hs = DecodeHardState(in); hs.ok()) {
    const Bytes re = EncodeHardState(*hs);
    fuzz::CheckSameBytes(in, re, "bft hard state");
    auto again = DecodeHardState(re);
    FUZZ_CHECK(again.ok() && *again == *hs);
    FUZZ_CHECK(StepName(hs->step) != nullptr);
  }
  constexpr uint64_t kIndex = 3;
  if (auto rec = DecodeRecord(in, kIndex); rec.ok()) {
    const Bytes re = std::holds_alternative<consensus::Block>(*rec)
                         ? EncodeBlockRecord(std::get<consensus::Block>(*rec))
                         : EncodePolRecord(std::get<PolRecord>(*rec));
    fuzz::CheckSameBytes(in, re, "bft record");
    auto again = DecodeRecord(re, kIndex);
    FUZZ_CHECK(again.ok() && *again == *rec);
  }
  return 0;
}
