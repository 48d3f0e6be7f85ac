#include "manifest/lmdb_manifest.hpp"

#include <pthread.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>
#include <string>

#include "hash/hasher.hpp"
#include "manifest/env_registry.hpp"
#include "manifest/lmdb.hpp"

namespace vrift::manifest {

namespace detail {

struct ManifestState {
  uint64_t id = 0;  // unique per open(), so a ReadTxn can tell whose it is
  char env_dir[PATH_MAX] = {};
  char base_dir[PATH_MAX] = {};  // empty: the base is in env_dir
  OpenOptions options;
  EnvHandle* own = nullptr;
  EnvHandle* base_env = nullptr;  // null unless the base is shared
  pid_t pid = 0;                  // the process own/base_env belong to
  std::atomic<uint64_t> fork_gen{0};
  std::atomic<uint64_t> env_gen{0};  // bumped by every reopen
  pthread_mutex_t reopen_mutex = PTHREAD_MUTEX_INITIALIZER;
};

}  // namespace detail

namespace {

using detail::EnvHandle;
using detail::ManifestState;

std::atomic<uint64_t> g_next_state_id{1};

constexpr int idx(Layer layer) noexcept { return static_cast<int>(layer); }

Status open_envs(ManifestState& s, EnvHandle*& own, EnvHandle*& base) noexcept {
  const OpenOptions& o = s.options;
  detail::EnvConfig own_config{s.env_dir, o.create, o.read_only, o.initial_map_size, o.max_readers};
  own = VRIFT_TRY(detail::acquire_env(own_config));
  base = nullptr;
  if (s.base_dir[0] == '\0') {
    return {};
  }
  detail::EnvConfig base_config{s.base_dir, o.create && !o.base_read_only, o.base_read_only,
                                o.initial_map_size, o.max_readers};
  auto shared = detail::acquire_env(base_config);
  if (!shared) {
    detail::release_env(own);
    own = nullptr;
    return fail(shared.error());
  }
  if (*shared == own) {
    detail::release_env(*shared);
    detail::release_env(own);
    own = nullptr;
    return fail(Errc::invalid, "open manifest (the shared base is the project's own environment)");
  }
  base = *shared;
  return {};
}

Status copy_dir(const char* from, char (&to)[PATH_MAX]) noexcept {
  size_t n = std::strlen(from);
  if (n == 0) {
    return fail(Errc::invalid, "open manifest (empty path)");
  }
  if (n >= PATH_MAX) {
    return fail(Error{Errc::system, ENAMETOOLONG, "open manifest"});
  }
  std::memcpy(to, from, n + 1);
  return {};
}

// A meta record holding a u64 (the base stamps); 0 when absent or of another size.
uint64_t meta_u64(MDB_txn* txn, MDB_dbi meta, std::string_view key) noexcept {
  MDB_val k = lmdb::to_val(key);
  MDB_val v;
  uint64_t value = 0;
  if (::mdb_get(txn, meta, &k, &v) == MDB_SUCCESS && v.mv_size == sizeof(value)) {
    std::memcpy(&value, v.mv_data, sizeof(value));
  }
  return value;
}

// A base stamp no other commit has had: random, never 0 (0 means "none").
uint64_t new_stamp() noexcept {
  uint64_t v = 0;
  if (::getrandom(&v, sizeof(v), GRND_NONBLOCK) != static_cast<ssize_t>(sizeof(v))) {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    v = (static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec)) ^
        (static_cast<uint64_t>(::getpid()) << 40);
  }
  return v == 0 ? 1 : v;
}

// A cursor walking the keys that start with `prefix` (all keys when it is empty).
class RangeScan {
 public:
  RangeScan(MDB_cursor* cursor, std::string_view prefix) noexcept
      : m_cursor(cursor), m_prefix(prefix) {}

  Status first() noexcept {
    if (m_prefix.empty()) {
      return settle(::mdb_cursor_get(m_cursor, &m_key, &m_val, MDB_FIRST));
    }
    m_key = lmdb::to_val(m_prefix);
    return settle(::mdb_cursor_get(m_cursor, &m_key, &m_val, MDB_SET_RANGE));
  }
  Status next() noexcept { return settle(::mdb_cursor_get(m_cursor, &m_key, &m_val, MDB_NEXT)); }

  bool valid() const noexcept { return m_valid; }
  std::string_view key() const noexcept { return lmdb::to_view(m_key); }
  std::string_view value() const noexcept { return lmdb::to_view(m_val); }

 private:
  Status settle(int rc) noexcept {
    if (rc == MDB_NOTFOUND) {
      m_valid = false;
      return {};
    }
    if (rc != MDB_SUCCESS) {
      m_valid = false;
      return fail(lmdb::to_error(rc, "manifest scan"));
    }
    m_valid = key().substr(0, m_prefix.size()) == m_prefix;
    return {};
  }

