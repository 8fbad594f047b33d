#include "ledger/state.h"

namespace cairn::ledger {

Bytes AccountKey(const Address& a) {
  Bytes k;
  k.reserve(33);
  k.push_back(0x01);
  k.insert(k.end(), a.view().begin(), a.view().end());
  return k;
}

Bytes RecordKey(const Address& a, ByteView key) {
  Bytes k;
  k.reserve(33 + key.size());
  k.push_back(0x02);
  k.insert(k.end(), a.view().begin(), a.view().end());
  k.insert(k.end(), key.begin(), key.end());
  return k;
}

Bytes SystemKey(std::string_view name) {
  Bytes k;
  k.reserve(1 + name.size());
  k.push_back(0x03);
  k.insert(k.end(), name.begin(), name.end());
  return k;
}

std::optional<Account> StateOverlay::GetAccount(const Address& a) const {
  auto it = accounts_.find(a);
  if (it != accounts_.end()) return it->second;
  if (!capture_) return base_.GetAccount(a);
  auto [base, inserted] = base_accounts_.try_emplace(a);
  if (inserted) base->second = base_.GetAccount(a);
  return base->second;
}

std::optional<Bytes> StateOverlay::GetRecord(const Address& a, ByteView key) const {
  Bytes k = RecordKey(a, key);
  auto it = records_.find(k);
  if (it != records_.end()) return it->second;
  if (!capture_) return base_.GetRecord(a, key);
  auto [base, inserted] = base_records_.try_emplace(std::move(k));
  if (inserted) base->second = base_.GetRecord(a, key);
  return base->second;
}

std::optional<Bytes> StateOverlay::GetSystem(std::string_view name) const {
  Bytes k = SystemKey(name);
  auto it = system_.find(k);
  if (it != system_.end()) return it->second;
  if (!capture_) return base_.GetSystem(name);
  auto [base, inserted] = base_system_.try_emplace(std::move(k));
  if (inserted) base->second = base_.GetSystem(name);
  return base->second;
}

void StateOverlay::PutRecord(const Address& a, ByteView key, ByteView value) {
  records_[RecordKey(a, key)] = Bytes(value.begin(), value.end());
}

StateDiff StateOverlay::Diff() const {
  StateDiff diff;
  for (const auto& [addr, acct] : accounts_) diff.emplace(AccountKey(addr), acct.Encode());
  for (const auto& [key, value] : records_) diff.emplace(key, value);
  for (const auto& [key, value] : system_) diff.emplace(key, value);
  return diff;
}

StateDiff StateOverlay::Undo() const {
  StateDiff undo;
  for (const auto& [addr, acct] : accounts_) {
    std::optional<Account> before;
    if (auto it = base_accounts_.find(addr); it != base_accounts_.end()) {
      before = it->second;
    } else {
      before = base_.GetAccount(addr);
    }
    undo.emplace(AccountKey(addr), before ? std::optional<Bytes>(before->Encode()) : std::nullopt);
  }
  for (const auto& [key, value] : records_) {
    if (auto it = base_records_.find(key); it != base_records_.end()) {
      undo.emplace(key, it->second);
      continue;
    }
    // A record key is 0x02 address:fixed[32] key (RecordKey).
    auto addr = Address::FromBytes(ByteView(key).subspan(1, Address::kSize));
    undo.emplace(key, base_.GetRecord(*addr, ByteView(key).subspan(1 + Address::kSize)));
  }
  for (const auto& [key, value] : system_) {
    if (auto it = base_system_.find(key); it != base_system_.end()) {
      undo.emplace(key, it->second);
      continue;
    }
    // A system key is 0x03 name (SystemKey).
    std::string_view name(reinterpret_cast<const char*>(key.data()) + 1, key.size() - 1);
    undo.emplace(key, base_.GetSystem(name));
  }
  return undo;
}

void StateOverlay::Absorb(const StateOverlay& child) {
  for (const auto& [addr, acct] : child.accounts_) accounts_[addr] = acct;
  for (const auto& [key, value] : child.records_) records_[key] = value;
  for (const auto& [key, value] : child.system_) system_[key] = value;
}

std::optional<Account> MemoryState::GetAccount(const Address& a) const {
  auto it = entries_.find(AccountKey(a));
  if (it == entries_.end()) return std::nullopt;
  auto acct = Account::Decode(it->second);
  if (!acct.ok()) return std::nullopt;
  return acct.value();
}

std::optional<Bytes> MemoryState::GetRecord(const Address& a, ByteView key) const {
  auto it = entries_.find(RecordKey(a, key));
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::optional<Bytes> MemoryState::GetSystem(std::string_view name) const {
  auto it = entries_.find(SystemKey(name));
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void MemoryState::Apply(const StateDiff& diff) {
  for (const auto& [key, value] : diff) {
    if (value) {
      entries_[key] = *value;
    } else {
      entries_.erase(key);
    }
  }
}

}  // namespace cairn::ledger
