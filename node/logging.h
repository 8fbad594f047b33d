// Logging setup: one line per event, "TIME LEVEL [component] message", UTC, to stderr.
#pragma once

#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace cairn::node {

// Installs the sink and level for every component logger; idempotent.
void SetupLogging(const std::string& level);
// The logger for a component ("node", "rpc", "consensus", "store", "p2p").
std::shared_ptr<spdlog::logger> Log(const std::string& component);

}  // namespace cairn::node
