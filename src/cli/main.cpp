#include <CLI/CLI.hpp>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cli/commands.hpp"
#include "cli/unshim.hpp"

namespace vrift::cli {

std::string resolve_cas_root(const Globals& g) {
  if (!g.cas_root.empty()) {
    return g.cas_root;
  }
  if (const char* env = std::getenv("VRIFT_CAS_ROOT"); env && *env) {
    return env;
  }
  const char* home = std::getenv("HOME");
  if (!home || !*home) {
    const passwd* pw = getpwuid(getuid());
    home = pw ? pw->pw_dir : "/";
  }
  return std::string(home) + "/.vrift/the_source";
}

namespace {

// -C DIR, as `cd DIR` in a shell: $PWD then names the directory as it was reached
// (through a symlink, say), so the project's alias is known (session.hpp) and the
// programs `vrift run` starts get a $PWD that is their working directory.
void change_directory(const std::string& dir) {
  const char* pwd = std::getenv("PWD");
  std::string logical = !dir.empty() && dir[0] == '/' ? dir
                        : pwd != nullptr && pwd[0] == '/' ? std::string(pwd) + "/" + dir
                                                          : std::string();
  if (::chdir(dir.c_str()) != 0) {
    throw CLI::ValidationError("-C", dir + ": " + std::strerror(errno));
  }
  logical = std::filesystem::path(logical).lexically_normal().string();
  while (logical.size() > 1 && logical.ends_with('/')) {
    logical.pop_back();
  }
  struct stat named;
  struct stat here;
  if (logical.empty() || ::stat(logical.c_str(), &named) != 0 || ::stat(".", &here) != 0 ||
      named.st_ino != here.st_ino || named.st_dev != here.st_dev) {
    char cwd[PATH_MAX];
    logical = ::getcwd(cwd, sizeof cwd) != nullptr ? cwd : "";
  }
  if (logical.empty()) {
    ::unsetenv("PWD");
  } else {
    ::setenv("PWD", logical.c_str(), 1);
  }
}

}  // namespace

}  // namespace vrift::cli

int main(int argc, char** argv) {
  using namespace vrift::cli;
  leave_shim(argv);
  CLI::App app{"vrift: one copy of every file of your heavy project trees, projected back"};
  app.set_version_flag("--version", "vrift 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  Globals g;
  // Like git -C: run as if started in DIR, so PATH arguments are relative to it too.
  app.add_option_function<std::string>(
      "-C", change_directory,
      "Run as if vrift was started in DIR (the project is the nearest parent with .vrift/)");
  app.add_option("--cas-root", g.cas_root, "Root of The Source (default: $VRIFT_CAS_ROOT or ~/.vrift/the_source)");
  app.add_flag("--json", g.json, "Print data as JSON");
  app.add_flag("-q,--quiet", g.quiet, "Print only errors");
  app.add_flag("-v,--verbose", g.verbose, "Say more");

  int exit_code = 0;
  add_init_command(app, g, exit_code);
  add_ingest_command(app, g, exit_code);
  add_status_command(app, g, exit_code);
  add_ls_command(app, g, exit_code);
  add_run_command(app, g, exit_code);
  add_doctor_command(app, g, exit_code);
  add_restore_command(app, g, exit_code);
  add_gc_command(app, g, exit_code);
  add_inception_command(app, g, exit_code);
  add_wake_command(app, g, exit_code);
  add_hook_command(app, g, exit_code);
  add_hash_command(app, g, exit_code);
  add_cas_command(app, g, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}
