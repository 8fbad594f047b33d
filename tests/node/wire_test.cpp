// The Blocks wire message that carries commit certificates through block sync.
#include <catch2/catch.hpp>

#include "node/wire.h"

using namespace cairn;
using namespace cairn::node;

TEST_CASE("Blocks messages carry each block with its certificate and refuse damage",
          "[node][wire]") {
  std::vector<wire::CertifiedBlock> in = {{Bytes{1, 2, 3}, Bytes{9, 9}}, {Bytes{4}, Bytes{}}};
  Bytes enc = wire::EncodeBlocks(in);
  auto out = wire::DecodeBlocks(enc);
  REQUIRE(out.ok());
  REQUIRE(out->size() == 2);
  CHECK(Bytes((*out)[0].block.begin(), (*out)[0].block.end()) == in[0].block);
  CHECK(Bytes((*out)[0].certificate.begin(), (*out)[0].certificate.end()) == in[0].certificate);
  CHECK((*out)[1].certificate.empty());
  for (size_t cut = 0; cut < enc.size(); ++cut) {
    INFO("cut at " << cut);
    CHECK_FALSE(wire::DecodeBlocks(ByteView(enc.data(), cut)).ok());
  }
  Bytes longer = enc;
  longer.push_back(0);
  CHECK_FALSE(wire::DecodeBlocks(longer).ok());
  Bytes huge_count = {0xff, 0xff, 0xff, 0xff};
  CHECK_FALSE(wire::DecodeBlocks(huge_count).ok());
}
