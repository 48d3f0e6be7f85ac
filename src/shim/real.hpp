#pragma once
// The real libc functions behind every interposed symbol, resolved once with
// dlsym(RTLD_NEXT). A wrapper must always call the real function, never another
// wrapper (that would translate a path twice).

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <glob.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <utime.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/types.h>

namespace vrift::shim {

struct RealFunctions {
#define VRIFT_SYMBOL(name, ret, params) ret(*name) params;
#include "shim/symbols.def"
#undef VRIFT_SYMBOL
};

extern RealFunctions g_real;

// Resolves the whole table (idempotent, thread-safe: racing callers store the same
// pointers). Called on a wrapper's first use, so it works before constructors run.
void resolve_real_functions() noexcept;

// The real table, resolved.
inline const RealFunctions& real() noexcept {
  extern bool g_real_resolved;
  if (__builtin_expect(!__atomic_load_n(&g_real_resolved, __ATOMIC_ACQUIRE), 0)) {
    resolve_real_functions();
  }
  return g_real;
}

}  // namespace vrift::shim
