#pragma once
// LmdbManifest: a project's path -> Entry map, in two layers, stored in LMDB.
//
// Layers. `base` is the ingested snapshot and may live in another project's environment
// (a shared base); `delta` holds this project's changes since: new entries and
// whiteouts. A layered lookup asks delta first: an entry there wins, a whiteout there
// means "deleted" (reported as absent), and only a miss falls through to base. A
// whiteout hides exactly one path: removing a directory from the layered view means
// whiteouting each of its descendants too (the caller walks them; see erase()).
//
// Environment. `<project>/.vrift/manifest.lmdb/` holds data.mdb and lock.mdb, with named
// databases `meta` (format version), `base` and `delta`. A format newer than this build
// is refused (Errc::too_new); anything that is not a vrift manifest is Errc::corrupt.
// With a shared base, the project's own `base` database exists but is not consulted.
// Opening one environment twice in a process shares one MDB_env (env_registry.hpp); the
// first opener decides whether it is read-only. Commits use LMDB's default durability (fsync on
// commit): the project's filesystem has no journal, so nothing else makes the manifest survive a
// crash.
//
// Threads. Any number of threads may read, each with its own ReadTxn; the shim keeps one
// per thread and resets it between lookups. write() may be called from any thread;
// LMDB serializes writers across threads and processes. Readers in other processes see
// each commit atomically.
//
// Map growth. The map starts small and doubles whenever a write runs out of room
// (MDB_MAP_FULL): the whole write callback is rolled back and run again on the larger
// map, so the callback must be re-runnable (no side effects besides its WriteTxn calls,
// or ones it undoes itself). Readers here and in other processes follow the growth on
// their next begin. Remapping needs every transaction of this process on that
// environment to be finished, so a thread must not hold two active transactions on one
// manifest at once (an active ReadTxn while calling write(), or while beginning a second
// ReadTxn): should a remap be pending then, it fails with ETIMEDOUT after 10 s (instead
// of deadlocking).
//
// Fork. An LMDB environment must not be used, nor closed, in a forked child (lmdb.hpp).
// After fork() the child's first begin_read() or write() notices (pthread_atfork) and
// reopens the environments, deliberately leaking the inherited handles; a child made
// without atfork handlers (_Fork, raw clone) calls reopen_after_fork() itself. ReadTxn
// objects inherited from the parent are leaked the same way when next used. A vfork()
// child shares the parent's memory: it must not call into the manifest at all.

#include <lmdb.h>
#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "base/result.hpp"
#include "manifest/base_index.hpp"
#include "manifest/entry.hpp"
#include "manifest/function_ref.hpp"
#include "manifest/keys.hpp"

