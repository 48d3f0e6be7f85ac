#include "project/restore.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "base/fd.hpp"
#include "project/parallel.hpp"
#include "project/projection.hpp"
#include "project/restored.hpp"

namespace vrift::project {

namespace {

using manifest::Entry;
using manifest::EntryKind;

constexpr size_t k_batch = 1024;  // copies staged (open, unnamed) at once

timespec from_ns(int64_t ns) { return timespec{ns / 1000000000, ns % 1000000000}; }

std::string parent_of(std::string_view rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(rel.substr(0, slash));
}

struct Item {
  std::string path;
  EntryKind kind = EntryKind::file;
  uint8_t flags = 0;
  uint32_t mode = 0;
  uint64_t ino = 0;
  int64_t mtime_ns = 0;
  cas::BlobKey key;
  std::string target;

  bool projected() const { return (flags & manifest::k_flag_projected) != 0; }
};

enum class Action : uint8_t { copy, keep, fail };

struct FileTask {
  const Item* item = nullptr;
  Action action = Action::fail;
  StagedCopy copy;
};

class Restorer {
 public:
  Restorer(const ProjectPaths& project, const cas::TheSource& source, manifest::LmdbManifest& manifest,
           const RestoreOptions& options, const RestoreWarningSink& warn)
      : m_project(project), m_source(source), m_manifest(manifest), m_options(options), m_warn(warn) {}

  Outcome<RestoreSummary> run();

 private:
  Outcome<void> load();
  void make_dirs();
  void remove_stale_temps();
  void prepare(FileTask& task);
  Outcome<void> process_batch(std::vector<FileTask>& batch);
  Outcome<void> forget(const std::vector<const Item*>& items);
  void put_back_dir_times();
  void warn(const std::string& what, const std::string& rel, const std::string& why) {
    std::lock_guard lock(m_mutex);
    m_warn(Failure{what, m_project.root + "/" + rel, why});
  }

  const ProjectPaths& m_project;
  const cas::TheSource& m_source;
  manifest::LmdbManifest& m_manifest;
  const RestoreOptions& m_options;
  const RestoreWarningSink& m_warn;

