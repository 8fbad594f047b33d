// Polling with a deadline, for tests that wait on another thread or process. Thread-safe as
// far as `condition` is.
#pragma once

#include <chrono>
#include <functional>

namespace cairn::testkit {

// Polls `condition` every `interval` until it holds or `timeout` passes; returns its last
// value. For waits with nothing to block on (another process's state over RPC, a server's
// counters); a test that can block on an event should.
bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds interval = std::chrono::milliseconds(20));

}  // namespace cairn::testkit
