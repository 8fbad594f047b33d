// Pure text helpers of the cairn CLI: strict parsing of numbers, hashes and block selectors,
// safe rendering of untrusted bytes, tables, and one-line reasons for JSON-RPC failures.
// Stateless functions over values; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"
#include "ledger/account.h"
#include "rpc/dispatcher.h"

namespace cairn::cli {

using rpc::Json;

// Unsigned decimal that fits in 64 bits: digits only (no sign, space, "0x" or exponent).
// `what` names the value in the error ("--amount").
Result<uint64_t> ParseU64(std::string_view s, std::string_view what);
// Exactly 64 hex digits (an account address is its public key in hex).
Result<ledger::Address> ParseAddress(std::string_view s, std::string_view what);
Result<crypto::Hash256> ParseHash(std::string_view s, std::string_view what);
// Hex bytes (even length, any case; empty is allowed).
Result<Bytes> ParseHexBytes(std::string_view s, std::string_view what);

// Which block `cairn block` shows: "latest" (also when empty), a height, or a block hash.
struct BlockSelector {
  enum class Kind { kLatest, kHeight, kHash };
  Kind kind = Kind::kLatest;
  uint64_t height = 0;
  crypto::Hash256 hash;
};
Result<BlockSelector> ParseBlockSelector(std::string_view s);
// getBlock params for `sel`, with full transactions and receipts.
Json BlockParams(const BlockSelector& sel);

// True when `b` is valid UTF-8 that is safe to print on a terminal: no control characters
// other than tab and newline (no escape sequences), no C1 controls, and no bidirectional
// overrides (which can make text read differently from what it is).
bool IsPrintableText(ByteView b);
// The bytes as text when printable, else as hex; `*is_text` says which.
std::string TextOrHex(ByteView b, bool* is_text = nullptr);
// For table cells: "\"doc-1\"" when printable, single-line and at most `max` characters,
// else "0x" and a hex prefix with the size ("0x3f2a1b.. (32 B)").
std::string ShortBytes(ByteView b, size_t max = 24);
// The first `n` characters of a hex string, with ".." when it was longer.
std::string ShortHex(std::string_view hex, size_t n = 12);
// Text from an untrusted source made safe for one terminal line: tab and newline become "\t"
// and "\n", other unsafe code points (see IsPrintableText) "\u{XXXX}", bytes that are not
// UTF-8 "\xNN". Everything else is kept. Tables and error messages pass through it.
std::string OneLine(std::string_view s);

// 1234 ms -> "1.23 s"; under a second -> "456 ms".
std::string FormatDuration(uint64_t ms);
// 1536 -> "1.5 KiB".
std::string FormatBytes(uint64_t n);

// A one-line reason for a JSON-RPC error answer:
//   a refused transaction (1000 + code) -> "rejected: nonce_too_low: nonce 3 is used; next is 5"
//   not found (1100)                    -> "not found: account ab.. is not registered"
//   invalid params (-32602)             -> "invalid params: \"hash\" must be 64 hex digits"
//   anything else                       -> "rpc error -32601: Method not found"
std::string DescribeRpcError(const rpc::RpcError& e);

// j[key] as text: a string as is, a number or boolean in JSON notation, "" when absent, null
// or structured. Never throws, whatever the node answered.
std::string JsonText(const Json& j, std::string_view key);
// j[key] when it is an unsigned integer.
std::optional<uint64_t> JsonU64(const Json& j, std::string_view key);

// One transaction as getTransaction/getBlock render it (api/json.cpp TxToJson), summarised
// for a table cell: "to 3f2a1b.. amount 100", "key \"doc\" value \"v\"", "register ab.. member".
std::string SummarizeTx(const Json& tx);

// A text table: a header row, then rows; columns padded to their widest cell, two spaces
// apart. Columns listed in `right_aligned` (by index) are right-aligned (numbers).
class Table {
 public:
  explicit Table(std::vector<std::string> headers, std::vector<size_t> right_aligned = {});
  void AddRow(std::vector<std::string> cells);  // REQUIRES: cells.size() == headers' size
  size_t rows() const { return rows_.size(); }
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// "label   value" lines with the values aligned.
std::string RenderFields(const std::vector<std::pair<std::string, std::string>>& fields);

// Display width of UTF-8 text (code points; wide characters count as one).
size_t TextWidth(std::string_view s);

}  // namespace cairn::cli
