// Header checks without the block: a ledger::Block with the header and proposer signature
// and no transactions is all chain::BlockRules::CheckHeader, Block::VerifyProposerSignature
// and BlockRules::CheckCertificate read, so the light client runs the node's own rules.
#include "audit/header_trust.h"

#include "chain/block_rules.h"
#include "consensus/bft/messages.h"

namespace cairn::audit {

struct HeaderTrust::Rules {
  explicit Rules(genesis::Genesis g) : genesis(std::move(g)), rules(genesis) {}
  const genesis::Genesis genesis;
  const chain::BlockRules rules;  // holds a reference to `genesis` above
};

HeaderTrust::HeaderTrust(genesis::Genesis genesis)
    : rules_(std::make_unique<Rules>(std::move(genesis))) {
  genesis_header_ = rules_->genesis.Block0().header;
  genesis_hash_ = genesis_header_.Hash();
  validators_ = rules_->rules.genesis_validators();
  validators_hash_ = rules_->rules.genesis_validators_hash();
}

HeaderTrust::~HeaderTrust() = default;

const genesis::Genesis& HeaderTrust::genesis() const { return rules_->genesis; }

namespace {

Status AtHeight(uint64_t height, const chain::Checked& c) {
  return Status::Error("header " + std::to_string(height) + ": " +
                       std::string(chain::VerdictName(c.verdict)) + ": " + c.detail);
}

// "3 validators (ids 0, 1, 4), hash 1a2b..."
std::string DescribeSet(const std::vector<ledger::Member>& set, const crypto::Hash256& hash) {
  std::string ids;
  for (const ledger::Member& m : set) ids += (ids.empty() ? "" : ", ") + std::to_string(m.id);
  return std::to_string(set.size()) + " validators (ids " + ids + "), hash " +
         crypto::ShortHex(hash, 16);
}

// The same bounds ledger::MemberSet keeps in state: ids strictly increasing, not too many.
Status CheckShape(uint64_t height, const std::vector<ledger::Member>& set) {
  if (set.empty() || set.size() > ledger::kMaxMembers) {
    return Status::Error("set(" + std::to_string(height) + "): " + std::to_string(set.size()) +
                         " validators, not 1 to " + std::to_string(ledger::kMaxMembers));
  }
  for (size_t i = 1; i < set.size(); ++i) {
    if (set[i].id <= set[i - 1].id) {
      return Status::Error("set(" + std::to_string(height) + "): member ids not increasing");
    }
  }
  return Status::Ok();
}

}  // namespace

Status HeaderTrust::Follow(const ledger::BlockHeader& trusted, std::vector<ledger::Member> set) {
  const uint64_t height = trusted.height + 1;
  if (Status s = CheckShape(height, set); !s.ok()) return s;
  const crypto::Hash256 hash = ledger::SetHash(set);
  if (hash != trusted.next_validators_hash) {
    return Status::Error("set(" + std::to_string(height) + ") as the node gave it, " +
                         DescribeSet(set, hash) + ", is not the set trusted header " +
                         std::to_string(trusted.height) + " commits to (next_validators_hash " +
                         crypto::ShortHex(trusted.next_validators_hash, 16) + ")");
  }
  validators_ = std::move(set);
  validators_hash_ = hash;
  return Status::Ok();
}

Status HeaderTrust::Hold(const ledger::BlockHeader& trusted, std::vector<ledger::Member> set) {
  if (Status s = CheckShape(trusted.height, set); !s.ok()) return s;
  const crypto::Hash256 hash = ledger::SetHash(set);
  if (hash != trusted.validators_hash) {
    return Status::Error("set(" + std::to_string(trusted.height) + "), " + DescribeSet(set, hash) +
                         ", is not the set trusted header " + std::to_string(trusted.height) +
                         " names (validators_hash " +
                         crypto::ShortHex(trusted.validators_hash, 16) + ")");
  }
  validators_ = std::move(set);
  validators_hash_ = hash;
  return Status::Ok();
}

Result<uint32_t> HeaderTrust::CheckCertified(const ledger::BlockHeader& header,
                                             ByteView certificate) const {
  if (!certified()) {
    return Status::Error("header " + std::to_string(header.height) +
                         ": this chain keeps no certificates (" +
                         std::string(genesis::ConsensusName(genesis().consensus)) + ")");
  }
  if (header.height == 0) {
    return Status::Error("header 0: genesis has no certificate; it is computed from the file");
  }
  if (NeedsSet(header)) {
    return Status::Error("header " + std::to_string(header.height) + ": certified by set " +
                         crypto::ShortHex(header.validators_hash, 16) +
                         ", not the set this client holds, " +
                         DescribeSet(validators_, validators_hash_) +
                         ": the set changed since the newest header it trusts");
  }
  ledger::Block block;
  block.header = header;
  chain::Checked c = rules_->rules.CheckCertificate(block, certificate, validators_);
  if (!c.ok()) {
    // Keep BlockRules' wording ("certificate: 2 signers, ...") without repeating the verdict.
    return Status::Error("header " + std::to_string(header.height) + ": " + c.detail);
  }
  auto cert = consensus::bft::Certificate::Decode(certificate);  // it decoded in CheckCertificate
  if (!cert.ok()) return cert.status();
  return static_cast<uint32_t>(cert->sigs.size());
}

Status HeaderTrust::CheckLinked(const ledger::BlockHeader& parent,
                                const ledger::BlockHeader& header,
                                const crypto::Signature& proposer_sig) const {
  if (header.validators_hash != parent.next_validators_hash) {
    return Status::Error("header " + std::to_string(header.height) + ": header: validators_hash " +
                         crypto::ShortHex(header.validators_hash, 16) + " is not the " +
                         "next_validators_hash " +
                         crypto::ShortHex(parent.next_validators_hash, 16) + " of header " +
                         std::to_string(parent.height));
  }
  if (NeedsSet(header)) {
    return Status::Error("header " + std::to_string(header.height) + ": names validator set " +
                         crypto::ShortHex(header.validators_hash, 16) +
                         ", not the set this client holds, " +
                         DescribeSet(validators_, validators_hash_) +
                         ": the set changed, and only a light sync (which fetches the new set) "
                         "follows it");
  }
  ledger::Block block;
  block.header = header;
  block.proposer_sig = proposer_sig;
  chain::Checked c = rules_->rules.CheckHeader(parent, block, chain::CheckOptions{}, validators_);
  if (!c.ok()) return AtHeight(header.height, c);
  if (!block.VerifyProposerSignature()) {
    return Status::Error("header " + std::to_string(header.height) +
                         ": proposer_signature: the signature by " +
                         crypto::ShortHex(header.proposer, 16) + " over block " +
                         crypto::ShortHex(header.Hash(), 16) + " does not verify");
  }
  return Status::Ok();
}

}  // namespace cairn::audit
