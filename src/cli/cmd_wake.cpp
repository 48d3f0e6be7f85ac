// `eval "$(vrift wake [--keep|--end])"`: leaves the session in this shell. The printed
// code restores the environment and prompt the shell had before `vrift inception`; the
// session record loses this shell and ends (session.json removed) when no other live
// shell is in it; then what the session left unrecorded is recorded (settle.hpp). The
// files stay: Solid links readable where they are, Phantom files in The Source
// (`vrift restore` brings them back).

#include <fmt/core.h>

#include <cstdlib>
#include <optional>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "project/project.hpp"
#include "project/session.hpp"
#include "project/session_record.hpp"
#include "project/settle.hpp"
#include "project/shell_code.hpp"

namespace vrift::cli {

namespace {

struct WakeArgs {
  bool keep = false;
  bool end = false;
  std::string shell;
};

struct Left {
  std::optional<project::Mode> mode;  // the session's, when there was a record
  size_t others = 0;                  // live shells still in it
  bool ended = false;
};

// Updates the project's session record for this shell leaving it. Prints failures.
std::optional<Left> leave_record(const project::ProjectPaths& paths, const WakeArgs& args) {
  Left left;
  auto lock = project::SessionLock::acquire(paths);
  if (!lock) {
    print_failure(lock.error());
    return std::nullopt;
  }
  auto record = project::read_session(paths);
  if (!record) {
    if (!args.end) {
      print_failure(record.error());
      return std::nullopt;
    }
  } else if (*record) {
    left.mode = (*record)->mode;
    left.others = project::leave_session(**record, project::current_shell());
  }
  if (args.end || (left.others == 0 && !args.keep)) {
    if (auto removed = project::remove_session(paths); !removed) {
      print_failure(removed.error());
      return std::nullopt;
    }
    left.ended = record && *record;
  } else if (record && *record) {
    if (auto w = project::write_session(paths, **record); !w) {
      print_failure(w.error());
      return std::nullopt;
    }
  }
  return left;
}

// The session ended: what its programs left listed or unfinished (directories made or
// moved in where nothing recorded them yet, files whose writer died) is recorded now,
// as the end of `vrift run` does. Failures are printed; the shell leaves all the same.
void settle_ended_session(const Globals& g, const project::ProjectPaths& paths, project::Mode mode) {
  Globals here = g;
  here.project_dir = paths.root;
  auto ctx = open_project(here, false);
  if (!ctx) {
    return;
  }
  auto settled = project::settle_writes(ctx->paths, ctx->config, *ctx->source, *ctx->manifest, mode,
                                        [](const project::Failure& f) { print_warning(f); });
  if (!settled) {
    print_failure(settled.error());
  }
}

int run_wake(const Globals& g, const WakeArgs& args) {
  if (!prints_for_eval("wake")) {
    return 2;
  }
  auto shell = project::detect_shell(args.shell);
  if (!shell) {
    print_failure(shell.error());
    return 1;
  }
  // The session this shell is in, else the project around the current directory.
  const char* in_session = std::getenv("VRIFT_PROJECT");
  std::optional<project::ProjectPaths> paths;
  if (in_session != nullptr && *in_session != '\0') {
    paths = project::ProjectPaths{in_session};
  } else if (auto found = project::find_project(g.project_dir)) {
    paths = *found;
  }
  std::optional<Left> left;
  if (paths) {
    left = leave_record(*paths, args);
  }
  if (paths && left && left->ended && left->mode) {
    settle_ended_session(g, *paths, *left->mode);
  }
  // What a shell without saved originals (a child of the session's shell) falls back
  // to: the session's variables dropped, other preloads kept.
  std::vector<std::pair<std::string, std::optional<std::string>>> fallback;
  std::vector<std::string> names = project::session_variables();
  for (const auto& name : names) {
    std::optional<std::string> value;
    if (name == "LD_PRELOAD") {
      const char* preload = std::getenv("LD_PRELOAD");
      const char* shim = std::getenv("VRIFT_SHIM");
      if (std::string rest = project::preload_without_shim(preload ? preload : "", shim ? shim : "");
          !rest.empty()) {
        value = rest;
      }
    }
    fallback.emplace_back(name, value);
  }

  const char* env_mode = std::getenv("VRIFT_MODE");
  bool phantom = env_mode != nullptr ? std::string_view(env_mode) == "phantom"
                                     : left && left->mode == project::Mode::Phantom;
  if (!g.quiet) {
    if (in_session == nullptr && !(left && left->mode)) {
      fmt::print(stderr, "vrift: not in a session; nothing to wake from\n");
    } else if (phantom) {
      print_warning(project::Failure{
          "the project's files live only in The Source", paths ? paths->root : "",
          "outside a session programs cannot see them; `vrift inception` re-enters, `vrift restore` brings them back "
          "as plain files"});
    } else {
      fmt::print(stderr, "🌀 Awake. [Solid] mode: every file is where it was, and readable.\n");
    }
    if (left && !left->ended && left->mode) {
      fmt::print(stderr, "vrift: the session stays active for {}{}\n",
                 left->others == 0 ? "shells entering the project"
                                   : fmt::format("{} other shell{}", left->others, left->others == 1 ? "" : "s"),
                 left->others == 0 ? "" : "; `vrift wake --end` ends it for all");
    }
  }
  fmt::print("{}", project::leave_code(*shell, names, fallback));
  return left || !paths ? 0 : 1;
}

}  // namespace

void add_wake_command(CLI::App& app, Globals& g, int& exit_code) {
  auto* cmd = app.add_subcommand("wake", "Leave the projection in this shell: eval \"$(vrift wake)\"");
  auto args = std::make_shared<WakeArgs>();
  auto* keep = cmd->add_flag("--keep", args->keep, "Leave, but keep the session for shells that enter the project");
  cmd->add_flag("--end", args->end, "End the session for every shell (removes .vrift/session.json)")->excludes(keep);
  cmd->add_option("--shell", args->shell, "Write code for bash, zsh or fish (default: the calling shell)");
  cmd->footer("The session ends when the last shell in it wakes; other shells keep it until then.");
  cmd->callback([&g, args, &exit_code] { exit_code = run_wake(g, *args); });
}

}  // namespace vrift::cli
