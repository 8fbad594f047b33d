#include "crypto/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace cairn::crypto {
namespace {
const EVP_MD* Md() {
  // Fetched once: EVP_get_digestbyname per call costs a provider lookup.
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
}  // namespace

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, Md(), nullptr) != 1) std::abort();
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

Sha256& Sha256::Update(ByteView data) {
  if (!data.empty() && EVP_DigestUpdate(impl_->ctx, data.data(), data.size()) != 1) std::abort();
  return *this;
}

Hash256 Sha256::Finish() {
  std::array<uint8_t, 32> out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) != 1 || len != 32) std::abort();
  if (EVP_DigestInit_ex(impl_->ctx, Md(), nullptr) != 1) std::abort();
  return Hash256(out);
}

Hash256 Sha256Of(ByteView data) {
  thread_local Sha256 hasher;
  return hasher.Update(data).Finish();
}

}  // namespace cairn::crypto
