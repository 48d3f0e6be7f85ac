#pragma once
// Sessions: the environment that puts a program inside a project's projection, and the
// contract between the vrift CLI and libvrift_shim.so.
//
// The shim reads these variables once, at load:
//   LD_PRELOAD        the shim, first (what was there before is kept after it)
//   VRIFT_PROJECT     the project root, absolute and normalized
//   VRIFT_CAS_ROOT    The Source's root, absolute
//   VRIFT_MODE        "solid" or "phantom"
//   VRIFT_PROJECT_ALIAS  the project root as the user reached it through a symlink
//                     ($PWD's view), or empty: a path under it is the project's too
//   UV_USE_IO_URING   "0": keeps libuv's (node's) file I/O on system calls the shim sees

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "project/config.hpp"
#include "project/failure.hpp"
#include "project/project.hpp"

namespace vrift::project {

struct SessionSpec {
  ProjectPaths project;
  std::string cas_root;   // absolute
  std::string shim_path;  // absolute
  Mode mode = Mode::Solid;
  // Files written in the session are re-ingested when the session's command ends
  // (settle_writes()), all in one batch, rather than at each file's last close
  // (VRIFT_REINGEST=exit; a value already in the environment wins).
  bool reingest_at_exit = false;
  std::string project_alias = {};  // logical_project_root(), or empty
};

// The project root as the calling shell reached it, when that differs from its real
// path (a symlink on the way, which $PWD keeps): programs given paths from $PWD name
// the project's files through it. Empty when $PWD is not inside the project, or names
// it by its real path.
std::string logical_project_root(const std::string& root);

// The shim to load: $VRIFT_SHIM, else libvrift_shim.so beside the running vrift binary.
// Fails, naming where it looked, when there is none.
Outcome<std::string> find_shim();

// `env` (NAME -> value) with the session's variables set; LD_PRELOAD gets the shim in
// front, once, keeping any other preloads.
std::map<std::string, std::string> session_environment(const SessionSpec& spec,
                                                       std::map<std::string, std::string> env);

// The names of the variables session_environment sets, in a stable order.
std::vector<std::string> session_variables();

// `preload` (an LD_PRELOAD value: paths separated by ':' or ' ') without the shim: items
// equal to `shim_path` or named libvrift_shim.so are dropped, the rest kept in order and
// joined with ':'. Empty when nothing else was preloaded.
std::string preload_without_shim(std::string_view preload, std::string_view shim_path);

// The current process environment as a map.
std::map<std::string, std::string> current_environment();

// Runs argv (searched in PATH) in the session's environment and waits for it. Returns
// its exit status, 128 + the signal when a signal ended it, 127 when it could not start.
// SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to vrift are passed on to it.
Outcome<int> run_in_session(const SessionSpec& spec, const std::vector<std::string>& argv);

}  // namespace vrift::project
