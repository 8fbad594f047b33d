#include "base/net_address.h"

#include <algorithm>
#include <cstdio>

namespace cairn {
namespace {

bool IsV4Mapped(const AddressKey& k) {
  return std::all_of(k.begin(), k.begin() + 10, [](uint8_t b) { return b == 0; }) &&
         k[10] == 0xff && k[11] == 0xff;
}

}  // namespace

AddressKey AddressKeyOf(std::span<const uint8_t> ip) {
  AddressKey k{};
  if (ip.size() == 4) {
    k[10] = k[11] = 0xff;  // ::ffff:a.b.c.d, so IPv4 and IPv4-mapped IPv6 are one key
    std::copy(ip.begin(), ip.end(), k.begin() + 12);
    return k;
  }
  if (ip.size() != 16) return k;
  std::copy(ip.begin(), ip.end(), k.begin());
  if (!IsV4Mapped(k)) std::fill(k.begin() + 8, k.end(), 0);  // the /64
  return k;
}

std::string AddressKeyToString(const AddressKey& k) {
  char buf[64];
  if (IsV4Mapped(k)) {
    std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", k[12], k[13], k[14], k[15]);
  } else {
    std::snprintf(buf, sizeof(buf), "%x:%x:%x:%x::/64", k[0] << 8 | k[1], k[2] << 8 | k[3],
                  k[4] << 8 | k[5], k[6] << 8 | k[7]);
  }
  return buf;
}

}  // namespace cairn
