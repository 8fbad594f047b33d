// The cairn CLI's pure helpers: what a user types is parsed strictly, what a node sends is
// printed safely, and errors read as one line.
#include <catch2/catch.hpp>

#include "api/methods.h"
#include "cli/format.h"

using namespace cairn;
using namespace cairn::cli;

TEST_CASE("ParseU64 accepts plain decimal only", "[cli]") {
  CHECK(*ParseU64("0", "--amount") == 0);
  CHECK(*ParseU64("18446744073709551615", "--amount") == UINT64_MAX);
  CHECK(*ParseU64("010", "--amount") == 10);  // decimal, never octal
  for (const char* bad : {"", "-1", "+1", "0x10", " 1", "1 ", "1e3", "1.0", "abc",
                          "18446744073709551616", "99999999999999999999"}) {
    INFO(bad);
    auto r = ParseU64(bad, "--amount");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::StartsWith("--amount: \""));
  }
  CHECK(ParseU64("x", "").error() == "\"x\" is not a non-negative decimal integer");
}

TEST_CASE("addresses, hashes and hex are parsed strictly", "[cli]") {
  const std::string addr(64, 'a');
  REQUIRE(ParseAddress(addr, "--to").ok());
  CHECK(ParseAddress(addr, "--to")->ToHex() == addr);
  CHECK(ParseAddress(std::string(64, 'A'), "--to").ok());
  CHECK_FALSE(ParseAddress(std::string(63, 'a'), "--to").ok());
  CHECK_FALSE(ParseAddress(std::string(66, 'a'), "--to").ok());
  CHECK_FALSE(ParseAddress("0x" + std::string(62, 'a'), "--to").ok());
  CHECK_FALSE(ParseHash(std::string(63, '0') + "g", "hash").ok());
  CHECK(ParseHexBytes("", "--value-hex")->empty());
  CHECK(*ParseHexBytes("00fF", "--value-hex") == Bytes{0x00, 0xff});
  CHECK_FALSE(ParseHexBytes("abc", "--value-hex").ok());
}

TEST_CASE("block selectors: latest, a height or a hash", "[cli]") {
  CHECK(ParseBlockSelector("")->kind == BlockSelector::Kind::kLatest);
  CHECK(ParseBlockSelector("latest")->kind == BlockSelector::Kind::kLatest);
  auto h = ParseBlockSelector("12");
  REQUIRE(h.ok());
  CHECK(h->kind == BlockSelector::Kind::kHeight);
  CHECK(h->height == 12);
  const std::string hex(64, 'b');
  auto byhash = ParseBlockSelector(hex);
  REQUIRE(byhash.ok());
  CHECK(byhash->kind == BlockSelector::Kind::kHash);
  CHECK(byhash->hash.ToHex() == hex);
  CHECK_FALSE(ParseBlockSelector("-1").ok());
  CHECK_FALSE(ParseBlockSelector("head").ok());

  CHECK(BlockParams(*ParseBlockSelector("latest")) == Json{{"height", "latest"}, {"full", true}});
  CHECK(BlockParams(*h) == Json{{"height", 12}, {"full", true}});
  CHECK(BlockParams(*byhash) == Json{{"hash", hex}, {"full", true}});
}