  MDB_cursor* m_cursor;
  std::string_view m_prefix;
  MDB_val m_key{};
  MDB_val m_val{};
  bool m_valid = false;
};

// Walks delta and base in step, in key order, and calls emit(key, record, entry) for
// each key of the layered view: delta's record when both layers have the key, nothing
// for whiteouts. emit returns Result<bool>: false stops the walk.
template <class Emit>
Status merge_scan(MDB_cursor* delta_cursor, MDB_cursor* base_cursor, std::string_view prefix,
                  Emit&& emit) noexcept {
  RangeScan d(delta_cursor, prefix);
  RangeScan b(base_cursor, prefix);
  VRIFT_CHECK(d.first());
  VRIFT_CHECK(b.first());
  Entry entry;
  while (d.valid() || b.valid()) {
    int order = !d.valid() ? 1 : !b.valid() ? -1 : compare_keys(d.key(), b.key());
    RangeScan& from = order <= 0 ? d : b;
    VRIFT_CHECK(decode_record(from.value(), entry));
    if (!entry.is_whiteout()) {
      bool more = VRIFT_TRY(emit(from.key(), from.value(), entry));
      if (!more) {
        return {};
      }
    }
    if (order == 0) {
      VRIFT_CHECK(b.next());
    }
    VRIFT_CHECK(from.next());
  }
  return {};
}

// Rebuilds the path of a stored key into `buf` (k_path_buf bytes).
constexpr size_t k_path_buf = k_max_path + 1 + k_max_name + 1;

Result<std::string_view> path_of(std::string_view key, std::string_view record,
                                 char* buf) noexcept {
  KeyParts parts;
  if (!decode_key(key, parts)) {
    return fail(Errc::corrupt, "manifest key (malformed)");
  }
  std::string_view parent = parts.parent;
  if (parts.tag == k_key_hashed) {
    Entry ignored;
    VRIFT_CHECK(decode_record(record, ignored, &parent));
    hash::Digest digest = hash::hash_bytes(parent.data(), parent.size());
    if (parent.size() <= k_max_inline_parent ||
        std::memcmp(digest.bytes.data(), parts.digest.data(), k_parent_digest_len) != 0) {
      return fail(Errc::corrupt, "manifest key (parent path does not match its digest)");
    }
  }
  size_t n = join_path(parent, parts.name, buf, k_path_buf);
  if (n == SIZE_MAX) {
    return fail(Errc::corrupt, "manifest key (path too long)");
  }
  return std::string_view(buf, n);
}

}  // namespace

// ---- ReadTxn -----------------------------------------------------------------------

ReadTxn::ReadTxn(ReadTxn&& other) noexcept { move_from(other); }

ReadTxn& ReadTxn::operator=(ReadTxn&& other) noexcept {
  if (this != &other) {
    discard();
    move_from(other);
  }
  return *this;
}

ReadTxn::~ReadTxn() { discard(); }

void ReadTxn::move_from(ReadTxn& other) noexcept {
  for (int i = 0; i < 2; ++i) {
    m_side[i] = other.m_side[i];
    m_dbi[i] = other.m_dbi[i];
    m_side_of[i] = other.m_side_of[i];
    m_cursor[i] = other.m_cursor[i];
    m_cursor_fresh[i] = other.m_cursor_fresh[i];
    m_empty[i] = other.m_empty[i];
    other.m_side[i] = Side{};
    other.m_cursor[i] = nullptr;
  }
  m_index = std::exchange(other.m_index, nullptr);
  m_index_txn = std::exchange(other.m_index_txn, 0);
  m_owner = std::exchange(other.m_owner, 0);
  m_env_gen = other.m_env_gen;
  m_fork_gen = other.m_fork_gen;
  m_pid = other.m_pid;
  m_active = std::exchange(other.m_active, false);
}

bool ReadTxn::inherited() const noexcept { return m_fork_gen != lmdb::fork_generation(); }

void ReadTxn::reset() noexcept {
  if (!m_active) {
    return;
  }
  m_active = false;
  if (inherited()) {
    return;  // the reader slots are the parent's: leave them alone
  }
  for (Side& side : m_side) {
    if (side.env != nullptr) {
      ::mdb_txn_reset(side.txn);
      detail::unlock_shared(*side.env);
    }
  }
}

void ReadTxn::discard() noexcept {
  if (m_owner == 0) {
    return;
  }
  // A ReadTxn made in a parent is leaked in a child: aborting its transactions would
  // clear reader slots that the parent's copy is still using.
  bool foreign = inherited() || m_pid != ::getpid();
  if (!foreign) {
    reset();
    for (MDB_cursor*& cursor : m_cursor) {
      if (cursor != nullptr) {
        ::mdb_cursor_close(cursor);
      }
    }
    for (Side& side : m_side) {
      if (side.txn != nullptr) {
        ::mdb_txn_abort(side.txn);
      }
      detail::release_env(side.env);
    }
  }
  for (int i = 0; i < 2; ++i) {
    m_side[i] = Side{};
    m_cursor[i] = nullptr;
    m_cursor_fresh[i] = false;
  }
  m_owner = 0;
  m_active = false;
  m_index = nullptr;
  m_index_txn = 0;
}

// A freshly ingested project has an empty delta; skipping it saves a B-tree descent on
// every layered lookup. Known once per snapshot (mdb_stat reads the database record the
// first mdb_get would read anyway).
Result<bool> ReadTxn::layer_empty(Layer layer) noexcept {
  int l = idx(layer);
  if (m_empty[l] < 0) {
    MDB_stat st;
    VRIFT_CHECK(lmdb::check(::mdb_stat(txn_of(layer), dbi_of(layer), &st), "mdb_stat"));
    m_empty[l] = st.ms_entries == 0 ? 1 : 0;
  }
  return m_empty[l] == 1;
}

