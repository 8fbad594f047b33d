#include "tests/integration/dev_node.h"

#include <signal.h>

#include <stdexcept>

#include "crypto/hex.h"
#include "crypto/key_file.h"
#include "tests/kit/eventually.h"

namespace cairn::testing {

using testkit::Process;

std::string CairndPath() { return CAIRN_CAIRND_PATH; }
std::string CairnPath() { return CAIRN_CAIRN_PATH; }

DevNode::~DevNode() {
  if (proc_ && proc_->running()) Kill();
}

bool DevNode::Start(const std::vector<std::string>& extra, std::string* why) {
  std::vector<std::string> args = {"--dev", "--home", home_, "--rpc-listen", "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  proc_ = std::make_unique<Process>(CairndPath(), args, home_ + ".cairnd.log");
  auto line = proc_->WaitForLine("rpc: ", std::chrono::seconds(30));
  if (!line) {
    if (why) *why = "cairnd did not start serving; log:\n" + log_tail();
    return false;
  }
  url_ = line->substr(5);
  return true;
}

std::optional<int> DevNode::Stop() {
  if (!proc_) return std::nullopt;
  proc_->Signal(SIGTERM);
  return proc_->Wait(std::chrono::seconds(30));
}

void DevNode::Kill() {
  if (!proc_) return;
  proc_->Signal(SIGKILL);
  proc_->Wait(std::chrono::seconds(10));
}

rpc::Client DevNode::Client() const {
  auto c = rpc::Client::Create(url_);
  if (!c.ok()) throw std::runtime_error(c.error());
  return std::move(c.value());
}

crypto::KeyPair DevNode::AdminKey() const {
  auto k = crypto::ReadKeyFile(home_ + "/admin_key.json");
  if (!k.ok()) throw std::runtime_error(k.error());
  return *k;
}

std::string DevNode::ChainId() {
  auto c = Client();
  auto r = c.Call("getStatus");
  if (!r.ok()) throw std::runtime_error(r.status().message());
  return r.value()["chain_id"].get<std::string>();
}

std::string Hex(const ledger::Transaction& tx) { return crypto::ToHex(tx.Encode()); }

std::optional<nlohmann::json> WaitCommitted(rpc::Client& c, const std::string& hash,
                                            std::chrono::milliseconds timeout) {
  std::optional<nlohmann::json> committed;
  // Polling a remote node: there is nothing to wait on but time.
  testkit::Eventually(
      [&] {
        auto r = c.Call("getTransaction", {{"hash", hash}});
        if (r.ok() && r.value()["status"] == "committed") committed = r.value();
        return committed.has_value();
      },
      timeout);
  return committed;
}

}  // namespace cairn::testing
