// Lowercase hex encoding and strict decoding of byte strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"

namespace cairn::crypto {

std::string ToHex(ByteView bytes);
// Accepts upper or lower case; nullopt on odd length or a non-hex character.
std::optional<Bytes> FromHex(std::string_view hex);

}  // namespace cairn::crypto
