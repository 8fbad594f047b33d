// Round trips and rejections for every decoder: Transaction, BlockHeader, Block, Account,
// Receipts. Each value has exactly one encoding and every malformed input is refused with
// an error that names the field.
#include <catch2/catch.hpp>

#include "base/codec.h"
#include "ledger_test_util.h"
#include "tests/kit/alloc_probe.h"

using namespace cairn;
using namespace cairn::codec;
using namespace cairn::ledger;
using namespace cairn::ledger::testing;
using testkit::AllocStats;
using testkit::GetAllocStats;
using testkit::ResetAllocStats;

namespace {
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

// Offset of the payload kind byte in a tx with this chain id.
size_t KindOffset(const Transaction& tx) { return 1 + 4 + tx.chain_id.size() + 32 + 8; }

// Offset of tx_count in a header with this chain id.
size_t TxCountOffset(const BlockHeader& h) {
  return 1 + 4 + h.chain_id.size() + 8 + 32 + 8 + 32 + 32 + 32 + 32 + 32;
}

void PutU32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

std::string DecodeError(Recoder recode, const Bytes& b) {
  auto r = recode(b);
  return r.ok() ? std::string("<decoded>") : r.error();
}

}  // namespace

TEST_CASE("every sample decodes and re-encodes to the same bytes", "[ledger][codec]") {
  for (const Sample& s : AllSamples()) {
    CAPTURE(s.name);
    auto r = s.recode(s.bytes);
    INFO(r.status().message());
    REQUIRE(r.ok());
    CHECK(*r == s.bytes);
  }
}

TEST_CASE("decode(encode(x)) == x for every type", "[ledger][codec]") {
  for (const Transaction& tx : SampleTxs()) {
    auto d = Transaction::Decode(tx.Encode());
    REQUIRE(d.ok());
    CHECK(*d == tx);
    CHECK(d->Hash() == tx.Hash());
    CHECK(d->VerifySignature());
  }
  BlockHeader minimal;  // zero hashes, zero heights, one-byte chain id
  minimal.chain_id = "g";
  for (const BlockHeader& h : {SampleHeader(), SampleHeader({}), minimal}) {
    auto d = BlockHeader::Decode(h.Encode());
    REQUIRE(d.ok());
    CHECK(*d == h);
  }
  for (size_t n : {0, 1, 2, 9, 30}) {
    CAPTURE(n);
    Block b = SampleBlock(n);
    auto d = Block::Decode(b.Encode());
    INFO(d.status().message());
    REQUIRE(d.ok());
    CHECK(*d == b);
    CHECK(d->txs.size() == n);
    CHECK(d->VerifyProposerSignature());
    CHECK(d->ComputeTxRoot() == b.header.tx_root);
  }
  for (size_t n : {0, 1, 9, 100}) {
    auto d = DecodeReceipts(EncodeReceipts(SampleReceipts(n)));
    REQUIRE(d.ok());
    CHECK(*d == SampleReceipts(n));
  }
}

TEST_CASE("encodings have the sizes the grammar gives", "[ledger][codec]") {
  crypto::KeyPair a = Key(1), b = Key(2);
  const size_t head = 1 + 4 + kChain.size() + 32 + 8 + 1;  // up to the payload body
  CHECK(PayTx(a, 0, b, 1).Encode().size() == head + 32 + 8 + 64);
  CHECK(SignedTx(a, 0, Put{Bytes(3), Bytes(10)}).Encode().size() == head + 4 + 3 + 4 + 10 + 64);
  CHECK(SignedTx(a, 0, RegisterAccount{b.public_key(), Role::kAdmin}).Encode().size() ==
        head + 32 + 1 + 64);
  CHECK(SignedTx(a, 0, SetRole{b.public_key(), Role::kAdmin}).Encode().size() ==
        head + 32 + 1 + 64);
  BlockHeader h = SampleHeader(Bytes(7));
  const size_t header_size =
      1 + 4 + kChain.size() + 8 + 32 + 8 + 32 + 32 + 32 + 32 + 32 + 4 + 4 + 7;
  CHECK(h.Encode().size() == header_size);
  Block blk = SampleBlock(2);
  size_t tx_bytes = 0;
  for (const Transaction& tx : blk.txs) tx_bytes += 4 + tx.Encode().size();
  CHECK(blk.Encode().size() == 4 + blk.header.Encode().size() + 64 + 4 + tx_bytes);
  CHECK(EncodeReceipts(SampleReceipts(3)).size() == 4 + 3 * 13);
  CHECK(Account{}.Encode().size() == 17);
}

