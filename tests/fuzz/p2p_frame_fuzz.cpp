// The AEAD framing of an established p2p channel (FrameSealer / FrameOpener). The input is
// a list of plaintexts and one tampering (position and XOR mask): the harness seals the
// plaintexts as one stream, tampers with it, and reads it back as p2p::Connection does.
// Properties: every frame before the tampered one opens to exactly its plaintext, the
// tampered frame never opens, and raw fuzz bytes never open as a frame.
#include "tests/fuzz/p2p_fixture.h"

using namespace cairn;

namespace {

std::array<uint8_t, 32> FrameKey() {
  std::array<uint8_t, 32> k{};
  k.fill(0x5c);
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const size_t flip_at = size_t{data[0]} | size_t{data[1]} << 8;
  const uint8_t mask = data[2];
  ByteView rest = fuzz::Input(data + 3, size - 3);

  // Raw bytes as a frame: forging a Poly1305 tag by mutation is not possible.
  if (rest.size() >= p2p::kFrameHeaderSize) {
    p2p::FrameOpener raw(FrameKey());
    Bytes body = fuzz::ToBytes(rest.subspan(p2p::kFrameHeaderSize));
    FUZZ_CHECK(!raw.Open(rest.first(p2p::kFrameHeaderSize), body).has_value());
  }

  // Plaintexts: len:u8 bytes[len], repeated.
  std::vector<Bytes> plaintexts;
  while (!rest.empty()) {
    const size_t n = std::min<size_t>(rest[0], rest.size() - 1);
    plaintexts.push_back(fuzz::ToBytes(rest.subspan(1, n)));
    rest = rest.subspan(1 + n);
  }
  p2p::FrameSealer sealer(FrameKey());
  Bytes stream;
  std::vector<size_t> frame_end;
  for (const Bytes& pt : plaintexts) {
    FUZZ_CHECK(sealer.Seal(pt, &stream));
    frame_end.push_back(stream.size());
  }
  if (stream.empty()) return 0;
  const size_t tampered_at = flip_at % stream.size();
  stream[tampered_at] ^= mask;
  size_t tampered_frame = plaintexts.size();
  if (mask != 0) {
    tampered_frame = 0;
    while (frame_end[tampered_frame] <= tampered_at) ++tampered_frame;
  }

  p2p::FrameOpener opener(FrameKey());
  ByteView in(stream);
  for (size_t i = 0; in.size() >= p2p::kFrameHeaderSize; ++i) {
    const ByteView header = in.first(p2p::kFrameHeaderSize);
    const uint32_t len = p2p::DecodeFrameLength(header);
    in = in.subspan(p2p::kFrameHeaderSize);
    if (len < p2p::kTagSize || len > in.size()) {
      FUZZ_CHECK(i == tampered_frame);  // only a tampered length can be out of range
      return 0;
    }
    Bytes body = fuzz::ToBytes(in.first(len));
    in = in.subspan(len);
    auto pt = opener.Open(header, body);
    if (i < tampered_frame) {
      FUZZ_CHECK(pt.has_value());
      FUZZ_CHECK(Bytes(pt->begin(), pt->end()) == plaintexts[i]);
    } else {
      FUZZ_CHECK(!pt.has_value());
      return 0;  // the connection closes at the first frame that fails
    }
  }
  FUZZ_CHECK(tampered_frame == plaintexts.size());
  return 0;
}
