// State file grammar (text, one line per resource, in name order):
//   line := resource " " token(decimal u64) " " data(lowercase hex, may be empty) "\n"
#include "examples/fencing/fencing.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "crypto/hex.h"
#include "ledger/block.h"
#include "ledger/lease.h"
#include "ledger/state_proof.h"

namespace cairn::examples::fencing {

namespace {
// A state file is ours, but still read with bounds: a resource per line, at most this many.
constexpr size_t kMaxResources = 100000;

Result<Bytes> HexField(const nlohmann::json& j, const char* field) {
  if (!j.contains(field) || !j[field].is_string()) {
    return Status::InvalidArgument(std::string("getLease answer: no \"") + field + "\"");
  }
  auto b = crypto::FromHex(j[field].get<std::string>());
  if (!b)
    return Status::InvalidArgument(std::string("getLease answer: \"") + field + "\" is not hex");
  return *b;
}
}  // namespace

Result<FencedStore> FencedStore::Open(std::string path) {
  FencedStore store(path);
  std::ifstream in(path);
  if (!in) return store;  // nothing written yet
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    if (++n > kMaxResources) return Status::Corruption(path + ": more than 100000 resources");
    std::istringstream fields(line);
    std::string resource, hex;
    uint64_t token = 0;
    if (!(fields >> resource >> token) || !ledger::IsValidLeaseName(resource)) {
      return Status::Corruption(path + ":" + std::to_string(n) + ": not \"RESOURCE TOKEN HEX\"");
    }
    fields >> hex;
    auto data = crypto::FromHex(hex);
    if (!data) return Status::Corruption(path + ":" + std::to_string(n) + ": data is not hex");
    store.entries_[resource] = Entry{token, std::string(data->begin(), data->end())};
  }
  return store;
}

Status FencedStore::Write(std::string_view resource, uint64_t token, std::string_view data) {
  if (!ledger::IsValidLeaseName(resource)) {
    return Status::InvalidArgument("resource \"" + std::string(resource) +
                                   "\" is not a lease name");
  }
  auto it = entries_.find(resource);
  if (it != entries_.end() && token < it->second.token) {
    // The whole point: a writer whose lease was taken over carries an older token.
    return Status::Rejected("stale fencing token " + std::to_string(token) + " for \"" +
                            std::string(resource) + "\": token " +
                            std::to_string(it->second.token) + " already wrote it");
  }
  entries_[std::string(resource)] = Entry{token, std::string(data)};
  return Save();
}

uint64_t FencedStore::HighestToken(std::string_view resource) const {
  auto it = entries_.find(resource);
  return it == entries_.end() ? 0 : it->second.token;
}

std::optional<std::string> FencedStore::Read(std::string_view resource) const {
  auto it = entries_.find(resource);
  if (it == entries_.end()) return std::nullopt;
  return it->second.data;
}

Status FencedStore::Save() const {
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [resource, e] : entries_) {
      out << resource << " " << e.token << " " << crypto::ToHex(AsBytes(e.data)) << "\n";
    }
    if (!out.flush()) return Status::IoError("writing " + tmp);
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) return Status::IoError("renaming " + tmp);
  return Status::Ok();
}

Status VerifyLeaseAnswer(const nlohmann::json& answer, std::string_view name,
                         const crypto::PublicKey& writer, uint64_t token) {
  auto header_bytes = HexField(answer, "header");
  if (!header_bytes.ok()) return header_bytes.status();
  auto proof = HexField(answer, "proof");
  if (!proof.ok()) return proof.status();
  auto header = ledger::BlockHeader::Decode(*header_bytes);
  if (!header.ok()) return header.status().Wrap("getLease answer: header");
  // The key is computed here, never taken from the answer: the proof must be for this name.
  const Bytes key = ledger::SystemKey(ledger::LeaseRecordName(name));
  if (!answer.contains("value") || !answer["value"].is_string()) {
    Status absent =
        ledger::VerifyStateProof(header->state_root, key, ledger::StateClaim::Absent(), *proof);
    if (!absent.ok()) return absent.Wrap("lease \"" + std::string(name) + "\"");
    return Status::Rejected("lease \"" + std::string(name) + "\" was never acquired (height " +
                            std::to_string(header->height) + ")");
  }
  auto value = HexField(answer, "value");
  if (!value.ok()) return value.status();
  if (Status s = ledger::VerifyStateProof(header->state_root, key,
                                          ledger::StateClaim::Present(*value), *proof);
      !s.ok()) {
    return s.Wrap("lease \"" + std::string(name) + "\"");
  }
  auto lease = ledger::Lease::Decode(*value);
  if (!lease.ok()) return lease.status();
  const std::string at = " at height " + std::to_string(header->height);
  if (lease->holder != writer) {
    return Status::Rejected("lease \"" + std::string(name) + "\" is not held by " + writer.ToHex() +
                            at);
  }
  if (lease->token != token) {
    return Status::Rejected("token " + std::to_string(token) + " is not lease \"" +
                            std::string(name) + "\"'s current token " +
                            std::to_string(lease->token) + at);
  }
  if (!lease->HeldAt(header->height)) {
    return Status::Rejected("lease \"" + std::string(name) + "\" expired at block " +
                            std::to_string(lease->expires_at) + at);
  }
  return Status::Ok();
}

}  // namespace cairn::examples::fencing
