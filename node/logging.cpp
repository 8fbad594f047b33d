#include "node/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

#include "base/mutex.h"

namespace cairn::node {
namespace {

// The length of the valid UTF-8 sequence at s[i], or 0 when it is not one (overlong forms and
// surrogates are let through: a log reader needs well-formed bytes, not a strict validator).
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const size_t n = b < 0x80           ? 1
                   : (b >> 5) == 0x6  ? 2
                   : (b >> 4) == 0xe  ? 3
                   : (b >> 3) == 0x1e ? 4
                                      : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return n;
}

// Appends `s` as the inside of a JSON string: quotes, backslashes and control characters
// escaped, and each byte that is not valid UTF-8 replaced by U+FFFD (a peer's address or a
// method name may be anything), so every line parses.
void AppendJsonEscaped(std::string_view s, spdlog::memory_buf_t& out) {
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const size_t n = Utf8Length(s, i);
    if (n == 0) {
      out.append(std::string_view("\\ufffd"));
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out.append(std::string_view(buf));
        } else {
          out.push_back(c);
        }
    }
  }
}

// One JSON object per line: {"ts":"2026-01-02T03:04:05.678Z","level":"info","component":
// "node","msg":"..."}. Keys in that order, so a line also greps like the text format.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    const time_t secs = static_cast<time_t>(ms / 1000);
    tm utc{};
    gmtime_r(&secs, &utc);
    char ts[96];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(ms % 1000));
    dest.append(std::string_view("{\"ts\":\""));
    dest.append(std::string_view(ts));
    dest.append(std::string_view("\",\"level\":\""));
    const auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    dest.append(std::string_view("\",\"component\":\""));
    AppendJsonEscaped(std::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
    dest.append(std::string_view("\",\"msg\":\""));
    AppendJsonEscaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    dest.append(std::string_view("\"}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

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
LogOptions g_options GUARDED_BY(g_mu);

spdlog::level::level_enum LevelFor(const LogOptions& o, const std::string& component) {
  auto it = o.levels.find(component);
  return spdlog::level::from_str(it != o.levels.end() ? it->second : o.level);
}

}  // namespace

void SetupLogging(const LogOptions& options) {
  {
    MutexLock lock(&g_mu);
    g_options = options;
    if (options.format == "json") {
      Sink()->set_formatter(std::make_unique<JsonFormatter>());
    } else {
      Sink()->set_formatter(std::make_unique<spdlog::pattern_formatter>(
          "%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v", spdlog::pattern_time_type::utc));
    }
    const LogOptions now = g_options;  // a copy: the lambda runs here, under g_mu
    spdlog::apply_all(
        [&now](std::shared_ptr<spdlog::logger> l) { l->set_level(LevelFor(now, l->name())); });
  }
  // Libraries that log through spdlog's default logger (p2p) get the same format and
  // stderr, never stdout, which scripts read.
  spdlog::set_default_logger(Log("p2p"));
}

void SetupLogging(const std::string& level) {
  LogOptions o;
  {
    MutexLock lock(&g_mu);
    o = g_options;
  }
  o.level = level;
  SetupLogging(o);
}

std::shared_ptr<spdlog::logger> Log(const std::string& component) {
  MutexLock lock(&g_mu);
  if (auto existing = spdlog::get(component)) return existing;
  auto logger = std::make_shared<spdlog::logger>(component, Sink());
  logger->set_level(LevelFor(g_options, component));
  logger->flush_on(spdlog::level::info);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace cairn::node
