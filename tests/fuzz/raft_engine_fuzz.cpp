// The Raft engine stepped with hostile messages from its two peers: replica 0 of three,
// driven by a script the fuzzer writes (ticks, raw message bytes, well-formed messages with
// fuzzed fields, proposals, block-sync completions). A peer is authenticated but may send
// anything; the engine must refuse what it cannot use with an error, never crash or trip an
// assert. Properties: the term never goes back, and every Ready is carried out in order.
#include <fuzzer/FuzzedDataProvider.h>

#include "consensus/raft/messages.h"
#include "consensus/raft/raft.h"
#include "tests/fuzz/fuzz_util.h"

using namespace cairn;
using namespace cairn::consensus;
using namespace cairn::consensus::raft;

namespace {

crypto::Hash256 HashOf(ByteView data) { return crypto::Sha256Of(data); }

Bytes BlockData(uint64_t height, uint8_t variant) {
  return Bytes{static_cast<uint8_t>(height), static_cast<uint8_t>(height >> 8), variant};
}

Message FuzzedMessage(FuzzedDataProvider& p) {
  Message m;
  m.type = static_cast<MsgType>(p.ConsumeIntegralInRange<uint8_t>(1, 9));
  m.term = p.ConsumeIntegralInRange<uint64_t>(0, 8);
  m.index = p.ConsumeIntegralInRange<uint64_t>(0, 16);
  m.log_term = p.ConsumeIntegralInRange<uint64_t>(0, 8);
  m.commit = p.ConsumeIntegralInRange<uint64_t>(0, 16);
  m.reject = p.ConsumeBool();
  if (m.type == MsgType::kAppResp && m.reject) {
    m.reject_hint = p.ConsumeIntegralInRange<uint64_t>(0, 16);
    m.hint_term = p.ConsumeIntegralInRange<uint64_t>(0, 8);
  }
  if (m.type == MsgType::kApp) {
    const size_t n = p.ConsumeIntegralInRange<size_t>(0, 3);
    for (size_t i = 0; i < n; ++i) {
      Entry e;
      e.index = m.index + 1 + i;
      e.term = p.ConsumeIntegralInRange<uint64_t>(0, 8);
      e.height = p.ConsumeIntegralInRange<uint64_t>(0, 8);
      if (p.ConsumeBool()) {
        e.type = EntryType::kBlock;
        e.data = BlockData(e.height, p.ConsumeIntegral<uint8_t>() % 3);
        e.hash = HashOf(e.data);
      }
      m.entries.push_back(std::move(e));
    }
  }
  if (m.type == MsgType::kSnapshot) {
    m.snapshot.index = p.ConsumeIntegralInRange<uint64_t>(0, 16);
    m.snapshot.term = p.ConsumeIntegralInRange<uint64_t>(0, 8);
    m.snapshot.block.height = p.ConsumeIntegralInRange<uint64_t>(0, 8);
    m.snapshot.block.hash = HashOf(BlockData(m.snapshot.block.height, 0));
  }
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  RaftConfig cfg;
  cfg.id = 0;
  cfg.replicas = 3;
  cfg.genesis = {0, HashOf(AsBytes("genesis"))};
  cfg.election_ticks = 4;
  cfg.seed = 7;
  auto opened = RaftEngine::Open(cfg, DurableState{}, cfg.genesis);
  FUZZ_CHECK(opened.ok());
  RaftEngine& engine = **opened;
  uint64_t term = 0;
  std::optional<BlockRef> syncing;
  for (int steps = 0; steps < 64 && p.remaining_bytes() > 0; ++steps) {
    switch (p.ConsumeIntegralInRange<int>(0, 5)) {
      case 0:
        for (int t = p.ConsumeIntegralInRange<int>(1, 12); t > 0; --t) engine.Tick();
        break;
      case 1: {
        const Bytes raw = p.ConsumeBytes<uint8_t>(p.ConsumeIntegralInRange<size_t>(0, 128));
        (void)engine.Step(p.ConsumeIntegralInRange<ReplicaId>(1, 2), raw);
        break;
      }
      case 2:
      case 3:
        (void)engine.Step(p.ConsumeIntegralInRange<ReplicaId>(1, 2),
                          EncodeMessage(FuzzedMessage(p)));
        break;
      case 4:
        if (auto slot = engine.ProposalWanted()) {
          Block b;
          b.height = slot->parent.height + 1;
          b.data = BlockData(b.height, p.ConsumeIntegral<uint8_t>() % 3);
          b.hash = HashOf(b.data);
          (void)engine.Propose(std::move(b));
        }
        break;
      case 5:
        // A peer that is not a replica (the node never routes one, but Step must refuse it).
        (void)engine.Step(p.ConsumeBool() ? 3 : kNoReplica, EncodeMessage(FuzzedMessage(p)));
        break;
    }
    while (engine.HasReady()) {
      Ready r = engine.TakeReady();
      if (r.sync_to) syncing = r.sync_to;
      engine.Advance();
    }
    if (syncing) {
      (void)engine.SyncCompleted(*syncing);
      syncing.reset();
    }
    const EngineStatus st = engine.GetStatus();
    FUZZ_CHECK(st.term >= term);
    term = st.term;
  }
  return 0;
}