TEST_CASE("every truncation of every valid encoding is rejected", "[ledger][codec]") {
  for (const Sample& s : AllSamples()) {
    CAPTURE(s.name, s.bytes.size());
    for (size_t k = 0; k < s.bytes.size(); ++k) {
      // A fresh buffer of exactly k bytes, so ASan catches any read past the end.
      Bytes prefix(s.bytes.begin(), s.bytes.begin() + k);
      auto r = s.recode(prefix);
      if (r.ok()) {
        CAPTURE(k);
        FAIL("a truncated encoding decoded");
      }
      const std::string& e = r.error();
      if (e.rfind(s.error_prefix, 0) != 0 || e.find(" at offset ") == std::string::npos ||
          (e.find("truncated") == std::string::npos && e.find("cannot fit") == std::string::npos)) {
        CAPTURE(k, e);
        FAIL("error does not name the decoder, a truncation and an offset");
      }
    }
  }
}

TEST_CASE("appending any byte to a valid encoding is rejected", "[ledger][codec]") {
  for (const Sample& s : AllSamples()) {
    CAPTURE(s.name);
    for (int v = 0; v < 256; ++v) {
      Bytes longer = s.bytes;
      longer.push_back(static_cast<uint8_t>(v));
      auto r = s.recode(longer);
      if (r.ok()) {
        CAPTURE(v);
        FAIL("an encoding with a trailing byte decoded");
      }
      if (r.error().find("1 trailing bytes at offset " + std::to_string(s.bytes.size())) ==
          std::string::npos) {
        CAPTURE(v, r.error());
        FAIL("error does not report the trailing byte");
      }
    }
  }
}

TEST_CASE("tx: unsupported versions are rejected", "[ledger][codec]") {
  Bytes enc = PayTx(Key(1), 0, Key(2), 5).Encode();
  for (uint8_t v : {0, 2, 255}) {
    Bytes b = enc;
    b[0] = v;
    CHECK_THAT(DecodeError(RecodeTx, b),
               StartsWith("tx: version: unsupported version " + std::to_string(v)));
  }
}

TEST_CASE("tx: unknown payload kinds are rejected", "[ledger][codec]") {
  Transaction tx = PayTx(Key(1), 0, Key(2), 5);
  Bytes enc = tx.Encode();
  for (uint8_t k : {0, 10, 11, 128, 255}) {
    Bytes b = enc;
    b[KindOffset(tx)] = k;
    CHECK_THAT(DecodeError(RecodeTx, b),
               StartsWith("tx: payload kind: unknown kind " + std::to_string(k)));
  }
  // Relabelling a transfer as another kind of the same or shorter size never decodes.
  for (uint8_t k : {2, 3, 4, 5, 6, 7, 8, 9}) {
    Bytes b = enc;
    b[KindOffset(tx)] = k;
    CHECK_FALSE(RecodeTx(b).ok());
  }
}

TEST_CASE("tx: invalid role bytes in register and set_role are rejected", "[ledger][codec]") {
  const crypto::KeyPair a = Key(1), b = Key(2);
  for (const Payload& p : {Payload{RegisterAccount{b.public_key(), Role::kMember}},
                           Payload{SetRole{b.public_key(), Role::kAdmin}}}) {
    Bytes enc = SignedTx(a, 0, p).Encode();
    const size_t role_at = enc.size() - 64 - 1;
    for (uint8_t v : {0, 3, 255}) {
      Bytes bad = enc;
      bad[role_at] = v;
      CHECK_THAT(DecodeError(RecodeTx, bad),
                 StartsWith("tx: role: value " + std::to_string(v) + " is not a role"));
    }
  }
}

