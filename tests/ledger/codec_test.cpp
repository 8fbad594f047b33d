// The codec primitives: byte layout, round trips, and the errors a decoder reports.
#include <catch2/catch.hpp>

#include <limits>

#include "base/codec.h"
#include "ledger/account.h"
#include "ledger_test_util.h"
#include "tests/kit/alloc_probe.h"

using namespace cairn;
using namespace cairn::codec;
using namespace cairn::ledger;
using namespace cairn::ledger::testing;
using testkit::AllocStats;
using testkit::GetAllocStats;
using testkit::ResetAllocStats;

namespace {
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

Bytes Enc(void (*fill)(Writer&)) {
  Writer w;
  fill(w);
  return w.Take();
}
}  // namespace

TEST_CASE("Writer lays out integers little endian and bytes length-prefixed", "[ledger][codec]") {
  CHECK(Enc([](Writer& w) { w.U8(0xab); }) == Bytes{0xab});
  CHECK(Enc([](Writer& w) { w.U16(0x0102); }) == Bytes{0x02, 0x01});
  CHECK(Enc([](Writer& w) { w.U32(0x01020304); }) == Bytes{0x04, 0x03, 0x02, 0x01});
  CHECK(Enc([](Writer& w) { w.U64(0x0102030405060708); }) ==
        Bytes{0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01});
  CHECK(Enc([](Writer& w) { w.Var(Bytes{9, 8}); }) == Bytes{2, 0, 0, 0, 9, 8});
  CHECK(Enc([](Writer& w) { w.Str(""); }) == Bytes{0, 0, 0, 0});
  CHECK(Enc([](Writer& w) { w.Str("ab"); }) == Bytes{2, 0, 0, 0, 'a', 'b'});
  CHECK(Enc([](Writer& w) { w.Raw(Bytes{1, 2, 3}); }) == Bytes{1, 2, 3});
  crypto::Hash256 h = crypto::Sha256Of(AsBytes("x"));
  Writer w;
  w.Fixed(h);
  CHECK(w.bytes() == Bytes(h.view().begin(), h.view().end()));
}

TEST_CASE("every primitive round trips through Reader, boundaries included", "[ledger][codec]") {
  const uint8_t u8s[] = {0, 1, 0x7f, 0x80, 0xff};
  const uint16_t u16s[] = {0, 1, 0xff, 0x100, 0x8000, 0xffff};
  const uint32_t u32s[] = {0, 1, 0xff, 0x10000, 0x80000000u, 0xffffffffu};
  const uint64_t u64s[] = {0, 1, 0xffffffffull, 0x100000000ull, 1ull << 63, UINT64_MAX};
  Writer w;
  for (uint8_t v : u8s) w.U8(v);
  for (uint16_t v : u16s) w.U16(v);
  for (uint32_t v : u32s) w.U32(v);
  for (uint64_t v : u64s) w.U64(v);
  const Bytes var = Filled(300, 5);
  const std::string str("h\0llo", 5);  // embedded NUL survives
  crypto::PublicKey pk = Key(1).public_key();
  crypto::Signature sig = Key(1).Sign(AsBytes("m"));
  w.Var(var).Var(Bytes{}).Str(str).Raw(Bytes{4, 5}).Fixed(pk).Fixed(sig);

  Bytes b = w.Take();
  Reader r(b, "prims");
  for (uint8_t v : u8s) {
    uint8_t got = 0;
    REQUIRE(r.U8(&got, "u8"));
    CHECK(got == v);
  }
  for (uint16_t v : u16s) {
    uint16_t got = 0;
    REQUIRE(r.U16(&got, "u16"));
    CHECK(got == v);
  }
  for (uint32_t v : u32s) {
    uint32_t got = 0;
    REQUIRE(r.U32(&got, "u32"));
    CHECK(got == v);
  }
  for (uint64_t v : u64s) {
    uint64_t got = 0;
    REQUIRE(r.U64(&got, "u64"));
    CHECK(got == v);
  }
  Bytes got_var, got_empty;
  std::string got_str;
  ByteView got_raw;
  crypto::PublicKey got_pk;
  crypto::Signature got_sig;
  CHECK(r.Var(&got_var, 300, "var", 300));
  CHECK(r.Var(&got_empty, 0, "empty"));
  CHECK(r.Str(&got_str, 5, "str"));
  CHECK(r.Raw(2, &got_raw, "raw"));
  CHECK(r.Fixed(&got_pk, "pk"));
  CHECK(r.Fixed(&got_sig, "sig"));
  CHECK(r.remaining() == 0);
  CHECK(r.offset() == b.size());
  CHECK(r.Finish().ok());
  CHECK(got_var == var);
  CHECK(got_empty.empty());
  CHECK(got_str == str);
  CHECK(Bytes(got_raw.begin(), got_raw.end()) == Bytes{4, 5});
  CHECK(got_pk == pk);
  CHECK(got_sig == sig);
}

