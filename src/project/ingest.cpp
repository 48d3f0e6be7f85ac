#include "project/ingest.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "base/fd.hpp"
#include "cas/projects.hpp"
#include "project/cwds.hpp"
#include "project/detached.hpp"
#include "project/leaving_dirs.hpp"
#include "project/parallel.hpp"
#include "project/projection.hpp"
#include "project/restored.hpp"
#include "project/trash.hpp"
#include "project/walk.hpp"

namespace vrift::project {

namespace {

using manifest::Entry;
using manifest::EntryKind;
using manifest::Layer;
using manifest::Tier;

constexpr size_t k_chunk_files = 4096;  // files held open (and flock-ed) at once
constexpr size_t k_lookahead = 4;       // files a worker opens and asks the kernel to read ahead
constexpr int k_change_retries = 3;

int64_t to_ns(const timespec& ts) { return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec; }

// True when a directory of `rel` (a project-relative file path) is named node_modules.
bool in_node_modules(std::string_view rel) {
  constexpr std::string_view dir = "node_modules/";
  for (size_t at = rel.find(dir); at != std::string_view::npos; at = rel.find(dir, at + 1)) {
    if (at == 0 || rel[at - 1] == '/') {
      return true;
    }
  }
  return false;
}

// What the manifest held for a path before this run: enough to tell what changed, and
// to project a phantom file again.
struct Previous {
  EntryKind kind;
  Tier tier;
  uint8_t flags;
  uint32_t mode;
  uint64_t ino;
  uint64_t size;
  int64_t mtime_ns;
  int64_t ctime_ns;
  hash::Digest hash;
  std::string ext;
  bool seen = false;  // found by this run's walk (or projected from its phantom entry)
  bool released = false;  // now a file not readable by everyone: left to the user, entry dropped
};

// The Previous entries by path, read once per ingest (33,264 for the corpus) and looked
// up once per path walked: the paths share one buffer and the index is a flat table of
// entry numbers, so loading allocates nothing per entry and a lookup reads the table and
// the entry rather than a chain of nodes (which cost a re-ingest ~30% of its time).
class PreviousEntries {
 public:
  // Before any find(): entries may move while they are added.
  void add(std::string_view path, Previous prev) {
    m_items.push_back(Item{std::move(prev), m_paths.size(), static_cast<uint32_t>(path.size()), hash_of(path)});
    m_paths.append(path);
  }

  // Builds the index once every entry is added.
  void index() {
    size_t capacity = 16;
    while (capacity < 2 * m_items.size()) {
      capacity *= 2;
    }
    m_slots.assign(capacity, 0);
    for (size_t i = 0; i < m_items.size(); ++i) {
      size_t at = m_items[i].hash & (capacity - 1);
      while (m_slots[at] != 0) {
        at = (at + 1) & (capacity - 1);
      }
      m_slots[at] = static_cast<uint32_t>(i + 1);
    }
  }

  Previous* find(std::string_view path) {
    size_t i = index_of(path);
    return i < m_items.size() ? &m_items[i].prev : nullptr;
  }
  const Previous* find(std::string_view path) const {
    size_t i = index_of(path);
    return i < m_items.size() ? &m_items[i].prev : nullptr;
  }

  // fn(std::string_view path, Previous& prev) for every entry, in manifest order.
  template <class Fn>
  void for_each(Fn&& fn) {
    for (Item& item : m_items) {
      fn(path_of(item), item.prev);
    }
  }

 private:
  struct Item {
    Previous prev;
    size_t path_at;
    uint32_t path_len;
    size_t hash;
  };
  static size_t hash_of(std::string_view path) { return std::hash<std::string_view>{}(path); }
  // The entry's number, or m_items.size() when there is none.
  size_t index_of(std::string_view path) const {
    if (m_slots.empty()) {
      return m_items.size();
    }
    size_t hash = hash_of(path);
    for (size_t at = hash & (m_slots.size() - 1); m_slots[at] != 0; at = (at + 1) & (m_slots.size() - 1)) {
      const Item& item = m_items[m_slots[at] - 1];
      if (item.hash == hash && path_of(item) == path) {
        return m_slots[at] - 1;
      }
    }
    return m_items.size();
  }
  std::string_view path_of(const Item& item) const { return std::string_view(m_paths).substr(item.path_at, item.path_len); }

  std::string m_paths;
  std::vector<Item> m_items;
  std::vector<uint32_t> m_slots;  // entry number + 1; 0: empty
};

struct FileTask {
  std::string rel;
  struct stat st {};  // the open file (or the link, for a projection found by the walk)
  Tier tier = Tier::tier2;
  // The content is already a blob: a symlink vrift made into The Source, or a phantom
  // entry to project again. Nothing to hash; `prev` (if any) keeps mode and times.
  bool from_blob = false;
  bool link_elsewhere = false;  // a symlink naming its blob in The Source's former place
  const Previous* prev = nullptr;
  UniqueFd fd;     // held with LOCK_SH until the entry is committed
  bool leased = false;  // fd holds a write lease (see ingest())
  cas::Stored stored;
  bool stored_ok = false;
  bool private_copy = false;  // left as a read-only private file (no link possible)
  bool detached = false;      // its blob moved to a copy: a process waited to open the file
  bool projected_link = false;  // now a symlink to its blob
  bool linked_now = false;      // this run replaced the file with that symlink
  bool needs_lock = false;      // a Tier-1 blob to lock once the chunk is projected
  bool short_named = false;     // this run gave (or found) its blob its short name
  uint64_t projected_ino = 0;
  uint64_t blob_ino = 0;        // Solid hardlink projection: the blob's inode (blob_inode())
  Error blob_stat_error;        // why blob_ino is 0
  int64_t copy_ctime_ns = 0;  // a private copy made from the blob: its own ctime
};

// Files stored together, then made durable, recorded and projected together.
struct Chunk {
  explicit Chunk(cas::TheSource& source) : batch(source) {}
  std::vector<FileTask> tasks;
  cas::StoreBatch batch;
  bool interrupted = false;  // the store stopped early (The Source is full)
  Status committed;          // batch.commit(), made by store_chunk()
};

struct DirOrLink {
  std::string rel;
  struct stat st;
  std::string target;  // symlinks only
};

class Progress {
 public:
  Progress(bool enabled, const std::atomic<uint64_t>& files, const std::atomic<uint64_t>& bytes, uint64_t total)
      : m_enabled(enabled), m_files(files), m_bytes(bytes), m_total(total) {
    if (m_enabled) {
      m_thread = std::thread([this] { loop(); });
    }
  }
  ~Progress() {
    if (m_enabled) {
      {
        std::lock_guard lock(m_mutex);
        m_done = true;
      }
      m_cv.notify_all();
      m_thread.join();
      fmt::print(stderr, "\r\033[K");
    }
  }

 private:
  void loop() {
    auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(m_mutex);
    while (!m_cv.wait_for(lock, std::chrono::milliseconds(100), [this] { return m_done; })) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      uint64_t files = m_files.load();
      fmt::print(stderr, "\r\033[Kingest: {}/{} files  {:.1f} MB  {:.0f} files/s", files, m_total,
                 static_cast<double>(m_bytes.load()) / 1e6, secs > 0 ? static_cast<double>(files) / secs : 0.0);
      std::fflush(stderr);
    }
  }

  bool m_enabled;
  const std::atomic<uint64_t>& m_files;
  const std::atomic<uint64_t>& m_bytes;
  uint64_t m_total;
  std::thread m_thread;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_done = false;
};

class Ingester {
 public:
  Ingester(const ProjectPaths& project, const Config& config, cas::TheSource& source,
           manifest::LmdbManifest& manifest, const IngestOptions& options, const WarningSink& warn)
      : m_project(project), m_config(config), m_source(source), m_manifest(manifest), m_options(options),
        m_warn(warn) {}

  ~Ingester() {
    if (m_first_store.joinable()) {
      m_stop.store(true);  // a run that failed early: the early chunk is abandoned
      m_first_store.join();
    }
  }
  Ingester(const Ingester&) = delete;
  Ingester& operator=(const Ingester&) = delete;

  Outcome<IngestSummary> run();

