#pragma once
// Process-wide registry of open manifest environments (internal to vrift_manifest).
//
// Why a registry: LMDB forbids opening one environment twice in a process. Its lock
// file is guarded with POSIX record locks, which belong to the process, not to the file
// descriptor: closing a second handle on the same lock file drops the locks the first
// still relies on. Two projects sharing one base, or a test opening a manifest twice,
// must therefore share one MDB_env. The registry keys handles by the (device, inode) of
// the environment directory and reference-counts them.
//
// Why a remap lock: the map grows (MDB_MAP_FULL) and follows growth by other processes
// (MDB_MAP_RESIZED) through mdb_env_set_mapsize(), which unmaps and remaps the file. Any
// thread of this process still inside a transaction would then read freed memory, and
// LMDB leaves the exclusion to the caller. Each handle carries an rwlock: a transaction
// holds it shared for as long as it is active (ReadTxn from begin to reset, a write from
// begin to commit); a remap takes it exclusively. The lock prefers the remap: readers
// that overlap without end (a busy shim) would otherwise starve it. The price: a thread
// that already holds the lock shared must not take it again (a second active
// transaction on the same environment) while a remap waits, or both wait. Every
// exclusive wait is bounded (10 s, then ETIMEDOUT), so such a cycle ends in an error,
// never a hang; our own code never nests (a write reads a shared base through that
// base's lock only). Lock order: the project's environment before a shared base's.
//
// Fork: a handle belongs to the pid that opened it. In a forked child the registry
// ignores (and eventually overwrites) the parent's slots and never closes their
// environments (lmdb.hpp explains why); the child opens its own. The registry mutex is
// taken around fork() (pthread_atfork) so the child never inherits it locked.

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "base/result.hpp"
#include "manifest/base_index.hpp"
#include "manifest/lmdb.hpp"

namespace vrift::manifest::detail {

struct EnvConfig {
  const char* dir = nullptr;
  bool create = false;     // create the directory, the databases and the format record
  bool read_only = false;  // MDB_RDONLY
  uint64_t initial_map_size = 0;
  uint32_t max_readers = 0;
};

struct EnvHandle {
  lmdb::Env env;
  dev_t dev = 0;
  ino_t ino = 0;
  pid_t pid = 0;
  bool read_only = false;
  MDB_dbi meta_dbi = 0;
  MDB_dbi base_dbi = 0;
  MDB_dbi delta_dbi = 0;
  pthread_rwlock_t remap_lock;
  uint32_t refs = 0;              // guarded by the registry mutex
  int fds[4] = {-1, -1, -1, -1};  // LMDB's descriptors (data, meta writer, lock)
  uint32_t fd_count = 0;
  // The base index files this process mapped (base_index.hpp). index_maps[index_current]
  // is the newest; older ones stay mapped until the handle closes, since entries read
  // through them may still be in use. Filled under index_mutex, read without it.
  static constexpr int k_index_maps = 4;
  BaseIndexMap index_maps[k_index_maps];
  std::atomic<int> index_current{-1};
  std::atomic<uint64_t> index_failed_txn{0};  // a snapshot whose index could not be mapped
  pthread_mutex_t index_mutex = PTHREAD_MUTEX_INITIALIZER;
};

// The mapped base index of `handle` (environment directory `dir`) built for `stamp`,
// mapping it on first use; nullptr when there is none to map (missing, damaged, or every
// slot taken), remembered for snapshot `txn_id` so that it is not tried again for it.
const BaseIndexMap* base_index_for(EnvHandle& handle, const char* dir, uint64_t stamp,
                                   uint64_t txn_id) noexcept;

// Returns the handle for config.dir, opening it (and checking its format) when this
// process has none, else sharing the open one. Every success must be paired with
// release_env(). Errors: Errc::system (ENOENT when the manifest is missing and
// !create, ...), Errc::corrupt (not LMDB, truncated, no or garbled format record),
// Errc::too_new (newer format), Errc::invalid (already open read-only here and now
// wanted read-write), Errc::lmdb.
Result<EnvHandle*> acquire_env(const EnvConfig& config) noexcept;

// Adds a reference to a handle already held.
void retain_env(EnvHandle* handle) noexcept;

// Drops a reference; the last one closes the environment (in its own process only).
void release_env(EnvHandle* handle) noexcept;

// Begins a transaction on `handle` (flags 0 = write, MDB_RDONLY = read) into `txn`, or
// renews the reset read transaction already in `txn`, and leaves the remap lock held
// shared. Follows a map grown by another process (MDB_MAP_RESIZED) and reclaims reader
// slots of dead processes (MDB_READERS_FULL). On failure `txn` is null (begin) or still
// reset (renew) and no lock is held. Errors: lmdb::to_error() of the code; ETIMEDOUT.
Status begin_locked(EnvHandle& handle, MDB_txn*& txn, unsigned flags) noexcept;

// After a commit: grows the data file to the page count of the newest meta page. LMDB
// leaves it short when the last pages a transaction took were freed again before it
// committed, and a short file is indistinguishable from a truncated one until its
// freelist is read (acquire_env() does, when it meets one).
void pad_data_file(EnvHandle& handle) noexcept;

// Releases the shared remap lock taken by begin_locked().
void unlock_shared(EnvHandle& handle) noexcept;

// Current map size of this process's mapping.
uint64_t map_size(EnvHandle& handle) noexcept;

// Doubles the map (capped at `max_size`) unless it already grew past `seen` since the
// caller saw MDB_MAP_FULL. Needs the remap lock exclusively: the caller must hold no
// transaction on this environment. Errors: Errc::lmdb (MDB_MAP_FULL at the cap),
// ETIMEDOUT, to_error() of mdb_env_set_mapsize.
Status grow_map(EnvHandle& handle, uint64_t seen, uint64_t max_size) noexcept;

}  // namespace vrift::manifest::detail
