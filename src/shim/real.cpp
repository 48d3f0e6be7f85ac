#include "shim/real.hpp"

#include <dlfcn.h>

#include <cerrno>
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

}  // namespace vrift::shim
