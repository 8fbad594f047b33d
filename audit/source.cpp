#include "audit/source.h"

#include <algorithm>

#include "crypto/hex.h"
#include "ledger/chain_store.h"
#include "rpc/client.h"

namespace cairn::audit::internal {

Bytes BlockKey(uint64_t height) {
  Bytes k(9);
  k[0] = 'B';
  for (int i = 0; i < 8; ++i) k[1 + i] = static_cast<uint8_t>(height >> (8 * (7 - i)));
  return k;
}

Status ReadOnlyKv::Write(const ledger::WriteBatch&, bool) {
  return Status::Error("audit: refusing to write: the store is opened read-only");
}

Page StoreBlockSource::Fetch(uint64_t from, uint64_t max) {
  Page page;
  size_t bytes = 0;
  for (uint64_t h = from; h < from + max && bytes < kPageBudget; ++h) {
    // Through a reference to a block body stored once by hash (ledger/chain_store.h).
    auto got = ledger::ChainStore::BlockBytesAt(kv_, h);
    if (!got.ok()) {
      page.error = AuditFailure{AuditCheck::kRead, h, "reading block: " + got.error()};
      break;
    }
    if (!got.value()) break;
    auto cert = kv_.Get(ledger::ChainStore::CertificateKey(h));
    if (!cert.ok()) {
      page.error = AuditFailure{AuditCheck::kRead, h, "reading certificate: " + cert.error()};
      break;
    }
    page.blocks.push_back(std::move(*got.value()));
    page.certificates.push_back(cert.value() ? std::move(*cert.value()) : Bytes());
    bytes += page.blocks.back().size() + page.certificates.back().size();
  }
  return page;
}

Page RpcBlockSource::Fetch(uint64_t from, uint64_t max) {
  // A few blocks until sizes are known, then as many of the largest seen as fit the budget.
  max = largest_hex_ == 0 ? std::min<uint64_t>(max, 8)
                          : std::clamp<uint64_t>(kAnswerBudget / largest_hex_, 1, max);
  Page page;
  rpc::CallResult r = client_.Call("getRawBlocks", rpc::Json{{"from", from}, {"count", max}});
  if (!r.ok()) {
    page.error =
        AuditFailure{AuditCheck::kSource, std::nullopt,
                     "getRawBlocks from " + std::to_string(from) + ": " + r.status().message()};
    return page;
  }
  const rpc::Json& j = r.value();
  auto blocks = j.find("blocks");
  auto head = j.find("head");
  if (blocks == j.end() || !blocks->is_array() || head == j.end() || !head->is_number_unsigned()) {
    page.error = AuditFailure{AuditCheck::kSource, std::nullopt,
                              "getRawBlocks answered without \"blocks\" and \"head\""};
    return page;
  }
  if (!head_) head_ = head->get<uint64_t>();
  // Present on chains that keep certificates: one per block, null where there is none.
  auto certs = j.find("certificates");
  const bool has_certs = certs != j.end() && certs->is_array();
  for (const rpc::Json& b : *blocks) {
    if (page.blocks.size() == max) break;
    std::optional<Bytes> bytes;
    if (b.is_string()) {
      const std::string& hex = b.get_ref<const std::string&>();
      largest_hex_ = std::max(largest_hex_, hex.size());
      bytes = crypto::FromHex(hex);
    }
    if (!bytes) {
      page.error = AuditFailure{AuditCheck::kDecode, from + page.blocks.size(),
                                "getRawBlocks returned a block that is not a hex string"};
      break;
    }
    const size_t i = page.blocks.size();
    Bytes cert;
    if (has_certs && i < certs->size() && !(*certs)[i].is_null()) {
      std::optional<Bytes> c;
      if ((*certs)[i].is_string()) c = crypto::FromHex((*certs)[i].get_ref<const std::string&>());
      if (!c) {
        page.error = AuditFailure{AuditCheck::kCertificate, from + i,
                                  "getRawBlocks returned a certificate that is not a hex string"};
        break;
      }
      cert = std::move(*c);
    }
    page.blocks.push_back(std::move(*bytes));
    page.certificates.push_back(std::move(cert));
  }
  return page;
}

}  // namespace cairn::audit::internal