namespace vrift::manifest {

namespace detail {
struct EnvHandle;
struct ManifestState;
}  // namespace detail

// Format of the environment (the `format` record in `meta`). Version 1: keys.hpp and
// record layout 1 (entry.hpp). Version 2 adds `base_stamp` in meta, renewed by every
// commit that changes the base, which the base index relies on (base_index.hpp): a
// version-1 manifest becomes version 2 with its first stamp, so that a vrift that does
// not stamp refuses to change its base under an index.
// Record layout 2 (entry.hpp) needs no new format: each record names its layout, a vrift
// that knows only layout 1 refuses a layout-2 record (Errc::too_new) rather than misread
// it, and the layout-1 records such a vrift writes are still read. A format-2 manifest
// may hold records of both layouts.
inline constexpr uint32_t k_format_version = 2;
inline constexpr std::string_view k_meta_format_key = "format";
// The project's projected directories (the config's, as of the last ingest), one per
// line, each led by its tier's digit: a session records such a directory again when a
// program makes it anew (`cargo clean`, `rm -rf node_modules`, then a build or install).
inline constexpr std::string_view k_meta_projected_key = "projected";
// "1" when the last ingest made the project's Phantom directories virtual
// ([phantom] directories = "virtual"): a session then shows each directory as the plain
// tree would (shim/vfs.hpp), not with the link count and ctime of the one made on disk.
inline constexpr std::string_view k_meta_virtual_dirs_key = "virtual_dirs";
// The base stamp the base index on disk was built for, recorded once the file is in
// place; lookups use the index only while it equals the snapshot's `base_stamp`.
inline constexpr std::string_view k_meta_base_index_key = "base_index";

inline constexpr uint64_t k_default_map_size = uint64_t{64} << 20;  // 64 MiB, then doubling
inline constexpr uint64_t k_max_map_size = uint64_t{1} << 40;       // 1 TiB of address space
inline constexpr uint32_t k_default_max_readers = 510;

enum class Layer : uint8_t { base = 0, delta = 1 };

struct OpenOptions {
  // Create the directory (not its parents), data files, databases and format record
  // when missing. Without it a missing manifest is Errc::system/ENOENT.
  bool create = false;
  // Open the project's environment read-only (MDB_RDONLY): write() fails.
  bool read_only = false;
  // Directory of another manifest environment whose `base` layer serves as this
  // project's base (its `delta` is ignored); null: the base is in this environment.
  const char* base_env_dir = nullptr;
  // Open the shared base read-only; write_shared_base() fails.
  bool base_read_only = true;
  // Map size of a new environment, and the minimum for an existing one.
  uint64_t initial_map_size = k_default_map_size;
  // Reader slots in a new environment's lock file: one per thread with a ReadTxn, over
  // every process using the manifest at once.
  uint32_t max_readers = k_default_max_readers;
  // Answer base lookups from the base index when one matches the snapshot.
  bool use_base_index = true;
};

// One snapshot of the manifest, reused across lookups: begin_read() takes a snapshot,
// reset() releases it, the next begin_read() renews it without allocating. Not
// thread-safe: one per thread. Views handed out by lookups made through it point into
// LMDB's map and stay valid until reset(), the next begin_read() or destruction. An
// active ReadTxn pins the snapshot (old pages cannot be reused by writers): keep it
// short. It may outlive its LmdbManifest (it holds its own reference to the
// environments). Destroyed or reset in a forked child, it leaks its handles.
class ReadTxn {
 public:
  ReadTxn() noexcept = default;
  ReadTxn(ReadTxn&& other) noexcept;
  ReadTxn& operator=(ReadTxn&& other) noexcept;
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  ~ReadTxn();

  // Releases the snapshot, keeping the handles for a cheap renewal. Idempotent.
  void reset() noexcept;
  bool active() const noexcept { return m_active; }

 private:
  friend class LmdbManifest;
  friend class WriteTxn;

  struct Side {
    detail::EnvHandle* env = nullptr;
    MDB_txn* txn = nullptr;
  };

  void discard() noexcept;
  void move_from(ReadTxn& other) noexcept;
  bool inherited() const noexcept;
  MDB_txn* txn_of(Layer layer) const noexcept {
    return m_side[m_side_of[static_cast<int>(layer)]].txn;
  }
  MDB_dbi dbi_of(Layer layer) const noexcept { return m_dbi[static_cast<int>(layer)]; }
  Result<MDB_cursor*> cursor_of(Layer layer) noexcept;
  Result<bool> layer_empty(Layer layer) noexcept;

  Side m_side[2];                // [0] the project's environment, [1] a shared base's
  MDB_dbi m_dbi[2] = {};         // per Layer
  uint8_t m_side_of[2] = {};     // per Layer: index into m_side
  MDB_cursor* m_cursor[2] = {};  // per Layer, opened once, renewed lazily
  bool m_cursor_fresh[2] = {};
  int8_t m_empty[2] = {-1, -1};  // per Layer, per snapshot: -1 unknown, 0 no, 1 yes
  // The base index for the snapshot with LMDB transaction id m_index_txn (0: not looked
  // up yet); m_index null: lookups go to LMDB.
  const BaseIndexMap* m_index = nullptr;
  uint64_t m_index_txn = 0;
  uint64_t m_owner = 0;          // ManifestState id
  uint64_t m_env_gen = 0;
  uint64_t m_fork_gen = 0;
  pid_t m_pid = 0;
  bool m_active = false;
};

// The writable side of one write() call. Valid only inside the callback. Paths are
// validated (keys.hpp: Errc::invalid when not normalized). Every LMDB failure is
// returned; MDB_MAP_FULL is also remembered so that write() grows the map and reruns the
// callback even if the callback swallowed the error.
class WriteTxn {
 public:
  // Stores `entry` at `path` in `layer`, replacing any record there. Errors:
  // Errc::invalid (bad path or entry, a whiteout into base, a layer this transaction
  // cannot write: the shared base in write(), delta in write_shared_base()), Errc::lmdb.
  Status put(Layer layer, std::string_view path, const Entry& entry) noexcept;

