// The canonical binary codec every hashed, signed, sent or stored Cairn value is written in
// (ledger types, consensus messages and records, the node's wire messages):
//   u8 | u16 | u32 | u64   fixed width, little endian
//   fixed[N]               N raw bytes (hashes, keys, signatures)
//   bytes                  len:u32 then len raw bytes; each field states its own maximum
// Every value has exactly one encoding: decoders reject truncation, trailing bytes, lengths
// over the field's maximum and out-of-range tags, naming the field and the offset.
// Writer and Reader are single-threaded value types.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/bytes.h"
#include "base/status.h"

namespace cairn::codec {

// A fixed-size byte value such as crypto::FixedBytes (Hash256, PublicKey, Signature):
// written as its N bytes, read back through T::FromBytes.
template <typename T>
concept FixedSize = requires(const T& v, ByteView b) {
  { T::kSize } -> std::convertible_to<size_t>;
  { v.view() } -> std::convertible_to<ByteView>;
  { *T::FromBytes(b) } -> std::convertible_to<T>;
};

class Writer {
 public:
  Writer& U8(uint8_t v);
  Writer& U16(uint16_t v);
  Writer& U32(uint32_t v);
  Writer& U64(uint64_t v);
  Writer& Raw(ByteView b);
  // u32 length, then the bytes. REQUIRES: b.size() fits the field's maximum (callers check),
  // which is far below 2^32.
  Writer& Var(ByteView b);
  Writer& Str(std::string_view s) { return Var(AsBytes(s)); }
  template <FixedSize T>
  Writer& Fixed(const T& v) {
    return Raw(v.view());
  }

  const Bytes& bytes() const { return out_; }
  size_t size() const { return out_.size(); }
  Bytes Take() { return std::move(out_); }
  void Reserve(size_t n) { out_.reserve(n); }

 private:
  Bytes out_;
};

// Reads fields in order; the first failure is kept and every later read fails too, so a
// decoder can read all fields and check status() once. A read that fails leaves its output
// untouched and returns false: never size an allocation from a field whose read failed.
// Errors read "<what>: <field>: <problem> at offset <n>" and have code kInvalidArgument.
class Reader {
 public:
  // `what` names the value being decoded ("tx", "raft message") in error messages.
  Reader(ByteView data, std::string_view what) : data_(data), what_(what) {}

  bool U8(uint8_t* v, std::string_view field);
  bool U16(uint16_t* v, std::string_view field);
  bool U32(uint32_t* v, std::string_view field);
  bool U64(uint64_t* v, std::string_view field);
  bool Raw(size_t n, ByteView* v, std::string_view field);
  // Length-prefixed bytes with min <= len <= max.
  bool Var(Bytes* v, size_t max, std::string_view field, size_t min = 0);
  bool VarView(ByteView* v, size_t max, std::string_view field, size_t min = 0);
  bool Str(std::string* v, size_t max, std::string_view field, size_t min = 0);
  template <FixedSize T>
  bool Fixed(T* v, std::string_view field) {
    ByteView b;
    if (!Raw(T::kSize, &b, field)) return false;
    *v = *T::FromBytes(b);
    return true;
  }
  // A u32 element count; fails if it exceeds max, or if that many elements of at least
  // min_elem_size bytes each cannot fit in what remains, so a forged count never drives a
  // large allocation.
  bool Count(uint32_t* n, std::string_view field, size_t min_elem_size, uint32_t max);

  // Records a semantic error ("role 7 is not a role") at the current offset.
  bool Fail(std::string_view field, std::string_view problem);
  // Records a semantic error at an earlier offset (where the bad field starts).
  bool FailAt(size_t offset, std::string_view field, std::string_view problem);
  bool ok() const { return status_.ok(); }
  size_t offset() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  const Status& status() const { return status_; }
  // Fails on trailing bytes; returns the first error if any.
  Status Finish();

 private:
  bool Need(size_t n, std::string_view field);

  ByteView data_;
  std::string what_;
  size_t pos_ = 0;
  Status status_;
};

}  // namespace cairn::codec
