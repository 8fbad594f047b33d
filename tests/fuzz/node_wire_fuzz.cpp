// The node's p2p messages on hostile bytes, routed by type as NodeCore routes them: TxBatch,
// Status, GetBlocks, Blocks and NewBlock, and Validators (a state sync's light client)
// (node/wire.h). The first input byte picks the type;
// the rest is the payload. Decoded messages re-encode to the same bytes, and every decoded
// view lies inside the payload.
#include "node/wire.h"
#include "tests/fuzz/fuzz_util.h"

using namespace cairn;
using namespace cairn::node;

namespace {

bool Inside(ByteView outer, ByteView inner) {
  return inner.empty() || (inner.data() >= outer.data() &&
                           inner.data() + inner.size() <= outer.data() + outer.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t type = data[0];
  const ByteView in = fuzz::Input(data + 1, size - 1);
  switch (type % 5) {
    case 0: {
      auto txs = wire::DecodeTxs(in);
      if (!txs.ok()) return 0;
      FUZZ_CHECK(txs->size() <= wire::kMaxTxsPerBatch);
      std::vector<Bytes> copies;
      for (ByteView tx : *txs) {
        FUZZ_CHECK(Inside(in, tx));
        copies.push_back(fuzz::ToBytes(tx));
      }
      fuzz::CheckSameBytes(in, wire::EncodeTxs(copies), "TxBatch");
      break;
    }
    case 1: {
      auto s = wire::DecodeStatus(in);
      if (!s.ok()) return 0;
      fuzz::CheckSameBytes(in, wire::EncodeStatus(*s), "Status");
      break;
    }
    case 2: {
      auto g = wire::DecodeGetBlocks(in);
      if (!g.ok()) return 0;
      FUZZ_CHECK(g->count >= 1 && g->count <= wire::kMaxBlocksPerRequest);
      fuzz::CheckSameBytes(in, wire::EncodeGetBlocks(*g), "GetBlocks");
      break;
    }
    case 3: {
      auto blocks = wire::DecodeBlocks(in);
      if (!blocks.ok()) return 0;
      std::vector<wire::CertifiedBlock> copies;
      for (const wire::CertifiedBlockView& b : *blocks) {
        FUZZ_CHECK(Inside(in, b.block) && Inside(in, b.certificate));
        FUZZ_CHECK(b.block.size() <= wire::kMaxBlockBytes);
        FUZZ_CHECK(b.certificate.size() <= wire::kMaxCertificateBytes);
        copies.push_back({fuzz::ToBytes(b.block), fuzz::ToBytes(b.certificate)});
      }
      fuzz::CheckSameBytes(in, wire::EncodeBlocks(copies), "Blocks");
      break;
    }
    case 4: {
      auto v = wire::DecodeValidators(in);
      if (!v.ok()) return 0;
      FUZZ_CHECK(v->set.size() <= wire::kMaxValidators);
      FUZZ_CHECK(v->found == !v->set.empty());
      for (size_t i = 1; i < v->set.size(); ++i) FUZZ_CHECK(v->set[i - 1].id < v->set[i].id);
      fuzz::CheckSameBytes(in, wire::EncodeValidators(*v), "Validators");
      break;
    }
  }
  return 0;
}
