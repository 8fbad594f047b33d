// cairn audit: a thin layer over audit/audit.h.
//   cairn audit --data-dir DIR --genesis FILE     offline, the node stopped (or a copy)
//   cairn audit [--rpc URL] [--genesis FILE]      online, through getRawBlocks
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "audit/audit.h"
#include "cli/common.h"

namespace cairn::cli {
namespace {

struct AuditCliOptions {
  std::string data_dir;
  std::string genesis_file;
  std::string threads = std::to_string(std::max(1u, std::thread::hardware_concurrency()));
  std::string page = "100";
  bool progress = false;     // --progress: show it even when stderr is not a terminal
  bool no_progress = false;  // --no-progress
};

// "1,234,567": counts and rates on the progress line.
std::string Grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// 75 s -> "1m15s"; 3700 s -> "1h01m".
std::string Eta(uint64_t s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s % 3600 / 60));
  }
  return buf;
}

// The progress line: "audit: height 1,200 of 5,000 (24%)  27,310 tx/s  140 blocks/s  ETA 27s".
// Rates are averages since the audit started; the ETA assumes the remaining blocks go at the
// same block rate (over RPC the target is known after the first answer).
std::string ProgressLine(const audit::AuditProgress& p, uint64_t elapsed_ms) {
  const uint64_t ms = std::max<uint64_t>(1, elapsed_ms);
  const uint64_t blocks_per_s = p.blocks * 1000 / ms;
  std::string line = "audit: height " + Grouped(p.height);
  if (p.target > 0) {
    line += " of " + Grouped(p.target) + " (" + std::to_string(p.height * 100 / p.target) + "%)";
  }
  line +=
      "  " + Grouped(p.transactions * 1000 / ms) + " tx/s  " + Grouped(blocks_per_s) + " blocks/s";
  if (p.target > p.height && p.blocks > 0) {
    // Remaining blocks at the average block rate, in whole seconds.
    line += "  ETA " + Eta((p.target - p.height) * ms / p.blocks / 1000);
  }
  return line;
}

// Redraws one line on stderr at most once a second, and clears it at the end.
class ProgressDisplay {
 public:
  using Clock = std::chrono::steady_clock;

  void Update(const audit::AuditProgress& p) {
    const Clock::time_point now = Clock::now();
    if (now < next_) return;
    next_ = now + std::chrono::seconds(1);
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - start_);
    std::fprintf(stderr, "\r\033[K%s",
                 ProgressLine(p, static_cast<uint64_t>(elapsed.count())).c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void Clear() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }

 private:
  const Clock::time_point start_ = Clock::now();
  Clock::time_point next_ = start_ + std::chrono::seconds(1);  // quick audits draw nothing
  bool drawn_ = false;
};

Json ReportToJson(const audit::AuditReport& r) {
  Json j = {{"ok", r.ok()},
            {"source", r.source},
            {"chain_id", r.chain_id},
            {"genesis_hash", r.genesis_hash.ToHex()},
            {"genesis_from_node", r.genesis_from_node},
            {"blocks", r.blocks},
            {"transactions", r.transactions},
            {"certificates", r.certificates},
            {"head_height", r.head_height},
            {"head_hash", r.head_hash.ToHex()},
            {"state_root", r.state_root.ToHex()},
            {"state_entries", r.state_entries},
            {"store_checked", r.store_checked},
            {"elapsed_ms", r.elapsed.count()},
            {"failure", nullptr},
            {"coverage", nullptr}};
  if (const auto& c = r.coverage) {
    j["coverage"] = Json{{"headers_from", c->headers_from},
                         {"blocks_from", c->blocks_from},
                         {"headers_checked", c->headers_checked},
                         {"headers_certified", c->headers_certified},
                         {"certificates_unchecked", c->certificates_unchecked},
                         {"signatures_unchecked", c->signatures_unchecked},
                         {"state_base", c->state_base ? Json(*c->state_base) : Json()},
                         {"undo_records_applied", c->undo_records_applied},
                         {"verified", c->verified},
                         {"not_verified", c->not_verified}};
  }
  if (r.failure) {
    j["failure"] = Json{{"check", std::string(audit::AuditCheckName(r.failure->check))},
                        {"height", r.failure->height ? Json(*r.failure->height) : Json()},
                        {"detail", r.failure->detail}};
  }
  return j;
}

