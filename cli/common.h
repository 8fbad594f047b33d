// Plumbing shared by the cairn CLI commands: global options, the action a parsed command runs,
// a JSON-RPC connection whose failures read as one line, key files, option validators and
// output. Single-threaded: one command runs per process.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "cli/format.h"
#include "client/client.h"
#include "crypto/ed25519.h"
#include "ledger/transaction.h"
#include "rpc/client.h"

namespace cairn::cli {

inline constexpr const char* kDefaultRpcUrl = "http://127.0.0.1:8545";

struct GlobalOptions {
  // --rpc, else $CAIRN_RPC: one node URL or a comma-separated list (NodeClient spreads the
  // calls over them; docs/CLIENT.md).
  std::string rpc_url = kDefaultRpcUrl;
  bool json = false;  // --json: machine-readable JSON on stdout
};

// What the selected command runs once parsing is done: ok, or a one-line reason (the process
// then prints "cairn: REASON" on stderr and exits 1).
using Action = std::function<Status()>;

// Each adds its commands to `app`; the command the user picked stores its work in *action.
// REQUIRES: `g` and `action` outlive app.parse().
void AddWalletCommands(CLI::App& app, const GlobalOptions& g, Action* action);
void AddExplorerCommands(CLI::App& app, const GlobalOptions& g, Action* action);
void AddAuditCommand(CLI::App& app, const GlobalOptions& g, Action* action);
// prove tx, verify-proof, light sync (cli/prove_command.cpp).
void AddProofCommands(CLI::App& app, const GlobalOptions& g, Action* action);
// gov propose|approve|list|show, validators [--at H] (cli/gov_command.cpp).
void AddGovCommands(CLI::App& app, const GlobalOptions& g, Action* action);

// The options of every command that signs and sends a transaction (cairn send, cairn gov).
struct SendFlags {
  std::string key;
  std::string nonce;  // empty: ask the node for the next nonce
  bool wait = false;
  std::string timeout_s = "30";
};
void AddSendFlags(CLI::App* cmd, SendFlags* o);
// Signs `payload` with the --key, sends it and, with --wait, waits for its receipt. Returns
// {hash, sender, nonce, chain_id, status: "pending" | "committed", and when committed height,
// index, block_hash, receipt}; an error when it could not be sent or --wait timed out.
Result<Json> SubmitSigned(const GlobalOptions& g, const SendFlags& o, ledger::Payload payload);
// Prints SubmitSigned's answer: the hash (pending), the receipt fields, or the JSON (--json).
void PrintSubmitted(const GlobalOptions& g, const Json& out);
// Ok unless the answer is a committed tx whose result is not ok: then "tx H failed: RESULT
// (height, index): what it means" (ReceiptHint).
Status ReceiptStatus(const Json& out);
// What a failed receipt's result means to the sender, for results a user can act on
// (governance: "the key is not a governance admin ..."); "" for the others.
std::string ReceiptHint(std::string_view result);

// JSON-RPC to the nodes of --rpc through the client library (client/client.h):
// sendTransaction and sendTransactions go to the sender's node by consistent hashing and fail
// over to the next node when it cannot be reached (or is syncing); every other method reads
// one node (the first picked, or the one that took the last transaction) while it answers,
// and the node with the fewest requests in flight after it fails. With one URL it behaves as
// a plain connection.
class NodeClient {
 public:
  // `urls`: one URL, or several separated by commas.
  static Result<NodeClient> Connect(const std::string& urls);

  // The result, or a one-line reason: DescribeRpcError for an error answer, "cannot reach the
  // node at URL: ..." for a transport failure (every node failed).
  Result<Json> Call(std::string_view method, const Json& params = nullptr);
  // The raw outcome, for callers that treat an error answer (not found) as information.
  rpc::CallResult CallRaw(std::string_view method, const Json& params = nullptr);
  // The one-line reason for a failed CallRaw.
  std::string Describe(const rpc::CallResult& r) const;

  // A plain connection to one healthy node, for code that takes an rpc::Client (the audit's
  // long walk reads one node's chain). Made on first use.
  rpc::Client& client();
  // The node the last call went to (a WebSocket for that call's follow-up connects there).
  const std::string& url() const { return pool_->nodes()[last_]; }
  client::Client& pool() { return *pool_; }

 private:
  explicit NodeClient(std::unique_ptr<client::Client> pool) : pool_(std::move(pool)) {}
  // The sender of a sendTransaction(s) call's (first) transaction, if it decodes.
  static std::optional<ledger::Address> SenderOf(std::string_view method, const Json& params);

  std::unique_ptr<client::Client> pool_;
  std::unique_ptr<rpc::Client> direct_;
  size_t last_ = 0;
  bool picked_ = false;  // last_ names the node reads go to
};

// Reads a key file; `path` empty means neither --key nor $CAIRN_KEY was given.
Result<crypto::KeyPair> LoadKey(const std::string& path);

// Output on stdout. Text is written as is; JSON pretty-printed (PrintJson) or on one line
// (PrintJsonLine, for streams). stdout is flushed so pipes see each line as it happens.
void Print(std::string_view text);
void PrintJson(const Json& j);
void PrintJsonLine(const Json& j);
// Calls `method` on the node and prints the result as JSON (--json) or as `human` renders it.
Status Show(const GlobalOptions& g, std::string_view method, const Json& params,
            const std::function<std::string(const Json&)>& human);

// Option validators: bad input is a usage error (exit 2) before anything runs.
CLI::Validator AddressValidator();
CLI::Validator HashValidator();
CLI::Validator HexValidator();
CLI::Validator U64Validator();
// The value of an option that passed U64Validator. REQUIRES: it did.
uint64_t U64Of(const std::string& s);

// Polling for a result that is not there yet: sleeps `interval`, but never past `deadline`.
void SleepUntilNextPoll(std::chrono::milliseconds interval,
                        std::chrono::steady_clock::time_point deadline);

}  // namespace cairn::cli