TEST_CASE("tx: chain id must be 1..64 bytes", "[ledger][codec]") {
  Transaction tx = PayTx(Key(1), 0, Key(2), 5);
  tx.chain_id = "";
  CHECK_THAT(DecodeError(RecodeTx, tx.Encode()),
             Equals("tx: chain_id: length 0 is below 1 at offset 1"));
  tx.chain_id = std::string(kMaxChainId + 1, 'c');
  CHECK_THAT(DecodeError(RecodeTx, tx.Encode()),
             Equals("tx: chain_id: length 65 exceeds 64 at offset 1"));
  tx.chain_id = std::string(kMaxChainId, 'c');
  CHECK(RecodeTx(tx.Encode()).ok());
  tx.chain_id = "c";
  CHECK(RecodeTx(tx.Encode()).ok());
}

TEST_CASE("tx: put key must be 1..128 bytes and value at most 4096", "[ledger][codec]") {
  const crypto::KeyPair a = Key(1);
  CHECK_THAT(DecodeError(RecodeTx, SignedTx(a, 0, Put{Bytes{}, Bytes{1}}).Encode()),
             StartsWith("tx: put.key: length 0 is below 1"));
  CHECK_THAT(DecodeError(RecodeTx, SignedTx(a, 0, Put{Bytes(129), Bytes{1}}).Encode()),
             StartsWith("tx: put.key: length 129 exceeds 128"));
  CHECK_THAT(DecodeError(RecodeTx, SignedTx(a, 0, Put{Bytes(1), Bytes(4097)}).Encode()),
             StartsWith("tx: put.value: length 4097 exceeds 4096"));
  CHECK(RecodeTx(SignedTx(a, 0, Put{Bytes(128), Bytes(4096)}).Encode()).ok());
  CHECK(RecodeTx(SignedTx(a, 0, Put{Bytes(1), Bytes{}}).Encode()).ok());
}

TEST_CASE("tx: inputs over the maximum tx size are rejected before parsing", "[ledger][codec]") {
  Bytes b = PayTx(Key(1), 0, Key(2), 5).Encode();
  b.resize(kMaxTxSize + 1, 0);
  CHECK_THAT(DecodeError(RecodeTx, b), Equals("tx: size: 8193 bytes exceeds 8192 at offset 0"));
}

TEST_CASE("tx: a huge put length is rejected without allocating", "[ledger][codec]") {
  Transaction tx = SignedTx(Key(1), 0, Put{Bytes{1}, Bytes{2}});
  Bytes b = tx.Encode();
  PutU32(b, KindOffset(tx) + 1, 0xffffffff);  // put.key length
  ResetAllocStats();
  auto d = Transaction::Decode(b);
  AllocStats a = GetAllocStats();
  REQUIRE_FALSE(d.ok());
  CHECK_THAT(d.error(), StartsWith("tx: put.key: length 4294967295 exceeds 128"));
  CHECK(a.largest < 1024);
}

