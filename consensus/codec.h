// Canonical binary encoding primitives for consensus messages and persisted records:
// little-endian fixed-width integers and u32 length prefixes. Value types, not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"

namespace cairn::consensus {

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(v); }
  void U32(uint32_t v);
  void U64(uint64_t v);
  void Hash(const crypto::Hash256& h) { Raw(h.view()); }
  void Raw(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // u32 length, then the bytes. REQUIRES: b.size() fits in u32.
  void LengthPrefixed(ByteView b);

  void Reserve(size_t n) { out_.reserve(n); }
  size_t size() const { return out_.size(); }
  Bytes Take() && { return std::move(out_); }

 private:
  Bytes out_;
};

// Reads fields in order with a sticky error: after the first failure every read returns
// a zero value and Finish() reports that first failure, naming the field and its offset.
// Callers must not size allocations from values read after a failure (check ok()).
class Reader {
 public:
  // `what` names the encoded object in error messages ("raft message").
  Reader(ByteView in, std::string what) : in_(in), what_(std::move(what)) {}

  uint8_t U8(std::string_view field);
  uint32_t U32(std::string_view field);
  uint64_t U64(std::string_view field);
  crypto::Hash256 Hash(std::string_view field);
  // A u32 length then that many bytes; fails if the length exceeds max_len or the input.
  Bytes LengthPrefixed(std::string_view field, size_t max_len);
  // A u32 element count; fails if count > max or if count elements of at least
  // min_elem_size bytes each cannot fit in what remains (so a forged count never
  // drives a large allocation).
  uint32_t Count(std::string_view field, size_t min_elem_size, uint32_t max);

  // Records a semantic error ("unknown type 9") at the current offset.
  void Fail(std::string_view field, std::string_view problem);
  // Records a semantic error at an earlier offset (the start of the bad field).
  void FailAt(size_t offset, std::string_view field, std::string_view problem);

  bool ok() const { return error_.empty(); }
  size_t offset() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  // The first error, or an error for trailing bytes, or ok.
  Status Finish() const;

 private:
  bool Need(std::string_view field, size_t n);

  ByteView in_;
  std::string what_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace cairn::consensus