  // Deletes the record at `path` in `layer`. Returns false when there was none.
  // Errors: as put().
  Result<bool> remove(Layer layer, std::string_view path) noexcept;

  // Records in delta that `path` is deleted (hides base). Errors: as put().
  Status whiteout(std::string_view path) noexcept;

  // Makes `path` absent from the layered view: drops its delta record and, when base
  // has the path, writes a whiteout. Returns false when it was already absent. Does not
  // touch descendants. Errors: as put().
  Result<bool> erase(std::string_view path) noexcept;

  // Reads a record of `layer` as this transaction sees it (own writes included; a shared
  // base is read from a snapshot taken on first use). Returns false on a miss (`out`
  // unspecified); whiteouts are returned as such. `out` points into LMDB memory valid
  // until the callback returns or the next write call. Errors: Errc::corrupt,
  // Errc::too_new, Errc::lmdb.
  Result<bool> get(Layer layer, std::string_view path, Entry& out) noexcept;

  // Layered lookup as this transaction sees it: false on a miss or a whiteout.
  Result<bool> get(std::string_view path, Entry& out) noexcept;

  // Deletes every record of `layer`. Errors: as put().
  Status clear(Layer layer) noexcept;

  // Sets a `meta` record of the project's environment (never a shared base's). Errors:
  // Errc::invalid (the format record, or in write_shared_base()), Errc::lmdb.
  Status put_meta(std::string_view key, std::string_view value) noexcept;

 private:
  friend class LmdbManifest;
  WriteTxn() noexcept = default;

  Status note(int rc, const char* op) noexcept;
  Status writable(Layer layer) const noexcept;
  Result<bool> read_base(std::string_view path, Entry& out) noexcept;
  Status stamp_base(MDB_dbi meta) noexcept;

  MDB_txn* m_txn = nullptr;
  MDB_dbi m_dbi[2] = {};
  bool m_writable[2] = {};
  bool m_readable[2] = {};                  // layer present in m_txn's environment
  detail::EnvHandle* m_base_env = nullptr;  // a shared base, read-only here
  MDB_txn* m_base_txn = nullptr;            // its snapshot, begun on first need
  MDB_dbi m_meta_dbi = 0;                   // 0: no meta writes (write_shared_base)
  bool m_map_full = false;
  bool m_base_changed = false;  // a put, remove or clear in base: stamp it at commit
};

// Visitors return true to continue, false to stop. Their string_view and Entry
// arguments point into LMDB memory or a stack buffer valid only during the call.
using ChildVisitor = FunctionRef<bool(std::string_view name, const Entry& entry)>;
using PathVisitor = FunctionRef<bool(std::string_view path, const Entry& entry)>;
using WriteFn = FunctionRef<Status(WriteTxn& txn)>;

// mdb_stat of one layer's database.
struct LayerStats {
  uint64_t entries = 0;  // records, whiteouts included
  uint64_t depth = 0;
  uint64_t branch_pages = 0;
  uint64_t leaf_pages = 0;
  uint64_t overflow_pages = 0;
  uint64_t page_size = 0;
};

// The environment holding one layer.
struct MapInfo {
  uint64_t map_size = 0;    // this process's mapping
  uint64_t used_bytes = 0;  // pages in use (last page + 1) * page size
  uint64_t max_readers = 0;
  uint64_t readers_used = 0;  // reader slots ever used (LMDB's high-water mark)
};

// Counts over the layered view (census()).
struct Census {
  uint64_t entries = 0;
  uint64_t files = 0;
  uint64_t symlinks = 0;
  uint64_t dirs = 0;
  uint64_t tier1 = 0;
  uint64_t tier2 = 0;
  uint64_t phantom = 0;
  uint64_t dirty = 0;          // files being written in a session (Entry::dirty())
  uint64_t file_bytes = 0;     // sum of file sizes (logical bytes)
  uint64_t delta_entries = 0;  // raw records in delta, whiteouts included
  uint64_t delta_whiteouts = 0;
};

class LmdbManifest {
 public:
  // Opens (or with options.create, creates) the manifest environment in `env_dir`, and
  // the shared base environment when options.base_env_dir is set. Allocates. Errors:
  // Errc::system (ENOENT: missing and !create; ENOTDIR; EACCES ...), Errc::corrupt (not
  // an LMDB environment, truncated, no or garbled format record, missing layer),
  // Errc::too_new (written by a newer vrift), Errc::invalid (base_env_dir names this
  // same environment; an environment already open read-only in this process wanted
  // read-write), Errc::lmdb.
  static Result<LmdbManifest> open(const char* env_dir, const OpenOptions& options) noexcept;

