// The wire forms of subscription ids and notifications (docs/RPC.md "Subscriptions").
#include "rpc/subscription.h"

namespace cairn::rpc {

std::string SubscriptionIdString(uint64_t id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digits;
  do {
    digits.insert(digits.begin(), kHex[id & 0xf]);
    id >>= 4;
  } while (id != 0);
  return "0x" + digits;
}

std::optional<uint64_t> ParseSubscriptionId(const Json& value) {
  if (!value.is_string()) return std::nullopt;
  const std::string& s = value.get_ref<const std::string&>();
  if (s.size() < 3 || s.size() > 18 || s[0] != '0' || s[1] != 'x') return std::nullopt;
  uint64_t id = 0;
  for (size_t i = 2; i < s.size(); ++i) {
    const char c = s[i];
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (v < 0) return std::nullopt;
    id = (id << 4) | static_cast<uint64_t>(v);
  }
  return id;
}

std::string NotificationMessage(uint64_t subscription, const std::string& result) {
  std::string out;
  out.reserve(result.size() + 96);
  out += R"({"jsonrpc":"2.0","method":"subscription","params":{"subscription":")";
  out += SubscriptionIdString(subscription);
  out += R"(","result":)";
  out += result;
  out += "}}";
  return out;
}

}  // namespace cairn::rpc
