// The unit a per-address connection limit counts: an IPv4 address, or the /64 prefix of an
// IPv6 one. Shared by p2p admission and the RPC server, so both group addresses alike.
// Pure functions over bytes; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace cairn {

// A single IPv6 host is usually given a whole /64 (RFC 6177), so its addresses are one source;
// IPv4 and IPv4-mapped IPv6 (::ffff:a.b.c.d) are one key, so a dual-stack listener counts a
// client once whichever family it arrives on. Ordered, so it can key a std::map.
using AddressKey = std::array<uint8_t, 16>;
// ip: the 4 or 16 bytes of an address in network order; any other length gives the all-zero
// key.
AddressKey AddressKeyOf(std::span<const uint8_t> ip);
// "192.168.1.7" or "2001:db8:1:2::/64".
std::string AddressKeyToString(const AddressKey& key);

}  // namespace cairn