Result<MDB_cursor*> ReadTxn::cursor_of(Layer layer) noexcept {
  int l = idx(layer);
  if (!m_cursor_fresh[l]) {
    VRIFT_CHECK(lmdb::check(::mdb_cursor_renew(txn_of(layer), m_cursor[l]), "mdb_cursor_renew"));
    m_cursor_fresh[l] = true;
  }
  return m_cursor[l];
}

// ---- LmdbManifest: lifetime ----------------------------------------------------------

Result<LmdbManifest> LmdbManifest::open(const char* env_dir, const OpenOptions& options) noexcept {
  if (env_dir == nullptr) {
    return fail(Errc::invalid, "open manifest (no path)");
  }
  auto* s = new (std::nothrow) ManifestState;
  if (s == nullptr) {
    return fail(Error{Errc::system, ENOMEM, "open manifest"});
  }
  LmdbManifest manifest(s);  // frees s on every early return
  s->id = g_next_state_id.fetch_add(1, std::memory_order_relaxed);
  s->options = options;
  s->options.base_env_dir = nullptr;  // base_dir holds our own copy
  VRIFT_CHECK(copy_dir(env_dir, s->env_dir));
  if (options.base_env_dir != nullptr) {
    VRIFT_CHECK(copy_dir(options.base_env_dir, s->base_dir));
  }
  VRIFT_CHECK(open_envs(*s, s->own, s->base_env));
  s->pid = ::getpid();
  s->fork_gen.store(lmdb::fork_generation(), std::memory_order_release);
  return manifest;
}

LmdbManifest::LmdbManifest(LmdbManifest&& other) noexcept
    : m_state(std::exchange(other.m_state, nullptr)) {}

LmdbManifest& LmdbManifest::operator=(LmdbManifest&& other) noexcept {
  if (this != &other) {
    close();
    m_state = std::exchange(other.m_state, nullptr);
  }
  return *this;
}

LmdbManifest::~LmdbManifest() { close(); }

void LmdbManifest::close() noexcept {
  ManifestState* s = std::exchange(m_state, nullptr);
  if (s == nullptr) {
    return;
  }
  // In a forked child release_env() drops the reference without closing anything.
  detail::release_env(s->own);
  detail::release_env(s->base_env);
  delete s;
}

bool LmdbManifest::base_is_shared() const noexcept { return m_state->base_env != nullptr; }

Status LmdbManifest::read_index_state(ReadTxn& t, IndexState& out) noexcept {
  VRIFT_CHECK(begin_read(t));
  MDB_txn* txn = t.txn_of(Layer::base);
  MDB_dbi meta = m_state->own->meta_dbi;
  out.stamp = meta_u64(txn, meta, k_meta_base_stamp_key);
  out.indexed = meta_u64(txn, meta, k_meta_base_index_key);
  MDB_stat st;
  VRIFT_CHECK(lmdb::check(::mdb_stat(txn, t.dbi_of(Layer::base), &st), "mdb_stat"));
  out.entries = st.ms_entries;
  return {};
}

// The index on disk was built, and recorded, for the base as it is in `state`.
bool LmdbManifest::index_matches(const IndexState& state) const noexcept {
  return state.stamp != 0 && state.indexed == state.stamp &&
         BaseIndexMap::stamp_on_disk(m_state->env_dir) == state.stamp;
}

Result<bool> LmdbManifest::base_index_outdated(uint64_t min_entries) noexcept {
  if (m_state->base_env != nullptr) {
    return false;
  }
  IndexState state;
  {
    ReadTxn t;
    VRIFT_CHECK(read_index_state(t, state));
  }
  if (state.entries < min_entries) {
    return state.indexed != 0 || BaseIndexMap::stamp_on_disk(m_state->env_dir) != 0;
  }
  return !index_matches(state);
}

Status LmdbManifest::update_base_index(uint64_t min_entries) {
  ManifestState& s = *m_state;
  if (s.base_env != nullptr) {
    return {};
  }
  auto record_index = [&](uint64_t stamp) {
    return write([&](WriteTxn& w) -> Status {
      // Recorded only for the base it was built from: a commit in between made another.
      if (stamp != 0 && meta_u64(w.m_txn, w.m_meta_dbi, k_meta_base_stamp_key) != stamp) {
        return {};
      }
      return w.put_meta(k_meta_base_index_key,
                        std::string_view(reinterpret_cast<const char*>(&stamp), sizeof(stamp)));
    });
  };
  IndexState state;
  {
    ReadTxn t;
    VRIFT_CHECK(read_index_state(t, state));
  }
  std::string file = std::string(s.env_dir) + "/" + std::string(k_base_index_name);
  if (state.entries < min_entries) {
    if (state.indexed != 0) {
      VRIFT_CHECK(record_index(0));
    }
    if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
      return fail_sys("remove base index");
    }
    return {};
  }
  if (state.stamp == 0) {  // a base no commit has stamped yet (format 1)
    VRIFT_CHECK(restamp_base());
  }
  BaseIndexBuilder builder;
  {
    ReadTxn t;
    VRIFT_CHECK(read_index_state(t, state));
    if (index_matches(state)) {
      return {};
    }
    char record[k_max_record];
    Status encoded;
    VRIFT_CHECK(for_each(t, Layer::base, [&](std::string_view path, const Entry& e) {
      auto n = encode_record(e, std::string_view(), record, sizeof(record));
      if (!n) {
        encoded = fail(n.error());
        return false;
      }
      builder.add(path, std::string_view(record, *n));
      return true;
    }));
    VRIFT_CHECK(encoded);
  }
  VRIFT_CHECK(builder.write(s.env_dir, state.stamp));
  return record_index(state.stamp);
}

