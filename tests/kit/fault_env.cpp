#include "tests/kit/fault_env.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <vector>

namespace cairn::testkit {

namespace fs = std::filesystem;

// One file's durability. Read and written only with the Env's mu_ held.
struct FaultEnv::FileState {
  std::string dir;
  uint64_t size = 0;           // bytes appended through us (plus what was there when opened)
  uint64_t synced = 0;         // of which a Sync made durable
  bool entry_durable = false;  // the directory entry survives a power cut
};

namespace {

std::string DirOf(const std::string& fname) { return fs::path(fname).parent_path().string(); }

bool IsManifest(const std::string& fname) {
  return fs::path(fname).filename().string().rfind("MANIFEST", 0) == 0;
}

}  // namespace

class FaultEnv::File final : public leveldb::WritableFile {
 public:
  File(FaultEnv& env, std::string name, std::unique_ptr<leveldb::WritableFile> target,
       std::shared_ptr<FileState> state)
      : env_(env), name_(std::move(name)), target_(std::move(target)), state_(std::move(state)) {
    ++env_.open_files_;
  }
  ~File() override {
    target_.reset();  // closes (and flushes its buffer) before the Env may drop anything
    --env_.open_files_;
  }

  leveldb::Status Append(const leveldb::Slice& data) override {
    if (auto s = env_.Gate("append to " + name_); !s.ok()) return s;
    leveldb::Status s = target_->Append(data);
    if (s.ok()) env_.Appended(*state_, data.size());
    return s;
  }
  // Closing writes nothing durable, so it is allowed with the power off: what it flushes
  // lies past the synced size and is cut away.
  leveldb::Status Close() override { return target_->Close(); }
  leveldb::Status Flush() override {
    if (auto s = env_.Gate("flush " + name_); !s.ok()) return s;
    return target_->Flush();
  }
  leveldb::Status Sync() override {
    if (auto s = env_.Gate("sync " + name_); !s.ok()) return s;
    leveldb::Status s = target_->Sync();
    if (s.ok()) {
      env_.Synced(*state_);
      if (IsManifest(name_)) env_.SyncDir(state_->dir);
    }
    return s;
  }

 private:
  FaultEnv& env_;
  const std::string name_;
  std::unique_ptr<leveldb::WritableFile> target_;
  const std::shared_ptr<FileState> state_;
};

FaultEnv::FaultEnv(Options options)
    : leveldb::EnvWrapper(leveldb::Env::Default()), options_(options) {}

FaultEnv::~FaultEnv() = default;

void FaultEnv::PowerOff() { powered_ = false; }

void FaultEnv::PowerOffAfter(uint64_t n) { countdown_ = n; }

void FaultEnv::PowerOn() {
  countdown_ = 0;
  powered_ = true;
}

leveldb::Status FaultEnv::Gate(const std::string& what) {
  uint64_t left = countdown_.load();
  while (left > 0 && !countdown_.compare_exchange_weak(left, left - 1)) {
  }
  if (left == 1) powered_ = false;
  if (!powered_) return leveldb::Status::IOError(what, "power is off (fault injection)");
  return leveldb::Status::OK();
}

void FaultEnv::Appended(FileState& f, uint64_t n) {
  MutexLock lock(&mu_);
  f.size += n;
}

void FaultEnv::Synced(FileState& f) {
  std::string dir;
  {
    MutexLock lock(&mu_);
    f.synced = f.size;
    if (f.entry_durable || !options_.file_sync_syncs_dir) return;
    dir = f.dir;
  }
  SyncDir(dir);
}

void FaultEnv::SyncDir(const std::string& dir) {
  MutexLock lock(&mu_);
  for (auto& [name, f] : files_) {
    if (f->dir == dir) f->entry_durable = true;
  }
}

leveldb::Status FaultEnv::NewWritableFile(const std::string& fname,
                                          leveldb::WritableFile** result) {
  if (auto s = Gate("create " + fname); !s.ok()) return s;
  leveldb::WritableFile* raw = nullptr;
  leveldb::Status s = target()->NewWritableFile(fname, &raw);
  if (!s.ok()) return s;
  auto state = std::make_shared<FileState>();
  state->dir = DirOf(fname);
  {
    MutexLock lock(&mu_);
    files_[fname] = state;  // a truncated old file counts as new: it may vanish too
  }
  *result = new File(*this, fname, std::unique_ptr<leveldb::WritableFile>(raw), state);
  return s;
}

leveldb::Status FaultEnv::NewAppendableFile(const std::string& fname,
                                            leveldb::WritableFile** result) {
  if (auto s = Gate("open for append " + fname); !s.ok()) return s;
  std::error_code ec;
  const bool existed = fs::exists(fname, ec);
  const uint64_t old_size = existed ? fs::file_size(fname, ec) : 0;
  leveldb::WritableFile* raw = nullptr;
  leveldb::Status s = target()->NewAppendableFile(fname, &raw);
  if (!s.ok()) return s;
  std::shared_ptr<FileState> state;
  {
    MutexLock lock(&mu_);
    auto it = files_.find(fname);
    if (it != files_.end()) {
      state = it->second;
    } else {
      state = std::make_shared<FileState>();
      state->dir = DirOf(fname);
      // What was there before we tracked it survived an earlier cut (or was never ours).
      state->size = state->synced = old_size;
      state->entry_durable = existed;
      files_[fname] = state;
    }
  }
  *result = new File(*this, fname, std::unique_ptr<leveldb::WritableFile>(raw), state);
  return s;
}

leveldb::Status FaultEnv::RemoveFile(const std::string& fname) {
  if (auto s = Gate("remove " + fname); !s.ok()) return s;
  leveldb::Status s = target()->RemoveFile(fname);
  if (s.ok()) {
    MutexLock lock(&mu_);
    files_.erase(fname);
  }
  return s;
}

leveldb::Status FaultEnv::RenameFile(const std::string& src, const std::string& target_name) {
  if (auto s = Gate("rename " + src); !s.ok()) return s;
  leveldb::Status s = target()->RenameFile(src, target_name);
  if (s.ok()) {
    MutexLock lock(&mu_);
    auto it = files_.find(src);
    if (it == files_.end()) {
      files_.erase(target_name);
    } else {
      files_[target_name] = it->second;
      files_.erase(src);
    }
  }
  return s;
}

leveldb::Status FaultEnv::CreateDir(const std::string& dirname) {
  if (auto s = Gate("mkdir " + dirname); !s.ok()) return s;
  return target()->CreateDir(dirname);
}

Result<FaultEnv::Dropped> FaultEnv::DropUnsynced() {
  if (powered_) return Status::Error("fault env: DropUnsynced with the power on");
  if (open_files_ != 0) {
    return Status::Error("fault env: " + std::to_string(open_files_.load()) +
                         " files still open; close the database before dropping");
  }
  std::map<std::string, std::shared_ptr<FileState>> files;
  {
    MutexLock lock(&mu_);
    files.swap(files_);
  }
  Dropped d;
  for (const auto& [name, f] : files) {
    std::error_code ec;
    const uint64_t actual = fs::file_size(name, ec);
    if (ec) continue;  // already gone
    if (!f->entry_durable) {
      fs::remove(name, ec);
      if (ec) return Status::IoError("fault env: remove " + name + ": " + ec.message());
      ++d.files_removed;
      d.bytes += actual;
    } else if (actual > f->synced) {
      fs::resize_file(name, f->synced, ec);
      if (ec) return Status::IoError("fault env: truncate " + name + ": " + ec.message());
      ++d.files_truncated;
      d.bytes += actual - f->synced;
    }
  }
  return d;
}

}  // namespace cairn::testkit
