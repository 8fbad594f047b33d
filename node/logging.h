// Logging setup: one line per event to stderr, UTC. Text: "TIME LEVEL [component] message";
// json: {"ts":TIME,"level":LEVEL,"component":NAME,"msg":TEXT} (docs/CONFIG.md "Logs"). Each
// component has its own level. Thread-safety: all functions may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace cairn::node {

struct LogOptions {
  std::string level = "info";                 // every component without its own entry in `levels`
  std::string format = "text";                // "text" | "json"
  std::map<std::string, std::string> levels;  // component -> level
};

// Installs the sink, format and levels for every component logger; may be called again.
void SetupLogging(const LogOptions& options);
void SetupLogging(const std::string& level);
// The logger for a component ("node", "rpc", "consensus", "store", "p2p").
std::shared_ptr<spdlog::logger> Log(const std::string& component);

}  // namespace cairn::node
