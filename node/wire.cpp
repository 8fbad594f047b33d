#include "node/wire.h"

#include "base/codec.h"
#include "ledger/transaction.h"

namespace cairn::node::wire {
namespace {

Bytes EncodeList(const std::vector<Bytes>& items) {
  codec::Writer w;
  size_t total = 4;
  for (const Bytes& b : items) total += 4 + b.size();
  w.Reserve(total);
  w.U32(static_cast<uint32_t>(items.size()));
  for (const Bytes& b : items) w.Var(b);
  return w.Take();
}

Result<std::vector<ByteView>> DecodeList(ByteView b, const char* what, uint32_t max_count,
                                         size_t max_item) {
  codec::Reader r(b, what);
  uint32_t count = 0;
  std::vector<ByteView> out;
  if (r.U32(&count, "count") && count > max_count) {
    r.Fail("count", std::to_string(count) + " exceeds " + std::to_string(max_count));
  }
  for (uint32_t i = 0; r.ok() && i < count; ++i) {
    ByteView item;
    if (r.VarView(&item, max_item, "item")) out.push_back(item);
  }
  if (::cairn::Status s = r.Finish(); !s.ok()) return s;
  return out;
}

}  // namespace

Bytes EncodeTxs(const std::vector<Bytes>& txs) { return EncodeList(txs); }

Result<std::vector<ByteView>> DecodeTxs(ByteView b) {
  return DecodeList(b, "tx batch", kMaxTxsPerBatch, ledger::kMaxTxSize);
}

Bytes EncodeStatus(const Status& s) {
  codec::Writer w;
  w.U64(s.height).Fixed(s.head);
  return w.Take();
}

Result<Status> DecodeStatus(ByteView b) {
  codec::Reader r(b, "status");
  Status s;
  r.U64(&s.height, "height");
  r.Fixed(&s.head, "head_hash");
  if (::cairn::Status st = r.Finish(); !st.ok()) return st;
  return s;
}

Bytes EncodeGetBlocks(const GetBlocks& g) {
  codec::Writer w;
  w.U64(g.from).U32(g.count);
  return w.Take();
}

Result<GetBlocks> DecodeGetBlocks(ByteView b) {
  codec::Reader r(b, "get blocks");
  GetBlocks g;
  r.U64(&g.from, "from");
  if (r.U32(&g.count, "count") && (g.count == 0 || g.count > kMaxBlocksPerRequest)) {
    r.Fail("count", "must be 1.." + std::to_string(kMaxBlocksPerRequest));
  }
  if (::cairn::Status st = r.Finish(); !st.ok()) return st;
  return g;
}

Bytes EncodeBlocks(const std::vector<CertifiedBlock>& blocks) {
  codec::Writer w;
  size_t total = 4;
  for (const CertifiedBlock& b : blocks) total += 8 + b.block.size() + b.certificate.size();
  w.Reserve(total);
  w.U32(static_cast<uint32_t>(blocks.size()));
  for (const CertifiedBlock& b : blocks) w.Var(b.block).Var(b.certificate);
  return w.Take();
}

Result<std::vector<CertifiedBlockView>> DecodeBlocks(ByteView b) {
  codec::Reader r(b, "blocks");
  uint32_t count = 0;
  std::vector<CertifiedBlockView> out;
  if (r.U32(&count, "count") && count > kMaxBlocksPerRequest) {
    r.Fail("count", std::to_string(count) + " exceeds " + std::to_string(kMaxBlocksPerRequest));
  }
  for (uint32_t i = 0; r.ok() && i < count; ++i) {
    CertifiedBlockView v;
    if (r.VarView(&v.block, kMaxBlockBytes, "block") &&
        r.VarView(&v.certificate, kMaxCertificateBytes, "certificate")) {
      out.push_back(v);
    }
  }
  if (::cairn::Status s = r.Finish(); !s.ok()) return s;
  return out;
}

}  // namespace cairn::node::wire
