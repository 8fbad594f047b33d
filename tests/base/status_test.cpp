// Status codes: the code survives Wrap and Result, and Error(msg) stays unclassified.
#include "base/status.h"

#include <catch2/catch.hpp>

namespace cairn {
namespace {

Result<int> Fails(Status s) { return s; }

TEST_CASE("Status: ok has code kOk and the message \"ok\"", "[base][status]") {
  Status s = Status::Ok();
  CHECK(s.ok());
  CHECK(s.code() == StatusCode::kOk);
  CHECK(s.message() == "ok");
  CHECK(Status().code() == StatusCode::kOk);
}

TEST_CASE("Status: Error(msg) is unclassified, Error(code, msg) carries its code",
          "[base][status]") {
  Status plain = Status::Error("boom");
  CHECK_FALSE(plain.ok());
  CHECK(plain.code() == StatusCode::kUnknown);
  CHECK(plain.message() == "boom");

  Status coded = Status::Error(StatusCode::kLocked, "held");
  CHECK_FALSE(coded.ok());
  CHECK(coded.code() == StatusCode::kLocked);
  CHECK(coded.message() == "held");
}

TEST_CASE("Status: each named constructor sets its own code", "[base][status]") {
  CHECK(Status::InvalidArgument("x").code() == StatusCode::kInvalidArgument);
  CHECK(Status::Rejected("x").code() == StatusCode::kRejected);
  CHECK(Status::NotFound("x").code() == StatusCode::kNotFound);
  CHECK(Status::Corruption("x").code() == StatusCode::kCorruption);
  CHECK(Status::IoError("x").code() == StatusCode::kIoError);
  CHECK(Status::Locked("x").code() == StatusCode::kLocked);
  CHECK(Status::Unavailable("x").code() == StatusCode::kUnavailable);
  CHECK_FALSE(Status::IoError("x").ok());
}

TEST_CASE("Status: Wrap prefixes the message and keeps the code", "[base][status]") {
  Status s = Status::IoError("disk full").Wrap("block 3").Wrap("store commit");
  CHECK(s.code() == StatusCode::kIoError);
  CHECK(s.message() == "store commit: block 3: disk full");
  CHECK(Status::Ok().Wrap("context").ok());
  CHECK(Status::Ok().Wrap("context").message() == "ok");
}

TEST_CASE("Status: WithCode reclassifies a failure and leaves ok alone", "[base][status]") {
  Status s = Status::InvalidArgument("bad byte").WithCode(StatusCode::kCorruption);
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK(s.message() == "bad byte");
  CHECK(Status::Ok().WithCode(StatusCode::kCorruption).ok());
}

TEST_CASE("Result: the code of its error, kOk when it holds a value", "[base][status]") {
  Result<int> good = 7;
  CHECK(good.code() == StatusCode::kOk);
  CHECK(good.status().ok());
  Result<int> bad = Fails(Status::NotFound("no such key"));
  CHECK(bad.code() == StatusCode::kNotFound);
  CHECK(bad.status().code() == StatusCode::kNotFound);
  CHECK(bad.error() == "no such key");
}

TEST_CASE("StatusCodeName names every code", "[base][status]") {
  CHECK(StatusCodeName(StatusCode::kOk) == "ok");
  CHECK(StatusCodeName(StatusCode::kUnknown) == "unknown");
  CHECK(StatusCodeName(StatusCode::kInvalidArgument) == "invalid argument");
  CHECK(StatusCodeName(StatusCode::kRejected) == "rejected");
  CHECK(StatusCodeName(StatusCode::kNotFound) == "not found");
  CHECK(StatusCodeName(StatusCode::kCorruption) == "corruption");
  CHECK(StatusCodeName(StatusCode::kIoError) == "I/O error");
  CHECK(StatusCodeName(StatusCode::kLocked) == "locked");
  CHECK(StatusCodeName(StatusCode::kUnavailable) == "unavailable");
}

}  // namespace
}  // namespace cairn