  LmdbManifest(LmdbManifest&& other) noexcept;
  LmdbManifest& operator=(LmdbManifest&& other) noexcept;
  LmdbManifest(const LmdbManifest&) = delete;
  LmdbManifest& operator=(const LmdbManifest&) = delete;
  // Closes the environments once no ReadTxn holds them (in a forked child: leaks them).
  ~LmdbManifest();

  // Takes a fresh snapshot into `txn`: renews it when it was last used with this
  // manifest (no allocation), else (re)binds it (allocates). Reopens the environments
  // first when running in a forked child. Errors: Errc::lmdb (MDB_READERS_FULL when every
  // reader slot is taken by live processes), ETIMEDOUT (following a grown map while
  // this thread holds another active transaction), errors of reopen_after_fork().
  Status begin_read(ReadTxn& txn) noexcept;

  // A new ReadTxn, begun. Allocates. Errors: as begin_read().
  Result<ReadTxn> read() noexcept;

  // Layered lookup of `path` (delta, then base). Returns true and fills `out` on a hit;
  // false on a miss, a whiteout in delta, or a path no entry can have (`out` is then
  // unspecified). Never allocates. `out` points into LMDB memory (see ReadTxn). Errors:
  // Errc::invalid (txn not begun with this manifest), Errc::corrupt (undecodable
  // record), Errc::too_new (a record of a newer layout), Errc::lmdb.
  Result<bool> get(ReadTxn& txn, std::string_view path, Entry& out) const noexcept;

  // Lookup in one layer only; whiteouts are returned as entries of kind whiteout.
  Result<bool> get(ReadTxn& txn, Layer layer, std::string_view path, Entry& out) const noexcept;

  // A `meta` record of the project's environment: false when absent. `out` points into
  // LMDB memory (see ReadTxn). Never allocates. Errors: Errc::invalid, Errc::lmdb.
  Result<bool> get_meta(ReadTxn& txn, std::string_view key, std::string_view& out) const noexcept;

  // Visits the children of directory `dir` in the layered view, sorted by name
  // (bytewise): delta entries override base ones, whiteouts hide them and are not
  // visited. A directory with no children (or no such directory) visits nothing. Does
  // not allocate. Errors: as get().
  Status list_children(ReadTxn& txn, std::string_view dir, ChildVisitor visit) const noexcept;

  // The children of `dir` in one layer, whiteouts included, sorted by name.
  Status list_children(ReadTxn& txn, Layer layer, std::string_view dir,
                       ChildVisitor visit) const noexcept;

  // Visits every path of the layered view with its entry, whiteouts excluded, in key
  // order: directory by directory, each directory's children by name, directories with
  // short paths (<= 240 bytes) before those with long ones; not depth-first. Does not
  // allocate. Errors: as get(), plus Errc::corrupt for a malformed key.
  Status for_each(ReadTxn& txn, PathVisitor visit) const noexcept;

  // Every record of one layer, whiteouts included, in key order.
  Status for_each(ReadTxn& txn, Layer layer, PathVisitor visit) const noexcept;

  // mdb_stat of a layer. Errors: as get().
  Result<LayerStats> stats(ReadTxn& txn, Layer layer) const noexcept;

  // Counts by kind and tier over the layered view (iterates everything). Errors: as
  // for_each().
  Result<Census> census(ReadTxn& txn) const noexcept;

  // The map of the environment holding `layer`. Errors: Errc::lmdb.
  Result<MapInfo> map_info(Layer layer) const noexcept;