TEST_CASE("only text that is safe on a terminal is shown as text", "[cli]") {
  auto printable = [](std::string_view s) { return IsPrintableText(AsBytes(s)); };
  CHECK(printable(""));
  CHECK(printable("hello world"));
  CHECK(printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é € and an emoji
  CHECK(printable("line one\nline two\tcolumn"));
  CHECK_FALSE(printable("\x1b[31mred"));           // ESC: terminal escape sequences
  CHECK_FALSE(printable("a\rb"));                  // carriage return overwrites the line
  CHECK_FALSE(printable(std::string("a\0b", 3)));  // NUL
  CHECK_FALSE(printable("\x7f"));                  // DEL
  CHECK_FALSE(printable("\xc2\x9b"));              // C1 CSI
  CHECK_FALSE(printable("\xe2\x80\xae"));          // right-to-left override
  CHECK_FALSE(printable("\xe2\x81\xa6"));          // left-to-right isolate
  CHECK_FALSE(printable("\xff"));                  // not UTF-8
  CHECK_FALSE(printable("\xc0\xaf"));              // overlong "/"
  CHECK_FALSE(printable("\xed\xa0\x80"));          // UTF-16 surrogate
  CHECK_FALSE(printable("\xf4\x90\x80\x80"));      // above U+10FFFF
  CHECK_FALSE(printable("\xe2\x82"));              // truncated

  bool text = false;
  CHECK(TextOrHex(AsBytes("doc-1"), &text) == "doc-1");
  CHECK(text);
  CHECK(TextOrHex(Bytes{0x00, 0xff}, &text) == "00ff");
  CHECK_FALSE(text);
}

TEST_CASE("table cells shorten bytes and hex", "[cli]") {
  CHECK(ShortBytes(AsBytes("doc")) == "\"doc\"");
  CHECK(ShortBytes(Bytes{0xff, 0x00}) == "0xff00");
  CHECK(ShortBytes(Bytes(32, 0xab)) == "0xabababababababab.. (32 B)");
  CHECK(ShortBytes(AsBytes("two\nlines")) == "0x74776f0a6c696e65.. (9 B)");
  CHECK(ShortHex("0123456789abcdef", 4) == "0123..");
  CHECK(ShortHex("0123", 4) == "0123");
}

TEST_CASE("OneLine keeps a message on one safe line", "[cli]") {
  CHECK(OneLine("plain") == "plain");
  CHECK(OneLine("a\nb\tc") == "a\\nb\\tc");
  CHECK(OneLine("\x1b[2J") == "\\u{001b}[2J");
  CHECK(OneLine("x\xffy") == "x\\xffy");
  CHECK(OneLine("\xe2\x80\xae"
                "abc") == "\\u{202e}abc");
  CHECK(OneLine("caf\xc3\xa9") == "caf\xc3\xa9");
}

TEST_CASE("durations and sizes are formatted without locale or floating point", "[cli]") {
  CHECK(FormatDuration(0) == "0 ms");
  CHECK(FormatDuration(999) == "999 ms");
  CHECK(FormatDuration(1234) == "1.23 s");
  CHECK(FormatDuration(61005) == "61.00 s");
  CHECK(FormatBytes(0) == "0 B");
  CHECK(FormatBytes(1023) == "1023 B");
  CHECK(FormatBytes(1536) == "1.5 KiB");
  CHECK(FormatBytes(5u << 20) == "5.0 MiB");
  CHECK(FormatBytes(3ull << 30) == "3.0 GiB");
}

TEST_CASE("JSON-RPC errors become one-line reasons", "[cli]") {
  rpc::RpcError nonce{1036, "nonce too low",
                      Json{{"reason", "nonce_too_low"}, {"detail", "nonce 3 is used; next is 5"}}};
  CHECK(DescribeRpcError(nonce) == "rejected: nonce_too_low: nonce 3 is used; next is 5");
  rpc::RpcError no_detail{1034, "bad signature", Json{{"reason", "bad_signature"}}};
  CHECK(DescribeRpcError(no_detail) == "rejected: bad_signature");
  rpc::RpcError missing{1100, "not found",
                        Json{{"reason", "not_found"}, {"detail", "account ab is not registered"}}};
  CHECK(DescribeRpcError(missing) == "not found: account ab is not registered");
  rpc::RpcError params{rpc::kInvalidParams, "Invalid params",
                       Json{{"reason", "\"hash\" must be 64 hex digits"}}};
  CHECK(DescribeRpcError(params) == "invalid params: \"hash\" must be 64 hex digits");
  CHECK(DescribeRpcError(rpc::RpcError{rpc::kMethodNotFound, "Method not found", std::nullopt}) ==
        "rpc error -32601: Method not found");
  // A hostile node cannot break the line or colour the terminal.
  rpc::RpcError hostile{1036, "x", Json{{"reason", "a\nb"}, {"detail", "\x1b[31m"}}};
  CHECK(DescribeRpcError(hostile) == "rejected: a\\nb: \\u{001b}[31m");
  // Data of the wrong shape is ignored, never thrown on.
  CHECK(DescribeRpcError(rpc::RpcError{1036, "nonce too low", Json{{"reason", 7}}}) ==
        "rejected: 7");
  CHECK(DescribeRpcError(rpc::RpcError{1036, "nonce too low", Json::array()}) ==
        "rejected: nonce too low");
}

TEST_CASE("JsonText and JsonU64 read whatever a node answered without throwing", "[cli]") {
  Json j = {{"s", "text"}, {"n", 42},         {"neg", -1},
            {"b", true},   {"o", {{"x", 1}}}, {"nil", nullptr}};
  CHECK(JsonText(j, "s") == "text");
  CHECK(JsonText(j, "n") == "42");
  CHECK(JsonText(j, "b") == "true");
  CHECK(JsonText(j, "o") == "");
  CHECK(JsonText(j, "nil") == "");
  CHECK(JsonText(j, "absent") == "");
  CHECK(JsonText(Json::array(), "s") == "");
  CHECK(JsonU64(j, "n") == 42u);
  CHECK_FALSE(JsonU64(j, "neg").has_value());
  CHECK_FALSE(JsonU64(j, "s").has_value());
  CHECK_FALSE(JsonU64(Json("str"), "n").has_value());
}

TEST_CASE("transactions are summarised for the block view", "[cli]") {
  auto key = [](uint8_t n) {
    std::array<uint8_t, 32> s{};
    s[0] = n;
    return crypto::KeyPair::FromSeed(crypto::PrivateKey(s));
  };
  auto json = [&](ledger::Payload p) {
    ledger::Transaction tx;
    tx.chain_id = "c";
    tx.payload = std::move(p);
    tx.Sign(key(1));
    return api::TxToJson(tx, tx.Hash());
  };
  const ledger::Address to = key(2).public_key();
  const std::string to12 = to.ToHex().substr(0, 12) + "..";
  CHECK(SummarizeTx(json(ledger::Transfer{to, 100})) == "to " + to12 + " amount 100");
  CHECK(SummarizeTx(json(ledger::Put{Bytes{'d', 'o', 'c'}, Bytes{0x01}})) ==
        "key \"doc\" value 0x01");
  CHECK(SummarizeTx(json(ledger::RegisterAccount{to, ledger::Role::kAdmin})) ==
        "register " + to12 + " admin");
  CHECK(SummarizeTx(json(ledger::SetRole{to, ledger::Role::kMember})) ==
        "account " + to12 + " role member");
  CHECK(SummarizeTx(Json{{"type", 5}}) == "5");
}

TEST_CASE("tables align columns by display width", "[cli]") {
  Table t({"#", "NAME", "VALUE"}, {0});
  t.AddRow({"1", "caf\xc3\xa9", "x"});
  t.AddRow({"10", "a\nb", ""});
  CHECK(t.rows() == 2);
  CHECK(t.Render() ==
        " #  NAME  VALUE\n"
        " 1  café  x\n"
        "10  a\\nb\n");
  CHECK(RenderFields({{"height", "12"}, {"head hash", "ab"}}) ==
        "height     12\n"
        "head hash  ab\n");
  CHECK(TextWidth("caf\xc3\xa9") == 4);
}
