// Reading a small file an operator names (config, genesis, key file) without trusting it:
// the type is checked before the first read, so a FIFO, a device or a directory is refused
// with a message that says what it is instead of hanging or failing to parse. Stateless;
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace cairn {

struct FileContents {
  std::string data;
  uint32_t mode = 0;  // st_mode permission bits (07777) of the opened file
};

// Reads all of `path`, which must be a regular file (a symlink to one is fine) of at most
// `max_bytes`. Never blocks on a FIFO with no writer: it opens with O_NONBLOCK and checks
// the type with fstat before reading. Errors start with the path and say what it is
// ("... is a directory, not a file"); kNotFound when it does not exist, kInvalidArgument for
// a wrong type or size, kIoError otherwise.
Result<FileContents> ReadRegularFile(const std::string& path, size_t max_bytes);

}  // namespace cairn
