// The RPC per-client connection limit counts an IPv6 /64 as one client and an IPv4-mapped IPv6
// address as its IPv4 address, as p2p admission does (one function, base/net_address.h).
// ServerShared's admission is driven in memory with made-up addresses: a loopback test could
// only connect from ::1.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "base/net_address.h"
#include "rpc/dispatcher.h"
#include "rpc/http_session.h"

using namespace cairn;
using namespace cairn::rpc;
using cairn::rpc::detail::HttpSession;
using cairn::rpc::detail::ServerShared;

namespace {

AddressKey V6(std::initializer_list<uint8_t> bytes) {
  std::array<uint8_t, 16> ip{};
  std::copy(bytes.begin(), bytes.end(), ip.begin());
  return AddressKeyOf(ip);
}

struct Admissions {
  explicit Admissions(size_t per_client) {
    ServerOptions o;
    o.max_connections = 100;
    o.max_connections_per_ip = per_client;
    shared = std::make_shared<ServerShared>(dispatcher, o);
  }
  ServerShared::Admission Admit(const AddressKey& client) {
    sessions.push_back(std::make_shared<HttpSession>(boost::asio::ip::tcp::socket(ioc), shared));
    return shared->Admit(sessions.back(), client);
  }

  boost::asio::io_context ioc;  // never run: sessions are only counted
  Dispatcher dispatcher;
  std::shared_ptr<ServerShared> shared;
  std::vector<std::shared_ptr<HttpSession>> sessions;
};

}  // namespace

TEST_CASE("R4: the per-client limit counts an IPv6 /64 as one client", "[rpc][admission]") {
  Admissions a(/*per_client=*/2);
  // Two addresses of 2001:db8:1:2::/64 fill its two slots.
  CHECK(a.Admit(V6({0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1})) ==
        ServerShared::Admission::kServe);
  CHECK(a.Admit(V6({0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0xaa, 0, 0, 0, 0, 0, 0, 2})) ==
        ServerShared::Admission::kServe);
  CHECK(a.shared->evicted == 0);
  // A third address of the same /64 is the same client: it takes the place of its idle one.
  CHECK(a.Admit(V6({0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0xff, 0xff, 1, 2, 3, 4, 5, 6})) ==
        ServerShared::Admission::kServe);
  CHECK(a.shared->evicted == 1);
  CHECK(a.shared->active() == 2);
  // The next /64 is another client, with slots of its own.
  CHECK(a.Admit(V6({0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1})) ==
        ServerShared::Admission::kServe);
  CHECK(a.shared->evicted == 1);
  CHECK(a.shared->active() == 3);
}

TEST_CASE("R4: an IPv4-mapped IPv6 address counts as its IPv4 address", "[rpc][admission]") {
  Admissions a(/*per_client=*/1);
  const uint8_t v4[4] = {192, 0, 2, 7};
  CHECK(a.Admit(AddressKeyOf(v4)) == ServerShared::Admission::kServe);
  // ::ffff:192.0.2.7, as a dual-stack listener sees the same client.
  CHECK(a.Admit(V6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7})) ==
        ServerShared::Admission::kServe);
  CHECK(a.shared->evicted == 1);
  CHECK(a.shared->active() == 1);
  // Other IPv4 addresses, even in the same /24, are other clients.
  const uint8_t neighbour[4] = {192, 0, 2, 8};
  CHECK(a.Admit(AddressKeyOf(neighbour)) == ServerShared::Admission::kServe);
  CHECK(a.shared->evicted == 1);
  CHECK(a.shared->active() == 2);
}

TEST_CASE("address keys: one function for p2p and RPC", "[rpc][admission]") {
  CHECK(AddressKeyToString(V6({0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 9, 9, 9, 9, 9, 9, 9, 9})) ==
        "2001:db8:1:2::/64");
  CHECK(AddressKeyToString(V6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1})) ==
        "10.0.0.1");
  // ::1 is its own /64 (::/64): loopback clients are one client, as before.
  CHECK(V6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}) ==
        V6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}));
}