 private:
  Outcome<void> load_previous();
  void walk(const std::string& start);
  bool unchanged(const struct stat& st, const Previous& prev) const;
  void materialize_phantoms();
  bool blob_of_link(std::string_view target, const Previous* prev, cas::BlobKey& key) const;
  static bool same_blob(const Previous& prev, const cas::BlobKey& key);
  static bool is_projection_of(const struct stat& st, const Previous& prev);
  static cas::BlobKey key_of(const Previous& prev);
  bool under_starts(std::string_view path) const;
  bool directory_gone(std::string_view path) const;
  bool may_be_virtual(std::string_view rel) const;
  bool leaves_with_directory(std::string_view rel) const;
  void make_empty_dirs_virtual();
  void make_virtual_dirs_physical();
  void store_chunk(Chunk& chunk);
  Outcome<void> finish_chunk(Chunk& chunk);
  Outcome<void> process_all();
  int open_for_ingest(const std::string& rel) const;
  void prefetch_one(FileTask& task);
  void store_one(FileTask& task, cas::StoreBatch& batch);
  void project_one(FileTask& task);
  void projection_failed(const FileTask& task, const Error& error);
  Expected expected_at_path(const FileTask& task, Trash* trash) const;
  void leave_as_is(const std::string& rel);
  bool projects_as_symlink(Tier tier) const;
  bool projects_as_symlink(const FileTask& task) const { return projects_as_symlink(task.tier); }
  void name_for_symlink(FileTask& task, cas::StoreBatch& batch);
  void protect_tier1_blob(const cas::BlobKey& key, int fd, bool short_named);
  bool detach_waited_blobs(std::vector<FileTask>& chunk);
  void blob_inode(FileTask& task) const;
  Entry entry_for(const FileTask& task) const;
  Entry entry_for(const DirOrLink& item) const;
  bool recorded_as_is(const std::string& rel, const Entry& e) const;
  bool dirs_and_links_as_recorded() const;
  Status put_dirs_and_links(manifest::WriteTxn& txn, size_t& next, const std::string* before) const;
  Outcome<void> record_dirs_and_links();
  Outcome<void> remove_vanished();
  void restore_dir_times();
  void warn(const std::string& what, const std::string& rel, const std::string& why) {
    m_warn(Failure{what, m_project.root + "/" + rel, why});
  }
  // Counts a failed or skipped file; the walk and the store's workers may run at once.
  void tally(uint64_t IngestSummary::*counter) {
    std::lock_guard lock(m_mutex);
    ++(m_summary.*counter);
  }
  // A file not readable by everyone, left as a plain file: blobs are readable by everyone.
  void count_private(const std::string& rel) {
    std::lock_guard lock(m_mutex);
    if (m_summary.private_files++ == 0) {
      m_summary.private_example = rel;
    }
  }
  std::unique_ptr<Chunk> take_chunk();
  void store_first_chunk_early();

  const ProjectPaths& m_project;
  const Config& m_config;
  cas::TheSource& m_source;
  manifest::LmdbManifest& m_manifest;
  const IngestOptions& m_options;
  const WarningSink& m_warn;

  UniqueFd m_root_fd;
  std::unique_ptr<Trash> m_trash;  // duplicates replaced by links wait here to be freed
  std::unique_ptr<LeavingDirs> m_leaving;  // Phantom files that leave with their directory
  std::unordered_set<std::string> m_in_use;  // directories processes work in (kept)
  std::vector<std::string> m_put_back;  // directories an interrupted run had taken aside
  std::unique_ptr<SourceStaging> m_staging;  // where Tier-1 symlinks are made
  unsigned m_jobs = 1;
  size_t m_chunk_files = k_chunk_files;
  bool m_changed_dirs = false;  // this run added, renamed or removed directory entries
  bool m_delta_empty = false;   // the manifest had no session changes when the run began
  std::string m_projected_meta;  // manifest::k_meta_projected_key's value for this config
  std::string_view m_virtual_dirs_meta;  // manifest::k_meta_virtual_dirs_key's, this run
  bool m_had_virtual_dirs = false;       // ... was "1" when the run began
  bool m_virtual_dirs_recorded = false;  // ... was there at all
  bool m_projected_meta_current = false;  // both already recorded
  std::vector<std::string> m_starts;
  std::vector<std::string> m_missing_starts;  // projected directories no longer there
  std::unordered_set<std::string_view> m_start_set;  // views of m_starts
  PreviousEntries m_previous;
  std::vector<FileTask> m_todo;
  std::vector<DirOrLink> m_dirs_and_links;  // in key order (walk_tree())
  bool m_dirs_and_links_as_recorded = false;  // nothing of them to write
  size_t m_dirs_and_links_put = 0;            // the first ones, committed with files
  IngestSummary m_summary;
  std::atomic<uint64_t> m_done_files{0};
  std::atomic<uint64_t> m_done_bytes{0};
  std::mutex m_mutex;  // guards m_new_keys and summary counters written by workers
  std::set<std::string> m_new_keys;
  std::once_flag m_lock_warning;
  // A failure that stops the whole run (The Source is full): set once by any worker.
  std::atomic<bool> m_stop{false};
  Error m_stop_error;
  std::once_flag m_stop_once;
  Tier1Protection m_protection;
  std::vector<std::string> m_restored;  // subtrees `vrift restore` gave back to the user
  std::vector<std::string> m_skip;      // those of them this run leaves alone
  // The first chunk, stored while the walk goes on (declared last: joined first).
  std::unique_ptr<Chunk> m_first;
  std::jthread m_first_store;
};

Outcome<void> Ingester::load_previous() {
  auto txn = m_manifest.read();
  if (!txn) {
    return failure("cannot read manifest", m_project.manifest_dir(), txn.error());
  }
  auto visited = m_manifest.for_each(*txn, [&](std::string_view path, const Entry& e) {
    m_previous.add(path, Previous{e.kind, e.tier, e.flags, e.mode, e.ino, e.size, e.mtime_ns, e.ctime_ns, e.hash,
                                  std::string(e.ext)});
    return true;
  });
  if (!visited) {
    return failure("cannot read manifest", m_project.manifest_dir(), visited.error());
  }
  m_previous.index();
  auto delta = m_manifest.stats(*txn, Layer::delta);
  m_delta_empty = delta && delta->entries == 0;
  m_projected_meta = projected_record(m_config);
  m_virtual_dirs_meta = m_options.mode == Mode::Phantom && m_config.phantom_dirs != PhantomDirs::physical ? "1" : "0";
  std::string_view recorded;
  auto found = m_manifest.get_meta(*txn, manifest::k_meta_projected_key, recorded);
  m_projected_meta_current = found && *found && recorded == m_projected_meta;
  std::string_view virtual_dirs = "0";
  found = m_manifest.get_meta(*txn, manifest::k_meta_virtual_dirs_key, virtual_dirs);
  m_had_virtual_dirs = found && *found && virtual_dirs == "1";
  m_virtual_dirs_recorded = found && *found;
  return {};
}

bool Ingester::unchanged(const struct stat& st, const Previous& prev) const {
  if (prev.kind != EntryKind::file) {
    return false;
  }
  if (m_options.mode == Mode::Phantom) {
    return false;  // a file at the path of a Phantom project is new content, or a Solid leftover
  }
  // A projection vrift made is a link to an immutable blob: the same inode means the
  // same content, whatever its (shared, borrowed) times say.
  if ((prev.flags & manifest::k_flag_projected) != 0) {
    return static_cast<uint64_t>(st.st_ino) == prev.ino && (S_ISLNK(st.st_mode) || S_ISREG(st.st_mode));
  }
  return S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_ino) == prev.ino &&
         static_cast<uint64_t>(st.st_size) == prev.size && to_ns(st.st_mtim) == prev.mtime_ns &&
         to_ns(st.st_ctim) == prev.ctime_ns;
}

// A Phantom entry lives in its directory: removed with it (rm -rf outside a session),
// it is gone too. A virtual directory (k_flag_phantom) is not on disk by design: the
// question goes to the nearest directory that must be.
bool Ingester::directory_gone(std::string_view path) const {
  if (under_any(path, m_missing_starts)) {
    return true;
  }
  for (std::string_view rest = path;;) {
    size_t slash = rest.rfind('/');
    if (slash == std::string_view::npos) {
      return false;
    }
    std::string_view parent_path = rest.substr(0, slash);
    const Previous* parent = m_previous.find(parent_path);
    if (parent == nullptr || parent->kind != EntryKind::dir) {
      return false;
    }
    if ((parent->flags & manifest::k_flag_phantom) == 0) {
      return !parent->seen && under_starts(parent_path);
    }
    if (parent->seen) {
      return false;
    }
    rest = parent_path;
  }
}

