// Genesis file (JSON):
//   { "chain_id": "cairn-dev", "genesis_time": "2026-11-23T00:00:00.000Z",
//     "consensus": "solo" | "raft" | "bft", "params": { "max_block_txs": 5000 },
//     "validators": [ { "name": "v0", "public_key": HEX32, "address": "127.0.0.1:26656" } ],
//     "observers":  [ same shape, optional ],
//     "accounts":   [ { "public_key": HEX32, "role": "admin" | "member",
//                       "balance": "1000" (decimal string or integer) } ],
//     "governance": { "admins": [ HEX32, ... ], "threshold": 2 }   (optional, both fields too) }
//
// The governance section is not in ConfigHash: it is state (gov/config), so block 0's
// state_root commits to it.
//
// ConfigHash := SHA-256("CAIRN/genesis/v1" 0x00 || chain_id:bytes || genesis_time_ms:u64 ||
//                consensus:u8 || max_block_txs:u32 || n:u32 (name:bytes key:fixed[32])^n ||
//                m:u32 (name:bytes key:fixed[32])^m || a:u32 (key:fixed[32] role:u8 balance:u64)^a)
#include "genesis/genesis.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "base/codec.h"
#include "base/file.h"
#include "crypto/merkle.h"
#include "ledger/executor.h"

namespace cairn::genesis {
namespace {

using nlohmann::json;

Status Err(const std::string& field, const std::string& problem) {
  return Status::Error("genesis: " + field + ": " + problem);
}

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ParseUint(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

Result<Node> ParseNode(const json& j, const std::string& at) {
  if (!j.is_object()) return Err(at, "must be an object");
  Node n;
  auto name = j.find("name");
  if (name == j.end() || !name->is_string()) return Err(at + ".name", "missing or not a string");
  n.name = name->get<std::string>();
  auto key = j.find("public_key");
  if (key == j.end() || !key->is_string()) {
    return Err(at + ".public_key", "missing or not a string");
  }
  auto pk = crypto::PublicKey::FromHex(key->get<std::string>());
  if (!pk) return Err(at + ".public_key", "must be 64 hex digits");
  n.public_key = *pk;
  if (auto addr = j.find("address"); addr != j.end()) {
    if (!addr->is_string()) return Err(at + ".address", "must be a string \"host:port\"");
    n.address = addr->get<std::string>();
  }
  return n;
}

Status CheckAddress(const std::string& addr, const std::string& at) {
  if (addr.empty()) return Status::Ok();
  auto colon = addr.rfind(':');
  uint64_t port = 0;
  if (colon == std::string::npos || colon == 0 || !ParseUint(addr.substr(colon + 1), &port) ||
      port == 0 || port > 65535) {
    return Err(at, "\"" + addr + "\" is not host:port");
  }
  return Status::Ok();
}

}  // namespace

std::string_view ConsensusName(ConsensusKind k) {
  switch (k) {
    case ConsensusKind::kSolo:
      return "solo";
    case ConsensusKind::kRaft:
      return "raft";
    case ConsensusKind::kBft:
      return "bft";
  }
  return "unknown";
}

std::optional<ConsensusKind> ParseConsensusKind(std::string_view name) {
  for (ConsensusKind k : {ConsensusKind::kSolo, ConsensusKind::kRaft, ConsensusKind::kBft}) {
    if (name == ConsensusName(k)) return k;
  }
  return std::nullopt;
}

bool IsValidChainId(const std::string& id) {
  if (id.empty() || id.size() > ledger::kMaxChainId) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<uint64_t> ParseRfc3339Ms(const std::string& s) {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z
  auto bad = [&] {
    return Status::Error("\"" + s + "\" is not an RFC 3339 UTC time like 2026-01-01T00:00:00Z");
  };
  if (s.size() < 20 || s.back() != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
      s[13] != ':' || s[16] != ':') {
    return bad();
  }
  uint64_t y, mo, d, h, mi, se, ms = 0;
  if (!ParseUint(s.substr(0, 4), &y) || !ParseUint(s.substr(5, 2), &mo) ||
      !ParseUint(s.substr(8, 2), &d) || !ParseUint(s.substr(11, 2), &h) ||
      !ParseUint(s.substr(14, 2), &mi) || !ParseUint(s.substr(17, 2), &se)) {
    return bad();
  }
  std::string frac = s.substr(19, s.size() - 20);
  if (!frac.empty()) {
    if (frac[0] != '.' || frac.size() != 4 || !ParseUint(frac.substr(1), &ms)) return bad();
  }
  static const unsigned kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || h > 23 || mi > 59 || se > 59) {
    return bad();
  }
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) return bad();
  int64_t days =
      DaysFromCivil(static_cast<int64_t>(y), static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return static_cast<uint64_t>(days) * 86400000ull + h * 3600000ull + mi * 60000ull + se * 1000ull +
         ms;
}

std::string FormatRfc3339Ms(uint64_t ms) {
  int64_t z = static_cast<int64_t>(ms / 86400000ull) + 719468;
  const int64_t era = z / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  uint64_t rem = ms % 86400000ull;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", static_cast<long long>(y),
                m, d, static_cast<unsigned>(rem / 3600000), static_cast<unsigned>(rem / 60000 % 60),
                static_cast<unsigned>(rem / 1000 % 60), static_cast<unsigned>(rem % 1000));
  return buf;
}

Result<Genesis> Genesis::FromJson(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Error("genesis: not valid JSON");
  if (!j.is_object()) return Status::Error("genesis: must be a JSON object");
  static const std::set<std::string> kKnown = {"chain_id", "genesis_time", "consensus",
                                               "params",   "validators",   "observers",
                                               "accounts", "governance"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!kKnown.count(it.key())) return Err(it.key(), "unknown field");
  }
  Genesis g;
  auto chain = j.find("chain_id");
  if (chain == j.end() || !chain->is_string()) return Err("chain_id", "missing or not a string");
  g.chain_id = chain->get<std::string>();

