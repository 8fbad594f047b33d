// ProofFile := {"format": "cairn-proof/1", "chain_id", "genesis_hash", "consensus",
//   "statement": {"kind": "tx", "tx_hash", "index"}
//              | {"kind": "account", "address", "value": hex | null}
//              | {"kind": "record", "address", "key", "value": hex | null}, "height", "header",
//              "certificate",
//   "proposer_sig", "headers_from", "headers": [{"header", "proposer_sig"}], "proof"}
// (docs/CLI.md "Proof files"). Bytes are lowercase hex; either case is read.
#include "cli/proof_file.h"

#include <cstdio>
#include <fstream>

#include "base/file.h"
#include "base/json_depth.h"
#include "crypto/hex.h"

namespace cairn::cli {

using Json = nlohmann::json;

std::string_view StatementKindName(StatementKind k) {
  switch (k) {
    case StatementKind::kTx:
      return "tx";
    case StatementKind::kAccount:
      return "account";
    case StatementKind::kRecord:
      return "record";
  }
  return "unknown";
}

namespace {

std::string HexOrNull(const std::optional<Bytes>& b) { return b ? crypto::ToHex(*b) : ""; }

// Field readers: each names the field in its error and checks the length before decoding.
class Fields {
 public:
  explicit Fields(const Json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  Result<const Json*> Get(const char* name, bool nullable = false) const {
    auto it = obj_.find(name);
    if (it == obj_.end()) return Fail(name, "missing");
    if (it->is_null() && !nullable) return Fail(name, "is null");
    return &*it;
  }
  Result<std::string> String(const char* name, size_t max_len) const {
    auto j = Get(name);
    if (!j.ok()) return j.status();
    if (!(*j)->is_string()) return Fail(name, "must be a string");
    const std::string& s = (*j)->get_ref<const std::string&>();
    if (s.size() > max_len) {
      return Fail(name,
                  std::to_string(s.size()) + " characters exceeds " + std::to_string(max_len));
    }
    return s;
  }
  Result<Bytes> Hex(const char* name, size_t max_hex) const {
    return HexOf(name, Get(name), max_hex);
  }
  // nullopt when the member is null.
  Result<std::optional<Bytes>> HexOrNull(const char* name, size_t max_hex) const {
    auto j = Get(name, /*nullable=*/true);
    if (!j.ok()) return j.status();
    if ((*j)->is_null()) return std::optional<Bytes>();
    auto b = HexOf(name, j, max_hex);
    if (!b.ok()) return b.status();
    return std::optional<Bytes>(std::move(b.value()));
  }
  template <typename Fixed>
  Result<Fixed> FixedHex(const char* name) const {
    auto b = Hex(name, 2 * Fixed::kSize);
    if (!b.ok()) return b.status();
    auto v = Fixed::FromBytes(*b);
    if (!v) return Fail(name, "must be " + std::to_string(2 * Fixed::kSize) + " hex digits");
    return *v;
  }
  Result<uint64_t> Uint(const char* name, uint64_t max) const {
    auto j = Get(name);
    if (!j.ok()) return j.status();
    if (!(*j)->is_number_unsigned() || (*j)->get<uint64_t>() > max) {
      return Fail(name, "must be an integer from 0 to " + std::to_string(max));
    }
    return (*j)->get<uint64_t>();
  }
  Status Fail(std::string_view name, std::string_view problem) const {
    return Status::InvalidArgument("proof file: " + prefix_ + std::string(name) + ": " +
                                   std::string(problem));
  }

 private:
  Result<Bytes> HexOf(const char* name, const Result<const Json*>& j, size_t max_hex) const {
    if (!j.ok()) return j.status();
    if (!(*j)->is_string()) return Fail(name, "must be a hex string");
    const std::string& s = (*j)->get_ref<const std::string&>();
    if (s.size() > max_hex) {
      return Fail(name,
                  std::to_string(s.size()) + " hex digits exceeds " + std::to_string(max_hex));
    }
    auto b = crypto::FromHex(s);
    if (!b) return Fail(name, "is not hex (an even number of 0-9 a-f)");
    return std::move(*b);
  }

  const Json& obj_;
  std::string prefix_;
};

// The deepest nesting of arrays and objects, scanned without parsing, so a file of a million
// '[' is refused before the recursive parser sees it. Proof files nest 3 deep.
constexpr size_t kMaxNesting = 8;

}  // namespace

Json ProofFile::ToJson() const {
  Json statement{{"kind", std::string(StatementKindName(kind))}};
  if (kind == StatementKind::kTx) {
    statement["tx_hash"] = tx.tx_hash.ToHex();
    statement["index"] = tx.index;
  } else {
    statement["address"] = state.address.ToHex();
    if (kind == StatementKind::kRecord) statement["key"] = crypto::ToHex(state.key);
    statement["value"] = state.value ? Json(crypto::ToHex(*state.value)) : Json();
  }
  Json hs = Json::array();
  for (const LinkedHeader& h : headers) {
    hs.push_back(
        Json{{"header", crypto::ToHex(h.header)}, {"proposer_sig", h.proposer_sig.ToHex()}});
  }
  return Json{{"format", kProofFormat},
              {"chain_id", chain_id},
              {"genesis_hash", genesis_hash.ToHex()},
              {"consensus", std::string(genesis::ConsensusName(consensus))},
              {"statement", std::move(statement)},
              {"height", height},
              {"header", crypto::ToHex(header)},
              {"certificate", certificate ? Json(HexOrNull(certificate)) : Json()},
              {"proposer_sig", proposer_sig ? Json(proposer_sig->ToHex()) : Json()},
              {"headers_from", headers_from},
              {"headers", std::move(hs)},
              {"proof", crypto::ToHex(proof)}};
}

Result<ProofFile> ProofFile::FromJson(const Json& j) {
  if (!j.is_object()) return Status::InvalidArgument("proof file: not a JSON object");
  Fields f(j, "");
  ProofFile p;
  auto format = f.String("format", 64);
  if (!format.ok()) return format.status();
  if (*format != kProofFormat) {
    return f.Fail("format", "\"" + *format + "\" is not \"" + kProofFormat + "\"");
  }
  auto chain_id = f.String("chain_id", 64);
  if (!chain_id.ok()) return chain_id.status();
  p.chain_id = *chain_id;
  auto gh = f.FixedHex<crypto::Hash256>("genesis_hash");
  if (!gh.ok()) return gh.status();
  p.genesis_hash = *gh;
  auto consensus = f.String("consensus", 16);
  if (!consensus.ok()) return consensus.status();
  auto kind = genesis::ParseConsensusKind(*consensus);
  if (!kind) return f.Fail("consensus", "must be \"solo\", \"raft\" or \"bft\"");
  p.consensus = *kind;

  auto st = f.Get("statement");
  if (!st.ok()) return st.status();
  if (!(*st)->is_object()) return f.Fail("statement", "must be an object");
  Fields s(**st, "statement.");
  auto sk = s.String("kind", 16);
  if (!sk.ok()) return sk.status();
  if (*sk == "tx") {
    p.kind = StatementKind::kTx;
    auto th = s.FixedHex<crypto::Hash256>("tx_hash");
    if (!th.ok()) return th.status();
    p.tx.tx_hash = *th;
    auto index = s.Uint("index", UINT32_MAX);
    if (!index.ok()) return index.status();
    p.tx.index = static_cast<uint32_t>(*index);
  } else if (*sk == "account" || *sk == "record") {
    p.kind = *sk == "account" ? StatementKind::kAccount : StatementKind::kRecord;
    auto addr = s.FixedHex<crypto::PublicKey>("address");
    if (!addr.ok()) return addr.status();
    p.state.address = *addr;
    if (p.kind == StatementKind::kRecord) {
      auto key = s.Hex("key", 2 * 128);
      if (!key.ok()) return key.status();
      if (key->empty()) return s.Fail("key", "must be 1 to 128 bytes");
      p.state.key = std::move(*key);
    }
    auto value = s.HexOrNull("value", kMaxStateValueHex);
    if (!value.ok()) return value.status();
    p.state.value = std::move(*value);
  } else {
    return s.Fail("kind", "\"" + *sk + "\" is not \"tx\", \"account\" or \"record\"");
  }

  auto height = f.Uint("height", UINT64_MAX);
  if (!height.ok()) return height.status();
  p.height = *height;
  auto header = f.Hex("header", kMaxHeaderHex);
  if (!header.ok()) return header.status();
  p.header = std::move(*header);
  auto cert = f.HexOrNull("certificate", kMaxCertificateHex);
  if (!cert.ok()) return cert.status();
  p.certificate = std::move(*cert);
  auto sig = f.HexOrNull("proposer_sig", 2 * crypto::Signature::kSize);
  if (!sig.ok()) return sig.status();
  if (*sig) {
    auto v = crypto::Signature::FromBytes(**sig);
    if (!v) return f.Fail("proposer_sig", "must be 128 hex digits");
    p.proposer_sig = *v;
  }
  auto from = f.Uint("headers_from", UINT64_MAX);
  if (!from.ok()) return from.status();
  p.headers_from = *from;

  auto hs = f.Get("headers");
  if (!hs.ok()) return hs.status();
  if (!(*hs)->is_array()) return f.Fail("headers", "must be an array");
  if ((*hs)->size() > kMaxProofHeaders) {
    return f.Fail("headers", std::to_string((*hs)->size()) + " entries exceeds " +
                                 std::to_string(kMaxProofHeaders));
  }
  p.headers.reserve((*hs)->size());
  for (size_t i = 0; i < (*hs)->size(); ++i) {
    const Json& item = (**hs)[i];
    const std::string where = "headers[" + std::to_string(i) + "]";
    if (!item.is_object()) return f.Fail(where, "must be an object");
    Fields h(item, where + ".");
    LinkedHeader lh;
    auto hb = h.Hex("header", kMaxHeaderHex);
    if (!hb.ok()) return hb.status();
    lh.header = std::move(*hb);
    auto ps = h.FixedHex<crypto::Signature>("proposer_sig");
    if (!ps.ok()) return ps.status();
    lh.proposer_sig = *ps;
    p.headers.push_back(std::move(lh));
  }
  auto proof = f.Hex("proof", p.kind == StatementKind::kTx ? kMaxTxProofHex : kMaxStateProofHex);
  if (!proof.ok()) return proof.status();
  p.proof = std::move(*proof);
  return p;
}

Result<ProofFile> ReadProofFile(const std::string& path) {
  auto file = ReadRegularFile(path, kMaxProofFileBytes);
  if (!file.ok()) return file.status();
  if (!JsonNestingWithin(file->data, kMaxNesting)) {
    return Status::InvalidArgument(path + ": JSON nested deeper than " +
                                   std::to_string(kMaxNesting) + " levels; not a proof file");
  }
  Json j;
  try {
    j = Json::parse(file->data);
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(path + ": not JSON: " + e.what());
  }
  return ProofFile::FromJson(j);
}

Status WriteProofFile(const std::string& path, const ProofFile& file) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError("cannot write " + tmp);
    out << file.ToJson().dump(1) << "\n";
    out.flush();
    if (!out) return Status::IoError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::IoError("cannot rename " + tmp + " to " + path);
  }
  return Status::Ok();
}

}  // namespace cairn::cli
