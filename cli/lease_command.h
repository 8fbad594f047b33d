// cairn lease acquire|renew|release|show|watch (docs/CLI.md "Leases", docs/LEASES.md).
// Single-threaded: one command runs per process.
#pragma once

#include <string>

#include "cli/common.h"

namespace cairn::cli {

// Adds `cairn lease ...` to `app`. REQUIRES: `g` and `action` outlive app.parse().
void AddLeaseCommands(CLI::App& app, const GlobalOptions& g, Action* action);

// One line for a watch: what changed between two getLease answers of one name ("" when
// nothing a user cares about did: holder, token, held).
std::string LeaseChange(const Json& before, const Json& after);

}  // namespace cairn::cli
