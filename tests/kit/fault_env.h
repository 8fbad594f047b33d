// FaultEnv: a leveldb::Env that cuts the power. It remembers, per file it hands out, how many
// bytes were written and how many of them a Sync made durable, and whether the file's own
// creation is durable yet. PowerOff() makes every later write fail; DropUnsynced() then does
// to the disk what a power cut would: every file is truncated to its last synced size and a
// file whose creation was never made durable is removed. SIGKILL keeps the page cache, so
// only this shows whether a store syncs what it must, in the order it must (the idea of
// LevelDB's fault_injection_test, written afresh).
//
// The durability model, which is the posix Env's and ext4's: bytes are durable after the
// file's Sync; a new file's directory entry is durable once its directory is synced, which
// the posix Env does when it syncs a MANIFEST. With `file_sync_syncs_dir` (the default, as
// ext4 and LevelDB's own test behave), any Sync of a new file also makes its directory
// durable. Removes and renames are durable at once (LevelDB only renames synced files).
// Thread-safety: all methods are thread-safe (LevelDB calls an Env from its compaction
// thread); DropUnsynced needs every file it handed out closed (close the DB first).
#pragma once

#include <leveldb/env.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/mutex.h"
#include "base/status.h"

namespace cairn::testkit {

class FaultEnv final : public leveldb::EnvWrapper {
 public:
  struct Options {
    bool file_sync_syncs_dir = true;
  };
  // What a power cut dropped.
  struct Dropped {
    uint64_t files_truncated = 0;
    uint64_t files_removed = 0;
    uint64_t bytes = 0;
  };

  FaultEnv() : FaultEnv(Options{}) {}
  explicit FaultEnv(Options options);
  ~FaultEnv() override;

  // The power fails now: every later append, sync, create, rename and remove through this
  // Env fails with an I/O error, so nothing more reaches the disk.
  void PowerOff();
  // The power fails during the `n`-th write operation (append, sync, create, rename or
  // remove) from now, which fails; n = 0 disarms. For a cut in the middle of a commit.
  void PowerOffAfter(uint64_t n);
  bool powered() const { return powered_.load(); }
  // REQUIRES: powered off and every file handed out closed. Makes the disk what a power cut
  // leaves behind; forgets what it tracked (the survivors are durable as they are).
  Result<Dropped> DropUnsynced();
  // The power is back; writes go through again.
  void PowerOn();

  leveldb::Status NewWritableFile(const std::string& fname,
                                  leveldb::WritableFile** result) override;
  leveldb::Status NewAppendableFile(const std::string& fname,
                                    leveldb::WritableFile** result) override;
  leveldb::Status RemoveFile(const std::string& fname) override;
  leveldb::Status RenameFile(const std::string& src, const std::string& target) override;
  leveldb::Status CreateDir(const std::string& dirname) override;

  struct FileState;  // shared by the map and the open file

 private:
  class File;
  friend class File;

  // An error when the power is off (or goes off at this operation).
  leveldb::Status Gate(const std::string& what);
  void Appended(FileState& f, uint64_t n);
  void Synced(FileState& f);
  // Every file created in `dir` so far has a durable directory entry.
  void SyncDir(const std::string& dir);

  const Options options_;
  std::atomic<bool> powered_{true};
  std::atomic<uint64_t> countdown_{0};
  std::atomic<int> open_files_{0};
  Mutex mu_;
  std::map<std::string, std::shared_ptr<FileState>> files_ GUARDED_BY(mu_);
};

}  // namespace cairn::testkit
