#pragma once
// The real libc functions behind every interposed symbol, each resolved with
// dlsym(RTLD_NEXT) on its first call: a process uses a few dozen of them, and looking up
// all of them would cost every program started in a session ~130,000 instructions. A
// wrapper must always call the real function, never another wrapper (that would
// translate a path twice).

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

// Resolves the variadic entries, which cannot resolve themselves on first call (their
// arguments cannot be forwarded); every other entry starts as a resolver that looks its
// function up, stores it and calls it. Idempotent and thread-safe: racing callers store
// the same pointers. Runs on a wrapper's first use, so it works before constructors run.
void resolve_real_functions() noexcept;

// The real table.
inline const RealFunctions& real() noexcept {
  extern bool g_real_resolved;
  if (__builtin_expect(!__atomic_load_n(&g_real_resolved, __ATOMIC_ACQUIRE), 0)) {
    resolve_real_functions();
  }
  return g_real;
}

}  // namespace vrift::shim
