#include "project/doctor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "base/fd.hpp"
#include "hash/hasher.hpp"
#include "project/ingest.hpp"
#include "project/parallel.hpp"
#include "project/projection.hpp"
#include "project/restored.hpp"

namespace vrift::project {

const char* describe(DoctorProblemKind kind) noexcept {
  switch (kind) {
    case DoctorProblemKind::missing_link: return "missing link";
    case DoctorProblemKind::wrong_link: return "wrong link";
    case DoctorProblemKind::replaced: return "changed outside a session";
    case DoctorProblemKind::phantom_present: return "file at a Phantom path";
    case DoctorProblemKind::missing_copy: return "missing file";
    case DoctorProblemKind::missing_dir: return "missing directory";
    case DoctorProblemKind::missing_symlink: return "missing symlink";
    case DoctorProblemKind::frozen_link: return "frozen link";
    case DoctorProblemKind::missing_blob: return "missing blob";
    case DoctorProblemKind::damaged_blob: return "damaged blob";
    case DoctorProblemKind::blob_mode: return "blob mode";
    case DoctorProblemKind::content_lost: return "content lost";
    case DoctorProblemKind::stale_temp: return "stale temp";
    case DoctorProblemKind::stale_source_temp: return "stale temp in The Source";
    case DoctorProblemKind::unrecorded: return "unrecorded file";
    case DoctorProblemKind::unreadable: return "unreadable";
    case DoctorProblemKind::damaged_index: return "damaged base index";
  }
  return "problem";
}

std::string problem_line(const DoctorProblem& p) {
  return fmt::format("{} ({}): {}; {}", describe(p.kind), p.path, p.why, p.action);
}

std::string DoctorReport::summary() const {
  std::string head = fmt::format("doctor: {} entries, {} blobs{}", entries, blobs, deep ? " (rehashed)" : "");
  if (problems.empty() && remaining == 0) {
    return fmt::format("{}: no problems ({:.2f} s)", head, seconds);
  }
  if (!repaired) {
    return fmt::format("{}: {} problem{}; run `vrift doctor --repair` ({:.2f} s)", head, remaining,
                       remaining == 1 ? "" : "s", seconds);
  }
  uint64_t fixed = static_cast<uint64_t>(std::count_if(problems.begin(), problems.end(), [](const auto& p) { return p.fixed; }));
  return fmt::format("{}: {} problem{} found, {} repaired, {} remaining{} ({:.2f} s)", head, problems.size(),
                     problems.size() == 1 ? "" : "s", fixed, remaining, remaining == 0 ? "" : " (see above)", seconds);
}

namespace {

using manifest::Entry;
using manifest::EntryKind;
using manifest::Layer;
using manifest::Tier;
using Kind = DoctorProblemKind;

constexpr uint32_t k_none = UINT32_MAX;

int64_t to_ns(const timespec& ts) { return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec; }
timespec from_ns(int64_t ns) { return timespec{ns / 1000000000, ns % 1000000000}; }

std::string parent_of(std::string_view rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(rel.substr(0, slash));
}

std::string mode_text(unsigned mode) { return fmt::format("{:04o}", mode & 07777); }

// One manifest entry, copied out of the read transaction.
struct Item {
  std::string path;
  EntryKind kind = EntryKind::file;
  Tier tier = Tier::tier2;
  uint8_t flags = 0;
  uint32_t mode = 0;
  uint64_t size = 0;
  uint64_t ino = 0;
  int64_t mtime_ns = 0;
  hash::Digest hash;
  std::string ext;
  std::string target;
  uint32_t blob = k_none;

