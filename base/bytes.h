// Byte strings: Bytes owns its storage, ByteView borrows it (the caller keeps it alive).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cairn {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

inline std::string AsString(ByteView b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace cairn
