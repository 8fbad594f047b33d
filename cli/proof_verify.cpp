#include "cli/proof_verify.h"

#include "api/tx_proof.h"
#include "ledger/account.h"
#include "ledger/state.h"
#include "ledger/state_proof.h"

namespace cairn::cli {
namespace {

Result<ledger::BlockHeader> DecodeHeader(ByteView b, const std::string& where) {
  auto h = ledger::BlockHeader::Decode(b);
  if (!h.ok()) return Status::InvalidArgument(where + ": does not decode: " + h.status().message());
  return h;
}

// Solo and Raft: the header is linked to genesis by signed headers (or is one the store holds).
Status CheckChain(const ProofFile& file, const ledger::BlockHeader& header,
                  const audit::HeaderTrust& trust, const LightStore* store, VerifiedProof* out) {
  const std::string at = "header " + std::to_string(file.height);
  if (!file.proposer_sig) {
    return Status::Error(at + ": no proposer_sig (a " +
                         std::string(genesis::ConsensusName(file.consensus)) +
                         " proof needs the block's proposer signature)");
  }
  if (store != nullptr) {
    if (const TrustedHeader* t = store->Find(file.height)) {
      if (t->header.Hash() != header.Hash()) {
        return Status::Error(at + ": is not the header the light store trusts at that height (" +
                             crypto::ShortHex(header.Hash(), 16) + " vs " +
                             crypto::ShortHex(t->header.Hash(), 16) + ")");
      }
      out->trusted_by_store = true;
      return Status::Ok();
    }
  }
  if (file.headers_from == 0 || file.headers_from > file.height) {
    return Status::Error("headers_from: " + std::to_string(file.headers_from) +
                         " must be from 1 to the height " + std::to_string(file.height));
  }
  const uint64_t need = file.height - file.headers_from;
  if (file.headers.size() != need) {
    return Status::Error("headers: " + std::to_string(file.headers.size()) +
                         " entries, but heights " + std::to_string(file.headers_from) + " to " +
                         std::to_string(file.height - 1) + " are " + std::to_string(need));
  }
  // The anchor: genesis, computed from the file, or the header the store trusts below the
  // first one the proof file carries.
  ledger::BlockHeader prev;
  if (file.headers_from == 1) {
    prev = trust.genesis_header();
  } else {
    const TrustedHeader* t = store ? store->Find(file.headers_from - 1) : nullptr;
    if (t == nullptr) {
      return Status::Error("headers start at " + std::to_string(file.headers_from) +
                           ": this check needs header " + std::to_string(file.headers_from - 1) +
                           " trusted already (pass --light-dir with a store synced that far), "
                           "or a file with headers from 1");
    }
    prev = t->header;
  }
  for (size_t i = 0; i < file.headers.size(); ++i) {
    const uint64_t height = file.headers_from + i;
    auto h = DecodeHeader(file.headers[i].header, "header " + std::to_string(height));
    if (!h.ok()) return h.status();
    if (h->height != height) {
      // Named by position: the header's own height is the wrong one.
      return Status::Error("headers[" + std::to_string(i) + "]: is header " +
                           std::to_string(h->height) + ", where header " + std::to_string(height) +
                           " belongs");
    }
    if (Status s = trust.CheckLinked(prev, *h, file.headers[i].proposer_sig); !s.ok()) return s;
    prev = std::move(*h);
  }
  if (Status s = trust.CheckLinked(prev, header, *file.proposer_sig); !s.ok()) return s;
  out->linked_headers = file.headers.size() + 1;
  out->anchor = file.headers_from - 1;
  return Status::Ok();
}

}  // namespace

Result<VerifiedProof> VerifyProof(const ProofFile& file, const audit::HeaderTrust& trust,
                                  const LightStore* store) {
  const genesis::Genesis& g = trust.genesis();
  if (file.genesis_hash != trust.genesis_hash()) {
    return Status::Error("genesis: the proof is for the chain whose genesis hash is " +
                         file.genesis_hash.ToHex() + ", but the genesis file gives " +
                         trust.genesis_hash().ToHex());
  }
  if (file.chain_id != g.chain_id) {
    return Status::Error("chain_id: the proof says \"" + file.chain_id + "\", the genesis file \"" +
                         g.chain_id + "\"");
  }
  if (file.consensus != g.consensus) {
    return Status::Error("consensus: the proof says " +
                         std::string(genesis::ConsensusName(file.consensus)) +
                         ", the genesis file " + std::string(genesis::ConsensusName(g.consensus)));
  }
  auto header = DecodeHeader(file.header, "header " + std::to_string(file.height));
  if (!header.ok()) return header.status();
  if (header->height != file.height) {
    return Status::Error("header: its height is " + std::to_string(header->height) +
                         ", the file says " + std::to_string(file.height));
  }
  if (file.height == 0 && file.kind == StatementKind::kTx) {
    return Status::Error("header 0: genesis holds no transactions");
  }
  if (header->chain_id != g.chain_id) {
    return Status::Error("header " + std::to_string(file.height) + ": chain id \"" +
                         header->chain_id + "\" is not \"" + g.chain_id + "\"");
  }

  VerifiedProof out;
  out.kind = file.kind;
  out.height = file.height;
  out.block_hash = header->Hash();
  out.validators = static_cast<uint32_t>(g.validators.size());
  const int proposer = g.ValidatorIndex(header->proposer);
  if (proposer >= 0) out.proposer = g.validators[static_cast<size_t>(proposer)].name;
  if (trust.certified()) {
    if (!file.certificate) {
      return Status::Error("header " + std::to_string(file.height) +
                           ": no certificate (a bft proof needs the block's commit certificate)");
    }
    auto signers = trust.CheckCertified(*header, *file.certificate);
    if (!signers.ok()) return signers.status();
    out.certified = true;
    out.signers = *signers;
  } else if (Status s = CheckChain(file, *header, trust, store, &out); !s.ok()) {
    return s;
  }

  if (file.kind != StatementKind::kTx) {
    // The state at the header: the proof against its state_root (PROTOCOL §7.1).
    const Bytes state_key = file.kind == StatementKind::kAccount
                                ? ledger::AccountKey(file.state.address)
                                : ledger::RecordKey(file.state.address, file.state.key);
    if (file.kind == StatementKind::kAccount && file.state.value) {
      if (auto a = ledger::Account::Decode(*file.state.value); !a.ok()) {
        return Status::Error("statement: value is not an Account encoding: " + a.error());
      }
    }
    const ledger::StateClaim claim = file.state.value
                                         ? ledger::StateClaim::Present(*file.state.value)
                                         : ledger::StateClaim::Absent();
    if (Status s = ledger::VerifyStateProof(header->state_root, state_key, claim, file.proof);
        !s.ok()) {
      std::string why = s.message();
      if (why.rfind("proof: ", 0) == 0) why.erase(0, 7);
      return Status::Error("proof: against the state_root " +
                           crypto::ShortHex(header->state_root, 16) + " of header " +
                           std::to_string(file.height) + ": " + why);
    }
    out.state = file.state;
    return out;
  }
  auto inclusion = api::VerifyTxProof(file.header, file.tx.tx_hash, file.proof);
  if (!inclusion.ok()) return Status::Error("proof: " + inclusion.status().message());
  if (inclusion->index != file.tx.index) {
    return Status::Error("statement: index " + std::to_string(file.tx.index) +
                         ", but the proof is for index " + std::to_string(inclusion->index));
  }
  out.tx_hash = file.tx.tx_hash;
  out.index = inclusion->index;
  return out;
}

std::string DescribeVerified(const VerifiedProof& v) {
  std::string s;
  if (v.kind == StatementKind::kTx) {
    s = "transaction " + v.tx_hash.ToHex() + " is at index " + std::to_string(v.index) +
        " of block " + std::to_string(v.height) + " (hash " + v.block_hash.ToHex() + ")";
  } else {
    std::string what =
        v.kind == StatementKind::kAccount
            ? "account " + v.state.address.ToHex()
            : "record " + crypto::ToHex(v.state.key) + " of account " + v.state.address.ToHex();
    std::string holds = "is absent";
    if (v.state.value && v.kind == StatementKind::kAccount) {
      auto a = ledger::Account::Decode(*v.state.value);
      holds = a.ok() ? "has balance " + std::to_string(a->balance) + ", nonce " +
                           std::to_string(a->nonce) + ", role " +
                           std::string(ledger::RoleName(a->role))
                     : "holds " + crypto::ToHex(*v.state.value);
    } else if (v.state.value) {
      holds = "holds " + crypto::ToHex(*v.state.value);
    }
    s = what + " " + holds + " after block " + std::to_string(v.height) + " (hash " +
        v.block_hash.ToHex() + ")";
  }
  if (v.certified) {
    return s + ", final by a certificate of " + std::to_string(v.signers) + " of " +
           std::to_string(v.validators) + " validators";
  }
  s += ", signed by validator " + (v.proposer.empty() ? std::string("?") : v.proposer);
  if (v.trusted_by_store) return s + " and already in the light store's trusted headers";
  return s + " and linked to " +
         (v.anchor == 0 ? std::string("genesis")
                        : "the light store's trusted header " + std::to_string(v.anchor)) +
         " by " + std::to_string(v.linked_headers) +
         (v.linked_headers == 1 ? " signed header" : " signed headers") +
         " (authorship, not finality: solo and raft keep no certificates)";
}

}  // namespace cairn::cli