TEST_CASE("block header: version, chain id, tx_count and consensus data limits",
          "[ledger][codec]") {
  BlockHeader h = SampleHeader();
  Bytes enc = h.Encode();
  for (uint8_t v : {0, 1, 3, 255}) {  // 1: a PROTOCOL v1 header
    Bytes b = enc;
    b[0] = v;
    CHECK_THAT(DecodeError(RecodeHeader, b),
               StartsWith("block header: version: unsupported version " + std::to_string(v)));
  }
  {
    BlockHeader x = h;
    x.chain_id = "";
    CHECK_THAT(DecodeError(RecodeHeader, x.Encode()),
               Equals("block header: chain_id: length 0 is below 1 at offset 1"));
    x.chain_id = std::string(65, 'z');
    CHECK_THAT(DecodeError(RecodeHeader, x.Encode()),
               Equals("block header: chain_id: length 65 exceeds 64 at offset 1"));
  }
  {
    BlockHeader x = h;
    x.tx_count = kMaxBlockTxs;
    CHECK(RecodeHeader(x.Encode()).ok());
    x.tx_count = kMaxBlockTxs + 1;
    CHECK_THAT(DecodeError(RecodeHeader, x.Encode()),
               StartsWith("block header: tx_count: 100001 exceeds 100000"));
    Bytes b = enc;
    PutU32(b, TxCountOffset(h), 0xffffffff);
    CHECK_THAT(DecodeError(RecodeHeader, b),
               StartsWith("block header: tx_count: 4294967295 exceeds 100000"));
  }
  {
    BlockHeader x = h;
    x.consensus_data = Bytes(kMaxConsensusData, 0xcd);
    auto r = RecodeHeader(x.Encode());
    REQUIRE(r.ok());
    CHECK(*r == x.Encode());
    x.consensus_data.push_back(0);
    CHECK_THAT(DecodeError(RecodeHeader, x.Encode()),
               StartsWith("block header: consensus_data: length 65537 exceeds 65536"));
  }
}

TEST_CASE("block: body tx_count must equal the header's", "[ledger][codec]") {
  Block b = SampleBlock(1);
  b.header.tx_count = 2;
  CHECK_THAT(DecodeError(RecodeBlock, b.Encode()),
             StartsWith("block: tx_count: 1 differs from header tx_count 2"));
  b.header.tx_count = 0;
  CHECK_THAT(DecodeError(RecodeBlock, b.Encode()),
             StartsWith("block: tx_count: 1 differs from header tx_count 0"));
  Block empty = SampleBlock(0);
  empty.header.tx_count = 1;
  CHECK_THAT(DecodeError(RecodeBlock, empty.Encode()),
             StartsWith("block: tx_count: 0 differs from header tx_count 1"));
}

TEST_CASE("block: a header with tx_count over the maximum is rejected", "[ledger][codec]") {
  Block b = SampleBlock(0);
  b.header.tx_count = kMaxBlockTxs + 1;
  CHECK_THAT(DecodeError(RecodeBlock, b.Encode()),
             StartsWith("block: block header: tx_count: 100001 exceeds 100000"));
}

TEST_CASE("block: an invalid tx names its index and offset", "[ledger][codec]") {
  Block b = SampleBlock(3);
  Bytes header = b.header.Encode();
  Bytes tx0 = b.txs[0].Encode();
  Bytes tx1 = b.txs[1].Encode();
  tx1[0] = 9;  // version
  Writer w;
  w.Var(header).Fixed(b.proposer_sig).U32(3).Var(tx0).Var(tx1).Var(b.txs[2].Encode());
  const size_t tx1_at = 4 + header.size() + 64 + 4 + 4 + tx0.size();
  CHECK_THAT(DecodeError(RecodeBlock, w.bytes()),
             Equals("block: tx 1 at offset " + std::to_string(tx1_at) +
                    ": tx: version: unsupported version 9 at offset 1"));
}

TEST_CASE("block: oversize header and tx lengths are rejected", "[ledger][codec]") {
  Block b = SampleBlock(1);
  {
    Writer w;
    w.U32(0xffffffff).Raw(b.header.Encode()).Fixed(b.proposer_sig).U32(0);
    ResetAllocStats();
    std::string e = DecodeError(RecodeBlock, w.bytes());
    CHECK(GetAllocStats().largest < 4096);
    CHECK_THAT(e, StartsWith("block: header: length 4294967295 exceeds "));
  }
  {
    Writer w;
    w.Var(b.header.Encode()).Fixed(b.proposer_sig).U32(1).U32(kMaxTxSize + 1);
    w.Raw(Bytes(kMaxTxSize + 1));
    CHECK_THAT(DecodeError(RecodeBlock, w.bytes()),
               StartsWith("block: tx: length 8193 exceeds 8192"));
  }
}

