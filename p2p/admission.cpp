#include "p2p/admission.h"

#include <algorithm>

namespace cairn::p2p {

InboundAdmission::InboundAdmission(const Limits& limits, const Clock* clock)
    : limits_(limits), clock_(clock) {}

size_t InboundAdmission::pending_from(const AddressKey& addr) const {
  auto it = per_address_.find(addr);
  return it == per_address_.end() ? 0 : it->second;
}

InboundAdmission::EntryList::iterator InboundAdmission::PickVictim(const AddressKey* addr) {
  EntryList::iterator oldest = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (addr && it->addr != *addr) continue;
    if (!it->hello) return it;  // the oldest that has shown nothing
    if (oldest == entries_.end()) oldest = it;
  }
  return oldest;
}

void InboundAdmission::Erase(EntryList::iterator it) {
  auto count = per_address_.find(it->addr);
  if (count != per_address_.end() && --count->second == 0) per_address_.erase(count);
  index_.erase(it->id);
  entries_.erase(it);
}

std::optional<uint64_t> InboundAdmission::Admit(uint64_t id, const AddressKey& addr) {
  std::optional<uint64_t> victim;
  EntryList::iterator v = entries_.end();
  if (pending_from(addr) >= std::max<uint32_t>(limits_.max_pending_per_address, 1)) {
    v = PickVictim(&addr);
  } else if (entries_.size() >= std::max<uint32_t>(limits_.max_pending, 1)) {
    v = PickVictim(nullptr);
  }
  if (v != entries_.end()) {
    victim = v->id;
    Erase(v);
  }
  Remove(id);  // a reused id replaces its stale entry
  entries_.push_back(Entry{id, addr});
  index_[id] = std::prev(entries_.end());
  ++per_address_[addr];
  return victim;
}

RateLimiter& InboundAdmission::BudgetOf(const AddressKey& addr) {
  auto it = budgets_.find(addr);
  if (it != budgets_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return *it->second.limiter;
  }
  if (budgets_.size() >= kMaxTrackedAddresses) {
    budgets_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(addr);
  Budget b{
      std::make_unique<RateLimiter>(limits_.handshakes_per_second, limits_.handshake_burst, clock_),
      lru_.begin()};
  return *budgets_.emplace(addr, std::move(b)).first->second.limiter;
}

bool InboundAdmission::OnHello(uint64_t id) {
  auto it = index_.find(id);
  if (it == index_.end()) return false;
  it->second->hello = true;
  return BudgetOf(it->second->addr).Allow();
}

void InboundAdmission::Remove(uint64_t id) {
  auto it = index_.find(id);
  if (it != index_.end()) Erase(it->second);
}

}  // namespace cairn::p2p
