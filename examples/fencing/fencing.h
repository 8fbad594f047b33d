// The fencing example (docs/LEASES.md "Fencing"): a toy storage service that keeps, per
// resource, the highest fencing token it has accepted and refuses a write carrying a lower
// one, so a lease holder that was paused past its expiry cannot overwrite its successor's data;
// and the check a service may add, that a token is the lease's current one, from a getLease
// answer whose proof verifies against the header it carries. Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "crypto/ed25519.h"

namespace cairn::examples::fencing {

// The service's state: for each resource its data and the highest token that wrote it, in a
// file of lines "RESOURCE TOKEN HEXDATA" rewritten (write, fsync-free rename) on every write.
class FencedStore {
 public:
  // Opens `path` (absent: an empty store, created on the first write).
  static Result<FencedStore> Open(std::string path);

  // Stores `data` under `resource` if `token` >= the highest token seen for it; a lower token is
  // refused (kRejected) and changes nothing. Equal tokens are the same holder writing again.
  // Resource names are lease names (1..128 of A-Z a-z 0-9 . _ - / :).
  Status Write(std::string_view resource, uint64_t token, std::string_view data);

  // 0 for a resource never written.
  uint64_t HighestToken(std::string_view resource) const;
  std::optional<std::string> Read(std::string_view resource) const;

 private:
  struct Entry {
    uint64_t token = 0;
    std::string data;
  };
  explicit FencedStore(std::string path) : path_(std::move(path)) {}
  Status Save() const;

  std::string path_;
  std::map<std::string, Entry, std::less<>> entries_;
};

// Checks that a getLease answer with `proof: true` (docs/RPC.md "getLease") shows lease `name`
// held by `writer` with `token` at the answer's height: the header decodes, the state proof of
// the lease's record verifies against its state_root, and the record says so. Trusting that
// header is the caller's part (its certificate on BFT, or a light client: docs/LEASES.md).
Status VerifyLeaseAnswer(const nlohmann::json& answer, std::string_view name,
                         const crypto::PublicKey& writer, uint64_t token);

}  // namespace cairn::examples::fencing
