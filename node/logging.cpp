#include "node/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "base/mutex.h"

namespace cairn::node {
namespace {
Mutex g_mu;
spdlog::sink_ptr Sink() {
  static spdlog::sink_ptr sink = [] {
    auto s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    s->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v", spdlog::pattern_time_type::utc));
    return s;
  }();
  return sink;
}
spdlog::level::level_enum g_level GUARDED_BY(g_mu) = spdlog::level::info;
}  // namespace

void SetupLogging(const std::string& level) {
  {
    MutexLock lock(&g_mu);
    g_level = spdlog::level::from_str(level);
    const spdlog::level::level_enum now = g_level;  // the lambda runs here, under g_mu
    spdlog::apply_all([now](std::shared_ptr<spdlog::logger> l) { l->set_level(now); });
  }
  // Libraries that log through spdlog's default logger (p2p) get the same format and
  // stderr, never stdout, which scripts read.
  spdlog::set_default_logger(Log("p2p"));
}

std::shared_ptr<spdlog::logger> Log(const std::string& component) {
  MutexLock lock(&g_mu);
  if (auto existing = spdlog::get(component)) return existing;
  auto logger = std::make_shared<spdlog::logger>(component, Sink());
  logger->set_level(g_level);
  logger->flush_on(spdlog::level::info);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace cairn::node