  auto time = j.find("genesis_time");
  if (time == j.end() || !time->is_string()) {
    return Err("genesis_time", "missing or not a string");
  }
  auto ms = ParseRfc3339Ms(time->get<std::string>());
  if (!ms.ok()) return Err("genesis_time", ms.error());
  g.genesis_time_ms = *ms;

  auto cons = j.find("consensus");
  if (cons == j.end() || !cons->is_string()) {
    return Err("consensus", "missing; one of \"solo\", \"raft\", \"bft\"");
  }
  const std::string kind = cons->get<std::string>();
  const std::optional<ConsensusKind> parsed = ParseConsensusKind(kind);
  if (!parsed) {
    return Err("consensus", "\"" + kind + "\" is not one of \"solo\", \"raft\", \"bft\"");
  }
  g.consensus = *parsed;

  if (auto params = j.find("params"); params != j.end()) {
    if (!params->is_object()) return Err("params", "must be an object");
    for (auto it = params->begin(); it != params->end(); ++it) {
      if (it.key() != "max_block_txs") return Err("params." + it.key(), "unknown field");
      if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 ||
          it->get<uint64_t>() > ledger::kMaxBlockTxs) {
        return Err("params.max_block_txs",
                   "must be an integer in [1, " + std::to_string(ledger::kMaxBlockTxs) + "]");
      }
      g.params.max_block_txs = it->get<uint32_t>();
    }
  }

  for (const char* list : {"validators", "observers"}) {
    auto arr = j.find(list);
    if (arr == j.end()) continue;
    if (!arr->is_array()) return Err(list, "must be an array");
    for (size_t i = 0; i < arr->size(); ++i) {
      auto n = ParseNode((*arr)[i], std::string(list) + "[" + std::to_string(i) + "]");
      if (!n.ok()) return n.status();
      (std::string(list) == "validators" ? g.validators : g.observers).push_back(*n);
    }
  }

  auto accounts = j.find("accounts");
  if (accounts == j.end() || !accounts->is_array())
    return Err("accounts", "missing or not an array");
  for (size_t i = 0; i < accounts->size(); ++i) {
    const json& a = (*accounts)[i];
    std::string at = "accounts[" + std::to_string(i) + "]";
    if (!a.is_object()) return Err(at, "must be an object");
    InitialAccount acct;
    auto key = a.find("public_key");
    auto pk = key != a.end() && key->is_string()
                  ? crypto::PublicKey::FromHex(key->get<std::string>())
                  : std::nullopt;
    if (!pk) return Err(at + ".public_key", "must be 64 hex digits");
    acct.public_key = *pk;
    auto role = a.find("role");
    auto r = role != a.end() && role->is_string() ? ledger::ParseRole(role->get<std::string>())
                                                  : std::nullopt;
    if (!r) return Err(at + ".role", "must be \"admin\" or \"member\"");
    acct.role = *r;
    auto bal = a.find("balance");
    if (bal != a.end()) {
      if (bal->is_number_unsigned()) {
        acct.balance = bal->get<uint64_t>();
      } else if (!bal->is_string() || !ParseUint(bal->get<std::string>(), &acct.balance)) {
        return Err(at + ".balance", "must be a decimal string or integer in [0, 2^64)");
      }
    }
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (it.key() != "public_key" && it.key() != "role" && it.key() != "balance") {
        return Err(at + "." + it.key(), "unknown field");
      }
    }
    g.accounts.push_back(acct);
  }
  if (auto gov = j.find("governance"); gov != j.end()) {
    if (!gov->is_object()) return Err("governance", "must be an object");
    for (auto it = gov->begin(); it != gov->end(); ++it) {
      if (it.key() != "admins" && it.key() != "threshold") {
        return Err("governance." + it.key(), "unknown field");
      }
    }
    if (auto admins = gov->find("admins"); admins != gov->end()) {
      if (!admins->is_array()) return Err("governance.admins", "must be an array of keys");
      if (admins->size() > ledger::kMaxGovAdmins) {
        return Err("governance.admins",
                   "at most " + std::to_string(ledger::kMaxGovAdmins) + " admins");
      }
      std::vector<crypto::PublicKey> keys;
      for (size_t i = 0; i < admins->size(); ++i) {
        const json& k = (*admins)[i];
        auto pk = k.is_string() ? crypto::PublicKey::FromHex(k.get<std::string>()) : std::nullopt;
        if (!pk) {
          return Err("governance.admins[" + std::to_string(i) + "]", "must be 64 hex digits");
        }
        keys.push_back(*pk);
      }
      g.governance.admins = std::move(keys);
    }
    if (auto t = gov->find("threshold"); t != gov->end()) {
      if (!t->is_number_unsigned() || t->get<uint64_t>() == 0 ||
          t->get<uint64_t>() > ledger::kMaxGovAdmins) {
        return Err("governance.threshold",
                   "must be an integer in [1, " + std::to_string(ledger::kMaxGovAdmins) + "]");
      }
      g.governance.threshold = t->get<uint16_t>();
    }
  }
  if (Status s = g.Validate(); !s.ok()) return s;
  return g;
}

