// FakeNode: a real rpc::Server in-process with just enough of a node's methods for the
// client library (sendTransactions, getTransaction, getAccount, getStatus) over a FakeChain
// the fake nodes share. Each node has its own mempool, with no gossip: what a node held dies
// with it, which is the case the client's resend exists for. Thread-safe.
#pragma once

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "crypto/hex.h"
#include "ledger/transaction.h"
#include "rpc/dispatcher.h"
#include "rpc/server.h"

namespace cairn::client::testing {

using rpc::Json;

// The committed chain: each sender's next nonce and every committed hash, in order.
class FakeChain {
 public:
  uint64_t NonceOf(const ledger::Address& a) const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    auto it = nonce_.find(a.ToHex());
    return it == nonce_.end() ? 0 : it->second;
  }
  bool Committed(const crypto::Hash256& h) const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return committed_set_.count(h.ToHex()) > 0;
  }
  // Commits `tx` if its nonce is the sender's next one; false otherwise.
  bool TryCommit(const ledger::Transaction& tx) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    uint64_t& n = nonce_[tx.sender.ToHex()];
    if (tx.nonce != n) return false;
    ++n;
    log_.push_back({tx.sender.ToHex(), tx.nonce, tx.Hash().ToHex()});
    committed_set_.insert(tx.Hash().ToHex());
    return true;
  }
  struct Entry {
    std::string sender;
    uint64_t nonce;
    std::string hash;
  };
  std::vector<Entry> Log() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return log_;
  }

 private:
  mutable Mutex mu_;
  std::map<std::string, uint64_t> nonce_ GUARDED_BY(mu_);
  std::set<std::string> committed_set_ GUARDED_BY(mu_);
  std::vector<Entry> log_ GUARDED_BY(mu_);
};

class FakeNode {
 public:
  // Serves on `port` (0: any free one).
  explicit FakeNode(FakeChain* chain, uint16_t port = 0) : chain_(chain) {
    Register();
    server_ = std::make_unique<rpc::Server>(dispatcher_);
    REQUIRE(server_->Start("127.0.0.1", port).ok());
    port_ = server_->port();
  }
  ~FakeNode() { Stop(); }

  // Stops serving and forgets the mempool: a killed node.
  void Stop() {
    if (server_) server_->Stop();
    server_.reset();
    MutexLock lock(&mu_);
    mempool_.clear();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }

  // Commits what this node holds, in nonce order, as far as nonces are contiguous.
  void CommitAll() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    for (bool progress = true; progress;) {
      progress = false;
      for (auto it = mempool_.begin(); it != mempool_.end();) {
        if (chain_->TryCommit(it->second)) {
          it = mempool_.erase(it);
          progress = true;
        } else if (it->second.nonce < chain_->NonceOf(it->second.sender)) {
          it = mempool_.erase(it);  // another copy committed elsewhere
        } else {
          ++it;
        }
      }
    }
  }
  size_t Received() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return received_;
  }
  // What getStatus answers.
  void SetStatus(Json status) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    status_ = std::move(status);
  }
  // Answer every admission with 1067 syncing.
  void SetSyncing(bool on) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    syncing_ = on;
  }

 private:
  static Json Refusal(int code, const std::string& reason) {
    return Json{{"error", {{"code", code}, {"message", reason}, {"data", {{"reason", reason}}}}}};
  }

  Json Admit(const std::string& hex) EXCLUDES(mu_) {
    auto bytes = crypto::FromHex(hex);
    if (!bytes) return Refusal(1032, "malformed");
    auto tx = ledger::Transaction::Decode(*bytes);
    if (!tx.ok()) return Refusal(1032, "malformed");
    const std::string hash = tx->Hash().ToHex();
    MutexLock lock(&mu_);
    ++received_;
    if (syncing_) return Refusal(1067, "syncing");
    if (tx->nonce < chain_->NonceOf(tx->sender)) return Refusal(1036, "nonce_too_low");
    if (mempool_.count(hash) > 0) return Refusal(1065, "already_known");
    mempool_.emplace(hash, *tx);
    return Json{{"hash", hash}};
  }

  void Register() {
    REQUIRE(dispatcher_
                .Register("sendTransactions",
                          [this](const Json& p) -> rpc::RpcResult {
                            Json results = Json::array();
                            size_t accepted = 0;
                            for (const Json& h : p.at("txs")) {
                              results.push_back(Admit(h.get<std::string>()));
                              if (!results.back().contains("error")) ++accepted;
                            }
                            return Json{{"accepted", accepted}, {"results", results}};
                          })
                .ok());
    REQUIRE(dispatcher_
                .Register("getTransaction",
                          [this](const Json& p) -> rpc::RpcResult {
                            const std::string hash = p.at("hash");
                            auto h = crypto::Hash256::FromHex(hash);
                            std::string status = "unknown";
                            if (h && chain_->Committed(*h)) {
                              status = "committed";
                            } else {
                              MutexLock lock(&mu_);
                              if (mempool_.count(hash) > 0) status = "pending";
                            }
                            return Json{{"hash", hash}, {"status", status}};
                          })
                .ok());
    REQUIRE(dispatcher_
                .Register("getAccount",
                          [this](const Json& p) -> rpc::RpcResult {
                            auto a = ledger::Address::FromHex(p.at("address").get<std::string>());
                            return Json{{"nonce", a ? chain_->NonceOf(*a) : 0}};
                          })
                .ok());
    REQUIRE(dispatcher_
                .Register("getStatus",
                          [this](const Json&) -> rpc::RpcResult {
                            MutexLock lock(&mu_);
                            return status_;
                          })
                .ok());
  }

  FakeChain* const chain_;
  rpc::Dispatcher dispatcher_;
  std::unique_ptr<rpc::Server> server_;
  uint16_t port_ = 0;
  mutable Mutex mu_;
  std::map<std::string, ledger::Transaction> mempool_ GUARDED_BY(mu_);
  size_t received_ GUARDED_BY(mu_) = 0;
  bool syncing_ GUARDED_BY(mu_) = false;
  Json status_ GUARDED_BY(mu_) = Json{{"height", 1}, {"commit_height", 1}};
};

}  // namespace cairn::client::testing
