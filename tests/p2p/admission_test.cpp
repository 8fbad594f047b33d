// InboundAdmission in memory: which pending connection makes room, per-address and total
// caps, and the per-address handshake budget on a manual clock.
#include "p2p/admission.h"

#include <catch2/catch.hpp>

using namespace cairn;
using namespace cairn::p2p;

namespace {

AddressKey V4(uint8_t last) {
  const uint8_t ip[4] = {10, 0, 0, last};
  return AddressKeyOf(ip);
}

InboundAdmission::Limits Small(uint32_t total, uint32_t per_address) {
  InboundAdmission::Limits l;
  l.max_pending = total;
  l.max_pending_per_address = per_address;
  l.handshakes_per_second = 2;
  l.handshake_burst = 3;
  return l;
}

}  // namespace

TEST_CASE("address keys: IPv4 and IPv4-mapped IPv6 are one, IPv6 counts by its /64", "[p2p]") {
  const uint8_t v4[4] = {192, 168, 1, 7};
  const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 7};
  CHECK(AddressKeyOf(v4) == AddressKeyOf(mapped));
  CHECK(AddressKeyToString(AddressKeyOf(v4)) == "192.168.1.7");
  uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 9, 9, 9, 9, 9, 9, 9, 9};
  CHECK(AddressKeyOf(a) == AddressKeyOf(b));
  CHECK(AddressKeyToString(AddressKeyOf(a)) == "2001:db8:1:2::/64");
  b[7] = 3;  // another /64
  CHECK(AddressKeyOf(a) != AddressKeyOf(b));
}

TEST_CASE("a full table evicts the oldest connection that sent no hello, never refuses", "[p2p]") {
  ManualClock clock;
  InboundAdmission adm(Small(3, 3), &clock);
  CHECK_FALSE(adm.Admit(1, V4(1)));
  CHECK_FALSE(adm.Admit(2, V4(2)));
  CHECK_FALSE(adm.Admit(3, V4(3)));
  CHECK(adm.OnHello(1));  // 1 is a real peer mid-handshake
  // 2 is the oldest silent one.
  CHECK(adm.Admit(4, V4(4)) == std::optional<uint64_t>(2));
  CHECK(adm.Admit(5, V4(5)) == std::optional<uint64_t>(3));
  CHECK(adm.IsPending(1));
  CHECK(adm.pending() == 3);
  // Once everyone sent a hello, the oldest of all goes.
  CHECK(adm.OnHello(4));
  CHECK(adm.OnHello(5));
  CHECK(adm.Admit(6, V4(6)) == std::optional<uint64_t>(1));
  adm.Remove(4);  // authenticated
  CHECK_FALSE(adm.Admit(7, V4(7)));
  CHECK(adm.pending() == 3);
}

TEST_CASE("one address never takes more than its share of pending slots", "[p2p]") {
  ManualClock clock;
  InboundAdmission adm(Small(8, 2), &clock);
  CHECK_FALSE(adm.Admit(1, V4(1)));
  CHECK_FALSE(adm.Admit(2, V4(9)));  // the flooder
  CHECK_FALSE(adm.Admit(3, V4(9)));
  // The flooder's third evicts its own oldest, not the other address's connection.
  CHECK(adm.Admit(4, V4(9)) == std::optional<uint64_t>(2));
  CHECK(adm.Admit(5, V4(9)) == std::optional<uint64_t>(3));
  CHECK(adm.pending_from(V4(9)) == 2);
  CHECK(adm.IsPending(1));
  // A real peer sharing the flooder's address survives its silent connections.
  CHECK(adm.OnHello(5));
  CHECK(adm.Admit(6, V4(9)) == std::optional<uint64_t>(4));
  CHECK(adm.Admit(7, V4(9)) == std::optional<uint64_t>(6));
  CHECK(adm.IsPending(5));
}

TEST_CASE("each address has its own handshake budget", "[p2p]") {
  ManualClock clock;
  InboundAdmission adm(Small(100, 100), &clock);
  uint64_t id = 0;
  auto hello_from = [&](uint8_t who) {
    ++id;
    adm.Admit(id, V4(who));
    const bool ok = adm.OnHello(id);
    adm.Remove(id);
    return ok;
  };
  // Burst of 3, then 2 per second.
  CHECK(hello_from(1));
  CHECK(hello_from(1));
  CHECK(hello_from(1));
  CHECK_FALSE(hello_from(1));
  CHECK(hello_from(2));  // another address has its own budget
  clock.Advance(500);
  CHECK(hello_from(1));
  CHECK_FALSE(hello_from(1));
  CHECK_FALSE(adm.OnHello(12345));  // not pending: no budget
}

TEST_CASE("the handshake budgets remember a bounded number of addresses", "[p2p]") {
  ManualClock clock;
  InboundAdmission adm(Small(10, 10), &clock);
  uint64_t id = 0;
  for (uint32_t i = 0; i < InboundAdmission::kMaxTrackedAddresses + 100; ++i) {
    const uint8_t ip[4] = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                           static_cast<uint8_t>(i)};
    ++id;
    adm.Admit(id, AddressKeyOf(ip));
    adm.OnHello(id);
    adm.Remove(id);
  }
  CHECK(adm.tracked_addresses() == InboundAdmission::kMaxTrackedAddresses);
  CHECK(adm.pending() == 0);
}