Status Genesis::Validate() const {
  if (!IsValidChainId(chain_id)) {
    return Err("chain_id", "must be 1 to 64 characters of [A-Za-z0-9._-]");
  }
  if (validators.empty()) return Err("validators", "at least one validator is required");
  if (consensus == ConsensusKind::kSolo && validators.size() != 1) {
    return Err("validators", "solo consensus takes exactly one validator, not " +
                                 std::to_string(validators.size()));
  }
  std::set<crypto::PublicKey> node_keys;
  std::set<std::string> names;
  auto check_nodes = [&](const std::vector<Node>& nodes, const std::string& list) -> Status {
    for (size_t i = 0; i < nodes.size(); ++i) {
      std::string at = list + "[" + std::to_string(i) + "]";
      if (nodes[i].name.empty() || nodes[i].name.size() > 64) {
        return Err(at + ".name", "must be 1 to 64 characters");
      }
      if (!names.insert(nodes[i].name).second) {
        return Err(at + ".name", "\"" + nodes[i].name + "\" is used twice");
      }
      if (!node_keys.insert(nodes[i].public_key).second) {
        return Err(at + ".public_key", "is listed twice");
      }
      if (Status s = CheckAddress(nodes[i].address, at + ".address"); !s.ok()) return s;
    }
    return Status::Ok();
  };
  if (Status s = check_nodes(validators, "validators"); !s.ok()) return s;
  if (Status s = check_nodes(observers, "observers"); !s.ok()) return s;
  if (accounts.empty()) return Err("accounts", "at least one admin account is required");
  std::set<crypto::PublicKey> account_keys;
  bool has_admin = false;
  uint64_t total = 0;
  for (size_t i = 0; i < accounts.size(); ++i) {
    std::string at = "accounts[" + std::to_string(i) + "]";
    if (!account_keys.insert(accounts[i].public_key).second) {
      return Err(at + ".public_key", "is listed twice");
    }
    has_admin |= accounts[i].role == ledger::Role::kAdmin;
    if (accounts[i].balance > UINT64_MAX - total) {
      return Err(at + ".balance", "total supply exceeds 2^64-1");
    }
    total += accounts[i].balance;
  }
  if (!has_admin) return Err("accounts", "at least one account must have role \"admin\"");
  for (const auto* list : {&validators, &observers}) {
    for (const Node& n : *list) {
      if (n.address.size() > ledger::kMaxMemberAddress) {
        return Err(n.name + ".address",
                   "longer than " + std::to_string(ledger::kMaxMemberAddress) + " bytes");
      }
    }
  }
  if (governance.admins) {
    std::set<crypto::PublicKey> seen;
    for (const auto& k : *governance.admins) {
      if (!seen.insert(k).second) {
        return Err("governance.admins", k.ToHex() + " is listed twice");
      }
    }
    if (governance.admins->empty() && governance.threshold) {
      return Err("governance.threshold", "set, but there are no admins");
    }
  }
  size_t admin_count = 0;
  if (governance.admins) {
    admin_count = governance.admins->size();
  } else {
    for (const InitialAccount& a : accounts) admin_count += a.role == ledger::Role::kAdmin;
    if (admin_count > ledger::kMaxGovAdmins) {
      return Err("governance.admins", "missing, and the default (every admin account) has " +
                                          std::to_string(admin_count) + " keys, over " +
                                          std::to_string(ledger::kMaxGovAdmins));
    }
  }
  if (governance.threshold && *governance.threshold > admin_count) {
    return Err("governance.threshold", std::to_string(*governance.threshold) + " exceeds the " +
                                           std::to_string(admin_count) + " admins");
  }
  return Status::Ok();
}

