// TempNetwork: a generated Network of real cairnd processes in its own temporary directory,
// with what a test that loads it needs (the admin key, the chain id) and a start that checks
// each node serves RPC. Not thread-safe, as Network.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/key_file.h"
#include "tests/integration/dev_node.h"
#include "tests/integration/network.h"
#include "tests/kit/temp_dir.h"

namespace cairn::testing {

namespace internal {
// Holds the directory, so that it is created before the Network generated in it and
// removed after the network stopped.
struct OwnTempDir {
  explicit OwnTempDir(std::string_view tag) : temp_dir(tag) {}
  testkit::TempDir temp_dir;
};
}  // namespace internal

class TempNetwork : private internal::OwnTempDir, public Network {
 public:
  // `tag` names the directory (cairn-<tag>-XXXXXX, kept with CAIRN_KEEP_TEST_DIRS); the rest
  // is Network's.
  TempNetwork(std::string_view tag, size_t validators, size_t observers,
              const std::string& consensus = "solo")
      : OwnTempDir(tag), Network(temp_dir.path() + "/net", validators, observers, consensus) {
    auto admin = crypto::ReadKeyFile(AdminKeyPath());
    REQUIRE(admin.ok());
    admin_ = admin.value();
    chain_id_ = nlohmann::json::parse(testkit::ReadFile(dir() + "/genesis.json"))["chain_id"];
  }

  // Starts each node of `names` (running `binary` instead of cairnd, when set) and REQUIREs
  // that it serves RPC, showing why not.
  void StartAll(const std::vector<std::string>& names, const std::string& binary = "") {
    for (const std::string& n : names) {
      std::string why;
      const bool started = Start(n, &why, binary);
      INFO(n << ": " << why);
      REQUIRE(started);
    }
  }

  // Sends `count` record writes from the admin (consecutive nonces from *nonce) to `node` in
  // one batch, and returns the hashes of those the node accepted.
  std::vector<std::string> Load(const std::string& node, uint64_t* nonce, size_t count) const {
    nlohmann::json batch = nlohmann::json::array();
    std::vector<std::string> hashes;
    for (size_t i = 0; i < count; ++i) {
      auto tx = MakeTx(admin_, chain_id_, *nonce + i,
                       ledger::Put{{static_cast<uint8_t>(i % 251), static_cast<uint8_t>(i / 251)},
                                   {static_cast<uint8_t>(*nonce)}});
      batch.push_back(Hex(tx));
      hashes.push_back(tx.Hash().ToHex());
    }
    auto r = Client(node).Call("sendTransactions", {{"txs", batch}});
    REQUIRE(r.ok());
    const nlohmann::json& results = r.value()["results"];
    std::vector<std::string> accepted;
    for (size_t i = 0; i < hashes.size(); ++i) {
      if (results[i].contains("hash") && !results[i].contains("error")) {
        accepted.push_back(hashes[i]);
      }
    }
    *nonce += count;
    return accepted;
  }

  // The genesis admin account's key, which `cairnd testnet` writes next to the nodes.
  const crypto::KeyPair& admin() const { return admin_; }
  const std::string& chain_id() const { return chain_id_; }

 private:
  crypto::KeyPair admin_;
  std::string chain_id_;
};

}  // namespace cairn::testing
