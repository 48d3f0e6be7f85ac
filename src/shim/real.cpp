#include "shim/real.hpp"

#include <dlfcn.h>

namespace vrift::shim {

constinit RealFunctions g_real{};
constinit bool g_real_resolved = false;

void resolve_real_functions() noexcept {
  RealFunctions table;
#define VRIFT_SYMBOL(name, ret, params) \
  table.name = reinterpret_cast<ret(*) params>(::dlsym(RTLD_NEXT, #name));
#include "shim/symbols.def"
#undef VRIFT_SYMBOL
  g_real = table;
  __atomic_store_n(&g_real_resolved, true, __ATOMIC_RELEASE);
}

}  // namespace vrift::shim
