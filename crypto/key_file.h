// Key files: JSON {"type":"ed25519","public_key":hex,"private_key":hex-seed}, mode 0600.
#pragma once

#include <string>

#include "base/status.h"
#include "crypto/ed25519.h"

namespace cairn::crypto {

// Writes a new file with mode 0600; refuses to overwrite an existing file.
Status WriteKeyFile(const std::string& path, const KeyPair& key);
// Refuses what is not a regular file (a FIFO or a directory, without blocking on it), a file
// that group or others may read or write, a malformed file, and a public key that does not
// match the private key.
Result<KeyPair> ReadKeyFile(const std::string& path);

}  // namespace cairn::crypto
