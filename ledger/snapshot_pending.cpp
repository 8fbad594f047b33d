// SnapshotImport::PendingIn: reads the ImportRecord (ledger/chain_store.h key table) that
// SnapshotImport::Begin writes, for a node resuming a state sync after a crash.
#include "base/codec.h"
#include "ledger/chain_store.h"

namespace cairn::ledger {

Result<std::optional<SnapshotImport::Pending>> SnapshotImport::PendingIn(const KvReader& kv) {
  Bytes key = {'M'};
  for (char c : std::string_view("import")) key.push_back(static_cast<uint8_t>(c));
  auto rec = kv.Get(key);
  if (!rec.ok()) return rec.status();
  if (!rec->has_value()) return std::optional<Pending>();
  // ImportRecord := manifest:bytes header:bytes certificate:bytes genesis_hash:fixed[32]
  codec::Reader r(**rec, "import record");
  Pending p;
  ByteView header;
  crypto::Hash256 genesis;
  r.Var(&p.manifest, kMaxManifestBytes, "manifest");
  r.VarView(&header, 1u << 20, "header");
  r.Var(&p.certificate, 1u << 20, "certificate");
  r.Fixed(&genesis, "genesis_hash");
  if (Status s = r.Finish(); !s.ok()) return Status::Corruption(s.message());
  auto h = BlockHeader::Decode(header);
  if (!h.ok()) return Status::Corruption("import record: header: " + h.error());
  p.header = std::move(h.value());
  return std::optional<Pending>(std::move(p));
}

}  // namespace cairn::ledger