Result<uint64_t> LmdbManifest::verify_base_index() {
  ReadTxn t;
  VRIFT_CHECK(begin_read(t));
  const BaseIndexMap* index = base_index(t);
  if (index == nullptr) {
    return uint64_t{0};
  }
  uint64_t disagree = 0;
  uint64_t seen = 0;
  // Compared as entries, both re-encoded: an index an older vrift built holds records of
  // an older layout, still right.
  char record[k_max_record];
  char stored_again[k_max_record];
  auto agrees = [&](std::string_view path, const Entry& e) {
    auto n = encode_record(e, std::string_view(), record, sizeof(record));
    std::string_view stored;
    auto hit = index->find(path, stored);
    Entry was;
    if (!n || !hit || !*hit || !decode_record(stored, was)) {
      return false;
    }
    auto m = encode_record(was, std::string_view(), stored_again, sizeof(stored_again));
    return m && std::string_view(record, *n) == std::string_view(stored_again, *m);
  };
  VRIFT_CHECK(for_each(t, Layer::base, [&](std::string_view path, const Entry& e) {
    ++seen;
    disagree += agrees(path, e) ? 0 : 1;
    return true;
  }));
  return disagree + (index->entries() != seen ? 1 : 0);
}

Status LmdbManifest::restamp_base() noexcept {
  return write([](WriteTxn& w) -> Status {
    w.m_base_changed = true;  // stamped at commit, though nothing else changes
    return {};
  });
}

Status LmdbManifest::rebuild_base_index(uint64_t min_entries) {
  VRIFT_CHECK(restamp_base());
  return update_base_index(min_entries);
}

bool LmdbManifest::forked() const noexcept { return m_state->pid != ::getpid(); }

size_t LmdbManifest::descriptors(int* out, size_t cap) const noexcept {
  size_t n = 0;
  for (const EnvHandle* h : {m_state->own, m_state->base_env}) {
    if (h == nullptr) {
      continue;
    }
    for (uint32_t i = 0; i < h->fd_count; ++i, ++n) {
      if (n < cap) {
        out[n] = h->fds[i];
      }
    }
  }
  return n;
}

Status LmdbManifest::reopen_after_fork() noexcept {
  ManifestState& s = *m_state;
  ::pthread_mutex_lock(&s.reopen_mutex);
  Status st;
  pid_t pid = ::getpid();
  if (s.pid != pid) {
    EnvHandle* own = nullptr;
    EnvHandle* base = nullptr;
    st = open_envs(s, own, base);
    if (st) {
      // The inherited handles are dropped without release: never closed in this process.
      s.own = own;
      s.base_env = base;
      s.pid = pid;
      s.env_gen.fetch_add(1, std::memory_order_release);
    }
  }
  if (st) {
    s.fork_gen.store(lmdb::fork_generation(), std::memory_order_release);
  }
  ::pthread_mutex_unlock(&s.reopen_mutex);
  return st;
}

Status LmdbManifest::ensure_process() noexcept {
  if (m_state->fork_gen.load(std::memory_order_acquire) == lmdb::fork_generation()) {
    return {};
  }
  return reopen_after_fork();
}

// ---- LmdbManifest: reading -------------------------------------------------------------

Status LmdbManifest::begin_read(ReadTxn& t) noexcept {
  VRIFT_CHECK(ensure_process());
  ManifestState& s = *m_state;
  uint64_t env_gen = s.env_gen.load(std::memory_order_acquire);
  if (t.m_owner != s.id || t.m_env_gen != env_gen || t.inherited()) {
    t.discard();
    t.m_owner = s.id;
    t.m_env_gen = env_gen;
    t.m_fork_gen = lmdb::fork_generation();
    t.m_pid = ::getpid();
    detail::retain_env(s.own);
    t.m_side[0].env = s.own;
    t.m_dbi[idx(Layer::delta)] = s.own->delta_dbi;
    t.m_side_of[idx(Layer::delta)] = 0;
    if (s.base_env != nullptr) {
      detail::retain_env(s.base_env);
      t.m_side[1].env = s.base_env;
      t.m_dbi[idx(Layer::base)] = s.base_env->base_dbi;
      t.m_side_of[idx(Layer::base)] = 1;
    } else {
      t.m_dbi[idx(Layer::base)] = s.own->base_dbi;
      t.m_side_of[idx(Layer::base)] = 0;
    }
  } else {
    t.reset();
  }

  for (int i = 0; i < 2; ++i) {
    ReadTxn::Side& side = t.m_side[i];
    if (side.env == nullptr) {
      continue;
    }
    Status st = detail::begin_locked(*side.env, side.txn, MDB_RDONLY);
    if (!st) {
      if (i == 1) {
        ::mdb_txn_reset(t.m_side[0].txn);
        detail::unlock_shared(*t.m_side[0].env);
      }
      return st;
    }
  }
  t.m_active = true;
  t.m_empty[0] = t.m_empty[1] = -1;
  // Cursors are opened (allocated) once per binding and renewed lazily afterwards, so
  // listings after the first begin_read never allocate.
  for (Layer layer : {Layer::base, Layer::delta}) {
    int l = idx(layer);
    if (t.m_cursor[l] == nullptr) {
      int rc = ::mdb_cursor_open(t.txn_of(layer), t.dbi_of(layer), &t.m_cursor[l]);
      if (rc != MDB_SUCCESS) {
        t.m_cursor[l] = nullptr;
        t.reset();
        return fail(lmdb::to_error(rc, "mdb_cursor_open"));
      }
      t.m_cursor_fresh[l] = true;
    } else {
      t.m_cursor_fresh[l] = false;
    }
  }
  return {};
}