Result<Genesis> Genesis::Load(const std::string& path) {
  auto file = ReadRegularFile(path, kMaxGenesisFileBytes);
  if (!file.ok()) return file.status().Wrap("genesis");
  auto g = FromJson(file->data);
  if (!g.ok()) return Status::Error(path + ": " + g.error());
  return g;
}

std::string Genesis::ToJson() const {
  auto nodes = [](const std::vector<Node>& list) {
    json arr = json::array();
    for (const Node& n : list) {
      json o = {{"name", n.name}, {"public_key", n.public_key.ToHex()}};
      if (!n.address.empty()) o["address"] = n.address;
      arr.push_back(o);
    }
    return arr;
  };
  json accts = json::array();
  for (const InitialAccount& a : accounts) {
    accts.push_back({{"public_key", a.public_key.ToHex()},
                     {"role", std::string(ledger::RoleName(a.role))},
                     {"balance", std::to_string(a.balance)}});
  }
  json j = {{"chain_id", chain_id},
            {"genesis_time", FormatRfc3339Ms(genesis_time_ms)},
            {"consensus", std::string(ConsensusName(consensus))},
            {"params", {{"max_block_txs", params.max_block_txs}}},
            {"validators", nodes(validators)},
            {"accounts", accts}};
  if (!observers.empty()) j["observers"] = nodes(observers);
  if (governance.admins || governance.threshold) {
    json gov = json::object();
    if (governance.admins) {
      json keys = json::array();
      for (const auto& k : *governance.admins) keys.push_back(k.ToHex());
      gov["admins"] = keys;
    }
    if (governance.threshold) gov["threshold"] = *governance.threshold;
    j["governance"] = gov;
  }
  return j.dump(2) + "\n";
}

