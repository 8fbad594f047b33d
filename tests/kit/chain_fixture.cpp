#include "tests/kit/chain_fixture.h"

#include <map>

#include <cstdio>
#include <cstdlib>
#include "crypto/merkle.h"

namespace cairn::testkit {

using namespace ledger;

ChainFixture::ChainFixture(size_t num_accounts, std::string chain, uint64_t balance,
                           uint64_t genesis_time_ms)
    : chain_id(std::move(chain)) {
  for (size_t i = 0; i < num_accounts; ++i) {
    accounts.push_back(TestKey(static_cast<uint32_t>(i), kAccountKeys));
    genesis_state[AccountKey(accounts.back().public_key())] =
        Account{balance, 0, Role::kMember}.Encode();
  }
  BlockHeader& h = genesis.header;
  h.chain_id = chain_id;
  h.height = 0;
  h.timestamp_ms = genesis_time_ms;
  h.tx_root = crypto::MerkleRoot({});
  h.state_root = StateRootOf(genesis_state);
}

StateTree::View TreeOf(const StateReader& state) {
  if (const auto* store = dynamic_cast<const ChainStore*>(&state)) return store->HeadView();
  if (const auto* mem = dynamic_cast<const MemoryState*>(&state)) {
    std::vector<TreeWrite> writes;
    writes.reserve(mem->entries().size());
    for (const auto& [key, value] : mem->entries()) {
      writes.push_back(TreeWrite{KeyHash(key), ValueHash(value)});
    }
    return ProcessStateTree().UpdateHashed(StateTree::View(), std::move(writes), 0);
  }
  std::fprintf(stderr, "TreeOf: a state that is neither a ChainStore nor a MemoryState\n");
  std::abort();
}

MemoryState ChainFixture::GenesisMemoryState() const {
  MemoryState s;
  s.Apply(genesis_state);
  return s;
}

Transaction ChainFixture::Sign(const crypto::KeyPair& from, uint64_t nonce, Payload payload) const {
  return MakeTx(from, chain_id, nonce, std::move(payload));
}

std::vector<Transaction> ChainFixture::Transfers(const StateReader& state, size_t count,
                                                 uint64_t amount, size_t first) const {
  std::map<size_t, uint64_t> next_nonce;
  std::vector<Transaction> txs;
  txs.reserve(count);
  for (size_t j = 0; j < count; ++j) {
    size_t from = (first + j) % accounts.size();
    auto [it, fresh] = next_nonce.try_emplace(from, 0);
    if (fresh) {
      auto acct = state.GetAccount(accounts[from].public_key());
      it->second = acct ? acct->nonce : 0;
    }
    const Address& to = accounts[(from + 1) % accounts.size()].public_key();
    txs.push_back(Sign(accounts[from], it->second++, Transfer{to, amount}));
  }
  return txs;
}

BuiltBlock ChainFixture::NextBlock(const StateReader& state, const BlockHeader& parent,
                                   std::vector<Transaction> txs) const {
  ExecOptions opts;
  opts.signature_known_valid = [](const crypto::Hash256&) { return true; };
  return BuildBlock(state, parent, TreeOf(state), std::move(txs), parent.timestamp_ms + 1000,
                    proposer, {}, opts);
}

BuiltBlock ChainFixture::NextBlock(const StateReader& state, const BlockHeader& parent,
                                   size_t count, size_t first) const {
  return NextBlock(state, parent, Transfers(state, count, 1, first));
}

Result<uint64_t> CommitChain(ChainStore& store, BlockHeader parent,
                             std::vector<std::vector<Transaction>> blocks,
                             const crypto::KeyPair& proposer) {
  for (auto& txs : blocks) {
    const std::string at = "height " + std::to_string(parent.height + 1) + ": ";
    BuiltBlock built = BuildBlock(store, parent, store.HeadView(), std::move(txs),
                                  parent.timestamp_ms + 1000, proposer);
    if (!built.skipped.empty()) return Status::Error(at + "a fixture transaction was skipped");
    Status s = store.Commit(built.block, built.exec);
    if (!s.ok()) return s.Wrap(at + "commit");
    parent = built.block.header;
  }
  return parent.height;
}

namespace {

// The replay half of AuditStore: each stored block, its receipts and its tx index against a
// replay from genesis. Leaves the replayed state in `state` and the last header in `parent`.
Status ReplayStoredBlocks(const ChainStore& store, uint64_t head_height, MemoryState& state,
                          BlockHeader& parent) {
  StateTree::View view = TreeOf(state);
  for (uint64_t h = 1; h <= head_height; ++h) {
    const std::string at = "height " + std::to_string(h) + ": ";
    auto block = store.BlockAt(h);
    if (!block.ok()) return block.status().Wrap(at);
    if (!block.value()) return Status::Error(at + "block missing");
    auto exec = VerifyBlock(state, parent, view, **block);
    if (!exec.ok()) return exec.status().Wrap(at + "replay");
    auto receipts = store.ReceiptsAt(h);
    if (!receipts.ok() || !receipts.value() || **receipts != exec->receipts) {
      return Status::Error(at + "stored receipts differ from the replay");
    }
    for (size_t i = 0; i < exec->tx_hashes.size(); ++i) {
      auto loc = store.FindTx(exec->tx_hashes[i]);
      if (!loc.ok() || !loc.value() || loc.value()->height != h || loc.value()->index != i) {
        return Status::Error(at + "tx " + std::to_string(i) + " missing from the tx index");
      }
    }
    state.Apply(exec->diff);
    view = exec->view;
    parent = block.value()->header;
  }
  return Status::Ok();
}

}  // namespace

Status AuditStore(const ChainStore& store, const ChainFixture& fx) {
  const Head head = store.head();
  if (store.genesis_hash() != fx.genesis.Hash()) return Status::Error("genesis hash differs");
  MemoryState state = fx.GenesisMemoryState();
  BlockHeader parent = fx.genesis.header;
  if (Status s = ReplayStoredBlocks(store, head.height, state, parent); !s.ok()) return s;
  if (parent.Hash() != head.hash) return Status::Error("head hash is not the last block's");
  if (parent.state_root != head.state_root) return Status::Error("head state root differs");
  auto above = store.BlockAt(head.height + 1);
  if (!above.ok() || above.value()) return Status::Error("a block is stored above the head");
  auto receipts_above = store.ReceiptsAt(head.height + 1);
  if (!receipts_above.ok() || receipts_above.value()) {
    return Status::Error("receipts are stored above the head");
  }
  std::map<Bytes, Bytes> stored;
  Status scan = store.ScanState([&](ByteView k, ByteView v) {
    stored.emplace(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  });
  if (!scan.ok()) return scan;
  if (stored != state.entries()) {
    return Status::Error("stored state (" + std::to_string(stored.size()) +
                         " entries) differs from the replayed state (" +
                         std::to_string(state.entries().size()) + " entries)");
  }
  return Status::Ok();
}

Bytes PrefixedKey(char prefix, ByteView rest) {
  Bytes k(1 + rest.size());
  k[0] = static_cast<uint8_t>(prefix);
  std::copy(rest.begin(), rest.end(), k.begin() + 1);
  return k;
}

Bytes HeightKey(char prefix, uint64_t height) {
  Bytes k(9);
  k[0] = static_cast<uint8_t>(prefix);
  for (int i = 0; i < 8; ++i) k[1 + i] = static_cast<uint8_t>(height >> (8 * (7 - i)));
  return k;
}

}  // namespace cairn::testkit
