// A real cairnd process on a free loopback port, for integration tests.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "ledger/transaction.h"
#include "rpc/client.h"
#include "tests/kit/make_tx.h"
#include "tests/kit/process.h"

namespace cairn::testing {

std::string CairndPath();
std::string CairnPath();

class DevNode {
 public:
  // `home` must outlive the node. The first Start() initialises it with --dev.
  explicit DevNode(std::string home) : home_(std::move(home)) {}
  ~DevNode();

  // Starts cairnd (--dev --home H --rpc-listen 127.0.0.1:0 plus `extra`) and waits until it
  // serves RPC. Returns false (with the log tail in *why) if it does not within 30 s.
  bool Start(const std::vector<std::string>& extra = {}, std::string* why = nullptr);
  // SIGTERM and wait; the exit code, or nullopt if it did not exit within 30 s.
  std::optional<int> Stop();
  void Kill();  // SIGKILL

  const std::string& home() const { return home_; }
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }  // cairnd's, while started
  const std::string& url() const { return url_; }
  std::string log_tail() const { return testkit::TailOf(home_ + ".cairnd.log"); }
  rpc::Client Client() const;
  crypto::KeyPair AdminKey() const;
  std::string ChainId();

 private:
  std::string home_;
  std::string url_;
  std::unique_ptr<testkit::Process> proc_;
};

using testkit::MakeTx;
// A transaction hex-encoded for sendTransaction.
std::string Hex(const ledger::Transaction& tx);

// Polls getTransaction until status is "committed" (returns its JSON) or the deadline.
std::optional<nlohmann::json> WaitCommitted(
    rpc::Client& c, const std::string& hash,
    std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace cairn::testing
