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
}

HeaderTrust::~HeaderTrust() = default;

const genesis::Genesis& HeaderTrust::genesis() const { return rules_->genesis; }

namespace {

Status AtHeight(uint64_t height, const chain::Checked& c) {
  return Status::Error("header " + std::to_string(height) + ": " +
                       std::string(chain::VerdictName(c.verdict)) + ": " + c.detail);
}

}  // namespace

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
  ledger::Block block;
  block.header = header;
  chain::Checked c =
      rules_->rules.CheckCertificate(block, certificate, rules_->rules.genesis_validators());
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
  ledger::Block block;
  block.header = header;
  block.proposer_sig = proposer_sig;
  chain::Checked c = rules_->rules.CheckHeader(parent, block, chain::CheckOptions{},
                                               rules_->rules.genesis_validators());
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
