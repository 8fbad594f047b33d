// A p2p connection's inbound byte stream, as p2p::Connection reads it: the remote hello
// (41 bytes), the auth frame, then data frames, each bounded and authenticated before its
// plaintext is looked at. The local side has fixed keys, so a seed can hold a valid
// handshake and valid frames from the deterministic remote (p2p_fixture.h), and mutations
// reach every failure path. Properties: the auth frame is accepted only with the remote's
// real key; a frame that opens is exactly the plaintext the remote sealed.
#include <cstring>

#include "p2p/message.h"
#include "tests/fuzz/p2p_fixture.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in = fuzz::Input(data, size);
  if (in.size() < p2p::kHelloSize) return 0;
  p2p::Handshake local(fuzz::LocalKey(), fuzz::FuzzNetworkId(),
                       fuzz::Secret(fuzz::kLocalSecretFill));
  Status hello = local.OnRemoteHello(in.first(p2p::kHelloSize));
  in = in.subspan(p2p::kHelloSize);
  if (!hello.ok()) {
    FUZZ_CHECK(!hello.message().empty());
    return 0;
  }
  (void)local.AuthFrame();
  if (in.size() < p2p::kFrameHeaderSize) return 0;
  const ByteView header = in.first(p2p::kFrameHeaderSize);
  in = in.subspan(p2p::kFrameHeaderSize);
  const uint32_t auth_len = p2p::DecodeFrameLength(header);
  if (auth_len != p2p::kAuthFrameLength || in.size() < auth_len) return 0;
  Bytes auth_body = fuzz::ToBytes(in.first(auth_len));
  in = in.subspan(auth_len);
  auto remote_id = local.OnRemoteAuth(header, auth_body);
  if (!remote_id.ok()) return 0;
  // Only the remote's key can sign this transcript.
  FUZZ_CHECK(*remote_id == fuzz::RemoteKey().public_key());

  p2p::FrameOpener opener = local.TakeOpener();
  while (in.size() >= p2p::kFrameHeaderSize) {
    const ByteView h = in.first(p2p::kFrameHeaderSize);
    in = in.subspan(p2p::kFrameHeaderSize);
    const uint32_t len = p2p::DecodeFrameLength(h);
    if (len > fuzz::kFuzzMaxFrame || len < p2p::kTagSize + p2p::kMessageOverhead) return 0;
    if (in.size() < len) return 0;
    Bytes body = fuzz::ToBytes(in.first(len));
    in = in.subspan(len);
    auto pt = opener.Open(h, body);
    if (!pt) return 0;  // the connection closes
    FUZZ_CHECK(pt->size() == len - p2p::kTagSize);
    if ((*pt)[0] != p2p::kEnvelopeVersion) return 0;
    const p2p::MessageType type = (*pt)[1];
    if (p2p::IsTransport(type) && (type == p2p::kPing || type == p2p::kPong)) {
      if (pt->size() - p2p::kMessageOverhead != 8) return 0;
    }
    (void)p2p::PolicyFor(type);
  }
  return 0;
}
