#include "consensus/codec.h"

#include <cassert>
#include <cstring>
#include <limits>

namespace cairn::consensus {

void Writer::U32(uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void Writer::U64(uint64_t v) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void Writer::LengthPrefixed(ByteView b) {
  assert(b.size() <= std::numeric_limits<uint32_t>::max());
  U32(static_cast<uint32_t>(b.size()));
  Raw(b);
}

bool Reader::Need(std::string_view field, size_t n) {
  if (!ok()) return false;
  if (remaining() < n) {
    Fail(field, "truncated (need " + std::to_string(n) + " bytes, have " +
                    std::to_string(remaining()) + ")");
    return false;
  }
  return true;
}

uint8_t Reader::U8(std::string_view field) {
  if (!Need(field, 1)) return 0;
  return in_[pos_++];
}

uint32_t Reader::U32(std::string_view field) {
  if (!Need(field, 4)) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(in_[pos_ + i]) << (8 * i);
  pos_ += 4;
  return v;
}

uint64_t Reader::U64(std::string_view field) {
  if (!Need(field, 8)) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(in_[pos_ + i]) << (8 * i);
  pos_ += 8;
  return v;
}

crypto::Hash256 Reader::Hash(std::string_view field) {
  crypto::Hash256 h;
  if (!Need(field, crypto::Hash256::kSize)) return h;
  std::memcpy(h.data(), in_.data() + pos_, crypto::Hash256::kSize);
  pos_ += crypto::Hash256::kSize;
  return h;
}

Bytes Reader::LengthPrefixed(std::string_view field, size_t max_len) {
  size_t start = pos_;
  uint32_t len = U32(field);
  if (!ok()) return {};
  if (len > max_len) {
    FailAt(start, field,
           "length " + std::to_string(len) + " exceeds the limit " + std::to_string(max_len));
    return {};
  }
  if (!Need(field, len)) return {};
  Bytes out(in_.begin() + pos_, in_.begin() + pos_ + len);
  pos_ += len;
  return out;
}

uint32_t Reader::Count(std::string_view field, size_t min_elem_size, uint32_t max) {
  size_t start = pos_;
  uint32_t n = U32(field);
  if (!ok()) return 0;
  if (n > max) {
    FailAt(start, field, "is " + std::to_string(n) + ", above the limit " + std::to_string(max));
    return 0;
  }
  if (min_elem_size > 0 && n > remaining() / min_elem_size) {
    FailAt(start, field,
           "is " + std::to_string(n) + ", more than fit in " + std::to_string(remaining()) +
               " remaining bytes");
    return 0;
  }
  return n;
}

void Reader::Fail(std::string_view field, std::string_view problem) {
  FailAt(pos_, field, problem);
}

void Reader::FailAt(size_t offset, std::string_view field, std::string_view problem) {
  if (!ok()) return;
  error_ = std::string(what_) + ": " + std::string(field) + " " + std::string(problem) +
           " at offset " + std::to_string(offset);
}

Status Reader::Finish() const {
  if (!ok()) return Status::Error(error_);
  if (remaining() != 0) {
    return Status::Error(std::string(what_) + ": " + std::to_string(remaining()) +
                         " trailing bytes at offset " + std::to_string(pos_));
  }
  return Status::Ok();
}

}  // namespace cairn::consensus