  // Runs `fn` in one write transaction of the project's environment and commits it when
  // fn succeeds (rolls back otherwise, returning fn's error). Delta is writable, and base
  // too unless it is shared. On MDB_MAP_FULL anywhere (a put, or the commit) the
  // transaction is rolled back, the map doubled and fn run again from the start: fn
  // must be re-runnable. Must not be nested, nor called while this thread holds an
  // active ReadTxn of this manifest (see the header essay). Allocates. Errors: fn's
  // error, Errc::invalid (opened read-only), Errc::lmdb (commit; MDB_MAP_FULL past
  // k_max_map_size; MDB_TXN_FULL for a transaction dirtying over ~500 MiB of pages),
  // ETIMEDOUT, errors of reopen_after_fork().
  Status write(WriteFn fn) noexcept;

  // Like write(), in the shared base's environment: only the base layer is writable.
  // Errors: as write(); Errc::invalid when the base is not shared or opened read-only.
  Status write_shared_base(WriteFn fn) noexcept;

  // True when the base layer lives in another environment.
  bool base_is_shared() const noexcept;

  // Brings the base index (base_index.hpp) in step with the base as it is now: builds
  // and records it when the base has at least `min_entries` entries and the index on
  // disk is missing or out of date, removes it below that. Not for a shared base (its
  // lookups never use an index). Must not be called with an active ReadTxn of this
  // manifest in this thread. Allocates (the whole index, before it is written).
  // Errors: those of write(), Errc::system (writing the file).
  Status update_base_index(uint64_t min_entries);

  // True when update_base_index(min_entries) has work to do. Errors: as begin_read().
  Result<bool> base_index_outdated(uint64_t min_entries) noexcept;

  // True when lookups through `txn` are answered from the base index.
  bool base_index_in_use(ReadTxn& txn) const noexcept;

  // Looks every base entry up in the base index the current snapshot uses and counts
  // those it answers differently (or not at all), plus one when it holds entries the
  // base does not: 0 when they agree, or when no index is in use. Errors: as for_each().
  Result<uint64_t> verify_base_index();

  // Makes a new base index under a new base stamp, so that processes still holding the
  // old one stop using it. Errors: as update_base_index().
  Status rebuild_base_index(uint64_t min_entries);

  // Writes up to `cap` of the file descriptors the environments hold open (data and
  // lock files of the project's and a shared base's environment; all close-on-exec) into
  // `out` and returns how many there are. The shim refuses close(), close_range() and
  // dup2() onto these. They change after reopen_after_fork().
  size_t descriptors(int* out, size_t cap) const noexcept;

  // True when this process is not the one that opened (or last reopened) the
  // environments: a getpid() system call.
  bool forked() const noexcept;

  // In a forked child: opens the environments afresh and leaks the inherited handles
  // (never closing them). A no-op in the opening process. Call before starting threads
  // in the child, or let the first begin_read()/write() do it. Allocates. Errors: as
  // open().
  Status reopen_after_fork() noexcept;

 private:
  friend class WriteTxn;
  explicit LmdbManifest(detail::ManifestState* state) noexcept : m_state(state) {}

  Status ensure_process() noexcept;
  Status check_txn(const ReadTxn& txn) const noexcept;
  const BaseIndexMap* base_index(ReadTxn& txn) const noexcept;
  struct IndexState {
    uint64_t stamp = 0;    // the base's stamp in this snapshot (0: never stamped)
    uint64_t indexed = 0;  // the stamp the index on disk was recorded for (0: none)
    uint64_t entries = 0;  // base entries
  };
  Status read_index_state(ReadTxn& txn, IndexState& out) noexcept;
  bool index_matches(const IndexState& state) const noexcept;
  Status restamp_base() noexcept;
  // A base lookup through `index`, or LMDB when it is null (`key`: the path's key when
  // already encoded).
  Result<bool> get_base(ReadTxn& txn, const BaseIndexMap* index, const KeyBuf* key,
                        std::string_view path, Entry& out) const noexcept;
  Status run_write(bool shared_base, WriteFn fn) noexcept;
  void close() noexcept;

  detail::ManifestState* m_state = nullptr;
};

}  // namespace vrift::manifest