// Phantom with virtual directories: a directory below a walked path (not the path
// itself), Tier-1 where only those are, may be removed when empty, and is recorded so
// (k_flag_phantom).
bool Ingester::may_be_virtual(std::string_view rel) const {
  if (m_options.mode != Mode::Phantom || m_config.phantom_dirs == PhantomDirs::physical ||
      m_start_set.count(rel) != 0 || !under_starts(rel)) {
    return false;
  }
  return m_config.phantom_dirs == PhantomDirs::all || m_config.tier_of(rel) == manifest::Tier::tier1;
}

// Phantom: the directories this run walked and left empty are removed, deepest first;
// each is recorded as virtual (entry_for()), and one that is not empty, or that a
// process works in (a shell that made it with `cd`), stays.
void Ingester::make_empty_dirs_virtual() {
  if (!m_options.virtual_dirs) {
    return;
  }
  // By depth, deepest first (a directory empties once its subdirectories are gone), and
  // each depth on the workers: removing a directory frees its block, which this
  // filesystem (mounted with `discard`) trims there and then.
  std::vector<std::vector<const std::string*>> by_depth;
  for (const auto& item : m_dirs_and_links) {
    if (S_ISDIR(item.st.st_mode) && may_be_virtual(item.rel) && m_in_use.count(item.rel) == 0) {
      size_t depth = static_cast<size_t>(std::count(item.rel.begin(), item.rel.end(), '/'));
      by_depth.resize(std::max(by_depth.size(), depth + 1));
      by_depth[depth].push_back(&item.rel);
    }
  }
  std::atomic<bool> removed{false};
  std::vector<std::vector<std::string>> kept(m_jobs);
  for (auto level = by_depth.rbegin(); level != by_depth.rend(); ++level) {
    parallel_for(level->size(), m_jobs, [&](size_t i) {
      const std::string& dir = *(*level)[i];
      bool gone = m_leaving ? m_leaving->remove(dir, kept[worker_index()])
                            : ::unlinkat(m_root_fd.get(), dir.c_str(), AT_REMOVEDIR) == 0;
      if (gone) {
        removed.store(true, std::memory_order_relaxed);
      }
    });
  }
  m_changed_dirs = m_changed_dirs || removed.load();
  if (m_leaving) {
    m_leaving->remove_rest(kept[0]);
    for (const auto& worker : kept) {
      for (const auto& rel : worker) {
        leave_as_is(rel);
      }
    }
  }
}

// Phantom, where the file's directory is to be virtual too: the file leaves with it
// (leaving_dirs.hpp), once every file of the run is recorded.
bool Ingester::leaves_with_directory(std::string_view rel) const {
  size_t slash = rel.rfind('/');
  if (!m_leaving || slash == std::string_view::npos) {
    return false;
  }
  std::string_view dir = rel.substr(0, slash);
  return may_be_virtual(dir) && (m_in_use.empty() || m_in_use.count(std::string(dir)) == 0);
}

