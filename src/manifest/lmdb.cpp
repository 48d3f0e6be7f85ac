#include "manifest/lmdb.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>

namespace vrift::manifest::lmdb {

namespace {

std::atomic<uint64_t> g_fork_generation{0};
pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

void on_fork_child() noexcept { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

void register_atfork() noexcept { ::pthread_atfork(nullptr, nullptr, on_fork_child); }

}  // namespace

Error to_error(int rc, const char* op) noexcept {
  switch (rc) {
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return Error{Errc::corrupt, rc, op};
    default:
      break;
  }
  // LMDB's own codes are negative (MDB_KEYEXIST = -30799 ...); positive codes are errno.
  if (rc > 0) {
    return Error{Errc::system, rc, op};
  }
  return Error{Errc::lmdb, rc, op};
}

const char* reason(const Error& e) noexcept {
  if ((e.code == Errc::lmdb || e.code == Errc::corrupt) && e.sys < 0) {
    return ::mdb_strerror(e.sys);
  }
  return error_reason(e);
}

uint64_t fork_generation() noexcept { return g_fork_generation.load(std::memory_order_relaxed); }

Result<Env> Env::create() noexcept {
  ::pthread_once(&g_atfork_once, register_atfork);
  Env env;
  int rc = ::mdb_env_create(&env.m_env);
  if (rc != MDB_SUCCESS) {
    env.m_env = nullptr;
    return fail(to_error(rc, "mdb_env_create"));
  }
  env.m_pid = ::getpid();
  return env;
}

Env& Env::operator=(Env&& other) noexcept {
  if (this != &other) {
    close();
    m_env = std::exchange(other.m_env, nullptr);
    m_pid = other.m_pid;
  }
  return *this;
}

bool Env::owned_here() const noexcept { return m_env != nullptr && ::getpid() == m_pid; }

void Env::close() noexcept {
  if (m_env == nullptr) {
    return;
  }
  if (::getpid() == m_pid) {
    ::mdb_env_close(m_env);
  }
  // Otherwise: inherited across fork; leaked deliberately (see the header).
  m_env = nullptr;
}

Result<Txn> Txn::begin(MDB_env* env, unsigned flags) noexcept {
  Txn txn;
  int rc = ::mdb_txn_begin(env, nullptr, flags, &txn.m_txn);
  if (rc != MDB_SUCCESS) {
    txn.m_txn = nullptr;
    return fail(to_error(rc, "mdb_txn_begin"));
  }
  txn.m_pid = ::getpid();
  return txn;
}

Txn& Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    abort();
    m_txn = std::exchange(other.m_txn, nullptr);
    m_pid = other.m_pid;
  }
  return *this;
}

Status Txn::commit() noexcept {
  MDB_txn* txn = std::exchange(m_txn, nullptr);
  if (txn == nullptr) {
    return fail(Errc::invalid, "mdb_txn_commit");
  }
  return check(::mdb_txn_commit(txn), "mdb_txn_commit");
}

void Txn::abort() noexcept {
  MDB_txn* txn = std::exchange(m_txn, nullptr);
  if (txn != nullptr && ::getpid() == m_pid) {
    ::mdb_txn_abort(txn);
  }
}

Result<Cursor> Cursor::open(MDB_txn* txn, MDB_dbi dbi) noexcept {
  Cursor cursor;
  int rc = ::mdb_cursor_open(txn, dbi, &cursor.m_cursor);
  if (rc != MDB_SUCCESS) {
    cursor.m_cursor = nullptr;
    return fail(to_error(rc, "mdb_cursor_open"));
  }
  return cursor;
}

Cursor& Cursor::operator=(Cursor&& other) noexcept {
  if (this != &other) {
    close();
    m_cursor = std::exchange(other.m_cursor, nullptr);
  }
  return *this;
}

void Cursor::close() noexcept {
  if (m_cursor != nullptr) {
    ::mdb_cursor_close(m_cursor);
    m_cursor = nullptr;
  }
}

}  // namespace vrift::manifest::lmdb
