// Genesis::FromJson on a hostile genesis.json. Properties: what parses also validates;
// ToJson is a fixed point (parse(ToJson(g)) writes the same text, with the same config hash
// and block 0); errors name something.
#include "genesis/genesis.h"
#include "tests/fuzz/fuzz_util.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = fuzz::ToString(fuzz::Input(data, size));
  auto g = genesis::Genesis::FromJson(text);
  if (!g.ok()) {
    FUZZ_CHECK(!g.error().empty());
    return 0;
  }
  FUZZ_CHECK(g->Validate().ok());
  const std::string json = g->ToJson();
  auto again = genesis::Genesis::FromJson(json);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->ToJson() == json);
  FUZZ_CHECK(again->ConfigHash() == g->ConfigHash());
  FUZZ_CHECK(again->Block0() == g->Block0());
  for (size_t i = 0; i < g->validators.size(); ++i) {
    FUZZ_CHECK(g->ValidatorIndex(g->validators[i].public_key) == static_cast<int>(i));
  }
  return 0;
}
