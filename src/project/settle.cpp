#include "project/settle.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "project/restored.hpp"

namespace vrift::project {

namespace {

// The shim lists every file a command wrote in the project without asking the manifest
// (opening it costs each program ~0.1 ms); what belongs to the projection is decided
// here: a path the manifest records (a file, or a directory renamed or moved in), a new
// one in a directory it records, or anything below a projected directory (programs make
// directories on many threads at once, and a file's directory may have been made before
// its own parent was recorded), unless `vrift restore` gave that subtree back.
Result<bool> is_managed_write(const manifest::LmdbManifest& manifest, manifest::ReadTxn& txn, const Config& config,
                              const std::vector<std::string>& restored, std::string_view path) {
  manifest::Entry e;
  if (VRIFT_TRY(manifest.get(txn, path, e))) {
    return e.kind == manifest::EntryKind::file || e.kind == manifest::EntryKind::dir;
  }
  if (under_any(path, config.projected) && !under_any(path, restored)) {
    return true;
  }
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) {
    return false;
  }
  return VRIFT_TRY(manifest.get(txn, path.substr(0, slash), e)) && e.kind == manifest::EntryKind::dir;
}

}  // namespace

Outcome<void> list_for_settle(const ProjectPaths& project, const std::vector<std::string>& paths) {
  if (paths.empty()) {
    return {};
  }
  std::string list = project.state_dir() + "/pending";
  std::ofstream out(list, std::ios::app);
  for (const std::string& path : paths) {
    out << path << '\n';
  }
  out.flush();
  if (!out) {
    return failure("cannot list files to record later", list, "write failed");
  }
  return {};
}

Outcome<uint64_t> settle_writes(const ProjectPaths& project, const Config& config, cas::TheSource& source,
                                manifest::LmdbManifest& manifest, Mode mode, const WarningSink& warn) {
  // From before the lists are read: another settle may record (and, Phantom, remove
  // from disk) what they name meanwhile.
  auto lock = lock_for_ingest(project);
  if (!lock) {
    return tl::unexpected(lock.error());
  }
  std::vector<std::string> dirty;
  {
    auto txn = manifest.read();
    if (!txn) {
      return failure("cannot read manifest", project.manifest_dir(), txn.error());
    }
    auto visited = manifest.for_each(*txn, manifest::Layer::delta, [&](std::string_view path, const manifest::Entry& e) {
      if (e.kind == manifest::EntryKind::file && e.dirty()) {
        dirty.emplace_back(path);
      }
      return true;
    });
    if (!visited) {
      return failure("cannot read manifest", project.manifest_dir(), visited.error());
    }
  }
  // Paths `vrift run`'s command wrote (the shim's .vrift/pending, see shim/writes.hpp):
  // claimed by a rename, so appends from a writer still running start a new list, and
  // read together with any list a killed run left behind.
  std::string state = project.state_dir();
  std::string claimed = state + "/pending." + std::to_string(::getpid());
  ::rename((state + "/pending").c_str(), claimed.c_str());
  std::vector<std::string> lists;
  if (DIR* dir = ::opendir(state.c_str())) {
    while (dirent* ent = ::readdir(dir)) {
      if (std::string_view(ent->d_name).starts_with("pending.")) {
        lists.push_back(state + "/" + ent->d_name);
      }
    }
    ::closedir(dir);
  }
  auto restored = load_restored(project);
  if (!restored) {
    return tl::unexpected(restored.error());
  }
  {
    auto txn = manifest.read();
    if (!txn) {
      return failure("cannot read manifest", project.manifest_dir(), txn.error());
    }
    for (const std::string& list : lists) {
      std::ifstream in(list);
      for (std::string line; std::getline(in, line);) {
        auto managed = !line.empty() ? is_managed_write(manifest, *txn, config, *restored, line) : false;
        if (!managed) {
          return failure("cannot read manifest", project.manifest_dir(), managed.error());
        }
        if (*managed) {
          dirty.push_back(std::move(line));
        }
      }
    }
  }
  std::sort(dirty.begin(), dirty.end());
  dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());

  IngestOptions options;
  options.mode = mode;
  options.holding_lock = true;
  options.virtual_dirs = false;
  // A directory is listed when it was renamed or moved in, or made where its parent was
  // not recorded yet: everything below it is ingested with it, once. (A symlink, when
  // made there.)
  std::set<std::string> dirs;
  for (const std::string& path : dirty) {
    struct stat st;
    std::string abs = project.root + "/" + path;
    if (::fstatat(AT_FDCWD, abs.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      dirs.insert(path);
    }
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) {
      options.paths.push_back(path);
    }
  }
  std::erase_if(options.paths, [&](const std::string& path) {
    for (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0; slash = path.rfind('/', slash - 1)) {
      if (dirs.count(path.substr(0, slash)) != 0) {
        return true;
      }
    }
    return false;
  });
  auto forget_lists = [&] {
    for (const std::string& list : lists) {
      ::unlink(list.c_str());
    }
  };
  if (options.paths.empty()) {
    forget_lists();
    return uint64_t{0};
  }
  auto summary = ingest(project, config, source, manifest, options, warn);
  if (!summary) {
    return tl::unexpected(summary.error());  // the lists stay for the next settle
  }
  if (auto listed = list_for_settle(project, summary->busy_paths); !listed) {
    return tl::unexpected(listed.error());
  }
  forget_lists();
  return static_cast<uint64_t>(options.paths.size());
}

}  // namespace vrift::project