TEST_CASE("VarView borrows the input bytes", "[ledger][codec]") {
  Bytes b{3, 0, 0, 0, 'a', 'b', 'c'};
  Reader r(b, "v");
  ByteView v;
  REQUIRE(r.VarView(&v, 3, "f"));
  CHECK(v.data() == b.data() + 4);
  CHECK(v.size() == 3);
}

TEST_CASE("a truncated field is reported with its name, need, remainder and offset",
          "[ledger][codec]") {
  const Bytes b{1, 2, 3};
  SECTION("u8 at the end") {
    Reader r(b, "thing");
    ByteView skip;
    REQUIRE(r.Raw(3, &skip, "head"));
    uint8_t v;
    CHECK_FALSE(r.U8(&v, "flag"));
    CHECK_THAT(r.status().message(),
               Equals("thing: flag: truncated: needs 1 bytes, 0 left at offset 3"));
  }
  SECTION("u16") {
    Reader r(ByteView(b).first(1), "thing");
    uint16_t v;
    CHECK_FALSE(r.U16(&v, "port"));
    CHECK_THAT(r.status().message(),
               Equals("thing: port: truncated: needs 2 bytes, 1 left at offset 0"));
  }
  SECTION("u32") {
    Reader r(b, "thing");
    uint32_t v;
    CHECK_FALSE(r.U32(&v, "count"));
    CHECK_THAT(r.status().message(),
               Equals("thing: count: truncated: needs 4 bytes, 3 left at offset 0"));
  }
  SECTION("u64 after a u8") {
    Reader r(b, "thing");
    uint8_t a;
    uint64_t v;
    REQUIRE(r.U8(&a, "a"));
    CHECK_FALSE(r.U64(&v, "nonce"));
    CHECK_THAT(r.status().message(),
               Equals("thing: nonce: truncated: needs 8 bytes, 2 left at offset 1"));
  }
  SECTION("fixed") {
    Reader r(b, "thing");
    crypto::Hash256 h;
    CHECK_FALSE(r.Fixed(&h, "root"));
    CHECK_THAT(r.status().message(),
               Equals("thing: root: truncated: needs 32 bytes, 3 left at offset 0"));
  }
  SECTION("bytes whose data is cut short") {
    Bytes v{5, 0, 0, 0, 'a', 'b'};
    Reader r(v, "thing");
    Bytes out;
    CHECK_FALSE(r.Var(&out, 100, "name"));
    CHECK_THAT(r.status().message(),
               Equals("thing: name: truncated: needs 5 bytes, 2 left at offset 4"));
    CHECK(out.empty());
  }
  SECTION("a transaction's nonce") {
    // chain id of 8 bytes: version(1) len(4) id(8) sender(32) puts the nonce at offset 45.
    Transaction tx = PayTx(Key(1), 3, Key(2), 5, "chain-08");
    Bytes enc = tx.Encode();
    Bytes cut(enc.begin(), enc.begin() + 50);
    auto d = Transaction::Decode(cut);
    REQUIRE_FALSE(d.ok());
    CHECK_THAT(d.error(), Equals("tx: nonce: truncated: needs 8 bytes, 5 left at offset 45"));
  }
}

