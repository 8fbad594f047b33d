#include "ledger/codec.h"

namespace cairn::ledger {

Writer& Writer::U8(uint8_t v) {
  out_.push_back(v);
  return *this;
}
Writer& Writer::U16(uint16_t v) {
  for (int i = 0; i < 2; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return *this;
}
Writer& Writer::U32(uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return *this;
}
Writer& Writer::U64(uint64_t v) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
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

bool Reader::Fail(const char* field, const std::string& problem) {
  if (status_.ok()) {
    status_ =
        Status::Error(what_ + ": " + field + ": " + problem + " at offset " + std::to_string(pos_));
  }
  return false;
}

bool Reader::Need(size_t n, const char* field) {
  if (!status_.ok()) return false;
  if (remaining() < n) {
    return Fail(field, "truncated: needs " + std::to_string(n) + " bytes, " +
                           std::to_string(remaining()) + " left");
  }
  return true;
}

bool Reader::U8(uint8_t* v, const char* field) {
  if (!Need(1, field)) return false;
  *v = data_[pos_++];
  return true;
}
bool Reader::U16(uint16_t* v, const char* field) {
  if (!Need(2, field)) return false;
  *v = static_cast<uint16_t>(data_[pos_] | data_[pos_ + 1] << 8);
  pos_ += 2;
  return true;
}
bool Reader::U32(uint32_t* v, const char* field) {
  if (!Need(4, field)) return false;
  uint32_t x = 0;
  for (int i = 3; i >= 0; --i) x = x << 8 | data_[pos_ + i];
  *v = x;
  pos_ += 4;
  return true;
}
bool Reader::U64(uint64_t* v, const char* field) {
  if (!Need(8, field)) return false;
  uint64_t x = 0;
  for (int i = 7; i >= 0; --i) x = x << 8 | data_[pos_ + i];
  *v = x;
  pos_ += 8;
  return true;
}
bool Reader::Raw(size_t n, ByteView* v, const char* field) {
  if (!Need(n, field)) return false;
  *v = data_.subspan(pos_, n);
  pos_ += n;
  return true;
}
bool Reader::VarView(ByteView* v, size_t max, const char* field, size_t min) {
  uint32_t len = 0;
  if (!U32(&len, field)) return false;
  if (len > max) {
    pos_ -= 4;
    return Fail(field, "length " + std::to_string(len) + " exceeds " + std::to_string(max));
  }
  if (len < min) {
    pos_ -= 4;
    return Fail(field, "length " + std::to_string(len) + " is below " + std::to_string(min));
  }
  return Raw(len, v, field);
}
bool Reader::Var(Bytes* v, size_t max, const char* field, size_t min) {
  ByteView b;
  if (!VarView(&b, max, field, min)) return false;
  v->assign(b.begin(), b.end());
  return true;
}
bool Reader::Str(std::string* v, size_t max, const char* field, size_t min) {
  ByteView b;
  if (!VarView(&b, max, field, min)) return false;
  *v = AsString(b);
  return true;
}

Status Reader::Finish() {
  if (status_.ok() && remaining() != 0) {
    Fail("end", std::to_string(remaining()) + " trailing bytes");
  }
  return status_;
}

}  // namespace cairn::ledger