Result<ReadTxn> LmdbManifest::read() noexcept {
  ReadTxn txn;
  VRIFT_CHECK(begin_read(txn));
  return txn;
}

Status LmdbManifest::check_txn(const ReadTxn& t) const noexcept {
  if (!t.m_active || t.m_owner != m_state->id ||
      t.m_env_gen != m_state->env_gen.load(std::memory_order_acquire) || t.inherited()) {
    return fail(Errc::invalid, "manifest lookup (read transaction not begun with this manifest)");
  }
  return {};
}

Result<bool> LmdbManifest::get(ReadTxn& t, Layer layer, std::string_view path,
                               Entry& out) const noexcept {
  VRIFT_CHECK(check_txn(t));
  if (layer == Layer::base) {
    return get_base(t, base_index(t), nullptr, path, out);
  }
  KeyBuf key;
  if (!encode_key(path, key)) {
    return false;
  }
  MDB_val k = lmdb::to_val(key.view());
  MDB_val v;
  int rc = ::mdb_get(t.txn_of(layer), t.dbi_of(layer), &k, &v);
  if (rc == MDB_NOTFOUND) {
    return false;
  }
  VRIFT_CHECK(lmdb::check(rc, "manifest lookup"));
  VRIFT_CHECK(decode_record(lmdb::to_view(v), out));
  return true;
}

Result<bool> LmdbManifest::get_meta(ReadTxn& t, std::string_view key, std::string_view& out) const noexcept {
  VRIFT_CHECK(check_txn(t));
  MDB_val k = lmdb::to_val(key);
  MDB_val v;
  int rc = ::mdb_get(t.m_side[0].txn, m_state->own->meta_dbi, &k, &v);  // [0]: the project's own
  if (rc == MDB_NOTFOUND) {
    return false;
  }
  VRIFT_CHECK(lmdb::check(rc, "manifest meta lookup"));
  out = lmdb::to_view(v);
  return true;
}

Result<bool> LmdbManifest::get(ReadTxn& t, std::string_view path, Entry& out) const noexcept {
  VRIFT_CHECK(check_txn(t));
  KeyBuf key;
  if (!encode_key(path, key)) {
    return false;
  }
  bool delta_empty = VRIFT_TRY(t.layer_empty(Layer::delta));
  if (!delta_empty) {
    MDB_val k = lmdb::to_val(key.view());
    MDB_val v;
    int rc = ::mdb_get(t.txn_of(Layer::delta), t.dbi_of(Layer::delta), &k, &v);
    if (rc != MDB_NOTFOUND) {
      VRIFT_CHECK(lmdb::check(rc, "manifest lookup"));
      VRIFT_CHECK(decode_record(lmdb::to_view(v), out));
      return !out.is_whiteout();
    }
  }
  // (An index answers an empty base too, without the database record mdb_stat reads.)
  const BaseIndexMap* index = base_index(t);
  if (index == nullptr) {
    bool base_empty = VRIFT_TRY(t.layer_empty(Layer::base));
    if (base_empty) {
      return false;
    }
  }
  bool hit = VRIFT_TRY(get_base(t, index, &key, path, out));
  return hit && !out.is_whiteout();
}

// The base index serves a snapshot only when the snapshot's base stamp is the one the
// index was recorded for (base_index.hpp). Worked out once per snapshot generation (LMDB
// transaction id) per ReadTxn: two meta reads, and a mapping the first time.
const BaseIndexMap* LmdbManifest::base_index(ReadTxn& t) const noexcept {
  const ManifestState& s = *m_state;
  if (s.base_env != nullptr || !s.options.use_base_index) {
    return nullptr;
  }
  MDB_txn* txn = t.txn_of(Layer::base);
  uint64_t id = ::mdb_txn_id(txn);
  if (id == t.m_index_txn) {
    return t.m_index;
  }
  t.m_index_txn = id;
  t.m_index = nullptr;
  uint64_t stamp = meta_u64(txn, s.own->meta_dbi, k_meta_base_stamp_key);
  if (stamp != 0 && meta_u64(txn, s.own->meta_dbi, k_meta_base_index_key) == stamp) {
    t.m_index = detail::base_index_for(*s.own, s.env_dir, stamp, id);
  }
  return t.m_index;
}

bool LmdbManifest::base_index_in_use(ReadTxn& t) const noexcept {
  return check_txn(t) && base_index(t) != nullptr;
}

