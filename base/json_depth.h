// A pre-parse bound on how deep JSON text nests, so hostile text (a million '[') is refused
// before a parser whose work, or whose tree's destruction, recurses once per level sees it.
// Pure functions over the caller's bytes: thread-safe, no allocation.
#pragma once

#include <cstddef>
#include <string_view>

namespace cairn {

// The offset of the first '[' or '{' that opens level `max_depth + 1`, or npos when no array
// or object nests deeper than `max_depth` (the outermost one is level 1). Brackets inside
// strings, with their backslash escapes, do not count; a closer with nothing open does not
// lower the depth, so "]]]" cannot buy room for more openers. One pass that stops at the
// first opener past the limit. Not a validator: malformed text within the limit passes, for
// the parser that follows to refuse.
size_t JsonTooDeepAt(std::string_view text, size_t max_depth);

inline bool JsonNestingWithin(std::string_view text, size_t max_depth) {
  return JsonTooDeepAt(text, max_depth) == std::string_view::npos;
}

}  // namespace cairn
