// `eval "$(vrift inception [--solid|--phantom] [--shell bash|zsh|fish])"`: puts the
// calling shell inside the projection. vrift cannot change its parent's environment, so
// it prints shell code on stdout (messages go to stderr) and records the session in
// .vrift/session.json, which other shells rejoin (see project/session_record.hpp).

#include <fmt/core.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "cli/projection.hpp"
#include "project/doctor.hpp"
#include "project/prefetch.hpp"
#include "project/session.hpp"
#include "project/session_record.hpp"
#include "project/shell_code.hpp"

namespace vrift::cli {

namespace {

struct InceptionArgs {
  bool solid = false;
  bool phantom = false;
  bool force = false;
  std::string shell;
};

const char* label(project::Mode mode) { return mode == project::Mode::Phantom ? "Phantom" : "Solid"; }

// Startup recovery: `vrift doctor --repair` before the session starts, so programs in it
// see every projection whole. Its findings go into `lines` (printed after "Entering the
// dream"). Returns false, refusing the session, only when the check itself fails; what
// it could not repair is named, and the session starts with the rest.
bool startup_recovery(ProjectContext& ctx, std::vector<std::string>& lines) {
  project::DoctorOptions options;
  options.repair = true;
  auto report = project::doctor(ctx.paths, ctx.config, *ctx.source, *ctx.manifest, options);
  if (!report) {
    print_failure(report.error());
    return false;
  }
  for (const auto& p : report->problems) {
    lines.push_back(fmt::format("{}: {}", p.fixed ? "repaired" : "NOT repaired", printable_path(project::problem_line(p))));
  }
  lines.push_back("recovery: " + report->summary());
  return true;
}

// Reads Tier-2 blobs ahead for the session, in a detached process: inception returns at
// once (its output is being read by the shell's eval, so the child lets go of stdout).
void prefetch_in_background(ProjectContext& ctx) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid != 0) {
    if (pid > 0) {
      ::waitpid(pid, nullptr, 0);
    }
    return;
  }
  ::setsid();
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3 && null >= 0; ++fd) {
    ::dup2(null, fd);
  }
  if (::fork() == 0) {
    project::Prefetch prefetch(*ctx.source, *ctx.manifest, project::k_prefetch_budget);
    prefetch.finish();
  }
  ::_exit(0);
}

// Takes this shell off the session of the project it was in before (entering another
// project). That session stays for its other shells and for rejoining, as after
// `vrift wake --keep`.
void leave_previous(const std::string& root, const project::ShellRef& self) {
  const char* previous = std::getenv("VRIFT_PROJECT");
  if (previous == nullptr || *previous == '\0' || root == previous) {
    return;
  }
  project::ProjectPaths paths{previous};
  auto lock = project::SessionLock::acquire(paths);
  if (!lock) {
    return;  // that project is gone or unwritable: nothing to leave
  }
  auto record = project::read_session(paths);
  if (record && *record) {
    project::leave_session(**record, self);
    if (auto w = project::write_session(paths, **record); !w) {
      print_warning(w.error());
    }
  }
}

