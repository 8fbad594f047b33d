// The JSON-RPC errors every method file answers with: bad parameters (-32602), not found
// (1100, docs/RPC.md) and internal (-32603). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "api/methods.h"
#include "base/status.h"
#include "rpc/dispatcher.h"

namespace cairn::api {

inline rpc::RpcError BadParams(const std::string& what) {
  return rpc::RpcError{rpc::kInvalidParams, "Invalid params", rpc::Json{{"reason", what}}};
}
// `head`, when given, goes into data.head (getHeaders past the head).
inline rpc::RpcError NotFound(const std::string& what,
                              std::optional<uint64_t> head = std::nullopt) {
  rpc::Json data{{"reason", "not_found"}, {"detail", what}};
  if (head) data["head"] = *head;
  return rpc::AppError(kNotFound, "not found", std::move(data));
}
inline rpc::RpcError Internal(const Status& s) {
  return rpc::RpcError{rpc::kInternalError, "Internal error", rpc::Json{{"reason", s.message()}}};
}

}  // namespace cairn::api
