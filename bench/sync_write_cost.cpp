// What persisting admitted transactions would cost (docs/RPC.md, "What accepted promises"):
// one LevelDB WriteBatch per admission call of `batch` 160-byte values (a transfer's
// encoding), synced and not, median and p90 over the rounds. Standalone, not part of the build:
//   g++ -O2 -std=c++20 bench/sync_write_cost.cpp -o /tmp/sync_write_cost -lleveldb
//   nice -n 19 /tmp/sync_write_cost /path/on/the/data/disk/sync-cost.db   (then delete it)
#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "/tmp/adm/syncbench.db";
  leveldb::DB* db;
  leveldb::Options o;
  o.create_if_missing = true;
  if (!leveldb::DB::Open(o, dir, &db).ok()) return 1;
  std::string value(160, 'x');
  uint64_t k = 0;
  for (int batch : {1, 10, 100, 1000, 10000}) {
    for (bool sync : {false, true}) {
      const int rounds = batch >= 1000 ? 20 : 200;
      std::vector<double> ms;
      for (int r = 0; r < rounds; ++r) {
        leveldb::WriteBatch b;
        for (int i = 0; i < batch; ++i) {
          char key[40];
          snprintf(key, sizeof key, "M%031llu", (unsigned long long)k++);
          b.Put(key, value);
        }
        leveldb::WriteOptions w;
        w.sync = sync;
        auto t0 = std::chrono::steady_clock::now();
        if (!db->Write(w, &b).ok()) return 2;
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
      }
      std::sort(ms.begin(), ms.end());
      printf("batch %5d sync=%d: median %.3f ms, p90 %.3f ms (%d rounds)\n", batch, sync,
             ms[ms.size() / 2], ms[ms.size() * 9 / 10], rounds);
    }
  }
  delete db;
}
