#include "base/codec.h"

namespace cairn::codec {
namespace {

template <typename T>
void PutLittleEndian(Bytes& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

template <typename T>
T GetLittleEndian(const uint8_t* p) {
  T x = 0;
  for (size_t i = sizeof(T); i-- > 0;) x = static_cast<T>(x << 8 | p[i]);
  return x;
}

}  // namespace

Writer& Writer::U8(uint8_t v) {
  out_.push_back(v);
  return *this;
}
Writer& Writer::U16(uint16_t v) {
  PutLittleEndian(out_, v);
  return *this;
}
Writer& Writer::U32(uint32_t v) {
  PutLittleEndian(out_, v);
  return *this;
}
Writer& Writer::U64(uint64_t v) {
  PutLittleEndian(out_, v);
  return *this;
}
Writer& Writer::Raw(ByteView b) {
  out_.insert(out_.end(), b.begin(), b.end());
  return *this;
}
Writer& Writer::Var(ByteView b) {
  U32(static_cast<uint32_t>(b.size()));
  return Raw(b);
}

bool Reader::FailAt(size_t offset, std::string_view field, std::string_view problem) {
  if (status_.ok()) {
    status_ =
        Status::InvalidArgument(what_ + ": " + std::string(field) + ": " + std::string(problem) +
                                " at offset " + std::to_string(offset));
  }
  return false;
}

bool Reader::Fail(std::string_view field, std::string_view problem) {
  return FailAt(pos_, field, problem);
}

bool Reader::Need(size_t n, std::string_view field) {
  if (!status_.ok()) return false;
  if (remaining() < n) {
    return Fail(field, "truncated: needs " + std::to_string(n) + " bytes, " +
                           std::to_string(remaining()) + " left");
  }
  return true;
}

bool Reader::U8(uint8_t* v, std::string_view field) {
  if (!Need(1, field)) return false;
  *v = data_[pos_++];
  return true;
}
bool Reader::U16(uint16_t* v, std::string_view field) {
  if (!Need(2, field)) return false;
  *v = GetLittleEndian<uint16_t>(data_.data() + pos_);
  pos_ += 2;
  return true;
}
bool Reader::U32(uint32_t* v, std::string_view field) {
  if (!Need(4, field)) return false;
  *v = GetLittleEndian<uint32_t>(data_.data() + pos_);
  pos_ += 4;
  return true;
}
bool Reader::U64(uint64_t* v, std::string_view field) {
  if (!Need(8, field)) return false;
  *v = GetLittleEndian<uint64_t>(data_.data() + pos_);
  pos_ += 8;
  return true;
}
bool Reader::Raw(size_t n, ByteView* v, std::string_view field) {
  if (!Need(n, field)) return false;
  *v = data_.subspan(pos_, n);
  pos_ += n;
  return true;
}
bool Reader::VarView(ByteView* v, size_t max, std::string_view field, size_t min) {
  const size_t start = pos_;
  uint32_t len = 0;
  if (!U32(&len, field)) return false;
  if (len > max || len < min) {
    pos_ = start;  // the error names the length field, not the bytes after it
    return Fail(field, "length " + std::to_string(len) +
                           (len > max ? " exceeds " + std::to_string(max)
                                      : " is below " + std::to_string(min)));
  }
  return Raw(len, v, field);
}
bool Reader::Var(Bytes* v, size_t max, std::string_view field, size_t min) {
  ByteView b;
  if (!VarView(&b, max, field, min)) return false;
  v->assign(b.begin(), b.end());
  return true;
}
bool Reader::Str(std::string* v, size_t max, std::string_view field, size_t min) {
  ByteView b;
  if (!VarView(&b, max, field, min)) return false;
  *v = AsString(b);
  return true;
}

bool Reader::Count(uint32_t* n, std::string_view field, size_t min_elem_size, uint32_t max) {
  const size_t start = pos_;
  uint32_t count = 0;
  if (!U32(&count, field)) return false;
  if (count > max) {
    return FailAt(start, field,
                  "is " + std::to_string(count) + ", above the limit " + std::to_string(max));
  }
  if (min_elem_size > 0 && count > remaining() / min_elem_size) {
    return FailAt(start, field,
                  "is " + std::to_string(count) + ", more than fit in " +
                      std::to_string(remaining()) + " remaining bytes");
  }
  *n = count;
  return true;
}

Status Reader::Finish() {
  if (status_.ok() && remaining() != 0) {
    Fail("end", std::to_string(remaining()) + " trailing bytes");
  }
  return status_;
}

}  // namespace cairn::codec
