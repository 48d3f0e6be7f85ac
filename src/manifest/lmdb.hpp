#pragma once
// Thin RAII over the LMDB C API, and the mapping of LMDB return codes onto vrift::Error.
//
// Fork rule (lmdb.h, "Caveats"): an MDB_env and every transaction begun on it belong to
// the process that opened it. A forked child must neither use nor close them. Reader
// slots live in the shared lock file, so a child that aborts or resets an inherited read
// transaction releases the slot the *parent's* snapshot depends on (tested in
// lmdb_test.cpp), and mdb_env_close() in LMDB releases after 0.9.24 clears every slot
// registered under the opener's pid. Every owner below therefore records the pid it was
// created in and, when destroyed in another process, leaks its handle on purpose
// instead of closing it.

#include <lmdb.h>
#include <sys/types.h>

#include <cstdint>
#include <string_view>
#include <utility>

#include "base/result.hpp"

namespace vrift::manifest::lmdb {

// Maps a non-zero LMDB return code: MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_INVALID and
// MDB_VERSION_MISMATCH become Errc::corrupt; errno values (LMDB passes them through,
// they are positive) become Errc::system; every other LMDB code becomes Errc::lmdb. The
// code itself is kept in Error::sys. `op` must be a static string.
Error to_error(int rc, const char* op) noexcept;

// Success when rc == MDB_SUCCESS, else to_error(rc, op).
inline Status check(int rc, const char* op) noexcept {
  if (rc == MDB_SUCCESS) {
    return {};
  }
  return tl::unexpected<Error>(to_error(rc, op));
}

// True when `e` carries LMDB code `rc` (e.g. MDB_MAP_FULL), whatever its Errc.
inline bool has_code(const Error& e, int rc) noexcept {
  return e.code != Errc::system && e.sys == rc;
}

// LMDB's own text for an error this module produced (Errc::lmdb or Errc::corrupt with
// an LMDB code); error_reason() otherwise. Static storage; never null.
const char* reason(const Error& e) noexcept;

inline MDB_val to_val(std::string_view s) noexcept {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view to_view(const MDB_val& v) noexcept {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// Incremented in the child after every fork() that runs pthread_atfork handlers (glibc
// fork() does; vfork(), _Fork() and raw clone() do not). A cheap way for hot paths to
// notice they run in a new process without a getpid() system call. Registered the first
// time an Env is created.
uint64_t fork_generation() noexcept;

// An MDB_env handle. Closed on destruction in the process that created it; leaked in
// any other (see the fork rule above).
class Env {
 public:
  Env() noexcept = default;
  // mdb_env_create. Errors: Errc::system (ENOMEM), Errc::lmdb.
  static Result<Env> create() noexcept;

  Env(Env&& other) noexcept : m_env(std::exchange(other.m_env, nullptr)), m_pid(other.m_pid) {}
  Env& operator=(Env&& other) noexcept;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  ~Env() { close(); }

  MDB_env* get() const noexcept { return m_env; }
  explicit operator bool() const noexcept { return m_env != nullptr; }
  // True when this process created the handle (a getpid() system call).
  bool owned_here() const noexcept;
  // Closes now (or, in another process, forgets the handle without closing it).
  void close() noexcept;

 private:
  MDB_env* m_env = nullptr;
  pid_t m_pid = 0;
};

// An MDB_txn handle. Aborted on destruction unless committed or released, and only in
// the process that began it.
class Txn {
 public:
  Txn() noexcept = default;
  // mdb_txn_begin. `flags` is 0 (write) or MDB_RDONLY. Errors: to_error() of the code;
  // MDB_MAP_RESIZED and MDB_READERS_FULL reach the caller (Errc::lmdb), which decides
  // whether to adapt and retry.
  static Result<Txn> begin(MDB_env* env, unsigned flags) noexcept;

  Txn(Txn&& other) noexcept : m_txn(std::exchange(other.m_txn, nullptr)), m_pid(other.m_pid) {}
  Txn& operator=(Txn&& other) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { abort(); }

  MDB_txn* get() const noexcept { return m_txn; }
  explicit operator bool() const noexcept { return m_txn != nullptr; }
  // mdb_txn_commit. The handle is consumed whatever the outcome (LMDB frees it).
  Status commit() noexcept;
  // mdb_txn_abort in the owning process; a no-op on an empty handle.
  void abort() noexcept;

 private:
  MDB_txn* m_txn = nullptr;
  pid_t m_pid = 0;
};

// An MDB_cursor handle, closed on destruction. A cursor of a write transaction must be
// destroyed before that transaction commits or aborts (LMDB frees it then); a cursor of
// a read transaction may outlive it and be renewed with another read transaction.
class Cursor {
 public:
  Cursor() noexcept = default;
  // mdb_cursor_open (allocates). Errors: to_error() of the code.
  static Result<Cursor> open(MDB_txn* txn, MDB_dbi dbi) noexcept;

  Cursor(Cursor&& other) noexcept : m_cursor(std::exchange(other.m_cursor, nullptr)) {}
  Cursor& operator=(Cursor&& other) noexcept;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() { close(); }

  MDB_cursor* get() const noexcept { return m_cursor; }
  void close() noexcept;

 private:
  MDB_cursor* m_cursor = nullptr;
};

}  // namespace vrift::manifest::lmdb