TEST_CASE("the first error sticks and later reads fail", "[ledger][codec]") {
  Bytes b{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  Reader r(b, "s");
  uint64_t big;
  uint8_t small;
  CHECK(r.U8(&small, "a"));
  CHECK_FALSE(r.Fail("a", "is odd"));
  CHECK_FALSE(r.ok());
  // A read that would succeed on its own still fails, and does not move the offset.
  CHECK_FALSE(r.U8(&small, "b"));
  CHECK_FALSE(r.U64(&big, "c"));
  CHECK(r.offset() == 1);
  CHECK_FALSE(r.Fail("d", "another"));
  CHECK_THAT(r.status().message(), Equals("s: a: is odd at offset 1"));
  CHECK_THAT(r.Finish().message(), Equals("s: a: is odd at offset 1"));
}

TEST_CASE("Finish rejects trailing bytes", "[ledger][codec]") {
  Bytes b{1, 2, 3, 4};
  Reader r(b, "rec");
  uint8_t v;
  REQUIRE(r.U8(&v, "v"));
  Status s = r.Finish();
  CHECK_FALSE(s.ok());
  CHECK_THAT(s.message(), Equals("rec: end: 3 trailing bytes at offset 1"));
  Reader all(b, "rec");
  uint32_t w;
  REQUIRE(all.U32(&w, "w"));
  CHECK(all.Finish().ok());
  Reader empty(ByteView{}, "rec");
  CHECK(empty.Finish().ok());
}

TEST_CASE("length prefixes outside [min, max] are rejected at the prefix", "[ledger][codec]") {
  SECTION("over the maximum") {
    Bytes b{0, 5, 0, 0, 0, 'a', 'b', 'c', 'd', 'e'};
    Reader r(b, "rec");
    uint8_t skip;
    Bytes out;
    REQUIRE(r.U8(&skip, "skip"));
    CHECK_FALSE(r.Var(&out, 4, "key"));
    CHECK_THAT(r.status().message(), Equals("rec: key: length 5 exceeds 4 at offset 1"));
    CHECK(out.empty());
  }
  SECTION("below the minimum") {
    Bytes b{0, 0, 0, 0};
    Reader r(b, "rec");
    std::string out;
    CHECK_FALSE(r.Str(&out, 10, "name", 1));
    CHECK_THAT(r.status().message(), Equals("rec: name: length 0 is below 1 at offset 0"));
  }
  SECTION("exactly min and max are accepted") {
    Bytes b{1, 0, 0, 0, 'a', 4, 0, 0, 0, 'a', 'b', 'c', 'd'};
    Reader r(b, "rec");
    Bytes one, four;
    CHECK(r.Var(&one, 1, "one", 1));
    CHECK(r.Var(&four, 4, "four", 4));
    CHECK(r.Finish().ok());
  }
}

TEST_CASE("a huge length prefix is rejected without allocating", "[ledger][codec]") {
  const Bytes b{0xff, 0xff, 0xff, 0xff, 'a', 'b'};
  SECTION("field with a maximum") {
    ResetAllocStats();
    Reader r(b, "rec");
    Bytes out;
    CHECK_FALSE(r.Var(&out, 4096, "value"));
    AllocStats a = GetAllocStats();
    CHECK_THAT(r.status().message(),
               Equals("rec: value: length 4294967295 exceeds 4096 at offset 0"));
    CHECK(a.largest < 1024);
  }
  SECTION("field without a maximum") {
    ResetAllocStats();
    Reader r(b, "rec");
    Bytes out;
    CHECK_FALSE(r.Var(&out, std::numeric_limits<size_t>::max(), "blob"));
    AllocStats a = GetAllocStats();
    CHECK_THAT(r.status().message(), Contains("blob: truncated: needs 4294967295 bytes, 2 left"));
    CHECK(a.largest < 1024);
    CHECK(out.capacity() == 0);
  }
  SECTION("string") {
    ResetAllocStats();
    Reader r(b, "rec");
    std::string out;
    CHECK_FALSE(r.Str(&out, std::numeric_limits<size_t>::max(), "name"));
    CHECK(GetAllocStats().largest < 1024);
  }
}

TEST_CASE("the allocation probe sees allocations", "[ledger][codec]") {
  // Guards the no-allocation checks above from passing because nothing is counted.
  // A direct call to operator new: compilers may elide a new-expression's allocation (clang
  // does at -O3), never an explicit call.
  ResetAllocStats();
  const size_t live_before = GetAllocStats().live;
  void* v = ::operator new(100000);
  AllocStats a = GetAllocStats();
  ::operator delete(v);
  CHECK(a.largest >= 100000);
  CHECK(a.total >= 100000);
  // The live and peak counts that rpc_test's memory bounds read.
  CHECK(a.live >= live_before + 100000);
  CHECK(a.peak_live >= a.live);
  CHECK(GetAllocStats().live < a.live);
}

TEST_CASE("Account encodes as balance, nonce, role and round trips", "[ledger][codec]") {
  Account a{0x0102030405060708, 9, Role::kAdmin};
  Bytes b = a.Encode();
  CHECK(b == Bytes{8, 7, 6, 5, 4, 3, 2, 1, 9, 0, 0, 0, 0, 0, 0, 0, 2});
  for (const Account& x :
       {Account{}, Account{UINT64_MAX, UINT64_MAX, Role::kMember}, Account{1, 0, Role::kAdmin}}) {
    auto d = Account::Decode(x.Encode());
    REQUIRE(d.ok());
    CHECK(*d == x);
    CHECK(d->Encode() == x.Encode());
  }
}

TEST_CASE("roles: names, parsing and the valid bytes", "[ledger][codec]") {
  CHECK(RoleName(Role::kMember) == "member");
  CHECK(RoleName(Role::kAdmin) == "admin");
  CHECK(ParseRole("member") == Role::kMember);
  CHECK(ParseRole("admin") == Role::kAdmin);
  CHECK_FALSE(ParseRole("Admin").has_value());
  CHECK_FALSE(ParseRole("").has_value());
  CHECK_FALSE(ParseRole("root").has_value());
  for (int v = 0; v < 256; ++v) CHECK(IsValidRole(static_cast<uint8_t>(v)) == (v == 1 || v == 2));
}