int run_inception(Globals g, const InceptionArgs& args) {
  if (!prints_for_eval("inception")) {
    return 2;
  }
  auto shell = project::detect_shell(args.shell);
  if (!shell) {
    print_failure(shell.error());
    return 1;
  }
  auto paths = project::find_project(g.project_dir);
  if (!paths) {
    print_failure(paths.error());
    return 1;
  }
  // Held to the end: two shells entering at once convert and record one after the other.
  auto locked = project::SessionLock::acquire(*paths);
  if (!locked) {
    print_failure(locked.error());
    return 1;
  }
  std::optional<project::SessionLock> lock(std::move(*locked));
  std::optional<project::SessionRecord> existing;
  if (auto record = project::read_session(*paths); !record) {
    print_warning(project::Failure{"replacing a damaged session record", paths->session_file(), record.error().why});
  } else {
    existing = std::move(*record);
  }
  // A session's files come from its Source: a shell rejoining uses it whatever
  // $VRIFT_CAS_ROOT says (inside another session that variable is the session's).
  if (existing) {
    if (!g.cas_root.empty() && project::absolute_path(g.cas_root) != existing->cas_root) {
      print_failure(project::Failure{"cannot join the session", paths->root,
                                     "it uses The Source at " + existing->cas_root +
                                         "; `vrift wake --end` ends it before starting one with another"});
      return 1;
    }
    g.cas_root = existing->cas_root;
  }
  auto start = prepare_session(g);
  if (!start) {
    return 1;
  }
  ProjectContext* ctx = &start->ctx;
  const std::string* shim = &start->shim;
  const Projection* projection = &start->projection;
  project::Mode mode = args.phantom ? project::Mode::Phantom
                       : args.solid ? project::Mode::Solid
                       : existing   ? existing->mode
                                    : default_mode(*ctx, *projection);
  project::ShellRef self = project::current_shell();
  if (existing && existing->mode != mode && !args.force) {
    if (size_t others = project::other_live_shells(*existing, self); others > 0) {
      print_failure(project::Failure{
          fmt::format("cannot switch the session to [{}] mode", label(mode)), ctx->paths.root,
          fmt::format("{} other shell{} in its [{}] session and would lose {} files; wake there first, or pass --force",
                      others, others == 1 ? " is" : "s are", label(existing->mode), others == 1 ? "its" : "their")});
      return 1;
    }
  }
  std::vector<std::string> recovery;
  if (!startup_recovery(*ctx, recovery)) {
    return 1;
  }
  if (!switch_projection(g, *ctx, *projection, mode)) {
    return 1;
  }

  project::SessionSpec spec{ctx->paths, project::absolute_path(ctx->source->root()), *shim, mode};
  spec.project_alias = project::logical_project_root(ctx->paths.root);
  project::SessionRecord record = existing.value_or(project::SessionRecord{});
  if (!existing) {
    record.started_at = project::utc_now();
  }
  record.mode = mode;
  record.project = spec.project.root;
  record.cas_root = spec.cas_root;
  record.shim = spec.shim_path;
  if (const char* abi = std::getenv("VRIFT_ABI_CONTEXT"); abi != nullptr && *abi != '\0') {
    record.abi_context = abi;
  }
  project::join_session(record, self);
  if (auto w = project::write_session(ctx->paths, record); !w) {
    print_failure(w.error());
    return 1;
  }
  lock.reset();  // before taking the other project's lock: two shells may cross over
  leave_previous(spec.project.root, self);
  prefetch_in_background(*ctx);

  auto env = project::session_environment(spec, project::current_environment());
  project::ShellVars vars;
  for (const auto& name : project::session_variables()) {
    vars.emplace_back(name, env[name]);
  }
  if (!g.quiet) {
    fmt::print(stderr, "🌀 Entering the dream…\n");
    for (const auto& line : recovery) {
      fmt::print(stderr, "{}\n", line);
    }
    if (mode == project::Mode::Phantom) {
      fmt::print(stderr,
                 "vrift is active in [Phantom] mode. Project files live only in The Source; "
                 "`vrift wake` then `vrift restore` brings them back.\n");
    } else {
      fmt::print(stderr, "vrift is active in [Solid] mode. Physical files are safe.\n");
    }
  }
  fmt::print("{}", project::enter_code(*shell, vars, fmt::format("(vrift 🌀 [{}]) ", label(mode))));
  return 0;
}

}  // namespace

void add_inception_command(CLI::App& app, Globals& g, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "inception", "Enter the projection in this shell: eval \"$(vrift inception [--solid|--phantom])\"");
  auto args = std::make_shared<InceptionArgs>();
  auto* solid = cmd->add_flag("--solid", args->solid, "Files stay on disk as links (default for a new session)");
  cmd->add_flag("--phantom", args->phantom, "Files live in The Source only, seen through the shim")->excludes(solid);
  cmd->add_option("--shell", args->shell, "Write code for bash, zsh or fish (default: the calling shell)");
  cmd->add_flag("--force", args->force, "Switch the mode even while other shells are in the session");
  cmd->footer("A project with an active session (.vrift/session.json) is rejoined in its mode.\n"
              "Switching the mode converts the projection first; it is safe to interrupt and resumes.");
  cmd->callback([&g, args, &exit_code] { exit_code = run_inception(g, *args); });
}

}  // namespace vrift::cli
