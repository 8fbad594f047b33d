// Handshake and frames, byte by byte (docs/P2P.md is the normative copy):
//
//   Hello       := "CAIRNP2P" (8) || version u8 = 0x01 || eph_pub (32)
//   lo, hi      := the two eph_pub values, lo < hi as unsigned byte strings
//   th          := SHA-256("cairn-p2p-v1-transcript" || network_id (32) || lo || hi)
//   dh          := X25519(own eph secret, remote eph_pub); all-zero output is refused
//   okm         := HKDF-SHA256(salt = th, ikm = dh, info = "cairn-p2p-v1-keys", L = 96)
//   key_lo      := okm[0, 32)   encrypts frames sent by the side whose eph_pub is lo
//   key_hi      := okm[32, 64)  encrypts frames sent by the side whose eph_pub is hi
//   challenge   := okm[64, 96)
//   signed      := "cairn-p2p-v1-auth" || th || challenge || signer's eph_pub
//   Auth        := Frame(node_pub (32) || Ed25519(node key, signed) (64)), frame counter 0
//   Frame       := len u32 big-endian || ChaCha20-Poly1305-IETF(key, nonce, aad = len, pt)
//   nonce       := 0x00000000 || counter u64 little-endian, counter per direction from 0
//   Message pt  := envelope version u8 = 0x01 || type u8 || payload
#include "p2p/secure_channel.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>

namespace cairn::p2p {
namespace {

constexpr char kMagic[] = "CAIRNP2P";  // 8 bytes without the terminator
constexpr size_t kMagicSize = 8;
constexpr std::string_view kTranscriptLabel = "cairn-p2p-v1-transcript";
constexpr std::string_view kKeysInfo = "cairn-p2p-v1-keys";
constexpr std::string_view kAuthLabel = "cairn-p2p-v1-auth";

using Nonce = std::array<uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES>;

Nonce MakeNonce(uint64_t counter) {
  Nonce n{};
  for (size_t i = 0; i < 8; ++i) n[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
  return n;
}

void HmacSha256(ByteView key, std::initializer_list<ByteView> parts, uint8_t out[32]) {
  // libsodium declares its pointers non-null even for zero lengths.
  static const uint8_t kEmpty = 0;
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.empty() ? &kEmpty : key.data(), key.size());
  for (ByteView p : parts) {
    if (!p.empty()) crypto_auth_hmacsha256_update(&st, p.data(), p.size());
  }
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof(st));
}

}  // namespace

Bytes HkdfSha256(ByteView salt, ByteView ikm, ByteView info, size_t length) {
  assert(length <= 255 * 32);
  crypto::Init();
  uint8_t prk[32];
  // RFC 5869 2.2: an absent salt is HashLen zero bytes; HMAC pads short keys with zeros
  // anyway, so passing the empty salt through gives the same PRK.
  HmacSha256(salt, {ikm}, prk);
  Bytes out;
  out.reserve(length + 32);
  uint8_t block[32];
  size_t prev_len = 0;
  for (uint8_t i = 1; out.size() < length; ++i) {
    HmacSha256(ByteView(prk, 32), {ByteView(block, prev_len), info, ByteView(&i, 1)}, block);
    out.insert(out.end(), block, block + 32);
    prev_len = 32;
  }
  out.resize(length);
  sodium_memzero(prk, sizeof(prk));
  sodium_memzero(block, sizeof(block));
  return out;
}

uint32_t DecodeFrameLength(ByteView header) {
  assert(header.size() == kFrameHeaderSize);
  return uint32_t{header[0]} << 24 | uint32_t{header[1]} << 16 | uint32_t{header[2]} << 8 |
         uint32_t{header[3]};
}

FrameSealer::~FrameSealer() { sodium_memzero(key_.data(), key_.size()); }

bool FrameSealer::Seal(ByteView plaintext, Bytes* out) { return SealParts({}, plaintext, out); }

bool FrameSealer::SealMessage(MessageType type, ByteView payload, Bytes* out) {
  const uint8_t prefix[kMessageOverhead] = {kEnvelopeVersion, type};
  return SealParts(ByteView(prefix, kMessageOverhead), payload, out);
}

