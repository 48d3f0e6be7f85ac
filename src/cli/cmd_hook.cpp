// `eval "$(vrift hook bash|zsh|fish)"` in a shell's startup file: the shell enters a
// project's active session when it changes into the project and leaves it (keeping the
// session) when it changes out. The check runs in shell code on a change of directory
// only; vrift runs only when the shell enters or leaves.

#include <fmt/core.h>
#include <unistd.h>

#include <climits>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "project/shell_code.hpp"

namespace vrift::cli {

namespace {

int run_hook(const std::string& shell_arg) {
  auto shell = project::detect_shell(shell_arg);
  if (!shell) {
    print_failure(shell.error());
    return 1;
  }
  // The snippet runs this very binary, so it works whether or not vrift is on PATH.
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    print_failure(project::Failure{"cannot find the vrift binary", "/proc/self/exe", error_reason(sys_error("readlink"))});
    return 1;
  }
  fmt::print("{}", project::hook_code(*shell, std::string_view(exe, static_cast<size_t>(n))));
  return 0;
}

}  // namespace

void add_hook_command(CLI::App& app, Globals&, int& exit_code) {
  auto* cmd = app.add_subcommand("hook", "Print shell code that follows active sessions on cd: eval \"$(vrift hook bash)\"");
  auto shell = std::make_shared<std::string>();
  cmd->add_option("shell", *shell, "bash, zsh or fish (default: the calling shell)");
  cmd->callback([shell, &exit_code] { exit_code = run_hook(*shell); });
}

}  // namespace vrift::cli