Status Genesis::Save(const std::string& path) const {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error("genesis: " + path + ": " + std::strerror(errno));
  std::string text = ToJson();
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) return Status::Error("genesis: " + path + ": write failed");
  return Status::Ok();
}

crypto::Hash256 Genesis::ConfigHash() const {
  static constexpr std::string_view kDomain("CAIRN/genesis/v1\0", 17);
  codec::Writer w;
  w.Raw(AsBytes(kDomain)).Str(chain_id).U64(genesis_time_ms);
  w.U8(static_cast<uint8_t>(consensus)).U32(params.max_block_txs);
  for (const auto* list : {&validators, &observers}) {
    w.U32(static_cast<uint32_t>(list->size()));
    for (const Node& n : *list) w.Str(n.name).Fixed(n.public_key);
  }
  w.U32(static_cast<uint32_t>(accounts.size()));
  for (const InitialAccount& a : accounts) {
    w.Fixed(a.public_key).U8(static_cast<uint8_t>(a.role)).U64(a.balance);
  }
  return crypto::Sha256Of(w.bytes());
}

ledger::StateDiff Genesis::InitialState() const {
  ledger::StateDiff diff;
  for (const InitialAccount& a : accounts) {
    diff[ledger::AccountKey(a.public_key)] =
        ledger::Account{.balance = a.balance, .nonce = 0, .role = a.role}.Encode();
  }
  for (auto& [key, value] : ledger::GenesisSystemRecords(Members(), GovernanceConfig())) {
    diff[key] = std::move(value);
  }
  return diff;
}

// Genesis members carry no address in state: the file's addresses are operational and may be
// edited without forking the chain (PROTOCOL §5), so nodes keep reading them from the file.
ledger::MemberSet Genesis::Members() const {
  ledger::MemberSet set;
  auto add = [&](const Node& n, ledger::MemberKind kind) {
    set.members.push_back(
        ledger::Member{set.next_id++, kind, n.name, n.public_key, n.public_key, /*address=*/""});
  };
  for (const Node& n : validators) add(n, ledger::MemberKind::kValidator);
  for (const Node& n : observers) add(n, ledger::MemberKind::kObserver);
  return set;
}

std::optional<ledger::GovConfig> Genesis::GovernanceConfig() const {
  ledger::GovConfig c;
  if (governance.admins) {
    c.admins = *governance.admins;
  } else {
    for (const InitialAccount& a : accounts) {
      if (a.role == ledger::Role::kAdmin) c.admins.push_back(a.public_key);
    }
  }
  if (c.admins.empty()) return std::nullopt;
  c.threshold = governance.threshold.value_or(static_cast<uint16_t>(c.admins.size() / 2 + 1));
  return c;
}

crypto::Hash256 Genesis::ValidatorsHash() const { return ledger::SetHash(Members().Validators()); }

ledger::Block Genesis::Block0() const {
  ledger::Block b;
  b.header.chain_id = chain_id;
  b.header.height = 0;
  b.header.timestamp_ms = genesis_time_ms;
  b.header.tx_root = crypto::MerkleRoot({});
  b.header.state_root = ledger::StateRootOf(InitialState());
  b.header.validators_hash = ValidatorsHash();
  b.header.next_validators_hash = b.header.validators_hash;
  b.header.tx_count = 0;
  crypto::Hash256 config = ConfigHash();
  b.header.consensus_data.assign(config.view().begin(), config.view().end());
  return b;
}

int Genesis::ValidatorIndex(const crypto::PublicKey& key) const {
  for (size_t i = 0; i < validators.size(); ++i) {
    if (validators[i].public_key == key) return static_cast<int>(i);
  }
  return -1;
}

bool Genesis::IsObserver(const crypto::PublicKey& key) const {
  for (const Node& n : observers) {
    if (n.public_key == key) return true;
  }
  return false;
}

}  // namespace cairn::genesis