  bool phantom() const { return (flags & manifest::k_flag_phantom) != 0; }
  bool projected() const { return (flags & manifest::k_flag_projected) != 0; }
  // A projected entry records the inode of its hardlink; a Tier-1 symlink records none.
  bool wants_symlink() const { return projected() && ino == 0; }
};

enum class BlobState : uint8_t { ok, missing, wrong_size, wrong_content, wrong_mode, unreadable };

struct Blob {
  cas::BlobKey key;
  std::string rel;  // relative to The Source's root
  BlobState state = BlobState::ok;
  struct stat st {};
  std::vector<uint32_t> users;  // items naming it
};

enum class Where : uint8_t { project, source };

const struct stat k_nothing_there {};  // st_ino 0

// What one check pass found; turned into DoctorProblems for the report.
struct Finding {
  Kind kind;
  Where where = Where::project;
  std::string rel;
  std::string why;
  std::string action;
  uint32_t item = k_none;
  uint32_t blob = k_none;
  struct stat seen {};  // what the path held when it was checked (st_ino 0: nothing)
};

// Directory mtimes to put back after repair changed entries in them.
class DirTimes {
 public:
  explicit DirTimes(int root_fd) : m_root(root_fd) {}
  // Remembers the mtime `dir` has now, the first time it is named.
  void before_change(const std::string& dir) {
    if (m_saved.count(dir) != 0) {
      return;
    }
    struct stat st;
    if (::fstatat(m_root, dir.empty() ? "." : dir.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      m_saved.emplace(dir, st.st_mtim);
    }
  }
  void set(const std::string& dir, int64_t mtime_ns) { m_saved[dir] = from_ns(mtime_ns); }
  void put_back() {
    for (auto it = m_saved.rbegin(); it != m_saved.rend(); ++it) {
      timespec times[2] = {{0, UTIME_OMIT}, it->second};
      ::utimensat(m_root, it->first.empty() ? "." : it->first.c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
    m_saved.clear();
  }

 private:
  int m_root;
  std::map<std::string, timespec> m_saved;
};

class Doctor {
 public:
  Doctor(const ProjectPaths& project, const Config& config, cas::TheSource& source, manifest::LmdbManifest& manifest,
         const DoctorOptions& options)
      : m_project(project), m_config(config), m_source(source), m_manifest(manifest), m_options(options) {}

  Outcome<DoctorReport> run();

 private:
  Outcome<void> load();
  uint64_t check_base_index();
  std::vector<Finding> check(bool deep);
  void check_blob(Blob& blob, bool deep);
  void check_item(uint32_t index, std::vector<Finding>& out);
  void check_file(uint32_t index, std::vector<Finding>& out);
  void scan_dir(const Item& dir, std::vector<Finding>& out);
  void scan_source_temps(std::vector<Finding>& out);
  std::string blob_abs(const Blob& blob) const { return m_source.root() + "/" + blob.rel; }
  std::string users_text(const Blob& blob) const;

  // Repair.
  void repair_leftovers(const std::vector<Finding>& found);
  void repair_blobs();
  bool restore_blob(Blob& blob);
  bool restore_from_short_name(Blob& blob);
  UniqueFd open_with_content(int dirfd, const char* rel, const cas::BlobKey& key, struct stat& st);
  bool quarantine(Blob& blob);
  void repair_paths(const std::vector<Finding>& found);
  void name_for_symlink(const Blob& blob);
  bool relink(Item& item, const Expected& expected, std::string& done);
  Outcome<void> write_manifest_changes();
  void reingest(const std::vector<std::string>& paths, Mode mode);
  void note(const std::string& what, const std::string& rel, const std::string& why) {
    m_report.notes.push_back(Failure{what, abs(rel), why});
  }
  // A repair that did not happen: `what` failed, or the path changed since it was
  // checked (a program put something there meanwhile, which stays).
  void not_repaired(const std::string& what, const std::string& rel, const Error& error) {
    if (error.code == Errc::changed) {
      note("left as it is", rel, "it changed while doctor was repairing it; run `vrift doctor` again");
    } else {
      note(what, rel, error_reason(error));
    }
  }
  void done(const std::string& rel, std::string text) { m_done[{Where::project, rel}] = std::move(text); }
  void done_source(const std::string& rel, std::string text) { m_done[{Where::source, rel}] = std::move(text); }
  std::string abs(const std::string& rel) const { return rel.empty() ? m_project.root : m_project.root + "/" + rel; }
  Mode project_mode() const;

  const ProjectPaths& m_project;
  const Config& m_config;
  cas::TheSource& m_source;
  manifest::LmdbManifest& m_manifest;
  const DoctorOptions& m_options;

  UniqueFd m_root_fd;
  unsigned m_jobs = 1;
  std::vector<Item> m_items;
  std::vector<Blob> m_blobs;
  std::unordered_set<std::string_view> m_paths;  // every manifest path (views into m_items)
  std::vector<uint32_t> m_scan_dirs;             // directories listed for leftovers
  std::vector<std::string> m_restored;
  std::mutex m_mutex;
  std::atomic<uint64_t> m_hashed_bytes{0};
  DoctorReport m_report;

  // Repair state.
  std::map<std::pair<Where, std::string>, std::string> m_done;  // what repair did, per path
  std::vector<std::pair<std::string, int64_t>> m_made_dirs;      // directories made again, with their mtimes
  std::vector<std::pair<std::string, std::string>> m_lost;       // entries dropped: path, blob
  std::set<std::string> m_lost_blobs;                            // blobs no copy of was found
  std::vector<std::pair<std::string, std::string>> m_changed_in_place;  // path, blob: written through a hardlink
  std::vector<uint32_t> m_drop;               // entries to drop: their content is gone
  std::vector<std::pair<uint32_t, uint64_t>> m_new_ino;  // entries whose hardlink got another inode
  std::vector<std::string> m_reingest_solid;
  std::vector<std::string> m_reingest_phantom;
  std::vector<uint32_t> m_forget_first;  // entries to drop before their path is ingested again
};

Outcome<void> Doctor::load() {
  auto txn = m_manifest.read();
  if (!txn) {
    return failure("cannot read manifest", m_project.manifest_dir(), txn.error());
  }
  std::unordered_map<std::string, uint32_t> blob_index;
  std::unordered_set<std::string> leaf_parents;  // directories with files or symlinks recorded in them
  auto visited = m_manifest.for_each(*txn, [&](std::string_view path, const Entry& e) {
    Item item;
    item.path.assign(path);
    item.kind = e.kind;
    item.tier = e.tier;
    item.flags = e.flags;
    item.mode = e.mode;
    item.size = e.size;
    item.ino = e.ino;
    item.mtime_ns = e.mtime_ns;
    item.hash = e.hash;
    item.ext.assign(e.ext);
    item.target.assign(e.target);
    if (e.kind == EntryKind::file) {
      cas::BlobKey key = manifest::blob_key(e);
      char rel[cas::k_max_blob_rel_path + 1];
      cas::blob_rel_path(key, rel);
      auto [it, inserted] = blob_index.emplace(rel, static_cast<uint32_t>(m_blobs.size()));
      if (inserted) {
        Blob blob;
        blob.key = key;
        blob.rel = rel;
        m_blobs.push_back(std::move(blob));
      }
      item.blob = it->second;
      m_blobs[it->second].users.push_back(static_cast<uint32_t>(m_items.size()));
    }
    if (e.kind != EntryKind::dir) {
      leaf_parents.insert(parent_of(path));
    }
    m_items.push_back(std::move(item));
    return true;
  });
  if (!visited) {
    return failure("cannot read manifest", m_project.manifest_dir(), visited.error());
  }
  txn->reset();
  m_paths.reserve(m_items.size());
  for (uint32_t i = 0; i < m_items.size(); ++i) {
    const Item& item = m_items[i];
    m_paths.insert(item.path);
    switch (item.kind) {
      case EntryKind::file: ++m_report.files; break;
      case EntryKind::dir: ++m_report.dirs; break;
      case EntryKind::symlink: ++m_report.symlinks; break;
      case EntryKind::whiteout: break;
    }
    // A directory is projected when ingest walked it: inside a projected path, or
    // holding recorded files. Parents recorded only to connect the tree to the root
    // hold the user's other files.
    if (item.kind == EntryKind::dir &&
        (under_any(item.path, m_config.projected) || leaf_parents.count(item.path) != 0)) {
      m_scan_dirs.push_back(i);
    }
  }
  m_report.entries = m_items.size();
  m_report.blobs = m_blobs.size();
  auto restored = load_restored(m_project);
  if (!restored) {
    return tl::unexpected(restored.error());
  }
  m_restored = std::move(*restored);
  return {};
}

std::string Doctor::users_text(const Blob& blob) const {
  if (blob.users.empty()) {
    return "used by no entry";
  }
  std::string text = fmt::format("used by {} entr{}: {}", blob.users.size(), blob.users.size() == 1 ? "y" : "ies",
                                 m_items[blob.users[0]].path);
  for (size_t i = 1; i < blob.users.size() && i < 3; ++i) {
    text += ", " + m_items[blob.users[i]].path;
  }
  if (blob.users.size() > 3) {
    text += ", ...";
  }
  return text;
}

void Doctor::check_blob(Blob& blob, bool deep) {
  if (::fstatat(m_source.root_fd(), blob.rel.c_str(), &blob.st, AT_SYMLINK_NOFOLLOW) != 0) {
    blob.state = errno == ENOENT ? BlobState::missing : BlobState::unreadable;
    return;
  }
  if (!S_ISREG(blob.st.st_mode) || static_cast<uint64_t>(blob.st.st_size) != blob.key.size) {
    blob.state = BlobState::wrong_size;
    return;
  }
  blob.state = (blob.st.st_mode & 07777) == cas::blob_mode(blob.key) ? BlobState::ok : BlobState::wrong_mode;
  if (deep) {
    UniqueFd fd(::openat(m_source.root_fd(), blob.rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    auto digest = fd ? hash::hash_fd(fd.get()) : fail_sys("open");
    if (!digest) {
      blob.state = BlobState::unreadable;
      return;
    }
    m_hashed_bytes.fetch_add(digest->size, std::memory_order_relaxed);
    if (digest->digest != blob.key.digest || digest->size != blob.key.size) {
      blob.state = BlobState::wrong_content;
    }
  }
}

void Doctor::check_file(uint32_t index, std::vector<Finding>& out) {
  const Item& item = m_items[index];
  const Blob& blob = m_blobs[item.blob];
  struct stat st;
  bool present = ::fstatat(m_root_fd.get(), item.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  auto add = [&](Kind kind, std::string why, std::string action) {
    out.push_back(Finding{kind, Where::project, item.path, std::move(why), std::move(action), index, item.blob,
                          present ? st : k_nothing_there});
  };
  if (!present && errno != ENOENT) {
    add(Kind::unreadable, error_reason(sys_error("stat")), "check the permissions of its directory");
    return;
  }
  bool have_blob = blob.state != BlobState::missing && blob.state != BlobState::unreadable;
  const char* tier = item.tier == Tier::tier1 ? "Tier-1" : "Tier-2";
  if (item.phantom()) {
    if (present) {
      add(Kind::phantom_present,
          fmt::format("a {} exists at the path of a Phantom file: written outside a session",
                      S_ISDIR(st.st_mode) ? "directory" : S_ISLNK(st.st_mode) ? "symlink" : "file"),
          "record it (`vrift doctor --repair` ingests it again)");
    }
    return;
  }
  if (!present) {
    if (item.projected()) {
      add(Kind::missing_link,
          fmt::format("the {} {} to its blob is gone", tier, item.wants_symlink() ? "symlink" : "hardlink"),
          have_blob ? "re-create it from The Source (`vrift doctor --repair`)" : "its blob is missing too");
    } else {
      add(Kind::missing_copy, "the read-only private copy of this file is gone",
          have_blob ? "copy it again from The Source (`vrift doctor --repair`)" : "its blob is missing too");
    }
    return;
  }
  if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = ::readlinkat(m_root_fd.get(), item.path.c_str(), target, sizeof target - 1);
    if (n < 0) {
      add(Kind::unreadable, error_reason(sys_error("readlink")), "check the permissions of its directory");
      return;
    }
    std::string_view link(target, static_cast<size_t>(n));
    if (m_source.is_link_to(blob.key, link)) {
      char path[PATH_MAX];
      char valid[PATH_MAX];
      size_t path_len = m_source.path_of(blob.key, path, sizeof path);
      size_t valid_len = m_source.link_target(blob.key, valid, sizeof valid);
      if (have_blob && link != std::string_view(path, path_len) && link != std::string_view(valid, valid_len)) {
        // (Without the blob, the missing blob is the finding.)
        add(Kind::wrong_link, "the short name of its blob that the symlink names is gone or names other content",
            "re-create the symlink (`vrift doctor --repair`)");
      } else if (!item.wants_symlink()) {
        add(Kind::wrong_link, "a symlink to its blob, where the entry records a hardlink",
            "re-create the hardlink (`vrift doctor --repair`)");
      }
      return;
    }
    bool into_source = m_source.holds_path(link);
    if (into_source && item.projected()) {
      add(Kind::wrong_link, fmt::format("the symlink points at {}, not at its blob", link),
          "re-create it (`vrift doctor --repair`)");
    } else if (item.projected() && cas::names_blob_at_any_root(blob.key, link)) {
      add(Kind::wrong_link, fmt::format("the symlink names its blob in a Source at another place ({})", link),
          "re-create it in this one (`vrift doctor --repair`)");
    } else {
      add(Kind::replaced, fmt::format("a symlink to {} stands where the {} file was", link, tier),
          "keep it and record it (`vrift doctor --repair` ingests it again)");
    }
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    add(Kind::replaced,
        S_ISDIR(st.st_mode) ? std::string("a directory stands where the file was")
                            : std::string("a special file (FIFO, socket or device) stands where the file was"),
        S_ISDIR(st.st_mode) ? "keep it and record it (`vrift doctor --repair` ingests it again)"
                            : "move it away, then run `vrift doctor --repair`");
    return;
  }
  if (!item.projected()) {
    // A private read-only copy ingest left where no link was possible.
    if (static_cast<uint64_t>(st.st_ino) != item.ino || static_cast<uint64_t>(st.st_size) != item.size ||
        to_ns(st.st_mtim) != item.mtime_ns) {
      add(Kind::replaced, "the file changed since it was recorded (outside a session)",
          "keep it and record it (`vrift doctor --repair` ingests it again)");
    }
    return;
  }
  bool is_blob_inode = have_blob && st.st_ino == blob.st.st_ino && st.st_dev == blob.st.st_dev;
  if (is_blob_inode) {
    if (item.wants_symlink()) {
      add(Kind::wrong_link, "a hardlink to its blob, where the entry records a Tier-1 symlink",
          "re-create the symlink (`vrift doctor --repair`)");
      return;
    }
    // statx reports the immutable attribute without opening the file.
    struct statx sx;
    if (::statx(m_root_fd.get(), item.path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
        (sx.stx_attributes_mask & STATX_ATTR_IMMUTABLE) != 0 && (sx.stx_attributes & STATX_ATTR_IMMUTABLE) != 0) {
      add(Kind::frozen_link, "the hardlink's inode is immutable: the file cannot be replaced or removed",
          "clear the flag (`vrift doctor --repair`, as root)");
    }
    return;
  }
  if (!have_blob && static_cast<uint64_t>(st.st_ino) == item.ino) {
    return;  // the blob's name is gone but its inode survives here: reported with the blob
  }
  add(Kind::replaced,
      fmt::format("a regular file ({} bytes{}) stands where the {} {} was: a copy, or content written outside a session",
                  st.st_size, static_cast<uint64_t>(st.st_size) == item.size ? ", the recorded size" : "", tier,
                  item.wants_symlink() ? "symlink" : "hardlink"),
      "keep it and record it (`vrift doctor --repair` re-links a copy of the same content)");
}

void Doctor::check_item(uint32_t index, std::vector<Finding>& out) {
  const Item& item = m_items[index];
  if (item.kind == EntryKind::file) {
    check_file(index, out);
    return;
  }
  struct stat st;
  bool present = ::fstatat(m_root_fd.get(), item.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  auto add = [&](Kind kind, std::string why, std::string action) {
    out.push_back(Finding{kind, Where::project, item.path, std::move(why), std::move(action), index, k_none,
                          present ? st : k_nothing_there});
  };
  if (!present) {
    if (errno != ENOENT) {
      add(Kind::unreadable, error_reason(sys_error("stat")), "check the permissions of its directory");
    } else if (item.kind == EntryKind::dir) {
      if (item.phantom()) {
        return;  // a virtual directory: made when a program needs it (shim/vfs.hpp)
      }
      add(Kind::missing_dir, "the directory is gone", "make it again (`vrift doctor --repair`)");
    } else {
      add(Kind::missing_symlink, fmt::format("the symlink (to {}) is gone", item.target),
          "make it again (`vrift doctor --repair`)");
    }
    return;
  }
  if (item.kind == EntryKind::dir) {
    if (!S_ISDIR(st.st_mode)) {
      add(Kind::replaced, "something other than a directory stands at the path of a directory",
          "keep it and record it (`vrift doctor --repair` ingests it again)");
    }
    return;
  }
  if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = ::readlinkat(m_root_fd.get(), item.path.c_str(), target, sizeof target - 1);
    if (n >= 0 && std::string_view(target, static_cast<size_t>(n)) == item.target) {
      return;
    }
  }
  add(Kind::replaced, "the symlink was changed outside a session",
      "keep it and record it (`vrift doctor --repair` ingests it again)");
}

namespace {

// A regular file not readable by everyone, which ingest never stores.
bool is_private_file(int dir_fd, const dirent* ent) {
  if (ent->d_type != DT_REG && ent->d_type != DT_UNKNOWN) {
    return false;
  }
  struct stat st;
  return ::fstatat(dir_fd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
         (st.st_mode & S_IROTH) == 0;
}

}  // namespace

void Doctor::scan_dir(const Item& dir, std::vector<Finding>& out) {
  UniqueFd fd(::openat(m_root_fd.get(), dir.path.empty() ? "." : dir.path.c_str(),
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    return;  // reported by the entry's own check
  }
  DIR* d = ::fdopendir(fd.get());
  if (d == nullptr) {
    return;
  }
  fd.release();
  std::string rel;
  while (dirent* ent = ::readdir(d)) {
    std::string_view name = ent->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    rel.assign(dir.path);
    if (!rel.empty()) {
      rel += '/';
    }
    rel += name;
    if (is_projection_temp(rel)) {
      if (stale_project_temp(rel)) {
        out.push_back(Finding{Kind::stale_temp, Where::project, rel,
                              "a temp left by an interrupted ingest or write (its process is gone)",
                              "remove it (`vrift doctor --repair`)"});
      }
      continue;
    }
    if (name == ".vrift" || m_paths.count(rel) != 0 || under_any(rel, m_restored)) {
      continue;
    }
    if (is_private_file(::dirfd(d), ent)) {
      continue;  // ingest leaves it as it is (blobs are readable by everyone)
    }
    const char* what = ent->d_type == DT_DIR ? "a directory" : ent->d_type == DT_LNK ? "a symlink" : "a file";
    out.push_back(Finding{Kind::unrecorded, Where::project, rel,
                          fmt::format("{} the manifest does not know: made outside a session, or by a program that "
                                      "died before closing it",
                                      what),
                          "record it (`vrift doctor --repair` ingests it)"});
  }
  ::closedir(d);
}

void Doctor::scan_source_temps(std::vector<Finding>& out) {
  UniqueFd fd(::openat(m_source.root_fd(), "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* d = fd ? ::fdopendir(fd.get()) : nullptr;
  if (d == nullptr) {
    return;
  }
  fd.release();
  while (dirent* ent = ::readdir(d)) {
    std::string_view name = ent->d_name;
    if (name != "." && name != ".." && stale_source_temp(name)) {
      out.push_back(Finding{Kind::stale_source_temp, Where::source, "tmp/" + std::string(name),
                            is_staging_dir_name(name)
                                ? "the staging directory of an interrupted ingest (its process is gone)"
                                : "a staged copy left by an interrupted store (its process is gone)",
                            "remove it (`vrift doctor --repair`)"});
    }
  }
  ::closedir(d);
}

std::vector<Finding> Doctor::check(bool deep) {
  parallel_for(m_blobs.size(), m_jobs, [&](size_t i) { check_blob(m_blobs[i], deep); });
  std::vector<Finding> found;
  for (uint32_t b = 0; b < m_blobs.size(); ++b) {
    Blob& blob = m_blobs[b];
    auto add = [&](Kind kind, std::string why, std::string action) {
      found.push_back(Finding{kind, Where::source, blob.rel, std::move(why), std::move(action), k_none, b});
    };
    switch (blob.state) {
      case BlobState::ok: break;
      case BlobState::missing:
        add(Kind::missing_blob, fmt::format("not in The Source ({})", users_text(blob)),
            "`vrift doctor --repair` stores it again from its short name or a project path that still holds the content, if any");
        break;
      case BlobState::wrong_size:
        add(Kind::damaged_blob,
            S_ISREG(blob.st.st_mode)
                ? fmt::format("{} bytes, its name says {} ({})", blob.st.st_size, blob.key.size, users_text(blob))
                : fmt::format("not a regular file ({})", users_text(blob)),
            "`vrift doctor --repair` moves it out of the way and stores the content again from a good copy, if any");
        break;
      case BlobState::wrong_content:
        add(Kind::damaged_blob, fmt::format("its content does not hash to its name ({})", users_text(blob)),
            "`vrift doctor --repair` moves it out of the way and stores the content again from a good copy, if any");
        break;
      case BlobState::wrong_mode:
        add(Kind::blob_mode,
            fmt::format("mode {}, should be {} ({})", mode_text(blob.st.st_mode), mode_text(cas::blob_mode(blob.key)),
                        users_text(blob)),
            "`vrift doctor --repair` rehashes it and puts its mode back");
        break;
      case BlobState::unreadable:
        add(Kind::unreadable, fmt::format("cannot be read ({})", users_text(blob)),
            "check the permissions of The Source");
        break;
    }
  }
  std::vector<std::vector<Finding>> per_item(m_items.size());
  parallel_for(m_items.size(), m_jobs, [&](size_t i) { check_item(static_cast<uint32_t>(i), per_item[i]); });
  std::vector<std::vector<Finding>> per_dir(m_scan_dirs.size());
  parallel_for(m_scan_dirs.size(), m_jobs, [&](size_t i) { scan_dir(m_items[m_scan_dirs[i]], per_dir[i]); });
  for (auto* group : {&per_item, &per_dir}) {
    for (auto& list : *group) {
      for (auto& f : list) {
        found.push_back(std::move(f));
      }
    }
  }
  scan_source_temps(found);
  m_report.scanned_dirs = m_scan_dirs.size();
  std::stable_sort(found.begin(), found.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.where, a.rel) < std::tie(b.where, b.rel);
  });
  return found;
}

Mode Doctor::project_mode() const {
  uint64_t phantom = 0;
  uint64_t files = 0;
  for (const auto& item : m_items) {
    if (item.kind == EntryKind::file) {
      ++files;
      phantom += item.phantom() ? 1 : 0;
    }
  }
  if (files == 0) {
    return m_config.mode;
  }
  return phantom * 2 >= files ? Mode::Phantom : Mode::Solid;
}

// ---------------------------------------------------------------------------------------
// Repair

void Doctor::repair_leftovers(const std::vector<Finding>& found) {
  DirTimes times(m_root_fd.get());
  std::vector<const Item*> dirs;
  for (const auto& f : found) {
    if (f.kind == Kind::stale_temp) {
      times.before_change(parent_of(f.rel));
      if (::unlinkat(m_root_fd.get(), f.rel.c_str(), 0) == 0 || errno == ENOENT) {
        done(f.rel, "removed");
      } else {
        note("cannot remove temp", f.rel, error_reason(sys_error("unlink")));
      }
    } else if (f.kind == Kind::stale_source_temp) {
      if (remove_source_temp(m_source, f.rel) || errno == ENOENT) {
        done_source(f.rel, "removed");
      } else {
        note("cannot remove temp", m_source.root() + "/" + f.rel, error_reason(sys_error("unlink")));
      }
    } else if (f.kind == Kind::missing_dir) {
      dirs.push_back(&m_items[f.item]);
    }
  }
  // Parents first; each gets its recorded mode and, once its entries are back, its mtime.
  std::sort(dirs.begin(), dirs.end(), [](const Item* a, const Item* b) { return a->path.size() < b->path.size(); });
  for (const Item* dir : dirs) {
    times.before_change(parent_of(dir->path));
    if (::mkdirat(m_root_fd.get(), dir->path.c_str(), static_cast<mode_t>(dir->mode & 07777)) == 0 ||
        errno == EEXIST) {
      ::fchmodat(m_root_fd.get(), dir->path.c_str(), static_cast<mode_t>(dir->mode & 07777), 0);
      m_made_dirs.emplace_back(dir->path, dir->mtime_ns);
      done(dir->path, "made again");
    } else {
      note("cannot make directory", dir->path, error_reason(sys_error("mkdir")));
    }
  }
  times.put_back();
}

// Hashes a project path that may hold a missing blob's content and, when it does,
// stores it again (its own inode becomes the blob where it can).
// A blob a Tier-1 symlink needs has a second name, its short name (layout.hpp): the
// same inode, which outlives the loss of the blob's own name, and through which the
// project's symlinks still read. Its content is checked, then it gets the name back.
// The regular file (dirfd, rel), not followed, open with `st` its stat, when it holds
// exactly the blob's bytes (hashed); an empty fd otherwise.
UniqueFd Doctor::open_with_content(int dirfd, const char* rel, const cas::BlobKey& key, struct stat& st) {
  UniqueFd fd(::openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != key.size) {
    return {};
  }
  auto digest = hash::hash_fd(fd.get());
  if (!digest) {
    return {};
  }
  m_hashed_bytes.fetch_add(digest->size, std::memory_order_relaxed);
  if (digest->digest != key.digest || digest->size != key.size) {
    return {};
  }
  return fd;
}

bool Doctor::restore_from_short_name(Blob& blob) {
  char rel[cas::k_max_short_rel_path + 1];
  if (cas::short_rel_path(blob.key, m_source.root().size(), rel) == 0) {
    return false;
  }
  struct stat st;
  // Checked: a shorter id can be another blob's short name.
  UniqueFd fd = open_with_content(m_source.root_fd(), rel, blob.key, st);
  if (!fd) {
    return false;
  }
  // A locked inode takes no new link: unlocked for the moment it takes.
  bool locked = is_immutable(fd.get());
  if (locked && !cas::TheSource::unlock_fd(fd.get())) {
    return false;
  }
  auto named = m_source.name_from_short_name(blob.key, fd.get());
  bool tier1 = std::any_of(blob.users.begin(), blob.users.end(), [&](uint32_t u) { return m_items[u].tier == Tier::tier1; });
  if (locked) {
    (void)cas::TheSource::lock_fd(fd.get());
  } else if (named && tier1) {
    protect_tier1_blob(m_source, blob.key, fd.get(), tier1_protection(m_config));
  }
  if (!named) {
    note("cannot store blob again", m_source.root() + "/" + rel, error_reason(named.error()));
    return false;
  }
  done_source(blob.rel, fmt::format("named again from its short name {}/{}", m_source.root(), rel));
  return true;
}

bool Doctor::restore_blob(Blob& blob) {
  if (restore_from_short_name(blob)) {
    return true;
  }
  for (uint32_t user : blob.users) {
    const Item& item = m_items[user];
    if (item.phantom()) {
      continue;
    }
    struct stat st;
    UniqueFd fd = open_with_content(m_root_fd.get(), item.path.c_str(), blob.key, st);
    if (!fd) {
      continue;
    }
    std::string ext_name = blob.key.extension().empty() ? "blob" : "blob." + std::string(blob.key.extension());
    cas::StoreRequest request;
    request.fd = fd.get();
    request.fd_stat = &st;
    request.path = item.path.c_str();
    request.ext_name = ext_name;
    request.executable = blob.key.executable;
    request.allow_link = true;
    auto stored = m_source.store_file(request);
    if (!stored || !(stored->key == blob.key)) {
      note("cannot store blob again", item.path, stored ? "it was stored under another name" : error_reason(stored.error()));
      continue;
    }
    done_source(blob.rel, fmt::format("stored again from {}", abs(item.path)));
    return true;
  }
  return false;
}

// Moves a damaged blob off its name, into <The Source>/damaged/, keeping it for a look.
bool Doctor::quarantine(Blob& blob) {
  ::mkdirat(m_source.root_fd(), "damaged", 0755);
  size_t slash = blob.rel.rfind('/');
  std::string dest = fmt::format("damaged/{}.{}.{}", blob.rel.substr(slash + 1), ::time(nullptr), ::getpid());
  if (::renameat(m_source.root_fd(), blob.rel.c_str(), m_source.root_fd(), dest.c_str()) != 0) {
    // An immutable inode cannot be renamed: the flag goes first (it protects nothing now).
    UniqueFd fd(::openat(m_source.root_fd(), blob.rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (errno != EPERM || !fd || !cas::TheSource::unlock_fd(fd.get()) ||
        ::renameat(m_source.root_fd(), blob.rel.c_str(), m_source.root_fd(), dest.c_str()) != 0) {
      note("cannot move damaged blob away", m_source.root() + "/" + blob.rel, error_reason(sys_error("rename")));
      return false;
    }
  }
  struct stat moved;
  if (::fstatat(m_source.root_fd(), dest.c_str(), &moved, AT_SYMLINK_NOFOLLOW) == 0) {
    m_source.remove_short_name(blob.key, moved);  // it names the damaged inode too
  }
  blob.state = BlobState::missing;
  done_source(blob.rel, fmt::format("moved to {}/{}", m_source.root(), dest));
  return true;
}

void Doctor::repair_blobs() {
  for (auto& blob : m_blobs) {
    if (blob.state == BlobState::wrong_mode) {
      // It was writable: its content may have changed. Only right content gets its mode back.
      UniqueFd fd(::openat(m_source.root_fd(), blob.rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
      auto digest = fd ? hash::hash_fd(fd.get()) : fail_sys("open");
      if (!digest) {
        note("cannot check blob", m_source.root() + "/" + blob.rel, error_reason(digest.error()));
        continue;
      }
      m_hashed_bytes.fetch_add(digest->size, std::memory_order_relaxed);
      if (digest->digest != blob.key.digest || digest->size != blob.key.size) {
        blob.state = BlobState::wrong_content;
      } else if (::fchmod(fd.get(), static_cast<mode_t>(cas::blob_mode(blob.key))) == 0 ||
                 (errno == EPERM && cas::TheSource::unlock_fd(fd.get()) &&
                  ::fchmod(fd.get(), static_cast<mode_t>(cas::blob_mode(blob.key))) == 0)) {
        blob.state = BlobState::ok;
        done_source(blob.rel, fmt::format("content checked, mode set back to {}", mode_text(cas::blob_mode(blob.key))));
        continue;
      } else {
        note("cannot set blob mode", m_source.root() + "/" + blob.rel, error_reason(sys_error("chmod")));
        continue;
      }
    }
    if (blob.state == BlobState::wrong_size || blob.state == BlobState::wrong_content) {
      if (!quarantine(blob)) {
        continue;
      }
    }
    if (blob.state == BlobState::missing) {
      if (restore_blob(blob)) {
        blob.state = BlobState::ok;
      } else {
        m_lost_blobs.insert(blob.rel);
        auto& text = m_done[{Where::source, blob.rel}];
        text += std::string(text.empty() ? "" : "; ") + "no copy of its content is left anywhere";
      }
    }
  }
}

// A repaired symlink names the blob's short name, made durable first; a locked blob is
// unlocked for the moment it takes to add the name (as root).
void Doctor::name_for_symlink(const Blob& blob) {
  auto named = m_source.add_short_name(blob.key, true);
  if (named || named.error().sys != EPERM) {
    return;
  }
  UniqueFd fd(::openat(m_source.root_fd(), blob.rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (fd && is_immutable(fd.get()) && cas::TheSource::unlock_fd(fd.get())) {
    (void)m_source.add_short_name(blob.key, true);
    (void)cas::TheSource::lock_fd(fd.get());
  }
}

bool Doctor::relink(Item& item, const Expected& expected, std::string& text) {
  Blob& blob = m_blobs[item.blob];
  bool symlink = item.wants_symlink();
  uint64_t ino = 0;
  if (symlink) {
    name_for_symlink(blob);
  }
  LinkOptions how{.symlink = symlink, .ino = &ino, .expect = &expected};
  auto linked = link_projection(m_root_fd.get(), m_source, blob.key, item.path, how);
  if (!linked && !symlink && linked.error().sys == EPERM) {
    // A Tier-2 link to a locked blob: the blob becomes linkable content (as ingest
    // leaves a blob both tiers use).
    UniqueFd fd(::openat(m_source.root_fd(), blob.rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (fd && cas::TheSource::unlock_fd(fd.get())) {
      linked = link_projection(m_root_fd.get(), m_source, blob.key, item.path, how);
    }
  }
  if (!linked) {
    not_repaired("cannot link file", item.path, linked.error());
    return false;
  }
  if (symlink) {
    if (item.tier == Tier::tier1) {
      protect_tier1_blob(m_source, blob.key, -1, tier1_protection(m_config));
    }
    text = "symlink to its blob made again";
  } else {
    if (ino != item.ino) {
      m_new_ino.emplace_back(static_cast<uint32_t>(&item - m_items.data()), ino);
    }
    text = "hardlink to its blob made again";
  }
  return true;
}

void Doctor::repair_paths(const std::vector<Finding>& found) {
  DirTimes times(m_root_fd.get());
  auto reingest_later = [&](const Item* item, const std::string& rel) {
    bool phantom = item != nullptr ? item->phantom() : project_mode() == Mode::Phantom;
    (phantom ? m_reingest_phantom : m_reingest_solid).push_back(rel);
  };
  for (const auto& f : found) {
    Item* item = f.item != k_none ? &m_items[f.item] : nullptr;
    switch (f.kind) {
      case Kind::stale_temp:
        times.before_change(parent_of(f.rel));
        if (::unlinkat(m_root_fd.get(), f.rel.c_str(), 0) == 0) {
          done(f.rel, "removed");
        } else if (errno == EISDIR && put_back_aside(m_root_fd.get(), f.rel)) {
          done(f.rel, "put back under its own name");
          reingest_later(nullptr, original_of_aside(f.rel));  // its files leave again
        }
        break;
      case Kind::missing_link:
      case Kind::wrong_link:
      case Kind::missing_copy: {
        const Blob& blob = m_blobs[item->blob];
        if (blob.state != BlobState::ok && blob.state != BlobState::wrong_mode) {
          break;  // handled with the content of the missing blob, below
        }
        times.before_change(parent_of(f.rel));
        std::string text;
        Expected expected{.file = &f.seen};
        if (f.kind != Kind::missing_copy) {
          if (relink(*item, expected, text)) {
            done(f.rel, text);
          }
          break;
        }
        uint64_t ino = 0;
        if (auto copied = copy_blob_to(m_root_fd.get(), m_source, blob.key, item->path, item->mtime_ns, ino, &expected);
            !copied) {
          not_repaired("cannot copy file", item->path, copied.error());
          break;
        }
        if (ino != 0) {
          m_new_ino.emplace_back(f.item, ino);
        }
        done(f.rel, "read-only private copy made again from The Source");
        break;
      }
      case Kind::missing_symlink: {
        times.before_change(parent_of(f.rel));
        std::string tmp = temp_beside(item->path);
        Status made = ::symlinkat(item->target.c_str(), m_root_fd.get(), tmp.c_str()) == 0
                          ? place_checked(m_root_fd.get(), tmp.c_str(), m_root_fd.get(), item->path.c_str(),
                                          Expected{.file = &f.seen})
                          : fail_sys("symlink");
        if (made) {
          done(f.rel, "made again");
        } else {
          not_repaired("cannot make symlink", item->path, made.error());
          ::unlinkat(m_root_fd.get(), tmp.c_str(), 0);
        }
        break;
      }
      case Kind::frozen_link: {
        UniqueFd fd(::openat(m_root_fd.get(), item->path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
        auto cleared = fd ? cas::TheSource::unlock_fd(fd.get()) : fail_sys("open");
        if (cleared) {
          done(f.rel, "immutable flag cleared (its blob is linkable content)");
        } else {
          note("cannot clear the immutable flag", item->path,
               std::string(error_reason(cleared.error())) + " (needs root: CAP_LINUX_IMMUTABLE)");
        }
        break;
      }
      case Kind::replaced:
      case Kind::phantom_present:
        reingest_later(item, f.rel);
        break;
      case Kind::unrecorded:
        reingest_later(nullptr, f.rel);
        break;
      default:
        break;
    }
  }
  // Entries whose blob could not be had again: a regular file at the path holds what is
  // left of the content (written in place through a hardlink): keep it and record it.
  // Otherwise the content is gone everywhere.
  for (uint32_t b = 0; b < m_blobs.size(); ++b) {
    const Blob& blob = m_blobs[b];
    if (blob.state != BlobState::missing) {
      continue;
    }
    for (uint32_t user : blob.users) {
      Item& item = m_items[user];
      struct stat st;
      bool present = ::fstatat(m_root_fd.get(), item.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
      if (present && item.phantom()) {
        continue;  // recorded again as a file at a Phantom path
      }
      if (present && !S_ISLNK(st.st_mode)) {
        if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_ino) == item.ino) {
          // Same inode as the lost blob: written in place. Ingest would take it as
          // unchanged, so the entry goes first.
          m_forget_first.push_back(user);
          m_changed_in_place.emplace_back(item.path, blob.rel);
          done(item.path, "kept what the file holds now and recorded it");
        }
        reingest_later(&item, item.path);
        continue;
      }
      if (present) {
        char target[PATH_MAX];
        ssize_t n = ::readlinkat(m_root_fd.get(), item.path.c_str(), target, sizeof target);
        if (n < 0 || !m_source.is_link_to(blob.key, std::string_view(target, static_cast<size_t>(n)))) {
          reingest_later(&item, item.path);  // a symlink of the user's: record it
          continue;
        }
        times.before_change(parent_of(item.path));
        ::unlinkat(m_root_fd.get(), item.path.c_str(), 0);  // dangling: it named the lost blob
      }
      m_drop.push_back(user);
      m_lost.emplace_back(item.path, blob.rel);
    }
  }
  times.put_back();
}

Outcome<void> Doctor::write_manifest_changes() {
  if (m_drop.empty() && m_new_ino.empty() && m_forget_first.empty()) {
    return {};
  }
  bool shared = m_manifest.base_is_shared();
  auto written = m_manifest.write([&](manifest::WriteTxn& txn) -> Status {
    auto forget = [&](const std::string& path) { return forget_entry(txn, shared, path); };
    for (uint32_t i : m_drop) {
      VRIFT_CHECK(forget(m_items[i].path));
    }
    for (uint32_t i : m_forget_first) {
      VRIFT_CHECK(forget(m_items[i].path));
    }
    for (const auto& [i, ino] : m_new_ino) {
      Entry e;
      const std::string& path = m_items[i].path;
      Layer layer = Layer::delta;
      bool found = VRIFT_TRY(txn.get(Layer::delta, path, e));
      if (!found || e.is_whiteout()) {
        layer = Layer::base;
        found = VRIFT_TRY(txn.get(Layer::base, path, e));
      }
      if (!found || e.is_whiteout()) {
        continue;
      }
      // `e` points into the transaction's pages: copy the strings before writing.
      std::string ext(e.ext);
      std::string target(e.target);
      e.ext = ext;
      e.target = target;
      e.ino = ino;
      VRIFT_CHECK(txn.put(shared && layer == Layer::base ? Layer::delta : layer, path, e));
    }
    return {};
  });
  if (!written) {
    return failure("cannot write manifest", m_project.manifest_dir(), written.error());
  }
  m_report.dropped += m_drop.size();
  return {};
}

void Doctor::reingest(const std::vector<std::string>& paths, Mode mode) {
  std::vector<std::string> present;
  for (const auto& p : paths) {
    struct stat st;
    if (::fstatat(m_root_fd.get(), p.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      present.push_back(p);
    }
  }
  if (present.empty()) {
    return;
  }
  std::sort(present.begin(), present.end());
  present.erase(std::unique(present.begin(), present.end()), present.end());
  IngestOptions options;
  options.paths = present;
  options.mode = mode;
  options.jobs = m_options.jobs;
  auto summary = ingest(m_project, m_config, m_source, m_manifest, options,
                        [&](const Failure& f) { m_report.notes.push_back(f); });
  if (!summary) {
    m_report.notes.push_back(summary.error());
    return;
  }
  m_report.reingested += present.size();
  // Say, per path, whether it was a copy of its recorded content or new content.
  std::unordered_map<std::string_view, const Item*> before;
  for (const auto& item : m_items) {
    before.emplace(item.path, &item);
  }
  auto txn = m_manifest.read();
  if (!txn) {
    return;
  }
  for (const auto& p : present) {
    if (m_done.count({Where::project, p}) != 0) {
      continue;
    }
    Entry e;
    auto got = m_manifest.get(*txn, p, e);
    auto it = before.find(p);
    if (!got || !*got) {
      done(p, "could not be recorded (see the warnings)");
    } else if (it != before.end() && it->second->kind == EntryKind::file && e.kind == EntryKind::file &&
               e.hash == it->second->hash && e.size == it->second->size) {
      done(p, mode == Mode::Phantom ? "same content as recorded: removed from the path again"
                                    : "same content as recorded: linked again");
    } else {
      done(p, mode == Mode::Phantom ? "kept as the latest content: recorded, and served from The Source"
                                    : "kept as the latest content: recorded and projected");
    }
  }
}

// The base index against the manifest (deep or repair: it looks every base entry up). A
// disagreement is reported; repair rebuilds the index under a new stamp, which every
// process still holding the damaged one then stops using. Returns the problems left.
uint64_t Doctor::check_base_index() {
  std::string file = m_project.manifest_dir() + "/" + std::string(manifest::k_base_index_name);
  auto disagree = m_manifest.verify_base_index();
  if (disagree && *disagree == 0) {
    return 0;
  }
  DoctorProblem p;
  p.kind = Kind::damaged_index;
  p.path = file;
  p.why = disagree ? fmt::format("it answers {} lookups differently from the manifest", *disagree)
                   : fmt::format("it cannot be checked ({})", error_reason(disagree.error()));
  p.action = "run vrift doctor --repair (it rebuilds the index)";
  if (m_options.repair) {
    auto rebuilt = m_manifest.rebuild_base_index(m_config.index_min_entries);
    auto after = rebuilt ? m_manifest.verify_base_index() : Result<uint64_t>(0);
    p.fixed = rebuilt && after && *after == 0;
    p.action = p.fixed ? "rebuilt" : "not repaired: remove it (ingest writes it again)";
  }
  m_report.problems.push_back(std::move(p));
  return m_report.problems.back().fixed ? 0 : 1;
}

Outcome<DoctorReport> Doctor::run() {
  auto started = std::chrono::steady_clock::now();
  m_root_fd.reset(::open(m_project.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!m_root_fd) {
    return failure("cannot open project", m_project.root, sys_error("open"));
  }
  m_jobs = default_jobs(m_options.jobs);
  m_report.deep = m_options.deep;
  m_report.repaired = m_options.repair;
  if (auto loaded = load(); !loaded) {
    return tl::unexpected(loaded.error());
  }
  std::vector<Finding> first = check(m_options.deep);
  std::vector<Finding> last;
  if (m_options.repair && !first.empty()) {
    // Repairs store blobs and name them: gc waits meanwhile (the_source.hpp). A clean
    // project (the common startup check) never waits for a gc.
    auto references = m_source.hold_references(true);
    if (!references) {
      return failure("cannot lock The Source", m_source.root() + "/gc.lock", references.error());
    }
    repair_leftovers(first);
    repair_blobs();
    // Links are judged again now that blobs are back (or known to be gone).
    std::vector<Finding> second = check(false);
    repair_paths(second);
    if (auto written = write_manifest_changes(); !written) {
      return tl::unexpected(written.error());
    }
    {
      // Directories made again, and those ingest is about to record again, get the
      // mtime the manifest holds for them: ingest records what it finds on disk, and
      // what repair (or an interrupted restore) did there is no change of the user's.
      DirTimes times(m_root_fd.get());
      for (const auto& [dir, mtime] : m_made_dirs) {
        times.set(dir, mtime);
      }
      std::unordered_map<std::string_view, int64_t> recorded;
      for (const auto& item : m_items) {
        if (item.kind == EntryKind::dir) {
          recorded.emplace(item.path, item.mtime_ns);
        }
      }
      for (const auto* list : {&m_reingest_solid, &m_reingest_phantom}) {
        for (const auto& path : *list) {
          for (std::string dir = parent_of(path);; dir = parent_of(dir)) {
            if (auto it = recorded.find(dir); it != recorded.end()) {
              times.set(dir, it->second);
            }
            if (dir.empty()) {
              break;
            }
          }
        }
      }
      times.put_back();
    }
    reingest(m_reingest_solid, Mode::Solid);
    reingest(m_reingest_phantom, Mode::Phantom);
    // The manifest changed under us: read it again for the last check.
    m_items.clear();
    m_blobs.clear();
    m_paths.clear();
    m_scan_dirs.clear();
    DoctorReport counts = m_report;
    if (auto loaded = load(); !loaded) {
      return tl::unexpected(loaded.error());
    }
    last = check(m_options.deep);
    m_report.entries = counts.entries;
    m_report.blobs = counts.blobs;
    m_report.files = counts.files;
    m_report.dirs = counts.dirs;
    m_report.symlinks = counts.symlinks;
  } else {
    last = first;
  }

  std::set<std::pair<Where, std::string>> still;
  for (const auto& f : last) {
    still.emplace(f.where, f.rel);
  }
  auto to_problem = [&](const Finding& f, bool fixed) {
    DoctorProblem p;
    p.kind = f.kind;
    p.path = f.where == Where::source ? m_source.root() + "/" + f.rel : abs(f.rel);
    p.why = f.why;
    p.action = f.action;
    p.fixed = fixed;
    if (m_options.repair) {
      auto it = m_done.find({f.where, f.rel});
      p.action = it != m_done.end() ? it->second : fixed ? std::string("repaired") : "not repaired: " + f.action;
      p.fixed = fixed && !(f.where == Where::source && m_lost_blobs.count(f.rel) != 0);
    }
    return p;
  };
  std::set<std::pair<Where, std::string>> reported;
  for (const auto& f : first) {
    m_report.problems.push_back(to_problem(f, m_options.repair && still.count({f.where, f.rel}) == 0));
    reported.emplace(f.where, f.rel);
  }
  // Dropped entries are said by name: their content is gone for good.
  for (const auto& [path, blob] : m_lost) {
    DoctorProblem p;
    p.kind = Kind::content_lost;
    p.path = abs(path);
    p.why = fmt::format("neither its blob ({}/{}) nor any copy of its content is left", m_source.root(), blob);
    p.action = "entry dropped from the manifest; get the file again from where it came from (reinstall, rebuild)";
    m_report.problems.push_back(std::move(p));
  }
  if (m_options.repair) {
    for (const auto& f : last) {
      if (reported.count({f.where, f.rel}) == 0) {
        m_report.problems.push_back(to_problem(f, false));
      }
    }
  }
  for (const auto& [path, blob] : m_changed_in_place) {
    DoctorProblem p;
    p.kind = Kind::content_lost;
    p.path = abs(path);
    p.why = fmt::format("the recorded content is gone: the file shares the inode of its blob ({}/{}), which was "
                        "written in place",
                        m_source.root(), blob);
    p.action = m_done[{Where::project, path}];
    m_report.problems.push_back(std::move(p));
  }
  uint64_t index_problems = m_options.deep || m_options.repair ? check_base_index() : 0;
  m_report.remaining = m_options.repair ? static_cast<uint64_t>(std::count_if(m_report.problems.begin(),
                                                                              m_report.problems.end(),
                                                                              [](const auto& p) { return !p.fixed; }))
                                        : last.size() + index_problems;
  m_report.hashed_bytes = m_hashed_bytes.load();
  m_report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return m_report;
}

}  // namespace

Outcome<DoctorReport> doctor(const ProjectPaths& project, const Config& config, cas::TheSource& source,
                             manifest::LmdbManifest& manifest, const DoctorOptions& options) {
  Doctor d(project, config, source, manifest, options);
  return d.run();
}

}  // namespace vrift::project
