#include "base/error.hpp"

#include <cerrno>
#include <cstring>

namespace vrift {

Error sys_error(const char* op) noexcept { return Error{Errc::system, errno, op}; }

const char* error_reason(const Error& e) noexcept {
  switch (e.code) {
    case Errc::system: return strerrordesc_np(e.sys) ? strerrordesc_np(e.sys) : "unknown system error";
    case Errc::corrupt: return "data is corrupt or not in vrift's format";
    case Errc::too_new: return "written by a newer version of vrift; upgrade vrift to use it";
    case Errc::invalid: return "invalid argument";
    case Errc::changed: return "the file changed while it was being read; try again when it is quiet";
    case Errc::lmdb: return "the LMDB database reported an error";
  }
  return "unknown error";
}

}  // namespace vrift
