// Crash atomicity: a child process commits real blocks to a LevelDB chain store in a loop and
// the test SIGKILLs it at a random moment, then checks that the store reopens at a whole
// committed block whose state equals a replay from genesis.
//
// The child is this test binary re-executed (fork + exec) to run the hidden test case
// "store crash child": a fresh process, because a forked copy of a process that already ran
// LevelDB would inherit its background-thread bookkeeping without the thread.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>

#include "tests/kit/chain_fixture.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::ledger;
using cairn::testkit::AuditStore;
using cairn::testkit::ChainFixture;
using cairn::testkit::TempDir;

namespace {

constexpr const char* kChildTestName = "store crash child";
constexpr const char* kDirEnv = "CAIRN_STORE_CRASH_DIR";
constexpr const char* kFdEnv = "CAIRN_STORE_CRASH_FD";
const Bytes kProgressKey = {'C', 'c', 'r', 'a', 's', 'h'};

Bytes U64Bytes(uint64_t v) {
  Bytes b(8);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return b;
}

[[noreturn]] void ChildFail(const std::string& why) {
  std::cerr << "crash child: " << why << std::endl;
  std::_Exit(2);
}

// A child process that is killed if the test leaves before it is reaped.
struct Child {
  pid_t pid = -1;
  int progress_fd = -1;
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (progress_fd >= 0) close(progress_fd);
  }
};

void StartChild(Child& child, const std::string& dir) {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  REQUIRE(devnull >= 0);
  // Everything the child needs is prepared here: between fork and exec only
  // async-signal-safe calls are allowed.
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "CAIRN_STORE_CRASH_", 18) != 0) env_strings.emplace_back(*e);
  }
  env_strings.push_back(std::string(kDirEnv) + "=" + dir);
  env_strings.push_back(std::string(kFdEnv) + "=" + std::to_string(fds[1]));
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string arg0 = exe, arg1 = kChildTestName;
  char* argv[] = {arg0.data(), arg1.data(), nullptr};

  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    fcntl(fds[1], F_SETFD, 0);  // the write end survives exec
    dup2(devnull, STDOUT_FILENO);
    execve(exe.c_str(), argv, envp.data());
    _exit(127);
  }
  close(fds[1]);
  close(devnull);
  child.pid = pid;
  child.progress_fd = fds[0];
}

// Reads the heights the child reports until `count` arrived; false on EOF or deadline.
bool AwaitCommits(int fd, int count, std::chrono::steady_clock::time_point deadline,
                  uint64_t* last_height) {
  int got = 0;
  uint8_t buf[8];
  size_t have = 0;
  while (got < count) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;
    ssize_t n = read(fd, buf + have, sizeof buf - have);
    if (n <= 0) return false;
    have += static_cast<size_t>(n);
    if (have == sizeof buf) {
      uint64_t h = 0;
      for (int i = 0; i < 8; ++i) h |= uint64_t{buf[i]} << (8 * i);
      *last_height = h;
      have = 0;
      ++got;
    }
  }
  return true;
}

}  // namespace

// The child's side. Hidden: it runs only when the parent test asks for it by name.
TEST_CASE("store crash child", "[.]") {
  const char* dir = std::getenv(kDirEnv);
  const char* fd_text = std::getenv(kFdEnv);
  if (dir == nullptr || fd_text == nullptr) return;  // run by hand: nothing to do
  const int fd = std::atoi(fd_text);
  ChainFixture fx;
  auto opened = OpenChainStore(dir, fx.genesis, fx.genesis_state, /*create=*/true);
  if (!opened.ok()) ChildFail(opened.error());
  ChainStore& store = **opened;
  // Bounded so an orphan cannot run on if the parent is gone without closing the pipe.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    const Head head = store.head();
    auto parent = store.HeaderAt(head.height);
    if (!parent.ok() || !parent.value()) ChildFail("head header unreadable");
    // Varying block sizes move the kill point around inside the commit path.
    const size_t txs = 8 + (head.height * 7) % 40;
    BuiltBlock b = fx.NextBlock(store, **parent, txs, head.height);
    if (!b.skipped.empty()) ChildFail("a transfer was skipped");
    WriteBatch extra;
    extra.Put(kProgressKey, U64Bytes(b.block.header.height));
    Status s = store.Commit(b.block, b.exec, /*sync=*/true, &extra);
    if (!s.ok()) ChildFail(s.message());
    Bytes report = U64Bytes(b.block.header.height);
    if (write(fd, report.data(), report.size()) != 8) std::_Exit(3);  // parent gone
  }
  std::_Exit(4);
}