Result<bool> LmdbManifest::get_base(ReadTxn& t, const BaseIndexMap* index, const KeyBuf* key,
                                    std::string_view path, Entry& out) const noexcept {
  if (index != nullptr) {
    std::string_view record;
    bool hit = VRIFT_TRY(index->find(path, record));
    if (hit) {
      VRIFT_CHECK(decode_record(record, out));
    }
    return hit;
  }
  KeyBuf local;
  if (key == nullptr) {
    if (!encode_key(path, local)) {
      return false;
    }
    key = &local;
  }
  MDB_val k = lmdb::to_val(key->view());
  MDB_val v;
  int rc = ::mdb_get(t.txn_of(Layer::base), t.dbi_of(Layer::base), &k, &v);
  if (rc == MDB_NOTFOUND) {
    return false;
  }
  VRIFT_CHECK(lmdb::check(rc, "manifest lookup"));
  VRIFT_CHECK(decode_record(lmdb::to_view(v), out));
  return true;
}

Status LmdbManifest::list_children(ReadTxn& t, std::string_view dir,
                                   ChildVisitor visit) const noexcept {
  VRIFT_CHECK(check_txn(t));
  KeyBuf prefix;
  if (!encode_children_prefix(dir, prefix)) {
    return {};
  }
  MDB_cursor* delta = VRIFT_TRY(t.cursor_of(Layer::delta));
  MDB_cursor* base = VRIFT_TRY(t.cursor_of(Layer::base));
  size_t skip = prefix.len;
  return merge_scan(
      delta, base, prefix.view(),
      [&](std::string_view key, std::string_view, const Entry& entry) noexcept -> Result<bool> {
        return visit(key.substr(skip), entry);
      });
}

Status LmdbManifest::list_children(ReadTxn& t, Layer layer, std::string_view dir,
                                   ChildVisitor visit) const noexcept {
  VRIFT_CHECK(check_txn(t));
  KeyBuf prefix;
  if (!encode_children_prefix(dir, prefix)) {
    return {};
  }
  RangeScan scan(VRIFT_TRY(t.cursor_of(layer)), prefix.view());
  Entry entry;
  VRIFT_CHECK(scan.first());
  while (scan.valid()) {
    VRIFT_CHECK(decode_record(scan.value(), entry));
    if (!visit(scan.key().substr(prefix.len), entry)) {
      return {};
    }
    VRIFT_CHECK(scan.next());
  }
  return {};
}

Status LmdbManifest::for_each(ReadTxn& t, PathVisitor visit) const noexcept {
  VRIFT_CHECK(check_txn(t));
  MDB_cursor* delta = VRIFT_TRY(t.cursor_of(Layer::delta));
  MDB_cursor* base = VRIFT_TRY(t.cursor_of(Layer::base));
  char buf[k_path_buf];
  return merge_scan(delta, base, std::string_view(),
                    [&](std::string_view key, std::string_view record,
                        const Entry& entry) noexcept -> Result<bool> {
                      std::string_view path = VRIFT_TRY(path_of(key, record, buf));
                      return visit(path, entry);
                    });
}

Status LmdbManifest::for_each(ReadTxn& t, Layer layer, PathVisitor visit) const noexcept {
  VRIFT_CHECK(check_txn(t));
  RangeScan scan(VRIFT_TRY(t.cursor_of(layer)), std::string_view());
  char buf[k_path_buf];
  Entry entry;
  VRIFT_CHECK(scan.first());
  while (scan.valid()) {
    VRIFT_CHECK(decode_record(scan.value(), entry));
    std::string_view path = VRIFT_TRY(path_of(scan.key(), scan.value(), buf));
    if (!visit(path, entry)) {
      return {};
    }
    VRIFT_CHECK(scan.next());
  }
  return {};
}

Result<LayerStats> LmdbManifest::stats(ReadTxn& t, Layer layer) const noexcept {
  VRIFT_CHECK(check_txn(t));
  MDB_stat st;
  VRIFT_CHECK(lmdb::check(::mdb_stat(t.txn_of(layer), t.dbi_of(layer), &st), "mdb_stat"));
  LayerStats out;
  out.entries = st.ms_entries;
  out.depth = st.ms_depth;
  out.branch_pages = st.ms_branch_pages;
  out.leaf_pages = st.ms_leaf_pages;
  out.overflow_pages = st.ms_overflow_pages;
  out.page_size = st.ms_psize;
  return out;
}

Result<Census> LmdbManifest::census(ReadTxn& t) const noexcept {
  Census c;
  VRIFT_CHECK(for_each(t, [&](std::string_view, const Entry& e) noexcept {
    ++c.entries;
    switch (e.kind) {
      case EntryKind::file:
        ++c.files;
        c.file_bytes += e.size;
        break;
      case EntryKind::symlink:
        ++c.symlinks;
        break;
      case EntryKind::dir:
        ++c.dirs;
        break;
      case EntryKind::whiteout:
        break;
    }
    if (e.tier == Tier::tier1) {
      ++c.tier1;
    } else {
      ++c.tier2;
    }
    if (e.kind == EntryKind::file && e.phantom()) {
      ++c.phantom;
    }
    if (e.kind == EntryKind::file && e.dirty()) {
      ++c.dirty;
    }
    return true;
  }));
  RangeScan scan(VRIFT_TRY(t.cursor_of(Layer::delta)), std::string_view());
  Entry entry;
  VRIFT_CHECK(scan.first());
  while (scan.valid()) {
    VRIFT_CHECK(decode_record(scan.value(), entry));
    ++c.delta_entries;
    if (entry.is_whiteout()) {
      ++c.delta_whiteouts;
    }
    VRIFT_CHECK(scan.next());
  }
  return c;
}

