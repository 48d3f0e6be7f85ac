#include "project/gc.hpp"

#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <string_view>
#include <unordered_set>

#include "base/io.hpp"
#include "cas/layout.hpp"
#include "cas/projects.hpp"
#include "manifest/lmdb_manifest.hpp"
#include "project/projection.hpp"

namespace vrift::project {

namespace {

using manifest::Entry;
using manifest::EntryKind;
using manifest::Layer;

constexpr time_t k_stray_age_seconds = 3600;  // as `cas verify` tells strays apart

bool has_manifest(const std::string& root) {
  struct stat st;
  return ::stat((root + "/.vrift/manifest.lmdb/data.mdb").c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Appends the file name of every blob a file entry of either layer names.
Outcome<void> mark_project(const std::string& root, std::vector<std::string>& names) {
  std::string dir = root + "/.vrift/manifest.lmdb";
  auto unreadable = [&](const Error& e) {
    return failure("cannot read the manifest of a project using The Source", dir,
                   std::string(error_reason(e)) +
                       "; repair it (`vrift doctor` in the project) or delete the project, then run gc again "
                       "(nothing was removed)");
  };
  manifest::OpenOptions options;
  options.read_only = true;
  auto manifest = manifest::LmdbManifest::open(dir.c_str(), options);
  if (!manifest) {
    return unreadable(manifest.error());
  }
  auto txn = manifest->read();
  if (!txn) {
    return unreadable(txn.error());
  }
  for (Layer layer : {Layer::base, Layer::delta}) {
    Status visited = manifest->for_each(*txn, layer, [&](std::string_view, const Entry& e) {
      if (e.kind == EntryKind::file) {
        char name[cas::k_max_blob_rel_path + 1];
        size_t len = cas::blob_file_name(manifest::blob_key(e), name);
        names.emplace_back(name, len);
      }
      return true;
    });
    if (!visited) {
      return unreadable(visited.error());
    }
  }
  return {};
}

class Collector {
 public:
  Collector(cas::TheSource& source, const GcOptions& options, const std::function<void(const Failure&)>& warn)
      : m_source(source), m_options(options), m_warn(warn) {}

  Outcome<void> mark(GcReport& report) {
    auto registered = cas::registered_projects(m_source);
    if (!registered) {
      return failure("cannot read the projects registered with The Source", m_source.root() + "/projects",
                     registered.error());
    }
    std::vector<cas::RegisteredProject> present;
    std::vector<cas::RegisteredProject> gone;
    for (auto& p : *registered) {
      (has_manifest(p.root) ? present : gone).push_back(std::move(p));
    }
    for (const auto& p : gone) {
      report.missing.push_back(p.root);
    }
    if (!gone.empty() && !m_options.forget_missing) {
      for (size_t i = 1; i < gone.size(); ++i) {
        m_warn({"registered project is gone", gone[i].root, "no manifest at its path"});
      }
      return failure("registered project is gone", gone[0].root,
                     std::to_string(gone.size()) +
                         " project(s) registered with The Source have no manifest at their path (deleted, or "
                         "moved and not used since): run any vrift command in a moved project, then `vrift gc "
                         "--forget-missing` to forget the deleted ones (nothing was removed)");
    }
    for (const auto& p : present) {
      if (auto marked = mark_project(p.root, m_referenced); !marked) {
        return marked;
      }
      ++report.projects;
    }
    std::sort(m_referenced.begin(), m_referenced.end());
    m_referenced.erase(std::unique(m_referenced.begin(), m_referenced.end()), m_referenced.end());
    report.referenced = m_referenced.size();
    for (const std::string& name : m_referenced) {
      cas::BlobKey key;
      char short_rel[cas::k_max_short_rel_path + 1];
      if (cas::parse_blob_name(name, key) && cas::short_rel_path(key, m_source.root().size(), short_rel) != 0) {
        m_referenced_short.insert(short_rel);
      }
    }
    if (!m_options.dry_run) {
      for (const auto& p : gone) {
        if (auto forgot = cas::forget_project(m_source, p.id); !forgot) {
          return failure("cannot forget a registered project", p.root, forgot.error());
        }
      }
      report.forgot_missing = !gone.empty();
    }
    return {};
  }

  // Every blob no manifest names goes, with its short name.
  Outcome<void> sweep_blobs(GcReport& report) {
    auto shards = list_dir(m_source.root_fd(), "blake3");
    if (!shards) {
      return failure("cannot list The Source", m_source.root() + "/blake3", shards.error());
    }
    for (const std::string& shard : *shards) {
      std::string shard_rel = "blake3/" + shard;
      auto names = list_dir(m_source.root_fd(), shard_rel.c_str());
      if (!names) {
        continue;  // not a shard directory
      }
      for (const std::string& name : *names) {
        cas::BlobKey key;
        if (!cas::parse_blob_name(name, key)) {
          continue;  // not a blob: `cas verify` reports it; gc removes only blobs
        }
        ++report.blobs;
        if (std::binary_search(m_referenced.begin(), m_referenced.end(), name)) {
          continue;
        }
        std::string rel = shard_rel + "/" + name;
        struct stat st;
        if (::fstatat(m_source.root_fd(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
          continue;
        }
        char short_rel[cas::k_max_short_rel_path + 1];
        bool with_short = m_source.has_short_name(key, st) &&
                          cas::short_rel_path(key, m_source.root().size(), short_rel) != 0;
        if (!m_options.dry_run) {
          // The short name first: a crash between the two leaves a blob no symlink can
          // reach by its short name, which the next gc removes like any other.
          if (with_short && !remove(short_rel, report)) {
            continue;
          }
          if (!remove(rel.c_str(), report)) {
            continue;
          }
        }
        ++report.removed;
        report.removed_bytes += key.size;
        if (st.st_nlink <= (with_short ? 2u : 1u)) {
          report.freed_bytes += static_cast<uint64_t>(st.st_blocks) * 512;
        }
      }
    }
    return {};
  }

  // Short names whose inode has no other name (its blob is gone) and no manifest names.
  void sweep_short_names(GcReport& report) {
    for (const char* dir : {"s", "x"}) {
      auto names = list_dir(m_source.root_fd(), dir);
      if (!names) {
        continue;  // none made yet
      }
      for (const std::string& name : *names) {
        std::string rel = std::string(dir) + "/" + name;
        struct stat st;
        if (m_referenced_short.count(rel) != 0 ||
            ::fstatat(m_source.root_fd(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_nlink != 1) {
          continue;
        }
        if (m_options.dry_run || remove(rel.c_str(), report)) {
          ++report.short_names;
          report.freed_bytes += static_cast<uint64_t>(st.st_blocks) * 512;
        }
      }
    }
  }

  // Temps of stores interrupted over an hour ago, and the staging directories
  // (projection.hpp) of ingests that died, with every temp in them.
  void sweep_temps(GcReport& report) {
    time_t now = ::time(nullptr);
    each_temp("tmp", [&](const std::string& name, const std::string& rel, const struct stat& st) {
      if (!S_ISDIR(st.st_mode)) {
        if (now - st.st_mtime >= k_stray_age_seconds) {
          remove_temp(rel, st, report);
        }
      } else if (is_staging_dir_name(name) && stale_source_temp(name)) {
        each_temp(rel, [&](const std::string&, const std::string& temp, const struct stat& temp_st) {
          remove_temp(temp, temp_st, report);
        });
        if (!m_options.dry_run) {
          ::unlinkat(m_source.root_fd(), rel.c_str(), AT_REMOVEDIR);
        }
      }
    });
  }

 private:
  // fn(name, rel, stat) for each entry of directory `dir` of The Source.
  template <class Fn>
  void each_temp(const std::string& dir, Fn&& fn) {
    auto names = list_dir(m_source.root_fd(), dir.c_str());
    for (const std::string& name : names ? *names : std::vector<std::string>{}) {
      std::string rel = dir + "/" + name;
      struct stat st;
      if (::fstatat(m_source.root_fd(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        fn(name, rel, st);
      }
    }
  }

  void remove_temp(const std::string& rel, const struct stat& st, GcReport& report) {
    if (m_options.dry_run || remove(rel.c_str(), report)) {
      ++report.temps;
      report.freed_bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  }

  bool remove(const char* rel, GcReport& report) {
    if (auto removed = m_source.remove_name(rel); !removed) {
      ++report.failed;
      std::string why = error_reason(removed.error());
      if (removed.error().sys == EPERM) {
        why += " (a locked blob: only root can unlock it)";
      }
      m_warn({"cannot remove from The Source", m_source.root() + "/" + rel, why});
      return false;
    }
    return true;
  }

  cas::TheSource& m_source;
  const GcOptions& m_options;
  const std::function<void(const Failure&)>& m_warn;
  std::vector<std::string> m_referenced;  // blob file names, sorted
  std::unordered_set<std::string> m_referenced_short;
};

}  // namespace

Outcome<GcReport> collect_garbage(cas::TheSource& source, const GcOptions& options,
                                  const std::function<void()>& waiting,
                                  const std::function<void(const Failure&)>& warn) {
  auto held = source.hold_exclusively(false);
  if (!held && held.error().sys == EWOULDBLOCK) {
    waiting();
    held = source.hold_exclusively(true);
  }
  if (!held) {
    return failure("cannot lock The Source for gc", source.root() + "/gc.lock", held.error());
  }
  GcReport report;
  Collector collector(source, options, warn);
  if (auto marked = collector.mark(report); !marked) {
    return tl::unexpected(marked.error());
  }
  if (auto swept = collector.sweep_blobs(report); !swept) {
    return tl::unexpected(swept.error());
  }
  collector.sweep_short_names(report);
  collector.sweep_temps(report);
  return report;
}

}  // namespace vrift::project
