#pragma once
// vrift::Result<T>: a value or an Error. Absence is a value (Result<std::optional<T>>),
// never an error.

#include <tl/expected.hpp>

#include "base/error.hpp"

namespace vrift {

template <class T>
using Result = tl::expected<T, Error>;

using Status = Result<void>;

inline tl::unexpected<Error> fail(Error e) noexcept { return tl::unexpected<Error>(e); }
inline tl::unexpected<Error> fail_sys(const char* op) noexcept { return fail(sys_error(op)); }
inline tl::unexpected<Error> fail(Errc code, const char* op, int sys = 0) noexcept {
  return fail(make_error(code, op, sys));
}

}  // namespace vrift

// VRIFT_TRY(expr): evaluates a Result; returns its error from the enclosing function,
// or yields its value.
#define VRIFT_TRY(expr)                                          \
  __extension__({                                                \
    auto vrift_try_result_ = (expr);                             \
    if (!vrift_try_result_) {                                    \
      return ::tl::unexpected<::vrift::Error>(vrift_try_result_.error()); \
    }                                                            \
    *std::move(vrift_try_result_);                               \
  })

// VRIFT_CHECK(expr): for Status (Result<void>): returns its error, if any.
#define VRIFT_CHECK(expr)                                        \
  do {                                                           \
    auto vrift_check_result_ = (expr);                           \
    if (!vrift_check_result_) {                                  \
      return ::tl::unexpected<::vrift::Error>(vrift_check_result_.error()); \
    }                                                            \
  } while (0)
