// Signer and Verifier: how an engine that needs signed votes (the BFT engine) signs its own
// messages and checks other replicas' signatures without knowing where keys live. Raft and
// solo do not use them (Raft trusts the authenticated transport: crash faults only).
// Implementations must be thread-safe for const calls.
#pragma once

#include <vector>

#include "base/bytes.h"
#include "consensus/types.h"
#include "crypto/ed25519.h"

namespace cairn::consensus {

class Signer {
 public:
  virtual ~Signer() = default;
  virtual ReplicaId id() const = 0;
  // Signs the exact bytes given; engines sign a domain-separated canonical encoding.
  virtual crypto::Signature Sign(ByteView message) const = 0;
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  // False for an unknown replica or a bad signature. `signer` is a genesis validator's
  // index (= its member id); sets given with keys are checked through VerifyKey instead.
  virtual bool Verify(ReplicaId signer, ByteView message, const crypto::Signature& sig) const = 0;
  // Whether `sig` is `key`'s signature of `message`: how signatures are checked against a
  // validator set given with keys (consensus/bft/validator_set.h). Ed25519 unless a test
  // scheme overrides it.
  virtual bool VerifyKey(const crypto::PublicKey& key, ByteView message,
                         const crypto::Signature& sig) const {
    return crypto::Verify(key, message, sig);
  }
};

// Ed25519 implementations over the validator keys, in replica order.
class Ed25519Signer final : public Signer {
 public:
  Ed25519Signer(ReplicaId id, crypto::KeyPair key) : id_(id), key_(std::move(key)) {}
  ReplicaId id() const override { return id_; }
  crypto::Signature Sign(ByteView message) const override { return key_.Sign(message); }

 private:
  ReplicaId id_;
  crypto::KeyPair key_;
};

class Ed25519Verifier final : public Verifier {
 public:
  explicit Ed25519Verifier(std::vector<crypto::PublicKey> keys) : keys_(std::move(keys)) {}
  bool Verify(ReplicaId signer, ByteView message, const crypto::Signature& sig) const override {
    return signer < keys_.size() && crypto::Verify(keys_[signer], message, sig);
  }

 private:
  std::vector<crypto::PublicKey> keys_;
};

}  // namespace cairn::consensus
