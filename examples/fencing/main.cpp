// fencing-store: the fencing example as a command (docs/LEASES.md "Fencing").
//   fencing-store --state FILE write RESOURCE --token T --data TEXT
//                 [--rpc URL --lease NAME --writer HEX]   (also check the token with getLease)
//   fencing-store --state FILE read RESOURCE
// Exit status: 0 written (or read), 3 refused (stale or not the lease's current token),
// 1 another failure, 2 usage. One line on stdout or stderr says what happened.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "examples/fencing/fencing.h"
#include "rpc/client.h"

using namespace cairn;
using namespace cairn::examples::fencing;

namespace {

int Usage(const char* why) {
  std::fprintf(stderr,
               "fencing-store: %s\nusage: fencing-store --state FILE write RESOURCE --token T "
               "--data TEXT [--rpc URL --lease NAME --writer HEX]\n"
               "       fencing-store --state FILE read RESOURCE\n",
               why);
  return 2;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "fencing-store: %s\n", s.message().c_str());
  return s.code() == StatusCode::kRejected ? 3 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  crypto::Init();
  std::map<std::string, std::string> opts;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--", 2) == 0) {
      if (i + 1 >= argc) return Usage("an option lacks its value");
      opts[argv[i] + 2] = argv[i + 1];
      ++i;
    } else {
      words.emplace_back(argv[i]);
    }
  }
  if (!opts.count("state") || words.size() != 2) return Usage("give --state and a command");
  auto store = FencedStore::Open(opts["state"]);
  if (!store.ok()) return Fail(store.status());
  const std::string& resource = words[1];
  if (words[0] == "read") {
    auto data = store->Read(resource);
    if (!data) return Fail(Status::NotFound("no data for \"" + resource + "\""));
    std::printf("%s token %llu: %s\n", resource.c_str(),
                static_cast<unsigned long long>(store->HighestToken(resource)), data->c_str());
    return 0;
  }
  if (words[0] != "write") return Usage("the command is write or read");
  if (!opts.count("token") || !opts.count("data")) return Usage("write needs --token and --data");
  char* end = nullptr;
  const uint64_t token = std::strtoull(opts["token"].c_str(), &end, 10);
  if (end == opts["token"].c_str() || *end != '\0') return Usage("--token is a number");

  if (opts.count("rpc")) {
    // The stronger check: the token is the lease's current one, proven against a header.
    if (!opts.count("lease") || !opts.count("writer"))
      return Usage("--rpc needs --lease, --writer");
    auto writer = crypto::PublicKey::FromHex(opts["writer"]);
    if (!writer) return Usage("--writer is 64 hex digits");
    auto client = rpc::Client::Create(opts["rpc"]);
    if (!client.ok()) return Fail(client.status());
    rpc::CallResult r =
        client->Call("getLease", nlohmann::json{{"name", opts["lease"]}, {"proof", true}});
    if (!r.ok()) return Fail(r.status());
    if (Status s = VerifyLeaseAnswer(r.value(), opts["lease"], *writer, token); !s.ok()) {
      return Fail(s);
    }
  }
  if (Status s = store->Write(resource, token, opts["data"]); !s.ok()) return Fail(s);
  std::printf("wrote \"%s\" with token %llu\n", resource.c_str(),
              static_cast<unsigned long long>(token));
  return 0;
}
