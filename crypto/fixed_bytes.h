// FixedBytes<N, Tag>: a distinct value type over N bytes (hashes, keys, signatures).
// Explicit construction from bytes, hex in and out, ordering, no arithmetic.
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "crypto/hex.h"

namespace cairn::crypto {

template <size_t N, typename Tag>
class FixedBytes {
 public:
  static constexpr size_t kSize = N;

  FixedBytes() { bytes_.fill(0); }
  explicit FixedBytes(const std::array<uint8_t, N>& b) : bytes_(b) {}

  // nullopt unless exactly N bytes.
  static std::optional<FixedBytes> FromBytes(ByteView b) {
    if (b.size() != N) return std::nullopt;
    FixedBytes out;
    std::memcpy(out.bytes_.data(), b.data(), N);
    return out;
  }
  // nullopt unless exactly 2N hex digits.
  static std::optional<FixedBytes> FromHex(std::string_view hex) {
    if (hex.size() != 2 * N) return std::nullopt;
    auto b = crypto::FromHex(hex);
    if (!b) return std::nullopt;
    return FromBytes(*b);
  }

  std::string ToHex() const { return crypto::ToHex(bytes_); }
  ByteView view() const { return ByteView(bytes_.data(), N); }
  const uint8_t* data() const { return bytes_.data(); }
  uint8_t* data() { return bytes_.data(); }
  const std::array<uint8_t, N>& array() const { return bytes_; }
  bool IsZero() const {
    return std::all_of(bytes_.begin(), bytes_.end(), [](uint8_t b) { return b == 0; });
  }

  friend bool operator==(const FixedBytes&, const FixedBytes&) = default;
  friend auto operator<=>(const FixedBytes&, const FixedBytes&) = default;

 private:
  std::array<uint8_t, N> bytes_;
};

// The first `digits` hex digits of v: enough to tell values apart in a log line or an error
// message. 12 unless a message's established format says otherwise (the audit and the chain
// store print 16, p2p peer ids 8).
template <size_t N, typename Tag>
std::string ShortHex(const FixedBytes<N, Tag>& v, size_t digits = 12) {
  return v.ToHex().substr(0, digits);
}

}  // namespace cairn::crypto
