// The p2p message type registry: one byte per message, ranges reserved per layer.
// Constants and pure functions only; thread-safe.
#pragma once

#include <cstdint>

namespace cairn::p2p {

using MessageType = uint8_t;

// Envelope version carried in every data frame (docs/P2P.md, "Frame format").
inline constexpr uint8_t kEnvelopeVersion = 0x01;

// [0x00, 0x0F]: transport, handled inside p2p and never passed to handlers.
inline constexpr MessageType kPing = 0x01;  // payload: nonce u64
inline constexpr MessageType kPong = 0x02;  // payload: the ping's nonce u64
inline constexpr MessageType kTransportLast = 0x0F;
// [0x10, 0x2F]: gossip (transactions). Droppable: see SendPolicy below.
inline constexpr MessageType kGossipFirst = 0x10;
inline constexpr MessageType kGossipLast = 0x2F;
// [0x30, 0x4F]: block sync, defined by the node layer.
inline constexpr MessageType kSyncFirst = 0x30;
inline constexpr MessageType kSyncLast = 0x4F;
// [0x50, 0x6F]: consensus, defined by the node layer.
inline constexpr MessageType kConsensusFirst = 0x50;
inline constexpr MessageType kConsensusLast = 0x6F;
// [0x70, 0xFF]: unassigned; usable by the node layer once documented in docs/P2P.md.

constexpr bool IsTransport(MessageType t) { return t <= kTransportLast; }
constexpr bool IsGossip(MessageType t) { return t >= kGossipFirst && t <= kGossipLast; }

// What happens to a message that does not fit a peer's send queue. Gossip is redundant
// (every validator re-gossips, and a missed transaction reaches the block anyway), so it
// is dropped, and dropped early (at half the queue) to keep room for the rest. Anything
// else (sync, consensus, transport) must not be lost silently: the slow peer is
// disconnected instead, so the sender sees a disconnect and can resend elsewhere.
enum class SendPolicy { kDropWhenFull, kDisconnectWhenFull };

constexpr SendPolicy PolicyFor(MessageType t) {
  return IsGossip(t) ? SendPolicy::kDropWhenFull : SendPolicy::kDisconnectWhenFull;
}

}  // namespace cairn::p2p
