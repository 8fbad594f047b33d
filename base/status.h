// Errors as values: Status (ok, or a code and a message) and Result<T> (a value or a Status).
// Thread-compatible value types; no exceptions cross module boundaries.
#pragma once

#include <cassert>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cairn {

// What kind of failure a Status reports, so a caller can decide what to do (halt, retry,
// drop a peer, tell the operator) without reading the message. The message is for people.
// Values are stable: add new codes at the end.
enum class StatusCode : uint8_t {
  kOk = 0,
  // Not classified: the source has not said what kind of failure this is. Never branch on it.
  kUnknown = 1,
  // The input is malformed: it does not decode, or a parameter is out of its range.
  kInvalidArgument = 2,
  // Well-formed input that a rule refuses (wrong height, bad signature, not a validator).
  kRejected = 3,
  // The thing asked for does not exist (a store directory, a key, a file).
  kNotFound = 4,
  // Stored data is not what was written: a checksum fails or the store contradicts itself.
  kCorruption = 5,
  // The operating system or the disk failed a read or write.
  kIoError = 6,
  // Another process holds the resource (LevelDB's LOCK file of a data directory).
  kLocked = 7,
  // A peer or server cannot be reached now; trying again later may work.
  kUnavailable = 8,
  // The data asked for existed but this node no longer keeps it (storage.retain_blocks): the
  // message names the window it does keep. Not "not found": asking an archive node may work.
  kPruned = 9,
};

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  // A failure the source has not classified (StatusCode::kUnknown).
  static Status Error(std::string msg) { return Status(StatusCode::kUnknown, std::move(msg)); }
  // REQUIRES: code != StatusCode::kOk
  static Status Error(StatusCode code, std::string msg) { return Status(code, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(StatusCode::kInvalidArgument, std::move(msg));
  }
  static Status Rejected(std::string msg) { return Status(StatusCode::kRejected, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) {
    return Status(StatusCode::kCorruption, std::move(msg));
  }
  static Status IoError(std::string msg) { return Status(StatusCode::kIoError, std::move(msg)); }
  static Status Locked(std::string msg) { return Status(StatusCode::kLocked, std::move(msg)); }
  static Status Unavailable(std::string msg) {
    return Status(StatusCode::kUnavailable, std::move(msg));
  }
  static Status Pruned(std::string msg) { return Status(StatusCode::kPruned, std::move(msg)); }

  bool ok() const { return rep_ == nullptr; }
  explicit operator bool() const { return ok(); }
  StatusCode code() const { return ok() ? StatusCode::kOk : rep_->code; }
  const std::string& message() const {
    static const std::string kOkMessage = "ok";
    return ok() ? kOkMessage : rep_->message;
  }
  // Prefixes the message with context ("block 12: " + message) and keeps the code; no-op
  // when ok.
  Status Wrap(const std::string& context) const {
    return ok() ? *this : Status(rep_->code, context + ": " + rep_->message);
  }
  // The same message under another code, for a layer that knows better what the failure
  // means (a stored record that does not decode is corruption, not a bad argument).
  Status WithCode(StatusCode code) const { return ok() ? *this : Status(code, rep_->message); }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  Status(StatusCode code, std::string msg)
      : rep_(std::make_shared<const Rep>(Rep{code, std::move(msg)})) {
    assert(code != StatusCode::kOk);
  }
  // nullptr when ok, so an ok Status is one pointer and copies of an error share its text.
  // The Rep is immutable: copies on different threads are safe.
  std::shared_ptr<const Rep> rep_;
};

// "ok", "invalid argument", ...; for logs and tests.
inline std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kUnknown:
      return "unknown";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kRejected:
      return "rejected";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kIoError:
      return "I/O error";
    case StatusCode::kLocked:
      return "locked";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kPruned:
      return "pruned";
  }
  return "invalid status code";
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // The error; Status::Ok() when this holds a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  StatusCode code() const { return ok() ? StatusCode::kOk : std::get<Status>(v_).code(); }
  // REQUIRES: !ok()
  const std::string& error() const { return std::get<Status>(v_).message(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cairn
