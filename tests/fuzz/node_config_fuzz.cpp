// NodeConfig::FromJson on a hostile config.json. Properties: ToJson is a fixed point
// (parsing what it writes gives the same text), and the listen addresses of an accepted
// config split into host and port; errors name something.
#include "config/node_config.h"
#include "tests/fuzz/fuzz_util.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = fuzz::ToString(fuzz::Input(data, size));
  const std::string home = "/fuzz-home";
  auto c = config::NodeConfig::FromJson(text, home);
  if (!c.ok()) {
    FUZZ_CHECK(!c.error().empty());
    return 0;
  }
  const std::string json = c->ToJson();
  auto again = config::NodeConfig::FromJson(json, home);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->ToJson() == json);
  (void)c->Resolve(c->data_dir);
  (void)config::SplitHostPort(c->rpc_listen, "rpc.listen");
  (void)config::SplitHostPort(c->p2p_listen, "p2p.listen");
  return 0;
}