TEST_CASE("block: a claimed tx_count does not allocate beyond what the input can hold",
          "[ledger][codec]") {
  // A ~200-byte block that claims the maximum number of transactions and holds none. The
  // decoder must fail without reserving room for 100,000 transactions (receipts bound their
  // count by the remaining bytes in the same way).
  Block b = SampleBlock(0);
  b.header.tx_count = kMaxBlockTxs;
  Writer w;
  w.Var(b.header.Encode()).Fixed(b.proposer_sig).U32(kMaxBlockTxs);
  const Bytes input = w.Take();
  ResetAllocStats();
  std::string e = DecodeError(RecodeBlock, input);
  AllocStats a = GetAllocStats();
  CHECK_THAT(e, StartsWith("block: tx: truncated"));
  CAPTURE(input.size(), a.largest, sizeof(Transaction));
  CHECK(a.largest < 64 * 1024);
}

TEST_CASE("account: truncation, trailing bytes and invalid roles", "[ledger][codec]") {
  Bytes enc = Account{5, 6, Role::kMember}.Encode();
  for (uint8_t v : {0, 3, 255}) {
    Bytes b = enc;
    b[16] = v;
    CHECK_THAT(DecodeError(RecodeAccount, b),
               StartsWith("account: role: value " + std::to_string(v) + " is not a role"));
  }
  CHECK_THAT(DecodeError(RecodeAccount, Bytes(enc.begin(), enc.begin() + 12)),
             Equals("account: nonce: truncated: needs 8 bytes, 4 left at offset 8"));
}

TEST_CASE("receipts: unknown codes and impossible counts are rejected", "[ledger][codec]") {
  Bytes enc = EncodeReceipts({Receipt{TxCode::kOk, 1, 0}, Receipt{TxCode::kZeroAmount, 1, 1}});
  for (int code = 0; code < 256; ++code) {
    Bytes b = enc;
    b[4 + 13] = static_cast<uint8_t>(code);
    auto r = RecodeReceipts(b);
    CAPTURE(code);
    if (code <= 21) {  // 9..16: governance, 17..21: leases (PROTOCOL §3)
      REQUIRE(r.ok());
      CHECK(*r == b);
    } else {
      // Validity and mempool codes never appear in a receipt.
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(r.error(), Equals("receipts: code: unknown receipt code " + std::to_string(code) +
                                   " at offset 18"));
    }
  }
  {
    Bytes b = enc;
    PutU32(b, 0, 3);
    CHECK_THAT(DecodeError(RecodeReceipts, b),
               StartsWith("receipts: count: 3 receipts cannot fit in 26 bytes"));
    PutU32(b, 0, 1);
    CHECK_THAT(DecodeError(RecodeReceipts, b), StartsWith("receipts: end: 13 trailing bytes"));
  }
  {
    Bytes b{0xff, 0xff, 0xff, 0xff, 0};
    ResetAllocStats();
    std::string e = DecodeError(RecodeReceipts, b);
    CHECK(GetAllocStats().largest < 1024);
    CHECK_THAT(e, StartsWith("receipts: count: 4294967295 receipts cannot fit in 1 bytes"));
  }
}