  UniqueFd m_root_fd;
  unsigned m_jobs = 1;
  std::vector<Item> m_files;
  std::vector<Item> m_symlinks;
  std::vector<Item> m_dirs;
  std::map<std::string, int64_t> m_recorded_dir_mtime;  // every directory entry, selected or not
  std::set<std::string> m_touched_dirs;
  std::set<std::string> m_failed_paths;
  std::mutex m_mutex;
  std::optional<std::pair<uid_t, gid_t>> m_owner_of_root;
  RestoreSummary m_summary;
};

Outcome<void> Restorer::load() {
  auto txn = m_manifest.read();
  if (!txn) {
    return failure("cannot read manifest", m_project.manifest_dir(), txn.error());
  }
  std::vector<bool> matched(m_options.paths.size(), false);
  auto visited = m_manifest.for_each(*txn, [&](std::string_view path, const Entry& e) {
    if (e.kind == EntryKind::dir) {
      m_recorded_dir_mtime.emplace(std::string(path), e.mtime_ns);
    }
    if (!m_options.paths.empty()) {
      bool selected = false;
      for (size_t i = 0; i < m_options.paths.size(); ++i) {
        if (under_any(path, {m_options.paths[i]})) {
          matched[i] = true;
          selected = true;
        }
      }
      if (!selected) {
        return true;
      }
    }
    Item item;
    item.path.assign(path);
    item.kind = e.kind;
    item.flags = e.flags;
    item.mode = e.mode;
    item.ino = e.ino;
    item.mtime_ns = e.mtime_ns;
    item.target.assign(e.target);
    if (e.kind == EntryKind::file) {
      item.key = manifest::blob_key(e);
      m_files.push_back(std::move(item));
    } else if (e.kind == EntryKind::symlink) {
      m_symlinks.push_back(std::move(item));
    } else if (e.kind == EntryKind::dir) {
      m_dirs.push_back(std::move(item));
    }
    return true;
  });
  if (!visited) {
    return failure("cannot read manifest", m_project.manifest_dir(), visited.error());
  }
  for (size_t i = 0; i < matched.size(); ++i) {
    if (!matched[i]) {
      return failure("cannot restore", m_project.root + "/" + m_options.paths[i],
                     "vrift does not manage it (nothing in the manifest at or below it)");
    }
  }
  std::sort(m_dirs.begin(), m_dirs.end(), [](const Item& a, const Item& b) { return a.path.size() < b.path.size(); });
  return {};
}

void Restorer::make_dirs() {
  for (const auto& dir : m_dirs) {
    if (::mkdirat(m_root_fd.get(), dir.path.c_str(), static_cast<mode_t>(dir.mode & 07777)) == 0) {
      m_touched_dirs.insert(parent_of(dir.path));
      m_touched_dirs.insert(dir.path);
    }
  }
}

// Temps of a killed restore (or ingest) in the directories this restore covers.
void Restorer::remove_stale_temps() {
  std::set<std::string> dirs;
  for (const auto& d : m_dirs) {
    dirs.insert(d.path);
  }
  for (const auto* list : {&m_files, &m_symlinks}) {
    for (const auto& item : *list) {
      dirs.insert(parent_of(item.path));
    }
  }
  for (const auto& dir : dirs) {
    UniqueFd fd(::openat(m_root_fd.get(), dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    DIR* d = fd ? ::fdopendir(fd.get()) : nullptr;
    if (d == nullptr) {
      continue;
    }
    fd.release();
    std::vector<std::string> stale;
    while (dirent* ent = ::readdir(d)) {
      if (stale_project_temp(ent->d_name)) {
        stale.emplace_back(ent->d_name);
      }
    }
    for (const auto& name : stale) {
      ::unlinkat(::dirfd(d), name.c_str(), 0);
      m_touched_dirs.insert(dir);
    }
    ::closedir(d);
  }
}

// Decides what a file needs and, for a copy, stages it (unnamed, not yet durable).
void Restorer::prepare(FileTask& task) {
  const Item& item = *task.item;
  int root = m_root_fd.get();
  char blob_rel[cas::k_max_blob_rel_path + 1];
  cas::blob_rel_path(item.key, blob_rel);
  struct stat blob;
  bool have_blob = ::fstatat(m_source.root_fd(), blob_rel, &blob, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(blob.st_mode);
  struct stat st;
  bool present = ::fstatat(root, item.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (!present && errno != ENOENT) {
    warn("cannot restore file", item.path, error_reason(sys_error("stat")));
    task.action = Action::fail;
    return;
  }
  UniqueFd src;
  if (present) {
    bool projection = false;
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(root, item.path.c_str(), target, sizeof target - 1);
      projection = n >= 0 && m_source.is_link_to(item.key, std::string_view(target, static_cast<size_t>(n)));
    } else if (S_ISREG(st.st_mode)) {
      bool blob_inode = have_blob && st.st_ino == blob.st_ino && st.st_dev == blob.st_dev;
      bool recorded_link = item.projected() && static_cast<uint64_t>(st.st_ino) == item.ino;
      projection = blob_inode || recorded_link;
      if (!item.projected() && (item.flags & manifest::k_flag_phantom) == 0 &&
          static_cast<uint64_t>(st.st_ino) == item.ino) {
        // A private read-only copy ingest left: it only needs its own mode back.
        ::fchmodat(root, item.path.c_str(), static_cast<mode_t>(item.mode & 07777), 0);
        task.action = Action::keep;
        return;
      }
      if (projection && !have_blob) {
        // The blob's name is gone, but this path is its inode: copy from here.
        src.reset(::openat(root, item.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
      }
    }
    if (!projection) {
      task.action = Action::keep;  // the user's content, or a copy a killed restore finished
      return;
    }
  }
  if (!src && have_blob) {
    src.reset(::openat(m_source.root_fd(), blob_rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  }
  if (!src) {
    warn("cannot restore file", item.path, "its content is missing from The Source; run `vrift doctor`");
    task.action = Action::fail;
    return;
  }
  auto staged = stage_private_copy(root, item.path, src.get(), item.key.digest, item.key.size, item.mode, item.mtime_ns);
  if (!staged) {
    warn("cannot restore file", item.path,
         staged.error().code == Errc::corrupt ? "its blob is damaged (it does not hash to its name); run `vrift doctor`"
                                              : error_reason(staged.error()));
    task.action = Action::fail;
    return;
  }
  if (m_owner_of_root) {
    // Run as root: the file goes to whoever owns the project, not to root.
    ::fchown(staged->fd.get(), m_owner_of_root->first, m_owner_of_root->second);
  }
  task.copy = std::move(*staged);
  task.action = Action::copy;
}

Outcome<void> Restorer::forget(const std::vector<const Item*>& items) {
  if (items.empty()) {
    return {};
  }
  bool shared = m_manifest.base_is_shared();
  auto written = m_manifest.write([&](manifest::WriteTxn& txn) -> Status {
    for (const Item* item : items) {
      VRIFT_CHECK(forget_entry(txn, shared, item->path));
    }
    return {};
  });
  if (!written) {
    return failure("cannot write manifest", m_project.manifest_dir(), written.error());
  }
  return {};
}

Outcome<void> Restorer::process_batch(std::vector<FileTask>& batch) {
  parallel_for(batch.size(), m_jobs, [&](size_t i) { prepare(batch[i]); });
  // The copies' data is durable before any of them takes a path.
  if (::syncfs(m_root_fd.get()) != 0) {
    return failure("cannot make files durable", m_project.root, sys_error("syncfs"));
  }
  std::vector<const Item*> done;
  for (auto& task : batch) {
    const Item& item = *task.item;
    if (task.action == Action::copy) {
      if (auto put = publish_private_copy(m_root_fd.get(), item.path, task.copy); !put) {
        warn("cannot restore file", item.path,
             put.error().sys == EPERM ? "its link is frozen (immutable); run `vrift doctor --repair` as root"
                                      : error_reason(put.error()));
        task.action = Action::fail;
      } else {
        ++m_summary.files;
        m_summary.bytes += item.key.size;
      }
      task.copy.fd.reset();
    } else if (task.action == Action::keep) {
      ++m_summary.kept;
    }
    if (task.action == Action::fail) {
      ++m_summary.failed;
      m_failed_paths.insert(item.path);
      continue;
    }
    m_touched_dirs.insert(parent_of(item.path));
    done.push_back(&item);
  }
  if (::syncfs(m_root_fd.get()) != 0) {
    return failure("cannot make files durable", m_project.root, sys_error("syncfs"));
  }
  return forget(done);
}

// Directories get the mtime the manifest recorded for them (what they showed before
// ingest), deepest first; others the mtime they had when this restore began.
void Restorer::put_back_dir_times() {
  for (auto it = m_touched_dirs.rbegin(); it != m_touched_dirs.rend(); ++it) {
    auto recorded = m_recorded_dir_mtime.find(*it);
    if (recorded == m_recorded_dir_mtime.end()) {
      continue;
    }
    timespec times[2] = {{0, UTIME_OMIT}, from_ns(recorded->second)};
    ::utimensat(m_root_fd.get(), it->empty() ? "." : it->c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
}

Outcome<RestoreSummary> Restorer::run() {
  auto started = std::chrono::steady_clock::now();
  m_root_fd.reset(::open(m_project.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!m_root_fd) {
    return failure("cannot open project", m_project.root, sys_error("open"));
  }
  m_jobs = default_jobs(m_options.jobs);
  if (::geteuid() == 0) {
    struct stat st;
    if (::fstat(m_root_fd.get(), &st) == 0 && st.st_uid != 0) {
      m_owner_of_root.emplace(st.st_uid, st.st_gid);
    }
  }
  rlimit lim;
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < k_batch + 256) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, k_batch + 256);
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  if (auto loaded = load(); !loaded) {
    return tl::unexpected(loaded.error());
  }
  make_dirs();
  remove_stale_temps();

  for (size_t begin = 0; begin < m_files.size(); begin += k_batch) {
    std::vector<FileTask> batch;
    for (size_t i = begin; i < m_files.size() && i < begin + k_batch; ++i) {
      batch.emplace_back();
      batch.back().item = &m_files[i];
    }
    if (auto r = process_batch(batch); !r) {
      return tl::unexpected(r.error());
    }
  }

  std::vector<const Item*> released;
  for (const auto& link : m_symlinks) {
    struct stat st;
    if (::fstatat(m_root_fd.get(), link.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
      if (::symlinkat(link.target.c_str(), m_root_fd.get(), link.path.c_str()) != 0) {
        warn("cannot restore symlink", link.path, error_reason(sys_error("symlink")));
        m_failed_paths.insert(link.path);
        ++m_summary.failed;
        continue;
      }
      m_touched_dirs.insert(parent_of(link.path));
    }
    released.push_back(&link);
  }
  m_summary.symlinks = released.size();
  if (auto r = forget(released); !r) {
    return tl::unexpected(r.error());
  }

  // Directories last, their times first: a killed run leaves the entries (and so the
  // times to put back) for the next one.
  for (const auto& dir : m_dirs) {
    m_touched_dirs.insert(dir.path);
  }
  put_back_dir_times();
  released.clear();
  for (const auto& dir : m_dirs) {
    // One that still holds a file that could not be restored stays, so the manifest's
    // tree stays connected.
    auto after = m_failed_paths.lower_bound(dir.path + "/");
    bool holds_failed = after != m_failed_paths.end() && after->starts_with(dir.path + "/");
    if (!holds_failed) {
      released.push_back(&dir);
    }
  }
  m_summary.dirs = released.size();
  if (auto r = forget(released); !r) {
    return tl::unexpected(r.error());
  }

  // Remember partial restores so ingest and doctor leave them alone.
  auto listed = load_restored(m_project);
  if (!listed) {
    return tl::unexpected(listed.error());
  }
  std::vector<std::string> paths;
  if (!m_options.paths.empty()) {
    for (const auto& p : *listed) {
      if (!under_any(p, m_options.paths)) {
        paths.push_back(p);
      }
    }
    for (const auto& p : m_options.paths) {
      if (!under_any(p, paths)) {
        paths.push_back(p);
      }
    }
  }
  if (paths != *listed) {
    if (auto saved = save_restored(m_project, paths); !saved) {
      return tl::unexpected(saved.error());
    }
  }
  m_summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return m_summary;
}

}  // namespace

Outcome<RestoreSummary> restore(const ProjectPaths& project, const Config& /*config*/, const cas::TheSource& source,
                                manifest::LmdbManifest& manifest, const RestoreOptions& options,
                                const RestoreWarningSink& warn) {
  Restorer restorer(project, source, manifest, options, warn);
  auto summary = restorer.run();
  if (summary && options.paths.empty() && summary->failed == 0) {
    ::unlink(project.source_link().c_str());  // nothing of it is in The Source any more: free to use another
  }
  return summary;
}

}  // namespace vrift::project