bool FrameSealer::SealParts(ByteView prefix, ByteView payload, Bytes* out) {
  const size_t pt_len = prefix.size() + payload.size();
  // The counter is the nonce: it must never wrap. 2^64 frames cannot happen in practice,
  // but refusing is cheaper than reasoning about it.
  if (counter_ == std::numeric_limits<uint64_t>::max()) return false;
  if (pt_len + kTagSize > std::numeric_limits<uint32_t>::max()) return false;
  const uint32_t len = static_cast<uint32_t>(pt_len + kTagSize);
  const size_t start = out->size();
  out->resize(start + kFrameHeaderSize + len);
  uint8_t* header = out->data() + start;
  header[0] = static_cast<uint8_t>(len >> 24);
  header[1] = static_cast<uint8_t>(len >> 16);
  header[2] = static_cast<uint8_t>(len >> 8);
  header[3] = static_cast<uint8_t>(len);
  uint8_t* body = header + kFrameHeaderSize;
  if (!prefix.empty()) std::memcpy(body, prefix.data(), prefix.size());
  if (!payload.empty()) std::memcpy(body + prefix.size(), payload.data(), payload.size());
  const Nonce nonce = MakeNonce(counter_++);
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(body, body + pt_len, nullptr, body, pt_len,
                                                     header, kFrameHeaderSize, nullptr,
                                                     nonce.data(), key_.data());
  return true;
}

FrameOpener::~FrameOpener() { sodium_memzero(key_.data(), key_.size()); }

std::optional<std::span<uint8_t>> FrameOpener::Open(ByteView header, std::span<uint8_t> body) {
  if (header.size() != kFrameHeaderSize || body.size() < kTagSize) return std::nullopt;
  if (DecodeFrameLength(header) != body.size()) return std::nullopt;
  if (counter_ == std::numeric_limits<uint64_t>::max()) return std::nullopt;
  const size_t pt_len = body.size() - kTagSize;
  const Nonce nonce = MakeNonce(counter_);
  if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
          body.data(), nullptr, body.data(), pt_len, body.data() + pt_len, header.data(),
          header.size(), nonce.data(), key_.data()) != 0) {
    return std::nullopt;
  }
  ++counter_;
  return body.first(pt_len);
}

Handshake::Handshake(const crypto::KeyPair& node_key, const NetworkId& network_id)
    : node_key_(node_key), network_id_(network_id) {
  crypto::Init();
  randombytes_buf(ephemeral_secret_.data(), ephemeral_secret_.size());
  Init();
}

Handshake::Handshake(const crypto::KeyPair& node_key, const NetworkId& network_id,
                     const EphemeralSecret& ephemeral_secret)
    : node_key_(node_key), network_id_(network_id), ephemeral_secret_(ephemeral_secret) {
  Init();
}

void Handshake::Init() {
  crypto::Init();
  crypto_scalarmult_base(ephemeral_public_.data(), ephemeral_secret_.data());
  std::memcpy(hello_.data(), kMagic, kMagicSize);
  hello_[kMagicSize] = kHandshakeVersion;
  std::memcpy(hello_.data() + kMagicSize + 1, ephemeral_public_.data(), 32);
}

Handshake::~Handshake() {
  sodium_memzero(ephemeral_secret_.data(), ephemeral_secret_.size());
  sodium_memzero(challenge_.data(), challenge_.size());
}

Status CheckHello(ByteView hello) {
  if (hello.size() != kHelloSize) return Status::Error("hello: wrong size");
  if (std::memcmp(hello.data(), kMagic, kMagicSize) != 0) {
    return Status::Error("hello: bad magic (not a cairn p2p peer)");
  }
  if (hello[kMagicSize] != kHandshakeVersion) {
    return Status::Error("hello: unsupported handshake version " +
                         std::to_string(hello[kMagicSize]));
  }
  return Status::Ok();
}

