#include "shim/real.hpp"
#include "shim/kernel.hpp"

#include <dlfcn.h>
#include <link.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace vrift::shim {

namespace {

// Each symbol's name, as a constant a template can take.
#define VRIFT_SYMBOL(name, ret, params) constexpr char k_name_##name[] = #name;
#include "shim/symbols.def"
#undef VRIFT_SYMBOL

// The first call of an entry: look the function up, store it for the next calls, call
// it. Variadic entries have none (nullptr until resolve_real_functions()).
template <class Fn>
struct FirstCall {};

template <class R, class... A>
struct FirstCall<R (*)(A...)> {
  template <R (*RealFunctions::*Entry)(A...), const char* Name>
  static R call(A... args) {
    auto fn = reinterpret_cast<R (*)(A...)>(::dlsym(RTLD_NEXT, Name));
    if (fn == nullptr) {  // this libc lacks it: fail as the kernel would for a missing call
      errno = ENOSYS;
      if constexpr (std::is_void_v<R>) {
        return;
      } else if constexpr (std::is_pointer_v<R>) {
        return nullptr;
      } else {
        return static_cast<R>(-1);
      }
    }
    __atomic_store_n(&(g_real.*Entry), fn, __ATOMIC_RELEASE);
    return fn(args...);
  }
  template <R (*RealFunctions::*Entry)(A...), const char* Name>
  static constexpr R (*resolver_for)(A...) = &call<Entry, Name>;
};

template <class Fn, auto Entry, const char* Name>
constexpr Fn first_call() {
  if constexpr (requires { FirstCall<Fn>::template resolver_for<Entry, Name>; }) {
    return FirstCall<Fn>::template resolver_for<Entry, Name>;
  } else {
    return nullptr;
  }
}

}  // namespace

constinit RealFunctions g_real{
#define VRIFT_SYMBOL(name, ret, params) first_call<ret(*) params, &RealFunctions::name, k_name_##name>(),
#include "shim/symbols.def"
#undef VRIFT_SYMBOL
};
constinit bool g_real_resolved = false;

void resolve_real_functions() noexcept {
#define VRIFT_SYMBOL(name, ret, params)                                                  \
  if (g_real.name == nullptr) {                                                          \
    __atomic_store_n(&g_real.name, reinterpret_cast<ret(*) params>(::dlsym(RTLD_NEXT, #name)), \
                     __ATOMIC_RELEASE);                                                  \
  }
#include "shim/symbols.def"
#undef VRIFT_SYMBOL
  __atomic_store_n(&g_real_resolved, true, __ATOMIC_RELEASE);
}

DirectCalls g_direct;

namespace {

// The address range of libc's code: where its own definitions lie. dl_iterate_phdr
// reads the loaded objects' headers; dladdr would scan libc's symbol table (~100,000
// instructions a call, paid by every program started in a session).
struct Range {
  uintptr_t begin = 0;
  uintptr_t end = 0;
};

Range libc_code() noexcept {
  Range found;
  ::dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* out) -> int {
        const char* base = info->dlpi_name != nullptr ? std::strrchr(info->dlpi_name, '/') : nullptr;
        if (base == nullptr || std::strcmp(base + 1, "libc.so.6") != 0) {
          return 0;
        }
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0) {
            auto* range = static_cast<Range*>(out);
            range->begin = info->dlpi_addr + ph.p_vaddr;
            range->end = range->begin + ph.p_memsz;
            return 1;
          }
        }
        return 0;
      },
      &found);
  return found;
}

// Whether the next definition of `name` after the shim's is libc's own. The lookup is
// the one the entry's first call would make, so the entry keeps what it found.
template <class Fn>
bool next_is_libcs(Fn& entry, const char* name, Range libc) noexcept {
  auto fn = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
  if (fn == nullptr) {
    return false;
  }
  __atomic_store_n(&entry, fn, __ATOMIC_RELEASE);
  auto at = reinterpret_cast<uintptr_t>(fn);
  return at >= libc.begin && at < libc.end;
}

}  // namespace

void direct_kernel_calls() noexcept {
  Range libc = libc_code();
  g_direct.fstatat = next_is_libcs(g_real.fstatat, "fstatat", libc);
  g_direct.statx = next_is_libcs(g_real.statx, "statx", libc) && next_is_libcs(g_real.syscall, "syscall", libc);
  g_direct.faccessat = next_is_libcs(g_real.faccessat, "faccessat", libc);
}

}  // namespace vrift::shim
