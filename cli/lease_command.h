// cairn lease acquire|renew|release|show|watch (docs/CLI.md "Leases", docs/LEASES.md).
// Single-threaded: one command runs per process.
#pragma once

#include <string>
#include <string_view>

#include "cli/common.h"

namespace cairn::cli {

// Adds `cairn lease ...` to `app`. REQUIRES: `g` and `action` outlive app.parse().
void AddLeaseCommands(CLI::App& app, const GlobalOptions& g, Action* action);

// A getLease answer as one line: "held by K token T until block E", "expired at block E
// (holder K, token T)", "released (token T)" or "free (never acquired)".
std::string LeaseStateLine(const Json& lease);
// What changed between two getLease answers of one name: the new state's line, or "" when
// nothing a user cares about did (holder, token, expires_at, held).
std::string LeaseChange(const Json& before, const Json& after);
// What a failed lease receipt means and what to do ("" for other results); ReceiptHint asks it.
std::string LeaseHint(std::string_view result);

}  // namespace cairn::cli
