#include "node/wire.h"

#include <algorithm>

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

::cairn::Status DecodeGetSnapshots(ByteView b) {
  if (!b.empty()) {
    return ::cairn::Status::InvalidArgument("get snapshots: " + std::to_string(b.size()) +
                                            " bytes where none are expected");
  }
  return ::cairn::Status::Ok();
}

Bytes EncodeSnapshots(const std::vector<SnapshotOffer>& offers) {
  codec::Writer w;
  const size_t n = std::min(offers.size(), kMaxSnapshotsOffered);
  w.U8(static_cast<uint8_t>(n));
  for (size_t i = 0; i < n; ++i) {
    const SnapshotOffer& o = offers[i];
    w.U64(o.height).Fixed(o.manifest_hash).U8(o.bits).U32(o.chunks).U64(o.bytes);
  }
  return w.Take();
}

Result<std::vector<SnapshotOffer>> DecodeSnapshots(ByteView b) {
  codec::Reader r(b, "snapshots");
  uint8_t count = 0;
  std::vector<SnapshotOffer> out;
  if (r.U8(&count, "count") && count > kMaxSnapshotsOffered) {
    r.Fail("count", std::to_string(count) + " exceeds " + std::to_string(kMaxSnapshotsOffered));
  }
  for (uint8_t i = 0; r.ok() && i < count; ++i) {
    SnapshotOffer o;
    r.U64(&o.height, "height");
    r.Fixed(&o.manifest_hash, "manifest_hash");
    if (r.U8(&o.bits, "bits") && (o.bits > 16 || o.bits % 4 != 0)) {
      r.Fail("bits", std::to_string(o.bits) + " is not one of 0, 4, 8, 12, 16");
    }
    if (r.U32(&o.chunks, "chunks") && r.ok() && o.chunks > (uint64_t{1} << o.bits)) {
      r.Fail("chunks", std::to_string(o.chunks) + " exceeds 2^bits");
    }
    r.U64(&o.bytes, "bytes");
    if (r.ok()) out.push_back(o);
  }
  if (::cairn::Status s = r.Finish(); !s.ok()) return s;
  return out;
}

namespace {

void WriteRef(codec::Writer& w, const PartRef& ref) {
  w.U64(ref.height).Fixed(ref.manifest_hash).U32(ref.part);
}

bool ReadRef(codec::Reader& r, PartRef* ref) {
  r.U64(&ref->height, "height");
  r.Fixed(&ref->manifest_hash, "manifest_hash");
  if (r.U32(&ref->part, "part") && ref->part > kMaxChunkIndex && ref->part != kPartManifest &&
      ref->part != kPartHeader) {
    r.Fail("part", std::to_string(ref->part) + " is neither a chunk index nor a named part");
  }
  return r.ok();
}

}  // namespace

Bytes EncodeGetSnapshotPart(const PartRef& ref) {
  codec::Writer w;
  WriteRef(w, ref);
  return w.Take();
}

Result<PartRef> DecodeGetSnapshotPart(ByteView b) {
  codec::Reader r(b, "get snapshot part");
  PartRef ref;
  ReadRef(r, &ref);
  if (::cairn::Status s = r.Finish(); !s.ok()) return s;
  return ref;
}

Bytes EncodeSnapshotPart(const PartRef& ref, bool found, ByteView data) {
  codec::Writer w;
  w.Reserve(64 + data.size());
  WriteRef(w, ref);
  w.U8(found ? 1 : 0).Var(data);
  return w.Take();
}

Result<SnapshotPartView> DecodeSnapshotPart(ByteView b) {
  codec::Reader r(b, "snapshot part");
  SnapshotPartView v;
  ReadRef(r, &v.ref);
  uint8_t found = 0;
  if (r.U8(&found, "found") && found > 2) r.Fail("found", "must be 0, 1 or 2");
  v.found = found == 1;
  v.busy = found == 2;
  if (r.VarView(&v.data, kMaxSnapshotPartBytes, "data")) {
    if (found == 0 && !v.data.empty()) r.Fail("data", "not empty for a part not found");
    if (v.busy) {
      if (v.data.size() != 4) {
        r.Fail("data", "a busy answer carries retry_after_ms:u32");
      } else {
        v.retry_after_ms =
            static_cast<uint32_t>(v.data[0]) | static_cast<uint32_t>(v.data[1]) << 8 |
            static_cast<uint32_t>(v.data[2]) << 16 | static_cast<uint32_t>(v.data[3]) << 24;
        if (v.retry_after_ms == 0 || v.retry_after_ms > kMaxRetryAfterMs) {
          r.Fail("data", "retry_after_ms must be 1.." + std::to_string(kMaxRetryAfterMs));
        }
      }
    }
  }
  if (::cairn::Status s = r.Finish(); !s.ok()) return s;
  return v;
}