// Solid, or Phantom with fewer virtual directories than before: virtual directories
// (from a Phantom ingest) that may no longer be are made again before the walk, with
// their recorded modes, so their files can be projected and they are recorded as
// directories on disk. Parents come first in
// manifest order; below a directory the user removed, mkdir fails and the walk finds the
// entries gone.
void Ingester::make_virtual_dirs_physical() {
  // Each directory made, and each one that gained a directory, gets its mtime (recorded,
  // or the one it had) once all are made, deepest first.
  std::vector<std::pair<std::string, timespec>> mtimes;
  std::unordered_set<std::string> timed;
  m_previous.for_each([&](std::string_view path, Previous& prev) {
    if (prev.kind != EntryKind::dir || (prev.flags & manifest::k_flag_phantom) == 0) {
      return;
    }
    if (!under_starts(path)) {
      // Outside this run's PATHs (half of a switch to Solid): still virtual, and the
      // manifest must go on saying that some are.
      m_virtual_dirs_meta = "1";
      return;
    }
    if (may_be_virtual(path)) {
      return;  // and stays so
    }
    std::string rel(path);
    size_t slash = rel.rfind('/');
    std::string parent = slash == std::string::npos ? std::string(".") : rel.substr(0, slash);
    struct stat st;
    if (timed.count(parent) == 0 && ::fstatat(m_root_fd.get(), parent.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      timed.insert(parent);
      mtimes.emplace_back(parent, st.st_mtim);
    }
    if (::mkdirat(m_root_fd.get(), rel.c_str(), static_cast<mode_t>(prev.mode & 07777)) == 0) {
      timed.insert(rel);
      mtimes.emplace_back(rel, timespec{prev.mtime_ns / 1000000000, prev.mtime_ns % 1000000000});
    }
  });
  for (auto it = mtimes.rbegin(); it != mtimes.rend(); ++it) {
    timespec times[2] = {{0, UTIME_OMIT}, it->second};
    ::utimensat(m_root_fd.get(), it->first.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
}

// One lookup per ancestor: the end of a `vrift run` passes every file it wrote as a start.
bool Ingester::under_starts(std::string_view path) const {
  if (m_start_set.count("") != 0 || m_start_set.count(path) != 0) {
    return true;
  }
  for (size_t slash = path.find('/'); slash != std::string_view::npos; slash = path.find('/', slash + 1)) {
    if (m_start_set.count(path.substr(0, slash)) != 0) {
      return true;
    }
  }
  return false;
}

bool Ingester::is_projection_of(const struct stat& st, const Previous& prev) {
  return prev.kind == EntryKind::file && (prev.flags & manifest::k_flag_projected) != 0 && S_ISREG(st.st_mode) &&
         static_cast<uint64_t>(st.st_ino) == prev.ino;
}

cas::BlobKey Ingester::key_of(const Previous& prev) {
  cas::BlobKey key;
  key.digest = prev.hash;
  key.size = prev.size;
  key.executable = (prev.mode & 0111) != 0;
  cas::set_ext(key, prev.ext);
  return key;
}

bool Ingester::same_blob(const Previous& prev, const cas::BlobKey& key) {
  return prev.kind == EntryKind::file && (prev.flags & manifest::k_flag_projected) != 0 && prev.hash == key.digest &&
         prev.size == key.size && ((prev.mode & 0111) != 0) == key.executable && prev.ext == key.extension();
}

bool Ingester::blob_of_link(std::string_view target, const Previous* prev, cas::BlobKey& key) const {
  const std::string& root = m_source.root();
  if (!m_source.holds_path(target)) {
    // The recorded blob in The Source where the link was made, since moved: linked again.
    if (prev != nullptr && prev->kind == EntryKind::file && cas::names_blob_at_any_root(key_of(*prev), target)) {
      key = key_of(*prev);
      return true;
    }
    return false;
  }
  std::string_view rel = target.substr(root.size() + 1);
  if (rel.starts_with("blake3/")) {  // <root>/blake3/ab/<name>: the name is the key
    size_t slash = rel.rfind('/');
    return cas::parse_blob_name(rel.substr(slash + 1), key);
  }
  if (!rel.starts_with("s/") && !rel.starts_with("x/")) {
    return false;
  }
  // A short name holds only part of the hash: the recorded blob, when it is that one...
  if (prev != nullptr && prev->kind == EntryKind::file && m_source.is_link_to(key_of(*prev), target)) {
    key = key_of(*prev);
    return true;
  }
  // ...else the content behind it names it (a project copied with its links, say).
  UniqueFd fd(::open(std::string(target).c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return false;
  }
  auto digest = hash::hash_fd_exact(fd.get(), static_cast<uint64_t>(st.st_size));
  if (!digest) {
    return false;
  }
  key.digest = digest->digest;
  key.size = digest->size;
  key.executable = (st.st_mode & 0111) != 0;
  cas::set_ext_from_name(key, target);
  return m_source.is_link_to(key, target);
}

// In Solid mode, phantom entries (from an earlier Phantom ingest) get their links back.
void Ingester::materialize_phantoms() {
  m_previous.for_each([&](std::string_view path, Previous& prev) {
    if (prev.kind != EntryKind::file || (prev.flags & manifest::k_flag_phantom) == 0 || prev.seen ||
        !under_starts(path) || directory_gone(path)) {
      return;
    }
    FileTask task;
    task.rel = path;
    task.st = {};
    task.tier = prev.tier;
    task.from_blob = true;
    task.prev = &prev;
    task.stored.key = key_of(prev);
    prev.seen = true;
    m_todo.push_back(std::move(task));
  });
}

void Ingester::walk(const std::string& start) {
  auto stat_or_warn = [&](const WalkEntry& e, struct stat& st) {
    if (e.stat(st)) {
      return true;
    }
    if (errno != ENOENT) {  // vanished since the listing: nothing to keep
      warn("cannot read", e.rel, error_reason(sys_error("stat")));
      tally(&IngestSummary::failed);
    }
    return false;
  };
  walk_tree(
      m_root_fd.get(), start,
      [&](const WalkEntry& e) {
        if (e.rel == ".vrift" || e.rel.ends_with("/.vrift")) {
          return false;
        }
        if (is_projection_temp(e.rel)) {
          // Never content: a link an interrupted projection left behind (removed), a
          // directory it had taken aside (put back: leaving_dirs.hpp), or a temp a live
          // process is still using (left alone).
          if (!stale_project_temp(e.rel)) {
            return false;
          }
          if (::unlinkat(e.dir_fd, e.name, 0) == 0) {
            m_changed_dirs = true;
          } else if (errno == EISDIR && put_back_aside(e.dir_fd, e.name)) {
            m_changed_dirs = true;
            m_put_back.push_back(original_of_aside(e.rel));
          }
          return false;
        }
        if (under_any(e.rel, m_skip)) {
          return false;  // given back to the user by `vrift restore`
        }
        struct stat st;
        Previous* prev = m_previous.find(e.rel);
        auto mark_seen = [&] {  // not vanished: its entry stays unless replaced
          if (prev != nullptr) {
            prev->seen = true;
          }
        };
        if (e.type == DT_DIR) {
          if (!stat_or_warn(e, st)) {
            return false;
          }
          mark_seen();
          m_dirs_and_links.push_back(DirOrLink{e.rel, st, {}});
          return true;
        }
        if (e.type == DT_LNK) {
          mark_seen();
          char target[PATH_MAX];
          ssize_t n = ::readlinkat(e.dir_fd, e.name, target, sizeof target);
          if (n < 0 || static_cast<size_t>(n) >= sizeof target) {
            warn("cannot read symlink", e.rel, n < 0 ? error_reason(sys_error("readlink")) : "target too long");
            tally(&IngestSummary::failed);
            return false;
          }
          std::string_view link(target, static_cast<size_t>(n));
          cas::BlobKey key;
          // a Tier-1 projection: the file it stands for
          if (blob_of_link(link, prev, key)) {
            // (Unchanged only while the config still makes it a symlink.)
            if (prev != nullptr && projects_as_symlink(m_config.tier_of(e.rel)) &&
                same_blob(*prev, key) && m_source.holds_path(link)) {
              ++m_summary.unchanged;  // the link vrift made, still pointing at the same blob
              return false;
            }
            if (!stat_or_warn(e, st)) {
              return false;
            }
            FileTask task;
            task.rel = e.rel;
            task.st = st;
            task.tier = m_config.tier_of(e.rel);
            task.from_blob = true;
            task.link_elsewhere = !m_source.holds_path(link);
            task.stored.key = key;
            task.prev = prev;
            m_todo.push_back(std::move(task));
            return false;
          }
          if (!stat_or_warn(e, st)) {
            return false;
          }
          m_dirs_and_links.push_back(DirOrLink{e.rel, st, std::string(link)});
          return false;
        }
        if (e.type != DT_REG) {
          const char* kind = e.type == DT_FIFO ? "a FIFO" : e.type == DT_SOCK ? "a socket" : "a device";
          warn("skipped special file", e.rel, fmt::format("{} cannot be stored; left as it is", kind));
          tally(&IngestSummary::skipped);
          return false;
        }
        mark_seen();
        // A file with no entry yet needs no stat here: the store stats the open file.
        if (prev != nullptr) {
          if (!stat_or_warn(e, st)) {
            return false;
          }
          if (S_ISREG(st.st_mode) && (st.st_mode & S_IROTH) == 0) {
            prev->released = true;  // made private (chmod 600) since it was recorded
            count_private(e.rel);
            return false;
          }
          bool same = unchanged(st, *prev);
          // A file the config now makes a Tier-1 symlink (`[tier1] link` set back to
          // "symlink") is re-projected from its blob.
          bool to_symlink = same && projects_as_symlink(m_config.tier_of(e.rel));
          if (same && !to_symlink) {
            ++m_summary.unchanged;
            return false;
          }
          if (to_symlink || is_projection_of(st, *prev)) {
            // The blob's own inode (a mode switch) or its unchanged copy: nothing to
            // hash, and the recorded mode and times are the file's, not the blob's.
            FileTask task;
            task.rel = e.rel;
            task.st = st;
            task.tier = to_symlink ? Tier::tier1 : prev->tier;
            task.from_blob = true;
            task.prev = prev;
            task.stored.key = key_of(*prev);
            m_todo.push_back(std::move(task));
            return false;
          }
        }
        FileTask task;
        task.rel = e.rel;
        task.tier = m_config.tier_of(e.rel);
        m_todo.push_back(std::move(task));
        store_first_chunk_early();
        return false;
      },
      [&](const std::string& rel, const Error& error) {
        warn("cannot read", rel, error_reason(error));
        tally(&IngestSummary::failed);
      });
}

int Ingester::open_for_ingest(const std::string& rel) const {
  return ::openat(m_root_fd.get(), rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

void Ingester::prefetch_one(FileTask& task) {
  if (task.from_blob || task.fd || m_stop.load()) {
    return;
  }
  task.fd.reset(open_for_ingest(task.rel));
  if (task.fd) {
    ::posix_fadvise(task.fd.get(), 0, 0, POSIX_FADV_WILLNEED);
  }
}

void Ingester::store_one(FileTask& task, cas::StoreBatch& batch) {
  if (m_stop.load()) {
    return;
  }
  if (task.from_blob) {
    auto present = m_source.contains(task.stored.key);
    if (present && *present) {
      task.stored.method = cas::StoreMethod::present;
      task.stored_ok = true;
      name_for_symlink(task, batch);
      m_done_files.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    warn("cannot project file", task.rel,
         present ? "its blob is missing from The Source; run `vrift doctor`" : error_reason(present.error()));
    tally(&IngestSummary::failed);
    return;
  }
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0 || !task.fd) {  // (prefetch_one() may have opened it)
      task.fd.reset(open_for_ingest(task.rel));
    }
    if (!task.fd) {
      if (errno != ENOENT) {  // vanished since the walk: nothing to keep
        warn("cannot ingest file", task.rel, error_reason(sys_error("open")));
        tally(&IngestSummary::failed);
      }
      return;
    }
    // Writers that take the lock (package managers, vrift itself) wait for us; the
    // stat comparisons in the store catch the ones that do not.
    ::flock(task.fd.get(), LOCK_SH);
    if (::fstat(task.fd.get(), &task.st) != 0 || !S_ISREG(task.st.st_mode)) {
      task.fd.reset();
      return;
    }
    if ((task.st.st_mode & S_IROTH) == 0) {
      // Blobs are readable by everyone (0444): storing a private file would expose it.
      task.fd.reset();
      count_private(task.rel);
      return;
    }
    cas::StoreRequest request;
    request.fd = task.fd.get();
    request.fd_stat = &task.st;
    request.path = task.rel.c_str();
    request.executable = (task.st.st_mode & 0111) != 0;
    // The lease, when granted, lasts until the task's descriptor closes after projection.
    // Only a file with one link can become its blob (the store copies the others), and on
    // an inode with other links a lease would stop this run opening them (EWOULDBLOCK).
    request.allow_link = false;
    if (task.st.st_nlink < 2) {
      request.allow_link = ::fcntl(task.fd.get(), F_SETLEASE, F_WRLCK) == 0;
      task.leased = request.allow_link;
      if (!request.allow_link && errno == EAGAIN) {  // open in another process
        task.fd.reset();
        leave_as_is(task.rel);
        return;
      }
    }
    auto stored = batch.add_file(request);
    if (stored) {
      task.stored = *stored;
      task.stored_ok = true;
      name_for_symlink(task, batch);
      m_done_files.fetch_add(1, std::memory_order_relaxed);
      m_done_bytes.fetch_add(stored->key.size, std::memory_order_relaxed);
      return;
    }
    if (stored.error().code == Errc::changed && attempt + 1 < k_change_retries) {
      continue;
    }
    if (stored.error().code == Errc::system && (stored.error().sys == ENOSPC || stored.error().sys == EDQUOT)) {
      // Every further file would fail the same way: stop, saying it once.
      std::call_once(m_stop_once, [&] { m_stop_error = stored.error(); });
      m_stop.store(true);
      task.fd.reset();
      return;
    }
    warn("cannot ingest file", task.rel,
         stored.error().code == Errc::changed
             ? "it kept changing while being read; left as it is, run ingest again when it is quiet"
             : error_reason(stored.error()));
    task.fd.reset();
    tally(&IngestSummary::failed);
    return;
  }
}

// A Tier-1 file of a Solid projection, unless [tier1] link says "hardlink".
bool Ingester::projects_as_symlink(Tier tier) const {
  return m_options.mode == Mode::Solid && tier == Tier::tier1 && m_config.tier1_link == Tier1Link::symlink;
}

// A symlink to the blob's short name fits in its inode (layout.hpp). The name is made
// now, before the chunk's syncs, so that it is durable before any symlink names it; a
// copied blob gets it when the chunk's commit publishes the blob (the projection then
// looks it up). Without it (a blob locked before short names existed, a long root) the
// symlink names the blob's path, as before.
void Ingester::name_for_symlink(FileTask& task, cas::StoreBatch& batch) {
  if (!projects_as_symlink(task) || (task.from_blob && S_ISLNK(task.st.st_mode))) {
    return;
  }
  bool staged = task.stored.method == cas::StoreMethod::copied || task.stored.method == cas::StoreMethod::cloned;
  if (staged) {
    batch.add_short_name_at_commit(task.stored.key);
  } else {
    task.short_named = m_source.add_short_name(task.stored.key).has_value();
  }
}

Entry Ingester::entry_for(const FileTask& task) const {
  Entry e;
  e.kind = EntryKind::file;
  e.tier = task.tier;
  e.mode = task.st.st_mode;
  e.size = task.stored.key.size;
  e.mtime_ns = to_ns(task.st.st_mtim);
  e.ctime_ns = to_ns(task.st.st_ctim);
  if (task.from_blob) {
    // The path holds a link (or nothing): the file's own mode and times are the
    // recorded ones, or the blob's when there is no record.
    e.mode = task.prev ? task.prev->mode : (S_IFREG | cas::blob_mode(task.stored.key));
    e.mtime_ns = task.prev ? task.prev->mtime_ns : e.mtime_ns;
    e.ctime_ns = task.prev ? task.prev->ctime_ns : e.ctime_ns;
  }
  e.ino = task.projected_ino;
  e.hash = task.stored.key.digest;
  e.ext = task.stored.key.extension();
  if (m_options.mode == Mode::Phantom) {
    e.flags |= manifest::k_flag_phantom;
  } else if ((task.projected_ino != 0 || task.projected_link) && !task.private_copy) {
    e.flags |= manifest::k_flag_projected;
  }
  if (task.private_copy) {
    e.ino = task.projected_ino;  // a plain file now: compared by ino, size and times
    e.ctime_ns = task.copy_ctime_ns != 0 ? task.copy_ctime_ns : e.ctime_ns;
  }
  return e;
}

// The blob's file name, which tells it from every other blob.
std::string blob_name(const cas::BlobKey& key) {
  char name[cas::k_max_blob_rel_path + 1];
  return std::string(name, cas::blob_file_name(key, name));
}

// `fd` is open on the blob's inode when the file itself became the blob; -1 otherwise.
void Ingester::protect_tier1_blob(const cas::BlobKey& key, int fd, bool short_named) {
  auto locked = project::protect_tier1_blob(m_source, key, fd, m_protection, short_named);
  if (!locked) {
    std::call_once(m_lock_warning, [&] {
      m_warn(Failure{"cannot set the immutable flag on Tier-1 blobs", m_source.root(),
                     std::string(error_reason(locked.error())) +
                         "; they stay protected by mode 0444 only (run as root on ext4/xfs/btrfs for more)"});
    });
  }
}

// A path a program replaced or removed since its file was read keeps what the program
// put there, which the next ingest (or the end of its `vrift run`) records.
void Ingester::projection_failed(const FileTask& task, const Error& error) {
  if (error.code == Errc::changed) {
    leave_as_is(task.rel);
    return;
  }
  warn("cannot project file", task.rel, error_reason(error));
}

// A file in use by another process (busy_paths), listed for the next ingest.
void Ingester::leave_as_is(const std::string& rel) {
  std::lock_guard lock(m_mutex);
  m_summary.busy_paths.push_back(rel);
}

// What the task's path must still hold for its projection to replace it.
Expected Ingester::expected_at_path(const FileTask& task, Trash* trash) const {
  return Expected{.file = &task.st, .lease_fd = task.leased ? task.fd.get() : -1, .trash = trash};
}

void Ingester::project_one(FileTask& task) {
  const cas::BlobKey& key = task.stored.key;
  int root = m_root_fd.get();
  // A file whose content was already a blob (not this inode) is a duplicate: freeing
  // it is left to the trash (trash.hpp).
  Trash* trash = !task.from_blob && task.stored.method == cas::StoreMethod::present ? m_trash.get() : nullptr;
  if (m_options.mode == Mode::Phantom) {
    if (leaves_with_directory(task.rel)) {
      if (task.leased && ::fcntl(task.fd.get(), F_GETLEASE) == F_UNLCK) {
        leave_as_is(task.rel);  // a writer waits to open it
      } else {
        m_leaving->add(task.rel, task.st, trash != nullptr);
      }
      return;
    }
    // Once its entry is recorded, a session's program may break the path away from the
    // file (bbw.hpp) to write: that file is the program's, and stays.
    if (auto removed = remove_checked(root, task.rel, expected_at_path(task, trash)); !removed) {
      projection_failed(task, removed.error());
    }
    return;
  }
  if (projects_as_symlink(task)) {
    if (task.from_blob && S_ISLNK(task.st.st_mode) && !task.link_elsewhere) {
      task.projected_link = true;  // already the link it should be
      task.needs_lock = true;
      return;
    }
    char target[PATH_MAX];
    bool known = task.short_named && m_source.short_target(key, target, sizeof target) != 0;
    Expected expected = expected_at_path(task, trash);
    LinkOptions how{.symlink = true,
                    .target = known ? target : nullptr,
                    .expect = &expected,
                    .source_dir = m_staging ? m_staging->dir(worker_index()) : nullptr};
    if (auto linked = link_projection(root, m_source, key, task.rel, how); !linked) {
      projection_failed(task, linked.error());
      return;
    }
    task.projected_link = true;  // re-ingest recognizes it by its target
    task.linked_now = true;
    task.needs_lock = true;      // after every link of the chunk exists (see finish_chunk)
    return;
  }
  // Hard link: the project path and the blob share one inode (found by blob_inode()).
  if (task.blob_ino == 0) {
    warn("cannot project file", task.rel, error_reason(task.blob_stat_error));
    return;
  }
  if (task.blob_ino == task.st.st_ino && m_source.device() == task.st.st_dev) {
    task.projected_ino = task.blob_ino;  // the file itself became the blob
    return;
  }
  Expected expected = expected_at_path(task, trash);
  auto linked = link_projection(root, m_source, key, task.rel, {.expect = &expected});
  if (linked) {
    task.projected_ino = task.blob_ino;
    return;
  }
  if (std::string_view(linked.error().op) != "link") {
    projection_failed(task, linked.error());
    return;
  }
  // Another filesystem, or a locked (immutable) blob: keep the file as a private,
  // read-only copy of the same content. A path that holds a link to the blob, or nothing
  // (a Phantom file made Solid), or a file with other names (their mode is not ours to
  // change) gets one copied from the blob.
  if (task.from_blob || task.st.st_nlink > 1) {
    int64_t mtime_ns = task.prev != nullptr ? task.prev->mtime_ns : to_ns(task.st.st_mtim);
    if (auto copied = copy_blob_to(root, m_source, key, task.rel, mtime_ns, task.projected_ino, &expected); !copied) {
      projection_failed(task, copied.error());
      return;
    }
    struct stat st;
    if (::fstatat(root, task.rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      task.copy_ctime_ns = to_ns(st.st_ctim);  // so the next ingest finds it unchanged
    }
    task.private_copy = true;
    return;
  }
  ::fchmod(task.fd ? task.fd.get() : -1, static_cast<mode_t>(cas::blob_mode(key)));
  ::fchmodat(root, task.rel.c_str(), static_cast<mode_t>(cas::blob_mode(key)), 0);
  struct stat st;
  if (::fstatat(root, task.rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    task.projected_ino = st.st_ino;
    task.st.st_ctim = st.st_ctim;
  }
  task.private_copy = true;
}

// 1-2. Hash and store, then make durable (nothing recorded yet).
void Ingester::store_chunk(Chunk& chunk) {
  std::vector<FileTask>& tasks = chunk.tasks;
  // Each worker starts the reads of its next files before it hashes this one: with a
  // cold cache that keeps k_lookahead reads in flight per worker instead of one.
  parallel_runs(tasks.size(), m_jobs, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end && i < begin + k_lookahead; ++i) {
      prefetch_one(tasks[i]);
    }
    for (size_t i = begin; i < end; ++i) {
      if (i + k_lookahead < end) {
        prefetch_one(tasks[i + k_lookahead]);
      }
      store_one(tasks[i], chunk.batch);
    }
  });
  chunk.interrupted = m_stop.load();
  // 2. Durable with one round of syncs, made here by the thread that stored the chunk:
  // in the pipeline (process_all()) they then overlap the projection of the chunk
  // before, rather than hold up the one thread that records and projects.
  if (!chunk.interrupted) {
    chunk.committed = chunk.batch.commit();
  }
}

// 3-4. The stored and durable chunk is recorded, projected and recorded again with the
// projections' inodes.
Outcome<void> Ingester::finish_chunk(Chunk& stored) {
  std::vector<FileTask>& chunk = stored.tasks;
  if (stored.interrupted) {
    // Nothing of this chunk is recorded and no project path was touched; the batch's
    // temps go with it. Earlier chunks stay committed and projected.
    return failure("cannot store files", m_source.root(),
                   std::string(error_reason(m_stop_error)) + "; free some space and run ingest again (nothing was lost)");
  }
  if (!stored.committed) {
    return failure("cannot make blobs durable", m_source.root(), stored.committed.error());
  }
  // 3. Record the entries before any project path changes, as the projection they are
  // about to get: a session's program that finds the link at the path before the
  // entries are recorded again below must see it as vrift's (and break it away from the
  // blob before writing), not as a plain file it may write into.
  bool phantom = m_options.mode == Mode::Phantom;
  if (!phantom) {
    parallel_for(chunk.size(), m_jobs, [&](size_t i) {
      if (chunk[i].stored_ok && !projects_as_symlink(chunk[i])) {
        blob_inode(chunk[i]);
      }
    });
  }
  bool projecting = true;
  size_t next_dir = m_dirs_and_links_put;
  auto write_entries = [&]() -> Outcome<void> {
    auto written = m_manifest.write([&](manifest::WriteTxn& txn) -> Status {
      next_dir = m_dirs_and_links_put;  // (a rerun on a grown map starts over)
      for (const auto& task : chunk) {
        if (task.stored_ok) {
          if (projecting) {  // the directories and symlinks that sort before it
            VRIFT_CHECK(put_dirs_and_links(txn, next_dir, &task.rel));
          }
          Entry e = entry_for(task);
          if (projecting && !phantom && (e.flags & manifest::k_flag_projected) == 0 &&
              (projects_as_symlink(task) || task.blob_ino != 0)) {
            e.flags |= manifest::k_flag_projected;
            e.ino = projects_as_symlink(task) ? 0 : task.blob_ino;
          }
          VRIFT_CHECK(txn.put(Layer::base, task.rel, e));
          VRIFT_CHECK(txn.remove(Layer::delta, task.rel));
        }
      }
      return {};
    });
    if (!written) {
      return failure("cannot write manifest", m_project.manifest_dir(), written.error());
    }
    if (projecting) {
      m_dirs_and_links_put = next_dir;
    }
    return {};
  };
  if (auto w = write_entries(); !w) {
    return w;
  }
  projecting = false;
  // 4. Project, then record the inodes the projections got.
  parallel_for(chunk.size(), m_jobs, [&](size_t i) {
    if (chunk[i].stored_ok) {
      project_one(chunk[i]);
    }
  });
  // Lock Tier-1 blobs only now: a Tier-2 path of this chunk with the same content may
  // have linked the blob meanwhile, and a locked inode would freeze that link too. Each
  // lock is a few calls on one inode (two files of one content lock it twice, alike).
  // A blob whose file is of this chunk is locked through that file's descriptor, for
  // every path of its content: opening it by name would break the write lease the
  // descriptor holds, and step 5 would take that for a waiting writer and move the
  // blob to a copy.
  std::unordered_map<std::string, int> lease_holders;
  for (FileTask& task : chunk) {
    if (task.needs_lock && task.stored.method == cas::StoreMethod::linked && task.fd) {
      lease_holders.emplace(blob_name(task.stored.key), task.fd.get());
    }
  }
  parallel_for(chunk.size(), m_jobs, [&](size_t i) {
    FileTask& task = chunk[i];
    if (task.needs_lock) {
      auto holder = lease_holders.find(blob_name(task.stored.key));
      protect_tier1_blob(task.stored.key, holder != lease_holders.end() ? holder->second : -1, task.short_named);
    }
  });
  if (!phantom) {
    if (auto w = write_entries(); !w) {
      return w;
    }
  }
  // 5. A process that opened a file whose inode became its blob has waited on our lease
  // since, and writes into that inode once we let go: such a blob moves to a copy first.
  // (The shim's writers look again and write elsewhere; others would change the blob.)
  // Until the leases go, a new opener waits too: look again after each commit.
  for (int round = 0; round < 3 && detach_waited_blobs(chunk); ++round) {
    if (!phantom) {
      if (auto w = write_entries(); !w) {
        return w;
      }
    }
  }
  std::lock_guard lock(m_mutex);  // the next chunk's workers count failures meanwhile
  for (auto& task : chunk) {
    if (!task.stored_ok) {
      continue;
    }
    if (task.from_blob) {
      ++m_summary.converted;
    } else {
      ++m_summary.hashed;
      m_summary.hashed_bytes += task.stored.key.size;
    }
    if (task.private_copy) {
      ++m_summary.copies;
    }
    if (task.linked_now && in_node_modules(task.rel)) {
      ++m_summary.node_symlinks;
    }
    if (task.stored.method != cas::StoreMethod::present) {
      if (m_new_keys.insert(blob_name(task.stored.key)).second) {
        ++m_summary.new_blobs;
        m_summary.new_blob_bytes += task.stored.key.size;
      }
    }
    task.fd.reset();  // releases the lock
  }
  return {};
}

// The inode of a Solid hardlink projection's blob, which the entry records and the path
// gets: task.blob_ino, or 0 with task.blob_stat_error.
void Ingester::blob_inode(FileTask& task) const {
  char blob_rel[cas::k_max_blob_rel_path + 1];
  cas::blob_rel_path(task.stored.key, blob_rel);
  struct stat blob_st;
  if (::fstatat(m_source.root_fd(), blob_rel, &blob_st, AT_SYMLINK_NOFOLLOW) == 0) {
    task.blob_ino = blob_st.st_ino;
  } else {
    task.blob_stat_error = sys_error("stat blob");
  }
}

// Returns whether any blob was moved (its file is then recorded as a plain file).
bool Ingester::detach_waited_blobs(std::vector<FileTask>& chunk) {
  bool moved = false;
  for (auto& task : chunk) {
    if (!task.fd || task.stored.method != cas::StoreMethod::linked || task.detached ||
        ::fcntl(task.fd.get(), F_GETLEASE) == F_WRLCK) {
      continue;  // not handed over, already moved, or nobody waiting
    }
    if (auto detached = m_source.detach_blob(task.stored.key, task.fd.get()); !detached) {
      if (detached.error().sys != EPERM) {  // (a locked blob refuses the waiting writer itself)
        warn("cannot move a blob off a file being opened", task.rel, error_reason(detached.error()));
      }
      continue;
    }
    // A Solid file at its path is now a plain file, which the next ingest hashes again,
    // with the mode it had (the store made it read-only).
    ::fchmod(task.fd.get(), task.st.st_mode & 07777);
    task.private_copy = task.projected_ino != 0;
    task.detached = true;
    moved = true;
  }
  return moved;
}

// The next chunk of m_todo (in walk order), moved out of it.
std::unique_ptr<Chunk> Ingester::take_chunk() {
  auto chunk = std::make_unique<Chunk>(m_source);
  auto end = m_todo.begin() + static_cast<ptrdiff_t>(std::min(m_todo.size(), m_chunk_files));
  chunk->tasks.assign(std::make_move_iterator(m_todo.begin()), std::make_move_iterator(end));
  m_todo.erase(m_todo.begin(), end);
  return chunk;
}

// Once the walk has found a chunk's worth of files, they are read and hashed while it
// goes on (with a cold cache the walk waits on metadata and the store on contents).
// Nothing is recorded or projected before the walk ends and the directories are.
void Ingester::store_first_chunk_early() {
  if (m_first || m_todo.size() < m_chunk_files) {
    return;
  }
  m_first = take_chunk();
  m_first_store = std::jthread([this] { store_chunk(*m_first); });
}

// Chunks in a pipeline: the next chunk is read, hashed and synced while the current one
// is recorded and projected, so the disk is never idle between chunks (a cold ingest
// waits on reads). Each chunk still goes through store, sync, record and project in
// that order, and a chunk is synced before its successor is stored, so a blob the
// successor finds present is durable already.
Outcome<void> Ingester::process_all() {
  std::unique_ptr<Chunk> current;
  if (m_first) {
    m_first_store.join();
    current = std::move(m_first);
  } else if (!m_todo.empty()) {
    current = take_chunk();
    store_chunk(*current);
  } else {
    return {};
  }
  for (;;) {
    std::unique_ptr<Chunk> next = m_todo.empty() ? nullptr : take_chunk();
    std::jthread storing;
    if (next) {
      storing = std::jthread([&] { store_chunk(*next); });
    }
    auto finished = finish_chunk(*current);
    if (!finished) {
      m_stop.store(true);  // the next chunk is abandoned: its temps go with its batch
    }
    if (storing.joinable()) {
      storing.join();
    }
    if (!finished) {
      return finished;
    }
    if (!next) {
      return {};
    }
    current = std::move(next);
  }
}

Entry Ingester::entry_for(const DirOrLink& item) const {
  Entry e;
  e.kind = S_ISDIR(item.st.st_mode) ? EntryKind::dir : EntryKind::symlink;
  if (e.kind == EntryKind::dir && may_be_virtual(item.rel)) {
    e.flags |= manifest::k_flag_phantom;
  }
  e.tier = m_config.tier_of(item.rel);
  e.mode = item.st.st_mode;
  e.mtime_ns = to_ns(item.st.st_mtim);
  e.ctime_ns = to_ns(item.st.st_ctim);
  e.ino = item.st.st_ino;
  e.size = e.kind == EntryKind::symlink ? item.target.size() : 0;
  e.target = item.target;
  return e;
}

// Whether the manifest already holds `e` for `rel`, as this run would write it.
// (A symlink's target cannot change without a new inode or ctime.)
bool Ingester::recorded_as_is(const std::string& rel, const Entry& e) const {
  const Previous* found = m_previous.find(rel);
  if (found == nullptr) {
    return false;
  }
  const Previous& p = *found;
  return p.kind == e.kind && p.tier == e.tier && p.flags == e.flags && p.mode == e.mode && p.ino == e.ino &&
         p.size == e.size && p.mtime_ns == e.mtime_ns && p.ctime_ns == e.ctime_ns;
}

// A re-ingest that finds every directory and symlink as recorded, with no session
// changes pending (the entries are then in base), writes none of them.
bool Ingester::dirs_and_links_as_recorded() const {
  return m_delta_empty && m_projected_meta_current &&
         std::all_of(m_dirs_and_links.begin(), m_dirs_and_links.end(),
                     [&](const DirOrLink& item) { return recorded_as_is(item.rel, entry_for(item)); });
}

// Puts the directories and symlinks from `next` on whose keys sort before `*before`'s
// (all of them when null), advancing `next`. They go in with the files around them, so
// that the puts of a first ingest come in key order and fill the manifest's pages (a
// directory's key sorts before its children's, so the tree stays connected at every
// commit). A rerun of the same transaction passes the same `next` again.
Status Ingester::put_dirs_and_links(manifest::WriteTxn& txn, size_t& next, const std::string* before) const {
  if (m_dirs_and_links_as_recorded) {
    return {};
  }
  manifest::KeyBuf limit;
  bool limited = before != nullptr && manifest::encode_key(*before, limit);
  for (; next < m_dirs_and_links.size(); ++next) {
    const DirOrLink& item = m_dirs_and_links[next];
    manifest::KeyBuf key;
    if (limited && manifest::encode_key(item.rel, key) && manifest::compare_keys(key.view(), limit.view()) >= 0) {
      break;
    }
    VRIFT_CHECK(txn.put(Layer::base, item.rel, entry_for(item)));
    VRIFT_CHECK(txn.remove(Layer::delta, item.rel));
  }
  return {};
}

// Records the directories and symlinks the files' chunks did not: those after the last
// file.
Outcome<void> Ingester::record_dirs_and_links() {
  size_t next = m_dirs_and_links_put;
  bool rest = !m_dirs_and_links_as_recorded && next < m_dirs_and_links.size();
  Status written = !rest ? Status{} : m_manifest.write([&](manifest::WriteTxn& txn) -> Status {
    next = m_dirs_and_links_put;
    return put_dirs_and_links(txn, next, nullptr);
  });
  if (!written) {
    return failure("cannot write manifest", m_project.manifest_dir(), written.error());
  }
  for (const auto& item : m_dirs_and_links) {
    (S_ISDIR(item.st.st_mode) ? m_summary.dirs : m_summary.symlinks) += 1;
  }
  return {};
}

// Projection renames and unlinks entries, which moves every directory's mtime; put back
// the times the directories had (and the manifest records), so the projected tree shows
// what the plain one did.
void Ingester::restore_dir_times() {
  for (auto it = m_dirs_and_links.rbegin(); it != m_dirs_and_links.rend(); ++it) {
    if (S_ISDIR(it->st.st_mode)) {
      timespec times[2] = {{0, UTIME_OMIT}, it->st.st_mtim};
      ::utimensat(m_root_fd.get(), it->rel.c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
  }
}

Outcome<void> Ingester::remove_vanished() {
  // Entries under the walked paths whose files are gone (and were not phantom: a phantom
  // file is absent by design, unless its directory went) were deleted by the user: drop
  // them. So are the entries of files made private, which are the user's plain files now.
  std::vector<std::string> gone;
  uint64_t released = 0;
  m_previous.for_each([&](std::string_view path, const Previous& prev) {
    if (prev.released) {
      gone.emplace_back(path);
      ++released;
      return;
    }
    if (prev.seen || ((prev.flags & manifest::k_flag_phantom) != 0 && !directory_gone(path))) {
      return;
    }
    if (under_starts(path)) {
      gone.emplace_back(path);
    }
  });
  if (gone.empty()) {
    return {};
  }
  auto written = m_manifest.write([&](manifest::WriteTxn& txn) -> Status {
    for (const auto& path : gone) {
      VRIFT_TRY(txn.remove(Layer::base, path));
      VRIFT_TRY(txn.remove(Layer::delta, path));
    }
    return {};
  });
  if (!written) {
    return failure("cannot write manifest", m_project.manifest_dir(), written.error());
  }
  m_summary.removed = gone.size() - released;
  return {};
}

Outcome<IngestSummary> Ingester::run() {
  auto started = std::chrono::steady_clock::now();
  m_root_fd.reset(::open(m_project.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!m_root_fd) {
    return failure("cannot open project", m_project.root, sys_error("open"));
  }
  struct stat root_st;
  ::fstat(m_root_fd.get(), &root_st);
  m_summary.cross_filesystem = root_st.st_dev != m_source.device();
  m_trash = std::make_unique<Trash>(m_root_fd.get(), m_project.state_dir());
  if (m_options.mode == Mode::Phantom && m_options.virtual_dirs && m_config.phantom_dirs != PhantomDirs::physical) {
    m_in_use = working_dirs_below(real_path(m_project.root));
    m_leaving = std::make_unique<LeavingDirs>(m_root_fd.get(), m_trash.get());
  }
  // Workers wait on reads as much as they compute: with a cold cache, more reads in
  // flight than cores is what makes ingest fast (4 per core: cold 4.2 s -> 2.9 s on the
  // corpus, warm unchanged; 8 per core was slower warm).
  m_jobs = default_jobs(m_options.jobs);

  // Each file is held open until its chunk commits, and two chunks are in flight: make
  // room for their fds, or make the chunks smaller where the hard limit is low.
  rlimit lim;
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    if (lim.rlim_cur < 2 * k_chunk_files + 256) {
      lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 2 * k_chunk_files + 256);
      ::setrlimit(RLIMIT_NOFILE, &lim);
      ::getrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur < 2 * k_chunk_files + 256) {
      rlim_t spare = std::min<rlim_t>(lim.rlim_cur / 2, 256);  // LMDB, trash, the walk
      m_chunk_files = std::max<size_t>(16, (lim.rlim_cur - spare) / 2);
    }
  }
  m_protection = tier1_protection(m_config);

  m_starts = m_options.paths.empty() ? m_config.projected : m_options.paths;
  std::sort(m_starts.begin(), m_starts.end());  // walked one after another: in key order
  m_start_set.insert(m_starts.begin(), m_starts.end());
  if (m_starts.empty()) {
    return failure("nothing to ingest", m_project.root,
                   "no projected paths in .vrift/config.toml and none given; name directories to ingest");
  }
  if (auto loaded = load_previous(); !loaded) {
    return tl::unexpected(loaded.error());
  }
  auto restored = load_restored(m_project);
  if (!restored) {
    return tl::unexpected(restored.error());
  }
  // A restored subtree is ingested again only when a PATH names it (or a directory
  // holding it) or lies inside it.
  m_restored = std::move(*restored);
  for (const auto& p : m_restored) {
    bool asked = false;
    for (const auto& start : m_options.paths) {
      asked = asked || under_any(p, {start}) || under_any(start, {p});
    }
    if (!asked) {
      m_skip.push_back(p);
    }
  }
  if (m_had_virtual_dirs) {
    make_virtual_dirs_physical();  // (a scan of every entry: only where some may be virtual)
  }
  m_projected_meta_current = m_projected_meta_current && m_virtual_dirs_recorded &&
                             m_had_virtual_dirs == (m_virtual_dirs_meta == "1");
  for (const auto& start : m_starts) {
    struct stat st;
    if (::fstatat(m_root_fd.get(), start.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT && m_options.paths.empty()) {
        m_missing_starts.push_back(start);  // a projected directory removed: all it held is gone
        continue;
      }
      return failure("cannot ingest", m_project.root + "/" + start, sys_error("stat"));
    }
    walk(start);
  }
  for (size_t i = 0; i < m_put_back.size(); ++i) {
    walk(m_put_back[i]);  // after its parent's listing: walked on its own
  }
  if (m_options.mode == Mode::Solid) {
    materialize_phantoms();
  }
  // Parents of the walked paths, so the manifest's tree is connected up to the root.
  // Their keys sort before everything walked below them.
  std::set<std::string> parents;
  for (const auto& start : m_starts) {
    for (size_t slash = start.find('/'); slash != std::string::npos; slash = start.find('/', slash + 1)) {
      std::string parent = start.substr(0, slash);
      if (!under_starts(parent)) {
        parents.insert(parent);
      }
    }
  }
  std::vector<DirOrLink> parent_dirs;
  for (const auto& parent : parents) {
    struct stat st;
    if (::fstatat(m_root_fd.get(), parent.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      parent_dirs.push_back(DirOrLink{parent, st, {}});
    }
  }
  m_dirs_and_links.insert(m_dirs_and_links.begin(), std::make_move_iterator(parent_dirs.begin()),
                          std::make_move_iterator(parent_dirs.end()));
  // The projected directories are recorded before any file, as the tree they describe
  // (one commit, only when they changed).
  m_dirs_and_links_as_recorded = dirs_and_links_as_recorded();
  if (!m_projected_meta_current) {
    Status written = m_manifest.write([&](manifest::WriteTxn& txn) -> Status {
      VRIFT_CHECK(txn.put_meta(manifest::k_meta_projected_key, m_projected_meta));
      return txn.put_meta(manifest::k_meta_virtual_dirs_key, m_virtual_dirs_meta);
    });
    if (!written) {
      return failure("cannot write manifest", m_project.manifest_dir(), written.error());
    }
  }

  {
    uint64_t total = m_todo.size() + (m_first ? m_first->tasks.size() : 0);
    m_changed_dirs = m_changed_dirs || total > 0;  // projection renames and unlinks
    if (total > 0 && m_options.mode == Mode::Solid && !m_summary.cross_filesystem) {
      m_staging = std::make_unique<SourceStaging>(m_source.root_fd(), m_jobs);
    }
    Progress progress(m_options.progress, m_done_files, m_done_bytes, total);
    if (auto r = process_all(); !r) {
      return tl::unexpected(r.error());
    }
  }
  if (auto r = record_dirs_and_links(); !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = remove_vanished(); !r) {
    return tl::unexpected(r.error());
  }
  make_empty_dirs_virtual();
  if (m_changed_dirs) {
    restore_dir_times();  // (a run that changed nothing leaves every directory alone)
  }
  if (m_skip.size() != m_restored.size()) {
    std::vector<std::string> still;
    for (const auto& p : m_restored) {
      if (!under_any(p, m_options.paths)) {
        still.push_back(p);
      }
    }
    if (auto saved = save_restored(m_project, still); !saved) {
      return tl::unexpected(saved.error());
    }
  }

  // The base index follows the base (manifest/base_index.hpp); lookups stay correct
  // without it, only slower. Rebuilding it reads every base entry (~60 ms at 100,000):
  // a full ingest does it before returning; after a partial one (the re-ingest at the
  // end of `vrift run`) a detached process does it, so the command does not wait.
  uint64_t min_entries = m_config.index_min_entries;
  if (m_options.paths.empty()) {
    if (auto indexed = m_manifest.update_base_index(min_entries); !indexed) {
      m_warn(Failure{"cannot write the manifest's base index", m_project.manifest_dir(),
                     std::string(error_reason(indexed.error())) + "; lookups use the manifest alone"});
    }
  } else if (auto outdated = m_manifest.base_index_outdated(min_entries); outdated && *outdated) {
    run_detached(-1, [env_dir = m_project.manifest_dir(), min_entries] {
      auto manifest = manifest::LmdbManifest::open(env_dir.c_str(), manifest::OpenOptions{});
      if (manifest) {
        (void)manifest->update_base_index(min_entries);
      }
    });
  }

  // Totals over everything now recorded under the walked paths.
  auto txn = m_manifest.read();
  if (!txn) {
    return failure("cannot read manifest", m_project.manifest_dir(), txn.error());
  }
  auto counted = m_manifest.for_each(*txn, [&](std::string_view path, const Entry& e) {
    if (e.kind != EntryKind::file) {
      return true;
    }
    if (under_starts(path)) {
      ++m_summary.files;
      m_summary.bytes += e.size;
      (e.tier == Tier::tier1 ? m_summary.tier1 : m_summary.tier2) += 1;
    }
    return true;
  });
  if (!counted) {
    return failure("cannot read manifest", m_project.manifest_dir(), counted.error());
  }
  m_summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  m_trash->empty_later();
  return m_summary;
}

}  // namespace

Outcome<UniqueFd> lock_for_ingest(const ProjectPaths& project) {
  return lock_exclusively(project.state_dir() + "/ingest.lock", "cannot lock the project for ingest");
}

Outcome<IngestSummary> ingest(const ProjectPaths& project, const Config& config, cas::TheSource& source,
                              manifest::LmdbManifest& manifest, const IngestOptions& options,
                              const WarningSink& warn) {
  UniqueFd project_lock;
  if (!options.holding_lock) {
    auto locked = lock_for_ingest(project);
    if (!locked) {
      return tl::unexpected(locked.error());
    }
    project_lock = std::move(*locked);
  }
  // Listed with The Source before any blob is named, and gc kept out until the last
  // commit (projects.hpp, the_source.hpp).
  if (auto listed = cas::register_project(source, project.root); !listed) {
    return failure("cannot register the project with The Source", source.root() + "/projects", listed.error());
  }
  auto references = source.hold_references(true);
  if (!references) {
    return failure("cannot lock The Source", source.root() + "/gc.lock", references.error());
  }
  // A lease holder is told of a waiting opener by SIGIO, whose default action kills.
  struct sigaction ignore {};
  struct sigaction saved {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGIO, &ignore, &saved);
  Ingester ingester(project, config, source, manifest, options, warn);
  auto result = ingester.run();
  ::sigaction(SIGIO, &saved, nullptr);
  return result;
}

}  // namespace vrift::project