TEST_CASE("a SIGKILL during commits leaves a whole committed head and a state equal to a replay",
          "[store][chain][leveldb][crash]") {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("CAIRN_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
  INFO("seed " << seed << " (rerun with CAIRN_TEST_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);

  ChainFixture fx;
  TempDir dir;
  const std::string path = dir.Sub("chain");
  uint64_t reported = 0;  // highest height the child said it committed (synced)
  constexpr int kIterations = 5;
  for (int iter = 0; iter < kIterations; ++iter) {
    INFO("iteration " << iter);
    const int commits = std::uniform_int_distribution<int>(1, 4)(rng);
    const long delay_us = std::uniform_int_distribution<long>(0, 6000)(rng);
    {
      Child child;
      StartChild(child, path);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      const bool progressed = AwaitCommits(child.progress_fd, commits, deadline, &reported);
      if (!progressed) {
        int status = 0;
        kill(child.pid, SIGKILL);
        waitpid(child.pid, &status, 0);
        child.pid = -1;
        FAIL("child made no progress (wait status " << status << ", see its stderr)");
      }
      // A random point after the reported commits: this places the kill, it synchronises
      // nothing.
      timespec ts{0, delay_us * 1000};
      nanosleep(&ts, nullptr);
      REQUIRE(kill(child.pid, SIGKILL) == 0);
      int status = 0;
      REQUIRE(waitpid(child.pid, &status, 0) == child.pid);
      child.pid = -1;
      CHECK(WIFSIGNALED(status));
      // Reports the child wrote after the ones awaited; the pipe ends at the kill.
      while (AwaitCommits(child.progress_fd, 1, deadline, &reported)) {
      }
    }

    auto store = OpenChainStore(path, fx.genesis, fx.genesis_state, /*create=*/false);
    INFO((store.ok() ? std::string("reopened") : store.error()));
    REQUIRE(store.ok());
    const Head head = (*store)->head();
    INFO("reported " << reported << ", head " << head.height);
    // Every reported commit was synced; at most one more was in flight.
    CHECK(head.height >= reported);
    CHECK(head.height <= reported + 1);
    // The caller's extra write landed in the same batch as the head block.
    auto progress = (*store)->kv().Get(kProgressKey);
    REQUIRE(progress.ok());
    CHECK(progress.value() == U64Bytes(head.height));
    Status audit = AuditStore(**store, fx);
    INFO(audit.message());
    CHECK(audit.ok());
    // The state tree is derived, its history written in the block batches: every retained
    // height's state still proves against that height's header.
    for (uint64_t h = (*store)->RetainedFrom(); h <= head.height; ++h) {
      auto header = (*store)->HeaderAt(h);
      REQUIRE(header.ok());
      REQUIRE(header.value());
      for (const auto& account : fx.accounts) {
        const Bytes key = AccountKey(account.public_key());
        auto p = (*store)->ProveState(key, h);
        INFO("proof at height " << h << ": " << p.status().message());
        REQUIRE(p.ok());
        REQUIRE(p->value);
        CHECK(VerifyStateProof((*header)->state_root, key, StateClaim::Present(*p->value), p->proof)
                  .ok());
      }
    }
    reported = head.height;
  }
}
