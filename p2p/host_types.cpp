// Value types of host.h: peer addresses, directions and close reasons.
#include "p2p/host.h"

#include <charconv>

namespace cairn::p2p {

const char* DirectionName(Direction d) { return d == Direction::kInbound ? "inbound" : "outbound"; }

const char* CloseReasonName(CloseReason r) {
  switch (r) {
    case CloseReason::kLocalShutdown:
      return "shutdown";
    case CloseReason::kRemoteClosed:
      return "closed by remote";
    case CloseReason::kIoError:
      return "i/o error";
    case CloseReason::kConnectFailed:
      return "connect failed";
    case CloseReason::kHandshakeTimeout:
      return "handshake timeout";
    case CloseReason::kBadHello:
      return "bad hello";
    case CloseReason::kBadAuth:
      return "bad auth";
    case CloseReason::kSelfConnection:
      return "connection to self";
    case CloseReason::kWrongPeerKey:
      return "wrong peer key";
    case CloseReason::kNotAllowed:
      return "not on allowlist";
    case CloseReason::kInboundLimit:
      return "inbound limit";
    case CloseReason::kDuplicate:
      return "duplicate connection";
    case CloseReason::kFrameTooLarge:
      return "frame too large";
    case CloseReason::kDecryptFailed:
      return "frame failed authentication";
    case CloseReason::kBadMessage:
      return "bad message";
    case CloseReason::kPingTimeout:
      return "ping timeout";
    case CloseReason::kSendQueueFull:
      return "send queue full";
    case CloseReason::kAllowlistRevoked:
      return "removed from allowlist";
    case CloseReason::kMisbehaved:
      return "misbehaved";
    case CloseReason::kEvicted:
      return "evicted";
    case CloseReason::kRateLimited:
      return "handshake rate limit";
    case CloseReason::kCount:
      break;
  }
  return "unknown";
}

std::string PeerAddress::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return id.ToHex() + "@" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<PeerAddress> ParsePeerAddress(std::string_view text) {
  const auto fail = [&](const std::string& why) {
    return Status::Error("peer address \"" + std::string(text) + "\": " + why +
                         " (want <64 hex node id>@<host>:<port>)");
  };
  const size_t at = text.find('@');
  if (at == std::string_view::npos) return fail("missing '@'");
  auto id = NodeId::FromHex(text.substr(0, at));
  if (!id) return fail("node id is not 64 hex digits");
  std::string_view rest = text.substr(at + 1);
  std::string_view host, port_text;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return fail("bad bracketed IPv6 host");
    }
    host = rest.substr(1, close - 1);
    port_text = rest.substr(close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fail("missing ':port'");
    host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return fail("IPv6 hosts need brackets");
  }
  if (host.empty()) return fail("empty host");
  // A bracket left in the host ("[[1]:81") would not survive ToString and parse again.
  if (host.find_first_of("[]") != std::string_view::npos) {
    return fail("brackets only around an IPv6 host");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return fail("port must be 1-65535");
  }
  return PeerAddress{std::string(host), static_cast<uint16_t>(port), *id};
}

}  // namespace cairn::p2p