TEST_CASE("receipt codes: names and execution-failure classes", "[ledger]") {
  CHECK(TxCodeName(TxCode::kOk) == "ok");
  CHECK(TxCodeName(TxCode::kInsufficientBalance) == "insufficient_balance");
  CHECK(TxCodeName(TxCode::kNotPermitted) == "not_permitted");
  CHECK(TxCodeName(TxCode::kUnknownRecipient) == "unknown_recipient");
  CHECK(TxCodeName(TxCode::kBalanceOverflow) == "balance_overflow");
  CHECK(TxCodeName(TxCode::kAccountExists) == "account_exists");
  CHECK(TxCodeName(TxCode::kUnknownAccount) == "unknown_account");
  CHECK(TxCodeName(TxCode::kSelfTransfer) == "self_transfer");
  CHECK(TxCodeName(TxCode::kZeroAmount) == "zero_amount");
  CHECK(TxCodeName(TxCode::kMalformed) == "malformed");
  CHECK(TxCodeName(TxCode::kWrongChain) == "wrong_chain");
  CHECK(TxCodeName(TxCode::kBadSignature) == "bad_signature");
  CHECK(TxCodeName(TxCode::kUnknownSender) == "unknown_sender");
  CHECK(TxCodeName(TxCode::kNonceTooLow) == "nonce_too_low");
  CHECK(TxCodeName(TxCode::kNonceTooHigh) == "nonce_too_high");
  CHECK(TxCodeName(TxCode::kMempoolFull) == "mempool_full");
  CHECK(TxCodeName(TxCode::kAlreadyKnown) == "already_known");
  CHECK(TxCodeName(TxCode::kSenderQueueFull) == "sender_queue_full");
  CHECK(TxCodeName(TxCode::kSyncing) == "syncing");
  CHECK(TxCodeName(static_cast<TxCode>(200)) == "unknown");
  CHECK_FALSE(IsExecutionFailure(TxCode::kOk));
  for (int v = 1; v <= 8; ++v) CHECK(IsExecutionFailure(static_cast<TxCode>(v)));
  for (TxCode c :
       {TxCode::kMalformed, TxCode::kWrongChain, TxCode::kBadSignature, TxCode::kUnknownSender,
        TxCode::kNonceTooLow, TxCode::kNonceTooHigh, TxCode::kMempoolFull, TxCode::kAlreadyKnown,
        TxCode::kSenderQueueFull, TxCode::kSyncing}) {
    CHECK_FALSE(IsExecutionFailure(c));
  }
}

TEST_CASE("payload kinds: numbering, names and admin-only set", "[ledger]") {
  const crypto::PublicKey k = Key(1).public_key();
  CHECK(KindOf(Transfer{k, 1}) == PayloadKind::kTransfer);
  CHECK(KindOf(Put{Bytes{1}, {}}) == PayloadKind::kPut);
  CHECK(KindOf(RegisterAccount{k, Role::kMember}) == PayloadKind::kRegisterAccount);
  CHECK(KindOf(SetRole{k, Role::kAdmin}) == PayloadKind::kSetRole);
  CHECK(static_cast<int>(PayloadKind::kTransfer) == 1);
  CHECK(static_cast<int>(PayloadKind::kSetRole) == 4);
  CHECK(PayloadKindName(PayloadKind::kTransfer) == "transfer");
  CHECK(PayloadKindName(PayloadKind::kPut) == "put");
  CHECK(PayloadKindName(PayloadKind::kRegisterAccount) == "register");
  CHECK(PayloadKindName(PayloadKind::kSetRole) == "set_role");
  CHECK_FALSE(IsAdminOnly(Transfer{k, 1}));
  CHECK_FALSE(IsAdminOnly(Put{Bytes{1}, {}}));
  CHECK(IsAdminOnly(RegisterAccount{k, Role::kMember}));
  CHECK(IsAdminOnly(SetRole{k, Role::kAdmin}));
}

TEST_CASE("EncodedSize equals the encoding's length for every payload", "[ledger][codec]") {
  cairn::ledger::Transaction tx;
  tx.chain_id = "size-check";
  tx.nonce = 3;
  for (const cairn::ledger::Payload& p :
       {cairn::ledger::Payload(cairn::ledger::Transfer{}),
        cairn::ledger::Payload(cairn::ledger::Put{{1, 2, 3}, cairn::Bytes(100, 7)}),
        cairn::ledger::Payload(cairn::ledger::RegisterAccount{}),
        cairn::ledger::Payload(cairn::ledger::SetRole{})}) {
    tx.payload = p;
    CHECK(tx.EncodedSize() == tx.Encode().size());
  }
}
