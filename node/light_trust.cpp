#include "node/light_trust.h"

#include <algorithm>

namespace cairn::node {

LightTrust::LightTrust(const chain::BlockRules& rules, ledger::BlockHeader genesis, uint64_t target)
    : rules_(rules), target_(target), trusted_(std::move(genesis)) {
  Hold(rules_.genesis_validators());
}

void LightTrust::Hold(std::vector<ledger::Member> set) {
  held_ = std::move(set);
  held_hash_ = ledger::SetHash(held_);
}

LightTrust::Need LightTrust::next() const {
  Need n;
  if (proven_) return n;
  if (change_) {
    n.kind = Need::Kind::kSet;
    n.set_height = change_->first.height;
    n.set_hash = change_->first.validators_hash;
    return n;
  }
  n.kind = Need::Kind::kHeaders;
  if (!walking_) {
    n.low = n.high = target_;
  } else {
    n.low = cursor_;
    n.high = std::min(target_, cursor_ + kPage - 1);
  }
  return n;
}

Status LightTrust::Check(const Certified& c) const {
  ledger::Block b;
  b.header = c.first;
  chain::Checked checked = rules_.CheckCertificate(b, c.second, held_);
  if (!checked.ok()) return checked.ToStatus(c.first.height);
  return Status::Ok();
}

Status LightTrust::Reject(const std::string& why) {
  // Nothing unproven survives: the walk resumes from the newest trusted header.
  cursor_ = trusted_.height + 1;
  last_.reset();
  change_.reset();
  rest_.clear();
  return Status::Rejected(why);
}

Status LightTrust::AddHeaders(std::span<const Certified> ascending) {
  blame_headers_ = false;
  const Need need = next();
  if (need.kind != Need::Kind::kHeaders) return Status::InvalidArgument("no headers were asked");
  if (ascending.empty() || ascending.size() > need.high - need.low + 1) {
    return Status::InvalidArgument("not the headers asked");
  }
  for (size_t i = 0; i < ascending.size(); ++i) {
    if (ascending[i].first.height != need.low + i) {
      return Status::InvalidArgument("header " + std::to_string(ascending[i].first.height) +
                                     " is not the height asked (" + std::to_string(need.low + i) +
                                     ")");
    }
  }
  headers_seen_ += ascending.size();
  if (!walking_) {
    const Certified& t = ascending.front();
    if (t.first.validators_hash == held_hash_) {
      if (Status s = Check(t); !s.ok()) return Reject(s.message());
      ++checked_;
      proven_ = t;
      return Status::Ok();
    }
    // Another set than the genesis one: walk the changes from genesis up to it.
    target_hdr_ = t;
    walking_ = true;
    cursor_ = trusted_.height + 1;
    return Status::Ok();
  }
  return Walk(std::vector<Certified>(ascending.begin(), ascending.end()));
}

Status LightTrust::Walk(std::vector<Certified> ascending) {
  for (size_t i = 0; i < ascending.size(); ++i) {
    Certified& h = ascending[i];
    if (h.first.validators_hash == held_hash_) {
      if (h.first.height == target_) {
        if (Status s = Check(h); !s.ok()) return Reject(s.message());
        ++checked_;
        proven_ = std::move(h);
        return Status::Ok();
      }
      last_ = std::move(h);
      ++cursor_;
      continue;
    }
    // The set changes at this height: the header before it must be proven by the held set,
    // and name the new set's hash.
    if (last_) {
      if (Status s = Check(*last_); !s.ok()) return Reject(s.message());
      ++checked_;
      trusted_ = last_->first;
      last_.reset();
    }
    if (h.first.validators_hash != trusted_.next_validators_hash) {
      return Reject("header " + std::to_string(h.first.height) + ": validators_hash " +
                    crypto::ShortHex(h.first.validators_hash, 16) +
                    " is not the next_validators_hash of the certified header " +
                    std::to_string(trusted_.height) + " (" +
                    crypto::ShortHex(trusted_.next_validators_hash, 16) + ")");
    }
    change_ = std::move(h);
    rest_.assign(std::make_move_iterator(ascending.begin() + i + 1),
                 std::make_move_iterator(ascending.end()));
    return Status::Ok();
  }
  // The page's top header, proven now (one certificate a page): the next page starts from a
  // trusted header, so each page's sender answers for its own page only.
  if (last_) {
    if (Status s = Check(*last_); !s.ok()) return Reject(s.message());
    ++checked_;
    trusted_ = last_->first;
    last_.reset();
  }
  return Status::Ok();
}

Status LightTrust::AddSet(uint64_t height, std::vector<ledger::Member> set) {
  blame_headers_ = false;
  if (!change_ || change_->first.height != height) {
    return Status::InvalidArgument("set(" + std::to_string(height) + ") was not asked");
  }
  if (ledger::SetHash(set) != change_->first.validators_hash) {
    // Only the set's sender is at fault: keep the walk where it is and ask another peer.
    return Status::Rejected("set(" + std::to_string(height) + ") hashes to " +
                            crypto::ShortHex(ledger::SetHash(set), 16) + ", not to " +
                            crypto::ShortHex(change_->first.validators_hash, 16) +
                            " which the certified header " + std::to_string(trusted_.height) +
                            " names");
  }
  std::vector<ledger::Member> before = held_;
  Hold(std::move(set));
  if (Status s = Check(*change_); !s.ok()) {
    Hold(std::move(before));
    blame_headers_ = true;
    return Reject(s.message());
  }
  ++checked_;
  followed_.push_back(held_);
  Certified change = std::move(*change_);
  change_.reset();
  trusted_ = change.first;
  cursor_ = trusted_.height + 1;
  if (trusted_.height == target_) {
    proven_ = std::move(change);
    return Status::Ok();
  }
  // The target as first fetched may be proven by this set already: no need to walk further.
  if (target_hdr_ && target_hdr_->first.validators_hash == held_hash_) {
    if (Check(*target_hdr_).ok()) {
      ++checked_;
      proven_ = std::move(*target_hdr_);
      return Status::Ok();
    }
    target_hdr_.reset();  // not final for this set: the walk will reach the real one
  }
  std::vector<Certified> rest = std::move(rest_);
  rest_.clear();
  // The set is followed; what is left of the page came from the headers' sender.
  Status s = Walk(std::move(rest));
  if (!s.ok()) blame_headers_ = true;
  return s;
}

}  // namespace cairn::node
