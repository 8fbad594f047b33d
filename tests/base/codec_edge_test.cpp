// Codec behaviour that the ledger tests do not reach: Count's allocation guard, FailAt, and
// the code every decoding error carries.
#include <catch2/catch.hpp>

#include "base/codec.h"

namespace cairn::codec {
namespace {

TEST_CASE("codec: Count refuses a count above its limit, naming where it starts", "[base][codec]") {
  Writer w;
  w.U8(0).U32(5);
  Bytes b = w.Take();
  Reader r(b, "list");
  uint8_t skip = 0;
  REQUIRE(r.U8(&skip, "tag"));
  uint32_t n = 77;
  CHECK_FALSE(r.Count(&n, "count", /*min_elem_size=*/0, /*max=*/4));
  CHECK(n == 77);  // untouched on failure
  CHECK(r.status().message() == "list: count: is 5, above the limit 4 at offset 1");
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("codec: Count refuses more elements than the remaining bytes can hold", "[base][codec]") {
  Writer w;
  w.U32(3).U64(1).U64(2);  // three 8-byte elements announced, two present
  Bytes b = w.Take();
  Reader r(b, "list");
  uint32_t n = 0;
  CHECK_FALSE(r.Count(&n, "count", /*min_elem_size=*/8, /*max=*/100));
  CHECK(r.status().message() ==
        "list: count: is 3, more than fit in 16 remaining bytes at offset 0");
}

TEST_CASE("codec: Count accepts a count that exactly fits", "[base][codec]") {
  Writer w;
  w.U32(2).U64(1).U64(2);
  Bytes b = w.Take();
  Reader r(b, "list");
  uint32_t n = 0;
  REQUIRE(r.Count(&n, "count", /*min_elem_size=*/8, /*max=*/2));
  CHECK(n == 2);
  uint64_t x = 0;
  CHECK(r.U64(&x, "a"));
  CHECK(r.U64(&x, "b"));
  CHECK(r.Finish().ok());
}

TEST_CASE("codec: FailAt names an earlier offset and only the first error is kept",
          "[base][codec]") {
  Writer w;
  w.U8(9).U64(1);
  Bytes b = w.Take();
  Reader r(b, "msg");
  const size_t type_at = r.offset();
  uint8_t type = 0;
  uint64_t v = 0;
  REQUIRE(r.U8(&type, "type"));
  REQUIRE(r.U64(&v, "term"));
  CHECK_FALSE(r.FailAt(type_at, "type", "unknown value 9"));
  CHECK_FALSE(r.Fail("term", "later problem"));
  CHECK(r.Finish().message() == "msg: type: unknown value 9 at offset 0");
}

TEST_CASE("codec: truncation and trailing bytes are invalid arguments", "[base][codec]") {
  const Bytes b = {1, 2};
  Reader shortr(b, "x");
  uint32_t v = 0;
  CHECK_FALSE(shortr.U32(&v, "n"));
  CHECK(shortr.status().code() == StatusCode::kInvalidArgument);
  Reader longr(b, "x");
  uint8_t u = 0;
  REQUIRE(longr.U8(&u, "n"));
  Status s = longr.Finish();
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message() == "x: end: 1 trailing bytes at offset 1");
}

}  // namespace
}  // namespace cairn::codec
