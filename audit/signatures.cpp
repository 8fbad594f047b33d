// The signature pass: every transaction and proposer signature of a page, verified on several
// threads before the page's blocks are checked in order, since verification dominates the
// audit's time and the blocks of a page are independent until replay.
#include <algorithm>
#include <thread>

#include "audit/auditor.h"

namespace cairn::audit::internal {

void VerifySignatures(std::vector<Checked>& page, unsigned threads) {
  struct Item {
    size_t block;
    long tx;  // -1: the proposer signature
  };
  std::vector<Item> items;
  for (size_t b = 0; b < page.size(); ++b) {
    page[b].tx_hashes.resize(page[b].block.txs.size());
    items.push_back({b, -1});
    for (size_t t = 0; t < page[b].block.txs.size(); ++t)
      items.push_back({b, static_cast<long>(t)});
  }
  std::vector<uint8_t> ok(items.size(), 0);
  auto worker = [&](unsigned first, unsigned stride) {
    for (size_t i = first; i < items.size(); i += stride) {
      Checked& c = page[items[i].block];
      if (items[i].tx < 0) {
        ok[i] = c.block.VerifyProposerSignature() ? 1 : 0;
        continue;
      }
      const ledger::Transaction& tx = c.block.txs[static_cast<size_t>(items[i].tx)];
      c.tx_hashes[static_cast<size_t>(items[i].tx)] = tx.Hash();
      ok[i] = tx.VerifySignature() ? 1 : 0;
    }
  };
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(items.size() / 8 + 1)));
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker, t, threads);
    worker(0, threads);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    Checked& c = page[items[i].block];
    if (items[i].tx < 0) {
      c.proposer_sig_ok = ok[i] != 0;
    } else if (!ok[i] && (c.first_bad_tx < 0 || items[i].tx < c.first_bad_tx)) {
      c.first_bad_tx = items[i].tx;
    }
  }
}

}  // namespace cairn::audit::internal
