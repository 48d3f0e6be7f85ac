#pragma once
// Errors are values: a small, trivially copyable record of what failed and why.
// Library code returns them; only src/cli/ turns them into messages and exit codes.

#include <cstdint>

namespace vrift {

enum class Errc : uint8_t {
  system,          // a system call failed; Error::sys holds errno
  corrupt,         // stored data is damaged or is not what it claims to be
  too_new,         // written by a newer vrift; refuse rather than guess
  invalid,         // the input is not acceptable (bad name, bad hash text, ...)
  changed,         // a file changed while it was being read
  lmdb,            // LMDB reported an error of its own; Error::sys holds its code
};

struct Error {
  Errc code = Errc::system;
  int sys = 0;             // errno for Errc::system, the LMDB code for Errc::lmdb
  const char* op = "";     // the operation that failed, a static string
};

// Builds an Error from the current errno.
Error sys_error(const char* op) noexcept;
inline Error make_error(Errc code, const char* op, int sys = 0) noexcept { return Error{code, sys, op}; }

// A static, human-readable reason for `e` ("No such file or directory",
// "manifest was written by a newer vrift", ...). Never null; never allocates.
const char* error_reason(const Error& e) noexcept;

}  // namespace vrift