Result<MapInfo> LmdbManifest::map_info(Layer layer) const noexcept {
  ManifestState& s = *m_state;
  EnvHandle* h = layer == Layer::base && s.base_env != nullptr ? s.base_env : s.own;
  MDB_envinfo info;
  MDB_stat st;
  VRIFT_CHECK(lmdb::check(::mdb_env_info(h->env.get(), &info), "mdb_env_info"));
  VRIFT_CHECK(lmdb::check(::mdb_env_stat(h->env.get(), &st), "mdb_env_stat"));
  MapInfo out;
  out.map_size = info.me_mapsize;
  out.used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
  out.max_readers = info.me_maxreaders;
  out.readers_used = info.me_numreaders;
  return out;
}

// ---- LmdbManifest: writing -------------------------------------------------------------

Status LmdbManifest::write(WriteFn fn) noexcept { return run_write(false, fn); }

Status LmdbManifest::write_shared_base(WriteFn fn) noexcept { return run_write(true, fn); }

Status LmdbManifest::run_write(bool shared_base, WriteFn fn) noexcept {
  if (forked()) {
    VRIFT_CHECK(reopen_after_fork());
  }
  ManifestState& s = *m_state;
  WriteTxn w;
  EnvHandle* h = nullptr;
  if (shared_base) {
    if (s.base_env == nullptr || s.options.base_read_only) {
      return fail(Errc::invalid, "write shared base (no shared base, or opened read-only)");
    }
    h = s.base_env;
    w.m_dbi[idx(Layer::base)] = h->base_dbi;
    w.m_writable[idx(Layer::base)] = w.m_readable[idx(Layer::base)] = true;
  } else {
    if (s.options.read_only) {
      return fail(Errc::invalid, "write manifest (opened read-only)");
    }
    h = s.own;
    w.m_meta_dbi = h->meta_dbi;
    w.m_dbi[idx(Layer::delta)] = h->delta_dbi;
    w.m_writable[idx(Layer::delta)] = w.m_readable[idx(Layer::delta)] = true;
    if (s.base_env == nullptr) {
      w.m_dbi[idx(Layer::base)] = h->base_dbi;
      w.m_writable[idx(Layer::base)] = w.m_readable[idx(Layer::base)] = true;
    }
  }
  if (!shared_base && s.base_env != nullptr) {
    w.m_base_env = s.base_env;
    w.m_dbi[idx(Layer::base)] = s.base_env->base_dbi;
  }

  for (;;) {
    MDB_txn* txn = nullptr;
    VRIFT_CHECK(detail::begin_locked(*h, txn, 0));
    uint64_t seen = detail::map_size(*h);
    w.m_txn = txn;
    w.m_map_full = false;
    w.m_base_changed = false;
    Status st = fn(w);
    if (st && !w.m_map_full && w.m_base_changed) {
      st = w.stamp_base(h->meta_dbi);
    }
    bool full = w.m_map_full;
    if (st && !full) {
      int rc = ::mdb_txn_commit(txn);
      if (rc == MDB_MAP_FULL) {
        full = true;
      } else if (rc != MDB_SUCCESS) {
        st = fail(lmdb::to_error(rc, "commit manifest"));
      } else {
        detail::pad_data_file(*h);
      }
    } else {
      ::mdb_txn_abort(txn);
    }
    w.m_txn = nullptr;
    if (w.m_base_txn != nullptr) {
      ::mdb_txn_abort(w.m_base_txn);
      w.m_base_txn = nullptr;
      detail::unlock_shared(*w.m_base_env);
    }
    detail::unlock_shared(*h);
    if (!full) {
      return st;
    }
    VRIFT_CHECK(detail::grow_map(*h, seen, k_max_map_size));
  }
}

// ---- WriteTxn ----------------------------------------------------------------------------

Status WriteTxn::note(int rc, const char* op) noexcept {
  if (rc == MDB_MAP_FULL) {
    m_map_full = true;
  }
  return lmdb::check(rc, op);
}

Status WriteTxn::writable(Layer layer) const noexcept {
  if (m_txn == nullptr || !m_writable[idx(layer)]) {
    return fail(Errc::invalid, "manifest write (layer not writable in this transaction)");
  }
  return {};
}

Status WriteTxn::put(Layer layer, std::string_view path, const Entry& entry) noexcept {
  VRIFT_CHECK(writable(layer));
  VRIFT_CHECK(validate_path(path));
  VRIFT_CHECK(check_entry(entry));
  if (entry.is_whiteout() && layer == Layer::base) {
    return fail(Errc::invalid, "manifest put (whiteout in base)");
  }
  KeyBuf key;
  encode_key(path, key);  // cannot fail on a validated path
  std::string_view parent;
  std::string_view name;
  split_path(path, parent, name);
  std::string_view stored_parent =
      parent.size() > k_max_inline_parent ? parent : std::string_view();
  size_t size = record_size(entry, stored_parent);
  MDB_val k = lmdb::to_val(key.view());
  MDB_val v{size, nullptr};
  // MDB_RESERVE: encode straight into the page instead of through a buffer.
  VRIFT_CHECK(note(::mdb_put(m_txn, m_dbi[idx(layer)], &k, &v, MDB_RESERVE), "manifest put"));
  m_base_changed |= layer == Layer::base;
  auto written = encode_record(entry, stored_parent, static_cast<char*>(v.mv_data), size);
  if (!written) {
    return fail(written.error());
  }
  return {};
}