Status Handshake::OnRemoteHello(ByteView hello) {
  if (Status s = CheckHello(hello); !s.ok()) return s;
  std::memcpy(remote_ephemeral_.data(), hello.data() + kMagicSize + 1, 32);
  // Our own ephemeral key coming back means a reflector; refusing it keeps the two
  // directions' keys distinct.
  if (remote_ephemeral_ == ephemeral_public_) {
    return Status::Error("hello: remote echoed our ephemeral key");
  }
  std::array<uint8_t, 32> dh;
  // libsodium returns -1 when the result is all zero, i.e. a low-order remote point that
  // would let a man in the middle force a known shared secret.
  if (crypto_scalarmult(dh.data(), ephemeral_secret_.data(), remote_ephemeral_.data()) != 0) {
    return Status::Error("hello: low-order ephemeral key");
  }
  const bool we_are_lo = ephemeral_public_ < remote_ephemeral_;
  const auto& lo = we_are_lo ? ephemeral_public_ : remote_ephemeral_;
  const auto& hi = we_are_lo ? remote_ephemeral_ : ephemeral_public_;
  crypto::Sha256 h;
  h.Update(AsBytes(kTranscriptLabel)).Update(network_id_.view()).Update(lo).Update(hi);
  transcript_hash_ = h.Finish();

  Bytes okm = HkdfSha256(transcript_hash_.view(), dh, AsBytes(kKeysInfo), 96);
  std::array<uint8_t, 32> key_lo, key_hi;
  std::memcpy(key_lo.data(), okm.data(), 32);
  std::memcpy(key_hi.data(), okm.data() + 32, 32);
  std::memcpy(challenge_.data(), okm.data() + 64, 32);
  sealer_ = FrameSealer(we_are_lo ? key_lo : key_hi);
  opener_ = FrameOpener(we_are_lo ? key_hi : key_lo);
  sodium_memzero(okm.data(), okm.size());
  sodium_memzero(dh.data(), dh.size());
  sodium_memzero(key_lo.data(), key_lo.size());
  sodium_memzero(key_hi.data(), key_hi.size());
  keys_ready_ = true;
  return Status::Ok();
}

Bytes Handshake::SignedMessage(ByteView signer_ephemeral) const {
  Bytes m;
  m.reserve(kAuthLabel.size() + 32 + 32 + 32);
  ByteView label = AsBytes(kAuthLabel);
  m.insert(m.end(), label.begin(), label.end());
  m.insert(m.end(), transcript_hash_.data(), transcript_hash_.data() + 32);
  m.insert(m.end(), challenge_.begin(), challenge_.end());
  m.insert(m.end(), signer_ephemeral.begin(), signer_ephemeral.end());
  return m;
}

Bytes Handshake::AuthFrame() {
  assert(keys_ready_ && sealer_.counter() == 0);
  const crypto::Signature sig = node_key_.Sign(SignedMessage(ephemeral_public_));
  std::array<uint8_t, kAuthPlaintextSize> pt;
  std::memcpy(pt.data(), node_key_.public_key().data(), 32);
  std::memcpy(pt.data() + 32, sig.data(), 64);
  Bytes frame;
  frame.reserve(kFrameHeaderSize + kAuthFrameLength);
  sealer_.Seal(pt, &frame);
  return frame;
}

Result<NodeId> Handshake::OnRemoteAuth(ByteView header, std::span<uint8_t> body) {
  Result<NodeId> id = OpenRemoteAuth(header, body);
  if (!id.ok()) return id;
  if (Status s = VerifyRemoteAuth(); !s.ok()) return s;
  return id;
}

Result<NodeId> Handshake::OpenRemoteAuth(ByteView header, std::span<uint8_t> body) {
  assert(keys_ready_);
  if (header.size() != kFrameHeaderSize || DecodeFrameLength(header) != kAuthFrameLength ||
      body.size() != kAuthFrameLength) {
    return Status::Error("auth: wrong frame length");
  }
  auto pt = opener_.Open(header, body);
  if (!pt)
    return Status::Error("auth: frame failed authentication (different network or tampered)");
  assert(pt->size() == kAuthPlaintextSize);
  claimed_id_ = NodeId::FromBytes(pt->first(32));
  claimed_sig_ = crypto::Signature::FromBytes(pt->subspan(32, 64));
  assert(claimed_id_ && claimed_sig_);
  return *claimed_id_;
}

Status Handshake::VerifyRemoteAuth() const {
  assert(claimed_id_ && claimed_sig_);
  if (!crypto::Verify(*claimed_id_, SignedMessage(remote_ephemeral_), *claimed_sig_)) {
    return Status::Error("auth: bad signature for node " + claimed_id_->ToHex());
  }
  return Status::Ok();
}

}  // namespace cairn::p2p
