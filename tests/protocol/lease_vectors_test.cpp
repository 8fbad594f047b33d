// Asserts docs/PROTOCOL.md section 8 "Leases": the three lease transactions (signing bytes,
// signature, encoding, hash), the lease's state key and its record after each, read from the
// document itself. CAIRN_PRINT_VECTORS=1 prints what the code computes.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>

#include "api/json.h"
#include "crypto/hex.h"
#include "ledger/executor.h"
#include "ledger/lease.h"

using namespace cairn;
using namespace cairn::crypto;
using namespace cairn::ledger;

namespace {

// The `name: hex` rows of the test vectors section.
std::map<std::string, std::string> ReadVectors() {
  std::ifstream in(std::string(CAIRN_SOURCE_DIR) + "/docs/PROTOCOL.md");
  REQUIRE(in.good());
  std::map<std::string, std::string> rows;
  std::string line;
  bool in_section = false;
  std::regex row(R"(^([a-z_0-9]+):\s+([0-9a-f]+)\s*$)");
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line.find("Test vectors") != std::string::npos;
    std::smatch m;
    if (in_section && std::regex_match(line, m, row)) rows[m[1]] = m[2];
  }
  return rows;
}

void Expect(std::map<std::string, std::string>& v, const std::string& name,
            const std::string& actual) {
  if (const char* p = std::getenv("CAIRN_PRINT_VECTORS"); p && std::string(p) == "1") {
    std::cout << name << ": " << actual << "\n";
  }
  INFO(name);
  CHECK(actual == v[name]);
}

KeyPair SeedKey(uint8_t first) {
  std::array<uint8_t, 32> s;
  for (int i = 0; i < 32; ++i) s[i] = static_cast<uint8_t>(first + i);
  return KeyPair::FromSeed(PrivateKey(s));
}

Transaction Signed(const KeyPair& key, uint64_t nonce, Payload p) {
  Transaction tx;
  tx.chain_id = "cairn-test";
  tx.nonce = nonce;
  tx.payload = std::move(p);
  tx.Sign(key);
  return tx;
}

}  // namespace

TEST_CASE("docs/PROTOCOL.md lease vectors hold", "[protocol][lease]") {
  auto v = ReadVectors();
  const KeyPair key = SeedKey(0x00);
  REQUIRE(key.public_key().ToHex() == v["public_key"]);

  const Transaction acquire = Signed(key, 0, LeaseAcquire{"db/primary", 10});
  const Transaction renew = Signed(key, 1, LeaseRenew{"db/primary", 1});
  const Transaction release = Signed(key, 2, LeaseRelease{"db/primary", 1});
  Expect(v, "lease_acquire_signing_bytes", ToHex(acquire.SigningBytes()));
  Expect(v, "lease_acquire_signature", acquire.signature.ToHex());
  Expect(v, "lease_acquire_encoded", ToHex(acquire.Encode()));
  Expect(v, "lease_acquire_hash", acquire.Hash().ToHex());
  Expect(v, "lease_renew_encoded", ToHex(renew.Encode()));
  Expect(v, "lease_renew_hash", renew.Hash().ToHex());
  Expect(v, "lease_release_encoded", ToHex(release.Encode()));
  Expect(v, "lease_release_hash", release.Hash().ToHex());
  for (const Transaction& tx : {acquire, renew, release}) {
    auto back = Transaction::Decode(*FromHex(ToHex(tx.Encode())));
    REQUIRE(back.ok());
    CHECK(*back == tx);
    CHECK(back->VerifySignature());
    CHECK(tx.EncodedSize() == tx.Encode().size());
  }
  // getTransaction's JSON (docs/RPC.md) of each.
  const auto aj = api::TxToJson(acquire, acquire.Hash());
  CHECK(aj["type"] == "lease_acquire");
  CHECK(aj["name"] == "db/primary");
  CHECK(aj["ttl_blocks"] == 10);
  CHECK(api::TxToJson(renew, renew.Hash())["token"] == 1);
  CHECK(api::TxToJson(release, release.Hash())["type"] == "lease_release");

  // Executed at heights 5, 6 and 7 by the (member) account.
  MemoryState state;
  StateDiff genesis;
  genesis[AccountKey(key.public_key())] = Account{0, 0, Role::kMember}.Encode();
  state.Apply(genesis);
  StateOverlay o(state);
  Expect(v, "lease_state_key", ToHex(SystemKey(LeaseRecordName("db/primary"))));
  CHECK(ExecuteTx(o, acquire, 5, acquire.Hash()) == TxCode::kOk);
  Expect(v, "lease_acquired_encoded", ToHex(*o.GetSystem("lease/db/primary")));
  CHECK(ExecuteTx(o, renew, 6, renew.Hash()) == TxCode::kOk);
  Expect(v, "lease_renewed_encoded", ToHex(*o.GetSystem("lease/db/primary")));
  CHECK(ExecuteTx(o, release, 7, release.Hash()) == TxCode::kOk);
  Expect(v, "lease_released_encoded", ToHex(*o.GetSystem("lease/db/primary")));
  auto released = ReadLease(o, "db/primary");
  REQUIRE(released);
  CHECK(*released == Lease{PublicKey(), 1, 7, 10});
  // The receipts of a block holding the acquire (ok) and a second acquire (lease_held).
  Expect(v, "lease_receipts_encoded",
         ToHex(EncodeReceipts({Receipt{TxCode::kOk, 5, 0}, Receipt{TxCode::kLeaseHeld, 5, 1}})));
}
