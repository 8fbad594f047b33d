// Compatibility names for the canonical codec, which lives in base/codec.h: node/ still says
// ledger::Writer and ledger::Reader. New code includes base/codec.h and says codec::.
// Thread-safety: as base/codec.h (single-threaded value types).
#pragma once

#include "base/codec.h"

namespace cairn::ledger {

using ::cairn::codec::Reader;
using ::cairn::codec::Writer;

}  // namespace cairn::ledger
