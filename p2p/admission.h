// InboundAdmission: who among unauthenticated inbound connections keeps a slot, and which
// addresses may still start a key exchange. Pure bookkeeping (no sockets), so every rule of
// docs/P2P.md section 6 ("Admission") can be tested in memory.
// Not thread-safe: the host calls it from its network thread only.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/clock.h"
#include "base/net_address.h"
#include "base/rate_limit.h"

namespace cairn::p2p {

// Connections are counted per AddressKey (base/net_address.h): an IPv4 address or an IPv6 /64.
class InboundAdmission {
 public:
  struct Limits {
    uint32_t max_pending = 32;
    uint32_t max_pending_per_address = 8;
    uint32_t handshakes_per_second = 20;  // per address
    uint32_t handshake_burst = 40;        // per address
  };
  // How many addresses keep a handshake budget; beyond it the least recently seen one is
  // forgotten (and starts again with a full burst if it returns).
  static constexpr size_t kMaxTrackedAddresses = 4096;

  // `clock` must outlive this object.
  InboundAdmission(const Limits& limits, const Clock* clock);

  // Registers a newly accepted connection `id` (any value unique among pending ones) from
  // `addr`. If its address, or the whole table, was full, returns the pending connection
  // that must be closed to make room: of the candidates (that address's connections, or
  // all), the oldest that has not sent a hello, else the oldest. The victim is already
  // removed. The newcomer is never refused: refusing it would let whoever holds the slots
  // keep them.
  std::optional<uint64_t> Admit(uint64_t id, const AddressKey& addr);
  // Pending connection `id` sent a well-formed hello. True if its address may start one
  // more key exchange now (spends one from its budget).
  bool OnHello(uint64_t id);
  // `id` authenticated or closed; unknown ids are ignored.
  void Remove(uint64_t id);

  bool IsPending(uint64_t id) const { return index_.count(id) != 0; }
  size_t pending() const { return entries_.size(); }
  size_t pending_from(const AddressKey& addr) const;
  size_t tracked_addresses() const { return budgets_.size(); }

 private:
  struct Entry {
    uint64_t id;
    AddressKey addr;
    bool hello = false;
  };
  using EntryList = std::list<Entry>;  // oldest first
  struct Budget {
    std::unique_ptr<RateLimiter> limiter;
    std::list<AddressKey>::iterator lru;
  };

  // The victim among entries (optionally only those of `addr`).
  EntryList::iterator PickVictim(const AddressKey* addr);
  void Erase(EntryList::iterator it);
  RateLimiter& BudgetOf(const AddressKey& addr);

  const Limits limits_;
  const Clock* clock_;
  EntryList entries_;
  std::unordered_map<uint64_t, EntryList::iterator> index_;
  std::map<AddressKey, uint32_t> per_address_;
  std::map<AddressKey, Budget> budgets_;
  std::list<AddressKey> lru_;  // most recently used first
};

}  // namespace cairn::p2p
