// The authenticated handshake and AEAD framing of a p2p connection, without sockets:
// bytes in, bytes out, so every byte of docs/P2P.md can be tested in memory.
// Objects are not thread-safe (one connection, one thread); free functions are.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "p2p/message.h"

namespace cairn::p2p {

using NodeId = crypto::PublicKey;
// Binds a connection to one chain: the node passes its genesis hash, so nodes of
// different chains (or testnets) never complete a handshake with each other.
using NetworkId = crypto::Hash256;

// Hello := magic "CAIRNP2P" (8 bytes) || version u8 (0x01) || ephemeral X25519 public key (32)
inline constexpr size_t kHelloSize = 41;
inline constexpr uint8_t kHandshakeVersion = 0x01;
// Frame := length u32 big-endian || ciphertext[length]; length counts the 16-byte tag.
inline constexpr size_t kFrameHeaderSize = 4;
inline constexpr size_t kTagSize = 16;
// Auth plaintext := node public key (32) || Ed25519 signature (64)
inline constexpr size_t kAuthPlaintextSize = 96;
inline constexpr size_t kAuthFrameLength = kAuthPlaintextSize + kTagSize;
// Message plaintext := envelope version u8 || type u8 || payload
inline constexpr size_t kMessageOverhead = 2;
// Largest frame length a peer may ever announce; bounds Options::max_frame_bytes.
inline constexpr uint32_t kMaxFrameLengthLimit = 64u << 20;

using EphemeralSecret = std::array<uint8_t, 32>;

// The checks of a remote hello that need no cryptography: size, magic and version. A node
// runs them before it spends any key-exchange work on a connection.
Status CheckHello(ByteView hello);

// HKDF-SHA256 (RFC 5869), extract then expand. REQUIRES: length <= 255 * 32.
Bytes HkdfSha256(ByteView salt, ByteView ikm, ByteView info, size_t length);

// Reads a frame's big-endian length prefix. REQUIRES: header.size() == kFrameHeaderSize.
uint32_t DecodeFrameLength(ByteView header);

// One direction of an established channel: ChaCha20-Poly1305 (IETF) under a 32-byte key,
// nonce = 4 zero bytes || frame counter u64 little-endian, AAD = the frame's length prefix.
class FrameSealer {
 public:
  FrameSealer() = default;
  explicit FrameSealer(const std::array<uint8_t, 32>& key) : key_(key) {}
  ~FrameSealer();
  FrameSealer(FrameSealer&&) noexcept = default;
  FrameSealer& operator=(FrameSealer&&) noexcept = default;

  // Appends one frame holding `plaintext` to *out. False (and *out unchanged) once the
  // counter is exhausted; the connection must then close.
  bool Seal(ByteView plaintext, Bytes* out);
  // Appends the frame of one message (envelope version, type, payload) with one copy.
  bool SealMessage(MessageType type, ByteView payload, Bytes* out);
  uint64_t counter() const { return counter_; }

 private:
  bool SealParts(ByteView prefix, ByteView payload, Bytes* out);
  std::array<uint8_t, 32> key_{};
  uint64_t counter_ = 0;
};

class FrameOpener {
 public:
  FrameOpener() = default;
  explicit FrameOpener(const std::array<uint8_t, 32>& key) : key_(key) {}
  ~FrameOpener();
  FrameOpener(FrameOpener&&) noexcept = default;
  FrameOpener& operator=(FrameOpener&&) noexcept = default;

  // Authenticates and decrypts `body` (the frame after its header) in place with the next
  // counter; returns the plaintext, a prefix of body. nullopt if the frame was modified,
  // replayed, reordered or follows a dropped frame; the connection must then close.
  std::optional<std::span<uint8_t>> Open(ByteView header, std::span<uint8_t> body);
  uint64_t counter() const { return counter_; }

 private:
  std::array<uint8_t, 32> key_{};
  uint64_t counter_ = 0;
};

// Both sides run the same steps (there is no initiator role):
//   1. send hello()                          4. send AuthFrame()
//   2. read kHelloSize bytes                 5. read one frame of kAuthFrameLength
//   3. OnRemoteHello(bytes)                  6. OnRemoteAuth(header, body) -> remote NodeId
// then TakeSealer()/TakeOpener() carry the channel. Any error means: close the connection.
// The order of sends and reads is free as long as neither side waits for a message the
// other sends later: a listener may read the hello before it creates its Handshake, and
// send its own auth frame only after verifying the remote's (docs/P2P.md, section 2).
// Step 6 may be split into OpenRemoteAuth (cheap) and VerifyRemoteAuth (a signature check),
// so the caller can refuse a key it would never admit before paying for the signature.
class Handshake {
 public:
  // A fresh ephemeral key from the OS CSPRNG. node_key must outlive the Handshake.
  Handshake(const crypto::KeyPair& node_key, const NetworkId& network_id);
  // A chosen ephemeral secret: known-answer tests only. Never reuse one on a real connection.
  Handshake(const crypto::KeyPair& node_key, const NetworkId& network_id,
            const EphemeralSecret& ephemeral_secret);
  ~Handshake();
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  const std::array<uint8_t, kHelloSize>& hello() const { return hello_; }

  // Checks magic and version, rejects our own ephemeral key reflected back and low-order
  // points, and derives the session keys.
  Status OnRemoteHello(ByteView hello);
  // REQUIRES: OnRemoteHello succeeded. Our auth frame, sealed as frame 0 of our direction.
  Bytes AuthFrame();
  // REQUIRES: OnRemoteHello succeeded. Opens frame 0 of the remote direction and verifies
  // the remote's signature over the transcript; returns the remote node id. Permission
  // (allowlist, expected id) is the caller's decision.
  Result<NodeId> OnRemoteAuth(ByteView header, std::span<uint8_t> body);
  // OnRemoteAuth in two steps. OpenRemoteAuth opens the frame and returns the node id it
  // claims, not yet proven; VerifyRemoteAuth (REQUIRES: OpenRemoteAuth succeeded) checks the
  // claimed key's signature over the transcript.
  Result<NodeId> OpenRemoteAuth(ByteView header, std::span<uint8_t> body);
  Status VerifyRemoteAuth() const;

  // REQUIRES: OnRemoteAuth succeeded. Each may be taken once.
  FrameSealer TakeSealer() { return std::move(sealer_); }
  FrameOpener TakeOpener() { return std::move(opener_); }

  // Visible for known-answer tests and docs/P2P.md.
  const crypto::Hash256& transcript_hash() const { return transcript_hash_; }

 private:
  void Init();  // derives the ephemeral public key and the hello
  // The bytes each side signs: label || transcript hash || challenge || signer's ephemeral key.
  Bytes SignedMessage(ByteView signer_ephemeral) const;

  const crypto::KeyPair& node_key_;
  NetworkId network_id_;
  EphemeralSecret ephemeral_secret_{};
  std::array<uint8_t, 32> ephemeral_public_{};
  std::array<uint8_t, 32> remote_ephemeral_{};
  std::array<uint8_t, kHelloSize> hello_{};
  crypto::Hash256 transcript_hash_;
  std::array<uint8_t, 32> challenge_{};
  FrameSealer sealer_;
  FrameOpener opener_;
  bool keys_ready_ = false;
  std::optional<NodeId> claimed_id_;  // set by OpenRemoteAuth
  std::optional<crypto::Signature> claimed_sig_;
};

}  // namespace cairn::p2p
