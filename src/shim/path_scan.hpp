#pragma once
// The scan that decides whether a path needs normalizing before it can be compared with
// the project's path. Every call a program makes outside the project runs it, so it
// looks at 16 bytes per step. Header-only and free of the shim's state, so unit tests
// can check it against the plain definition.

#include <emmintrin.h>

#include <cstddef>
#include <cstring>

namespace vrift::shim {

// A '/' followed by '/' or '.' somewhere in 16 bytes (`at` and `at + 1` readable).
inline bool slash_pair_in_16(const char* at) noexcept {
  __m128i here = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
  __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at + 1));
  __m128i slash = _mm_cmpeq_epi8(here, _mm_set1_epi8('/'));
  __m128i odd = _mm_or_si128(_mm_cmpeq_epi8(next, _mm_set1_epi8('/')), _mm_cmpeq_epi8(next, _mm_set1_epi8('.')));
  return _mm_movemask_epi8(_mm_and_si128(slash, odd)) != 0;
}

// True when a path of `len` bytes has "//", a component starting with '.' ("/./",
// "/../", also "/.bin", which costs only the slower exact path) or a trailing '/'.
inline bool needs_normalizing(const char* p, size_t len) noexcept {
  if (len > 1 && p[len - 1] == '/') {
    return true;
  }
  if (len < 17) {
    char padded[32] = {};  // the NUL padding matches nothing
    std::memcpy(padded, p, len);
    return slash_pair_in_16(padded);
  }
  for (size_t i = 0; i + 17 < len; i += 16) {
    if (slash_pair_in_16(p + i)) {
      return true;
    }
  }
  return slash_pair_in_16(p + len - 17);  // the last pairs, overlapping what was seen
}

}  // namespace vrift::shim