Bytes EncodeSnapshotBusy(const PartRef& ref, uint32_t retry_after_ms) {
  codec::Writer data;
  data.U32(retry_after_ms);
  const Bytes d = data.Take();
  codec::Writer w;
  WriteRef(w, ref);
  w.U8(2).Var(d);
  return w.Take();
}

Bytes EncodeHeaderPart(ByteView header, ByteView certificate) {
  codec::Writer w;
  w.Var(header).Var(certificate);
  return w.Take();
}

Result<CertifiedBlockView> DecodeHeaderPart(ByteView b) {
  codec::Reader r(b, "header part");
  CertifiedBlockView v;
  r.VarView(&v.block, kMaxHeaderBytes, "header");
  r.VarView(&v.certificate, kMaxCertificateBytes, "certificate");
  if (::cairn::Status s = r.Finish(); !s.ok()) return s;
  return v;
}

Bytes EncodeGetHeaders(const GetHeaders& g) {
  codec::Writer w;
  w.U64(g.from).U32(g.count);
  return w.Take();
}

Result<GetHeaders> DecodeGetHeaders(ByteView b) {
  codec::Reader r(b, "get headers");
  GetHeaders g;
  r.U64(&g.from, "from");
  if (r.U32(&g.count, "count") && (g.count == 0 || g.count > kMaxHeadersPerRequest)) {
    r.Fail("count", "must be 1.." + std::to_string(kMaxHeadersPerRequest));
  }
  if (::cairn::Status st = r.Finish(); !st.ok()) return st;
  return g;
}

Bytes EncodeHeaders(const std::vector<CertifiedBlock>& headers) { return EncodeBlocks(headers); }

Result<std::vector<CertifiedBlockView>> DecodeHeaders(ByteView b) {
  codec::Reader r(b, "headers");
  uint32_t count = 0;
  std::vector<CertifiedBlockView> out;
  // Each item takes at least 8 bytes: a count the payload cannot hold is refused up front.
  if (r.U32(&count, "count") && (count > kMaxHeadersPerRequest || count > r.remaining() / 8)) {
    r.Fail("count", std::to_string(count) + " exceeds " +
                        std::to_string(std::min<size_t>(kMaxHeadersPerRequest, r.remaining() / 8)));
  }
  out.reserve(r.ok() ? count : 0);
  for (uint32_t i = 0; r.ok() && i < count; ++i) {
    CertifiedBlockView v;
    if (r.VarView(&v.block, kMaxHeaderBytes, "header") &&
        r.VarView(&v.certificate, kMaxCertificateBytes, "certificate")) {
      out.push_back(v);
    }
  }
  if (::cairn::Status s = r.Finish(); !s.ok()) return s;
  return out;
}

Bytes EncodeGetValidators(uint64_t height) {
  codec::Writer w;
  w.U64(height);
  return w.Take();
}

Result<uint64_t> DecodeGetValidators(ByteView b) {
  codec::Reader r(b, "get validators");
  uint64_t height = 0;
  r.U64(&height, "height");
  if (::cairn::Status s = r.Finish(); !s.ok()) return s;
  return height;
}

Bytes EncodeValidators(const ValidatorsAnswer& a) {
  codec::Writer w;
  w.U64(a.height).U8(a.found ? 1 : 0).U32(static_cast<uint32_t>(a.set.size()));
  for (const SetMember& m : a.set) w.U32(m.id).Fixed(m.consensus_key);
  return w.Take();
}

Result<ValidatorsAnswer> DecodeValidators(ByteView b) {
  codec::Reader r(b, "validators");
  ValidatorsAnswer a;
  uint8_t found = 0;
  r.U64(&a.height, "height");
  if (r.U8(&found, "found") && found > 1) r.Fail("found", "must be 0 or 1");
  a.found = found == 1;
  uint32_t count = 0;
  // Each member takes 36 bytes: a count the payload cannot hold is refused before allocating.
  if (r.Count(&count, "count", 36, kMaxValidators) && !a.found && count != 0) {
    r.Fail("count", "must be 0 when found is 0");
  }
  for (uint32_t i = 0; r.ok() && i < count; ++i) {
    SetMember m;
    r.U32(&m.id, "id");
    r.Fixed(&m.consensus_key, "consensus_key");
    if (r.ok() && !a.set.empty() && m.id <= a.set.back().id) {
      r.Fail("id", "ids must be strictly increasing");
    }
    if (r.ok()) a.set.push_back(m);
  }
  if (r.ok() && a.found && a.set.empty()) r.Fail("count", "a found set has at least one member");
  if (::cairn::Status s = r.Finish(); !s.ok()) return s;
  return a;
}

}  // namespace cairn::node::wire
