// The canonical binary codec every hashed or signed Cairn value is written in.
//   u8 | u16 | u32 | u64   fixed width, little endian
//   fixed[N]               N raw bytes (hashes, keys, signatures)
//   bytes                  len:u32 then len raw bytes; each field states its own maximum
// Every value has exactly one encoding: decoders reject truncation, trailing bytes, lengths
// over the field's maximum and out-of-range tags, naming the field and the offset.
// Writer and Reader are single-threaded value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/fixed_bytes.h"

namespace cairn::ledger {

class Writer {
 public:
  Writer& U8(uint8_t v);
  Writer& U16(uint16_t v);
  Writer& U32(uint32_t v);
  Writer& U64(uint64_t v);
  Writer& Raw(ByteView b);
  Writer& Var(ByteView b);  // REQUIRES: b.size() fits the field's maximum (callers check)
  Writer& Str(std::string_view s) { return Var(AsBytes(s)); }
  template <size_t N, typename Tag>
  Writer& Fixed(const crypto::FixedBytes<N, Tag>& v) {
    return Raw(v.view());
  }

  const Bytes& bytes() const { return out_; }
  Bytes Take() { return std::move(out_); }
  void Reserve(size_t n) { out_.reserve(n); }

 private:
  Bytes out_;
};

// Reads fields in order; the first failure is kept and every later read fails too, so a
// decoder can read all fields and check status() once.
class Reader {
 public:
  // `what` names the value being decoded ("tx", "block header") in error messages.
  Reader(ByteView data, std::string_view what) : data_(data), what_(what) {}

  bool U8(uint8_t* v, const char* field);
  bool U16(uint16_t* v, const char* field);
  bool U32(uint32_t* v, const char* field);
  bool U64(uint64_t* v, const char* field);
  bool Raw(size_t n, ByteView* v, const char* field);
  // Length-prefixed bytes with 0 <= len <= max (and len >= min).
  bool Var(Bytes* v, size_t max, const char* field, size_t min = 0);
  bool VarView(ByteView* v, size_t max, const char* field, size_t min = 0);
  bool Str(std::string* v, size_t max, const char* field, size_t min = 0);
  template <size_t N, typename Tag>
  bool Fixed(crypto::FixedBytes<N, Tag>* v, const char* field) {
    ByteView b;
    if (!Raw(N, &b, field)) return false;
    *v = *crypto::FixedBytes<N, Tag>::FromBytes(b);
    return true;
  }

  // Records a semantic error ("role 7 is not a role") at the current offset.
  bool Fail(const char* field, const std::string& problem);
  bool ok() const { return status_.ok(); }
  size_t offset() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  const Status& status() const { return status_; }
  // Fails on trailing bytes; returns the first error if any.
  Status Finish();

 private:
  bool Need(size_t n, const char* field);

  ByteView data_;
  std::string what_;
  size_t pos_ = 0;
  Status status_;
};

}  // namespace cairn::ledger
