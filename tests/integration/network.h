// A local multi-node network of real cairnd processes, generated with `cairnd testnet`.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/ed25519.h"
#include "rpc/client.h"
#include "tests/kit/eventually.h"
#include "tests/kit/process.h"

namespace cairn::testing {

// A base port such that [base, base + count) is free on 127.0.0.1 right now.
uint16_t FreePortRange(size_t count);

class Network {
 public:
  // Generates the network in `dir` (validators v0.., observers o0..).
  Network(const std::string& dir, size_t validators, size_t observers,
          const std::string& consensus = "solo");
  ~Network();

  // Creates a node that is not in the genesis (a validator or observer to be added by
  // governance): its home with `key`, free RPC and p2p ports, and every genesis validator as a
  // peer. Returns its p2p address ("127.0.0.1:port"), which a governance action names.
  std::string AddNode(const std::string& name, const crypto::KeyPair& key);
  // Replaces a node's key file (a key rotation; takes effect at its next start).
  void WriteKey(const std::string& name, const crypto::KeyPair& key);
  // Edits a node's config.json before it starts (e.g. block timing).
  void EditConfig(const std::string& name, const std::function<void(nlohmann::json&)>& edit);
  // Starts cairnd (or `binary`, which takes the same --home) for `name` and waits until it
  // serves RPC; false with the log on failure.
  bool Start(const std::string& name, std::string* why = nullptr, const std::string& binary = "");
  // Starts cairnd for `name` with `extra` arguments and returns at once: a node joining by
  // state sync serves RPC only once the sync is done. WaitServing waits for that.
  void Launch(const std::string& name, const std::vector<std::string>& extra);
  bool WaitServing(const std::string& name, std::chrono::seconds timeout);
  std::optional<int> Stop(const std::string& name);  // SIGTERM, exit code
  void Kill(const std::string& name);                // SIGKILL

  rpc::Client Client(const std::string& name) const;
  nlohmann::json Status(const std::string& name) const;  // getStatus, or null when down
  std::string Home(const std::string& name) const { return dir_ + "/" + name; }
  std::string Log(const std::string& name) const { return testkit::ReadFile(Home(name) + ".log"); }
  std::string AdminKeyPath() const { return dir_ + "/admin_key.json"; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  uint16_t rpc_base_ = 0;
  std::vector<std::string> names_;
  std::map<std::string, std::unique_ptr<testkit::Process>> procs_;
};

// The height of `name`'s head, or 0 while it does not answer.
uint64_t Height(const Network& net, const std::string& name);
// Whether `name` reports every transaction of `hashes` (hex) as committed.
bool AllCommitted(const Network& net, const std::string& name,
                  const std::vector<std::string>& hashes);

using testkit::Eventually;

}  // namespace cairn::testing