std::string ReportView(const audit::AuditReport& r) {
  std::string out;
  if (!r.ok()) {
    out = "audit FAILED\n";
  } else if (r.coverage) {
    out =
        "audit passed: everything this pruned or state-synced data dir keeps checks out (see "
        "\"not verified\" below for what it does not keep)\n";
  } else {
    out = "audit passed: every block from genesis to the head checks out\n";
  }
  std::vector<std::pair<std::string, std::string>> f = {{"source", r.source},
                                                        {"chain", r.chain_id}};
  f.emplace_back(
      "genesis hash",
      r.genesis_hash.ToHex() + (r.genesis_from_node ? " (the node's own genesis: compare it with a "
                                                      "trusted copy, or pass --genesis FILE)"
                                                    : " (from the genesis file)"));
  if (r.coverage) {
    for (const std::string& line : r.coverage->verified) f.emplace_back("verified", line);
    for (const std::string& line : r.coverage->not_verified) f.emplace_back("not verified", line);
  }
  if (r.blocks > 0) {
    const uint64_t first = r.coverage && r.coverage->state_base ? *r.coverage->state_base + 1 : 0;
    f.emplace_back("blocks", std::to_string(r.blocks) + " (heights " + std::to_string(first) +
                                 ".." + std::to_string(r.head_height) + ")" +
                                 (r.coverage ? " replayed" : "") +
                                 (r.ok() ? "" : " passed before the failure"));
    f.emplace_back("transactions", std::to_string(r.transactions));
    if (r.certificates > 0) {
      f.emplace_back("certificates", std::to_string(r.certificates) +
                                         " commit certificates verified (2f+1 precommit "
                                         "signatures of the genesis validators each)");
    }
    f.emplace_back("head hash", r.head_hash.ToHex());
    f.emplace_back("state root", r.state_root.ToHex());
    std::string entries = std::to_string(r.state_entries);
    if (r.store_checked) entries += " (the stored state equals the replay)";
    f.emplace_back("state entries", entries);
  }
  f.emplace_back("time taken", FormatDuration(static_cast<uint64_t>(r.elapsed.count())));
  if (r.failure) {
    f.emplace_back("first failure", r.failure->height
                                        ? "height " + std::to_string(*r.failure->height)
                                        : "(not at a block)");
    f.emplace_back("check", std::string(audit::AuditCheckName(r.failure->check)));
    f.emplace_back("problem", r.failure->detail);
  }
  return out + RenderFields(f);
}

Status RunAudit(const GlobalOptions& g, const AuditCliOptions& o) {
  audit::AuditOptions opts;
  opts.verify_threads =
      static_cast<unsigned>(std::max<uint64_t>(1, std::min<uint64_t>(64, U64Of(o.threads))));
  opts.page_blocks = std::max<uint64_t>(1, U64Of(o.page));
  // stdout carries the report, so the line goes to stderr, and by default only to a terminal
  // and without --json: a script or a log file gets no carriage returns.
  const bool show_progress = o.progress || (!o.no_progress && !g.json && isatty(STDERR_FILENO));
  auto display = std::make_shared<ProgressDisplay>();
  if (show_progress) {
    opts.progress_counts = [display](const audit::AuditProgress& p) { display->Update(p); };
  }

  std::optional<genesis::Genesis> genesis;
  if (!o.genesis_file.empty()) {
    auto loaded = genesis::Genesis::Load(o.genesis_file);
    if (!loaded.ok()) return Status::Error("--genesis " + o.genesis_file + ": " + loaded.error());
    genesis = std::move(loaded.value());
  }

  audit::AuditReport report;
  if (!o.data_dir.empty()) {
    if (!genesis)
      return Status::Error("--data-dir needs --genesis FILE (the chain's genesis.json)");
    report = audit::AuditDataDir(o.data_dir, *genesis, opts);
  } else {
    auto node = NodeClient::Connect(g.rpc_url);
    if (!node.ok()) return node.status();
    report = audit::AuditRpc(node->client(), genesis, opts);
  }
  if (show_progress) display->Clear();

  const bool started =
      report.blocks > 0 || report.coverage || (report.failure && report.failure->height);
  if (g.json) {
    PrintJson(ReportToJson(report));
  } else if (started) {
    // A source that cannot be read at all gets only the one line on stderr.
    Print(ReportView(report));
  }
  if (!report.ok()) return Status::Error("audit failed: " + report.failure->ToString());
  return Status::Ok();
}

}  // namespace

void AddAuditCommand(CLI::App& app, const GlobalOptions& g, Action* action) {
  auto o = std::make_shared<AuditCliOptions>();
  CLI::App* c = app.add_subcommand(
      "audit",
      "re-check the whole chain from genesis: hash links, Merkle roots, every signature, the "
      "proposer set, and a full state replay");
  c->add_option("--data-dir", o->data_dir,
                "audit this stopped node's LevelDB directory (HOME/data) offline, read-only; "
                "without it, audit the node at --rpc")
      ->type_name("DIR");
  c->add_option("--genesis", o->genesis_file,
                "the chain's genesis file; required with --data-dir. Over RPC, the node's "
                "genesis must match it (without it the node's own genesis is used and its hash "
                "printed)")
      ->type_name("FILE");
  c->add_option("--threads", o->threads,
                "threads verifying signatures and certificates ahead of the replay (default: "
                "the number of CPUs)")
      ->check(U64Validator())
      ->type_name("N")
      ->capture_default_str();
  c->add_option("--page", o->page, "blocks read per batch; up to two batches are read ahead")
      ->check(U64Validator())
      ->type_name("N")
      ->capture_default_str();
  auto* on = c->add_flag("--progress", o->progress,
                         "show height, tx/s, blocks/s and ETA on stderr, updated every second "
                         "(default: when stderr is a terminal)");
  c->add_flag("--no-progress", o->no_progress, "never show the progress line")->excludes(on);
  c->footer(
      "Examples:\n  cairn audit --data-dir ~/.cairn/data --genesis ~/.cairn/genesis.json\n"
      "  cairn --rpc http://127.0.0.1:8545 audit --genesis genesis.json\n"
      "Exit status: 0 when every check passes, 1 on the first inconsistency (named on stderr).");
  c->callback([&g, o, action] { *action = [&g, o] { return RunAudit(g, *o); }; });
}

}  // namespace cairn::cli
