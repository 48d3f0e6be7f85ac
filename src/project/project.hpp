#pragma once
// Where a project keeps its state, and how a project is found and created.
//
//   <root>/.vrift/config.toml       projected paths, tier rules, link kind (config.hpp)
//   <root>/.vrift/manifest.lmdb/    the LMDB manifest: path -> entry
//   <root>/.vrift/session.json      the active session, if any

#include <string>

#include "base/fd.hpp"
#include "cas/the_source.hpp"
#include "project/config.hpp"
#include "project/failure.hpp"

namespace vrift::project {

struct ProjectPaths {
  std::string root;  // absolute, normalized, no trailing slash

  std::string state_dir() const { return root + "/.vrift"; }
  std::string config_file() const { return root + "/.vrift/config.toml"; }
  std::string manifest_dir() const { return root + "/.vrift/manifest.lmdb"; }
  std::string session_file() const { return root + "/.vrift/session.json"; }
  std::string source_link() const { return root + "/.vrift/source"; }
};

// The Source a project's files are in, recorded as `.vrift/source` (a symlink to its
// root) by the commands that may store into it. Run with another Source (another
// VRIFT_CAS_ROOT, or `sudo` and another home), a command would find none of the
// project's blobs, and a repair would start storing them over again there.
enum class SourceBinding {
  same,        // the recorded Source is this one
  unrecorded,  // nothing recorded yet
  other,       // another Source, still there: the project's files are in it
  gone,        // what is recorded is no longer a Source (moved or removed)
};
struct SourceCheck {
  SourceBinding binding = SourceBinding::unrecorded;
  std::string recorded;  // the recorded root
};
SourceCheck check_source(const ProjectPaths& project, const cas::TheSource& source);

// Records `source` as the project's Source. Errors: Errc::system.
Status record_source(const ProjectPaths& project, const cas::TheSource& source);

// The absolute, lexically normalized form of `path` (relative to the cwd).
std::string absolute_path(const std::string& path);

// absolute_path() with the symlinks of its directories resolved, as far as they exist
// (the rest, and the last component, kept as they are): the path the kernel reports.
std::string real_path(const std::string& path);

// The project containing `start` (or the cwd when empty): the nearest directory at or
// above it that holds .vrift/config.toml. Fails, saying to run `vrift init`, when none.
Outcome<ProjectPaths> find_project(const std::string& start);

// Locks the file at `path` (made if missing) exclusively, waiting for the holder; held
// while the returned descriptor is open. `what` names the lock in the error.
Outcome<UniqueFd> lock_exclusively(const std::string& path, const char* what);

struct InitOptions {
  bool force = false;        // initialize even inside (or over) an existing project
  bool create_user = false;  // create the `vrift` system user (root only)
  // How the config projects Tier-1 files: a symlink guards a blob the immutable flag
  // locks; where no lock is possible it guards nothing a read-only hardlink does not,
  // and Node, which resolves symlinks, cannot load modules outside a session.
  Tier1Link tier1_link = Tier1Link::symlink;
};

// Creates .vrift/ with a config (projected paths and rules by default) and an empty
// manifest in `root`. Refuses inside an existing project unless options.force.
Outcome<ProjectPaths> init_project(const std::string& root, const InitOptions& options);

// Writes `content` to `path` atomically: a temp file beside it, fsync, rename, fsync of
// the directory. Readers see the old file or the new one, never a mix.
Outcome<void> write_file_atomic(const std::string& path, const std::string& content, unsigned mode = 0644);

// Creates the `vrift` system user when missing (needs root). Returns whether it exists.
Outcome<bool> ensure_vrift_user(const std::string& name);

}  // namespace vrift::project
