#include "cli/format.h"

#include <cstdio>

#include "crypto/hex.h"

namespace cairn::cli {
namespace {

// Decodes one UTF-8 code point at b[*i] (advancing *i); nullopt on any invalid sequence:
// truncation, a bad continuation byte, an overlong form, a surrogate, or > U+10FFFF.
std::optional<uint32_t> NextCodePoint(ByteView b, size_t* i) {
  const uint8_t c = b[*i];
  size_t len;
  uint32_t cp;
  if (c < 0x80) {
    ++*i;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return std::nullopt;
  }
  if (*i + len > b.size()) return std::nullopt;
  for (size_t k = 1; k < len; ++k) {
    const uint8_t cc = b[*i + k];
    if ((cc & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (cc & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  *i += len;
  return cp;
}

bool IsUnsafeCodePoint(uint32_t cp) {
  if (cp == '\t' || cp == '\n') return false;
  if (cp < 0x20 || cp == 0x7F) return true;       // C0 controls, DEL (ESC starts escapes)
  if (cp >= 0x80 && cp <= 0x9F) return true;      // C1 controls (CSI is 0x9B)
  if (cp >= 0x202A && cp <= 0x202E) return true;  // bidi embeddings and overrides
  if (cp >= 0x2066 && cp <= 0x2069) return true;  // bidi isolates
  if (cp == 0x200E || cp == 0x200F || cp == 0x061C) return true;  // bidi marks
  return false;
}

// A hex field of a tx JSON rendered as ShortBytes.
std::string HexField(const Json& tx, const char* key) {
  auto b = crypto::FromHex(JsonText(tx, key));
  return b ? ShortBytes(*b) : "?";
}

// "WHAT: MESSAGE", or MESSAGE alone when `what` is empty (CLI11 adds the option name itself).
Status Invalid(std::string_view what, std::string_view value, const std::string& why) {
  std::string msg = "\"" + OneLine(value) + "\" " + why;
  return Status::Error(what.empty() ? msg : std::string(what) + ": " + msg);
}

}  // namespace

Result<uint64_t> ParseU64(std::string_view s, std::string_view what) {
  auto bad = [&](const std::string& why) { return Invalid(what, s, why); };
  if (s.empty()) return bad("is not a number");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return bad("is not a non-negative decimal integer");
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return bad("is larger than 18446744073709551615");
    v = v * 10 + d;
  }
  return v;
}

Result<ledger::Address> ParseAddress(std::string_view s, std::string_view what) {
  auto a = ledger::Address::FromHex(s);
  if (!a) {
    return Invalid(what, s, "is not an address (64 hex digits, the account's public key)");
  }
  return *a;
}

Result<crypto::Hash256> ParseHash(std::string_view s, std::string_view what) {
  auto h = crypto::Hash256::FromHex(s);
  if (!h) return Invalid(what, s, "is not a hash (64 hex digits)");
  return *h;
}

Result<Bytes> ParseHexBytes(std::string_view s, std::string_view what) {
  auto b = crypto::FromHex(s);
  if (!b) return Invalid(what, s, "is not hex (an even number of hex digits)");
  return std::move(*b);
}

Result<BlockSelector> ParseBlockSelector(std::string_view s) {
  BlockSelector sel;
  if (s.empty() || s == "latest") return sel;
  if (s.size() == 2 * crypto::Hash256::kSize) {
    auto h = ParseHash(s, "block");
    if (!h.ok()) return h.status();
    sel.kind = BlockSelector::Kind::kHash;
    sel.hash = *h;
    return sel;
  }
  auto height = ParseU64(s, "block");
  if (!height.ok()) {
    return Invalid("block", s, "is not a height, a block hash (64 hex digits) or \"latest\"");
  }
  sel.kind = BlockSelector::Kind::kHeight;
  sel.height = *height;
  return sel;
}

Json BlockParams(const BlockSelector& sel) {
  switch (sel.kind) {
    case BlockSelector::Kind::kLatest:
      return Json{{"height", "latest"}, {"full", true}};
    case BlockSelector::Kind::kHeight:
      return Json{{"height", sel.height}, {"full", true}};
    case BlockSelector::Kind::kHash:
      return Json{{"hash", sel.hash.ToHex()}, {"full", true}};
  }
  return Json{};
}

bool IsPrintableText(ByteView b) {
  size_t i = 0;
  while (i < b.size()) {
    auto cp = NextCodePoint(b, &i);
    if (!cp || IsUnsafeCodePoint(*cp)) return false;
  }
  return true;
}

std::string TextOrHex(ByteView b, bool* is_text) {
  const bool text = IsPrintableText(b);
  if (is_text) *is_text = text;
  return text ? AsString(b) : crypto::ToHex(b);
}

std::string ShortBytes(ByteView b, size_t max) {
  if (IsPrintableText(b)) {
    std::string s = AsString(b);
    if (s.find('\n') == std::string::npos && s.find('\t') == std::string::npos &&
        TextWidth(s) <= max) {
      return "\"" + s + "\"";
    }
  }
  std::string hex = crypto::ToHex(b);
  std::string out = "0x" + ShortHex(hex, max > 8 ? max - 8 : 4);
  if (hex.size() > (max > 8 ? max - 8 : 4)) out += " (" + std::to_string(b.size()) + " B)";
  return out;
}

std::string ShortHex(std::string_view hex, size_t n) {
  if (hex.size() <= n) return std::string(hex);
  return std::string(hex.substr(0, n)) + "..";
}

std::string OneLine(std::string_view s) {
  const ByteView b = AsBytes(s);
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  char buf[16];
  while (i < b.size()) {
    const size_t start = i;
    auto cp = NextCodePoint(b, &i);
    if (!cp) {
      std::snprintf(buf, sizeof buf, "\\x%02x", b[start]);
      out += buf;
      i = start + 1;
    } else if (*cp == '\n') {
      out += "\\n";
    } else if (*cp == '\t') {
      out += "\\t";
    } else if (IsUnsafeCodePoint(*cp)) {
      std::snprintf(buf, sizeof buf, "\\u{%04x}", static_cast<unsigned>(*cp));
      out += buf;
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  return out;
}

std::string FormatDuration(uint64_t ms) {
  if (ms < 1000) return std::to_string(ms) + " ms";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%02llu s", static_cast<unsigned long long>(ms / 1000),
                static_cast<unsigned long long>(ms % 1000 / 10));
  return buf;
}

std::string FormatBytes(uint64_t n) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (n < 1024) return std::to_string(n) + " B";
  // Integer tenths, so the output does not depend on floating-point formatting or locale.
  size_t unit = 0;
  uint64_t scaled = n;
  while (scaled >= 1024 * 1024 && unit + 2 < std::size(kUnits)) {
    scaled /= 1024;
    ++unit;
  }
  const uint64_t tenths = scaled * 10 / 1024;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " " + kUnits[unit + 1];
}

std::string DescribeRpcError(const rpc::RpcError& e) {
  std::string reason, detail;
  if (e.data && e.data->is_object()) {
    reason = JsonText(*e.data, "reason");
    detail = JsonText(*e.data, "detail");
  }
  std::string out;
  if (e.code >= 1000 && e.code < 1100) {
    out = "rejected: " + (reason.empty() ? e.message : reason);
    if (!detail.empty()) out += ": " + detail;
  } else if (e.code == 1100) {
    out = "not found";
    if (!detail.empty()) out += ": " + detail;
  } else if (e.code == rpc::kInvalidParams) {
    out = "invalid params";
    if (!reason.empty()) out += ": " + reason;
  } else {
    out = "rpc error " + std::to_string(e.code) + ": " + e.message;
    if (!reason.empty()) out += ": " + reason;
    if (!detail.empty()) out += ": " + detail;
  }
  return OneLine(out);
}

std::string JsonText(const Json& j, std::string_view key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number() || it->is_boolean()) return it->dump();
  return "";
}

std::optional<uint64_t> JsonU64(const Json& j, std::string_view key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  // Built in code (not parsed), a non-negative number is stored as a signed integer.
  if (it->is_number_integer() && it->get<int64_t>() >= 0) {
    return static_cast<uint64_t>(it->get<int64_t>());
  }
  return std::nullopt;
}

std::string SummarizeTx(const Json& tx) {
  const std::string type = JsonText(tx, "type");
  if (type == "transfer") {
    return "to " + ShortHex(JsonText(tx, "to")) + " amount " + JsonText(tx, "amount");
  }
  if (type == "put") return "key " + HexField(tx, "key") + " value " + HexField(tx, "value");
  if (type == "register") {
    return "register " + ShortHex(JsonText(tx, "public_key")) + " " + JsonText(tx, "role");
  }
  if (type == "set_role") {
    return "account " + ShortHex(JsonText(tx, "account")) + " role " + JsonText(tx, "role");
  }
  return type;
}

size_t TextWidth(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

Table::Table(std::vector<std::string> headers, std::vector<size_t> right_aligned)
    : headers_(std::move(headers)), right_(headers_.size(), false) {
  for (size_t i : right_aligned) {
    if (i < right_.size()) right_[i] = true;
  }
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (std::string& c : cells) c = OneLine(c);
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> width(headers_.size(), 0);
  for (size_t c = 0; c < headers_.size(); ++c) width[c] = TextWidth(headers_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], TextWidth(row[c]));
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - TextWidth(row[c]), ' ');
      const bool last = c + 1 == row.size();
      if (right_[c]) {
        line += pad + row[c];
      } else {
        line += row[c];
        if (!last) line += pad;
      }
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  emit(headers_);
  for (const auto& row : rows_) emit(row);
  return out;
}

std::string RenderFields(const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (const auto& [label, value] : fields) width = std::max(width, TextWidth(label));
  std::string out;
  for (const auto& [label, value] : fields) {
    out += label + std::string(width - TextWidth(label) + 2, ' ') + OneLine(value) + "\n";
  }
  return out;
}

}  // namespace cairn::cli