Status WriteTxn::put_meta(std::string_view key, std::string_view value) noexcept {
  if (m_txn == nullptr || m_meta_dbi == 0 || key == k_meta_format_key) {
    return fail(Errc::invalid, "manifest meta write (not allowed in this transaction)");
  }
  MDB_val k = lmdb::to_val(key);
  MDB_val v = lmdb::to_val(value);
  return note(::mdb_put(m_txn, m_meta_dbi, &k, &v, 0), "manifest meta write");
}

Result<bool> WriteTxn::remove(Layer layer, std::string_view path) noexcept {
  VRIFT_CHECK(writable(layer));
  KeyBuf key;
  if (!encode_key(path, key)) {
    return false;
  }
  MDB_val k = lmdb::to_val(key.view());
  int rc = ::mdb_del(m_txn, m_dbi[idx(layer)], &k, nullptr);
  if (rc == MDB_NOTFOUND) {
    return false;
  }
  VRIFT_CHECK(note(rc, "manifest remove"));
  m_base_changed |= layer == Layer::base;
  return true;
}

Status WriteTxn::whiteout(std::string_view path) noexcept {
  return put(Layer::delta, path, make_whiteout());
}

Result<bool> WriteTxn::erase(std::string_view path) noexcept {
  VRIFT_CHECK(writable(Layer::delta));
  VRIFT_CHECK(validate_path(path));
  Entry e;
  bool present = VRIFT_TRY(get(path, e));
  bool in_base = VRIFT_TRY(get(Layer::base, path, e));
  if (in_base) {
    VRIFT_CHECK(whiteout(path));
  } else {
    VRIFT_TRY(remove(Layer::delta, path));
  }
  return present;
}

// Reads the shared base through a read transaction on its own environment only: taking
// the project environment's remap lock a second time in this thread could stall behind a
// pending remap (env_registry.hpp).
Result<bool> WriteTxn::read_base(std::string_view path, Entry& out) noexcept {
  if (m_base_env == nullptr) {
    return fail(Errc::invalid, "manifest lookup (layer not readable in this transaction)");
  }
  if (m_base_txn == nullptr) {
    VRIFT_CHECK(detail::begin_locked(*m_base_env, m_base_txn, MDB_RDONLY));
  }
  KeyBuf key;
  if (!encode_key(path, key)) {
    return false;
  }
  MDB_val k = lmdb::to_val(key.view());
  MDB_val v;
  int rc = ::mdb_get(m_base_txn, m_dbi[idx(Layer::base)], &k, &v);
  if (rc == MDB_NOTFOUND) {
    return false;
  }
  VRIFT_CHECK(lmdb::check(rc, "manifest lookup"));
  VRIFT_CHECK(decode_record(lmdb::to_view(v), out));
  return true;
}

Result<bool> WriteTxn::get(Layer layer, std::string_view path, Entry& out) noexcept {
  if (m_txn == nullptr) {
    return fail(Errc::invalid, "manifest lookup (write transaction ended)");
  }
  if (!m_readable[idx(layer)]) {
    return read_base(path, out);
  }
  KeyBuf key;
  if (!encode_key(path, key)) {
    return false;
  }
  MDB_val k = lmdb::to_val(key.view());
  MDB_val v;
  int rc = ::mdb_get(m_txn, m_dbi[idx(layer)], &k, &v);
  if (rc == MDB_NOTFOUND) {
    return false;
  }
  VRIFT_CHECK(note(rc, "manifest lookup"));
  VRIFT_CHECK(decode_record(lmdb::to_view(v), out));
  return true;
}

Result<bool> WriteTxn::get(std::string_view path, Entry& out) noexcept {
  if (m_readable[idx(Layer::delta)]) {
    bool hit = VRIFT_TRY(get(Layer::delta, path, out));
    if (hit) {
      return !out.is_whiteout();
    }
  }
  bool hit = VRIFT_TRY(get(Layer::base, path, out));
  return hit && !out.is_whiteout();
}

Status WriteTxn::clear(Layer layer) noexcept {
  VRIFT_CHECK(writable(layer));
  m_base_changed |= layer == Layer::base;
  return note(::mdb_drop(m_txn, m_dbi[idx(layer)], 0), "manifest clear");
}

// A fresh base stamp, and the format that promises one (k_format_version's comment).
Status WriteTxn::stamp_base(MDB_dbi meta) noexcept {
  uint64_t stamp = new_stamp();
  MDB_val k = lmdb::to_val(k_meta_base_stamp_key);
  MDB_val v{sizeof(stamp), &stamp};
  VRIFT_CHECK(note(::mdb_put(m_txn, meta, &k, &v, 0), "manifest base stamp"));
  uint32_t version = k_format_version;
  MDB_val format_key = lmdb::to_val(k_meta_format_key);
  MDB_val format{sizeof(version), &version};
  return note(::mdb_put(m_txn, meta, &format_key, &format, 0), "manifest format");
}

}  // namespace vrift::manifest
