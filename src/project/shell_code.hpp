#pragma once
// Shell code for interactive sessions: what `vrift inception`, `vrift wake` and
// `vrift hook` print for `eval`. vrift cannot change its parent shell's environment, so
// it prints code that the shell runs on itself.
//
// Entering saves, in unexported shell variables, whether each session variable was set
// (and whether it was exported) with its old value, and the old prompt; leaving puts
// back exactly that, unsetting what was unset. The save happens only once per shell:
// entering again (another mode, another project) replaces the session's values but
// keeps the originals, so one leave always returns to the shell as it was before the
// first entry. The saved state lives in the shell (`_vrift_*` variables, and for fish a
// copy of fish_prompt), so it needs no file and dies with the shell.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "project/failure.hpp"

namespace vrift::project {

enum class Shell : uint8_t { bash, zsh, fish };

const char* shell_name(Shell shell) noexcept;

// "bash", "zsh", "fish", or a path or login name ending in one ("/usr/bin/zsh", "-bash").
// nullopt for anything else.
std::optional<Shell> parse_shell(std::string_view name);

// The shell to write code for: `requested` (--shell) when given, else the parent
// process when it is bash, zsh or fish (vrift runs inside the shell's $(...)), else
// $SHELL. Fails when none of them names a supported shell.
Outcome<Shell> detect_shell(const std::string& requested);

// `value` as one word of `shell` source code, exactly as given: any bytes (spaces,
// quotes, $, backslashes, newlines, non-ASCII), no expansion.
std::string shell_quote(Shell shell, std::string_view value);

using ShellVars = std::vector<std::pair<std::string, std::string>>;  // NAME -> value

// Code that enters a session: saves the originals (first entry only), exports `vars`
// and puts `prompt_prefix` before the prompt (bash, zsh: PS1; fish: wraps fish_prompt).
std::string enter_code(Shell shell, const ShellVars& vars, std::string_view prompt_prefix);

// Code that leaves a session: restores what enter_code saved for `names` and the prompt.
// In a shell that has nothing saved (a child shell that inherited the session's
// environment), it applies `fallback` instead: each NAME set to its value, or unset
// when the value is nullopt.
std::string leave_code(Shell shell, const std::vector<std::string>& names,
                       const std::vector<std::pair<std::string, std::optional<std::string>>>& fallback);

// The snippet for a shell's startup file: on every change of directory it looks for
// .vrift/session.json from the new directory up, in shell code (no process), and runs
// `<vrift> -C ROOT inception` on entering a project with an active session and
// `<vrift> wake --keep` on leaving it. Nothing runs at a prompt when the directory did
// not change. `vrift_path` is the vrift binary to run.
std::string hook_code(Shell shell, std::string_view vrift_path);

}  // namespace vrift::project
