// The small text parsers behind the config, genesis and CLI: peer addresses
// ("<node id>@host:port"), RFC 3339 times, host:port and hex. The first input byte picks
// the parser. Properties: each round-trips through its formatter.
#include "config/node_config.h"
#include "crypto/hex.h"
#include "genesis/genesis.h"
#include "p2p/host.h"
#include "tests/fuzz/fuzz_util.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text = fuzz::ToString(fuzz::Input(data + 1, size - 1));
  switch (data[0] % 5) {
    case 0: {
      auto a = p2p::ParsePeerAddress(text);
      if (!a.ok()) return 0;
      auto again = p2p::ParsePeerAddress(a->ToString());
      FUZZ_CHECK(again.ok() && again->host == a->host && again->port == a->port &&
                 again->id == a->id);
      break;
    }
    case 1: {
      auto ms = genesis::ParseRfc3339Ms(text);
      if (!ms.ok()) return 0;
      auto again = genesis::ParseRfc3339Ms(genesis::FormatRfc3339Ms(*ms));
      FUZZ_CHECK(again.ok() && *again == *ms);
      break;
    }
    case 2: {
      auto hp = config::SplitHostPort(text, "fuzz");
      if (!hp.ok()) FUZZ_CHECK(!hp.error().empty());
      break;
    }
    case 3: {
      auto b = crypto::FromHex(text);
      if (!b) return 0;
      FUZZ_CHECK(b->size() * 2 == text.size());
      auto again = crypto::FromHex(crypto::ToHex(*b));
      FUZZ_CHECK(again && *again == *b);
      break;
    }
    case 4: {
      (void)genesis::IsValidChainId(text);
      (void)genesis::ParseConsensusKind(text);
      (void)ledger::ParseRole(text);
      break;
    }
  }
  return 0;
}
