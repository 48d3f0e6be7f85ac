#include "project/shell_code.hpp"

#include <limits.h>
#include <unistd.h>

#include <cstdlib>

namespace vrift::project {

const char* shell_name(Shell shell) noexcept {
  switch (shell) {
    case Shell::zsh:
      return "zsh";
    case Shell::fish:
      return "fish";
    case Shell::bash:
      break;
  }
  return "bash";
}

std::optional<Shell> parse_shell(std::string_view name) {
  if (size_t slash = name.rfind('/'); slash != std::string_view::npos) {
    name.remove_prefix(slash + 1);
  }
  if (name.starts_with('-')) {  // a login shell's argv[0]
    name.remove_prefix(1);
  }
  if (name == "bash") {
    return Shell::bash;
  }
  if (name == "zsh") {
    return Shell::zsh;
  }
  if (name == "fish") {
    return Shell::fish;
  }
  return std::nullopt;
}

Outcome<Shell> detect_shell(const std::string& requested) {
  if (!requested.empty()) {
    if (auto shell = parse_shell(requested)) {
      return *shell;
    }
    return failure("unsupported shell", requested, "vrift writes code for bash, zsh and fish");
  }
  char exe[PATH_MAX];
  std::string parent = "/proc/" + std::to_string(::getppid()) + "/exe";
  ssize_t n = ::readlink(parent.c_str(), exe, sizeof exe - 1);
  if (n > 0) {
    if (auto shell = parse_shell(std::string_view(exe, static_cast<size_t>(n)))) {
      return *shell;
    }
  }
  const char* login = std::getenv("SHELL");
  if (login != nullptr && *login != '\0') {
    if (auto shell = parse_shell(login)) {
      return *shell;
    }
  }
  return failure("cannot tell which shell this is", login ? login : "",
                 "neither the parent process nor $SHELL is bash, zsh or fish; pass --shell bash|zsh|fish");
}

std::string shell_quote(Shell shell, std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (shell == Shell::fish) {
      // Inside fish's single quotes only \' and \\ are escapes.
      if (c == '\'' || c == '\\') {
        out += '\\';
      }
      out += c;
    } else if (c == '\'') {
      out += "'\\''";  // close, an escaped quote, reopen
    } else {
      out += c;
    }
  }
  return out + "'";
}

namespace {

// bash and zsh share everything but how to ask whether a variable is exported and how
// to unexport one without making it local to a function (the hook evals this inside
// one).
std::string posix_enter(Shell shell, const ShellVars& vars, std::string_view prefix) {
  auto save = [&](const std::string& name) {
    std::string exported = shell == Shell::bash ? "${" + name + "@a}" : "${(t)" + name + "}";
    return "  if [ -n \"${" + name + "+x}\" ]; then _vrift_old_" + name + "=$" + name + "; case \"" + exported +
           "\" in *x*) _vrift_had_" + name + "=x ;; *) _vrift_had_" + name + "=s ;; esac; else _vrift_had_" + name +
           "=; fi\n";
  };
  std::string out = "if [ -z \"${_vrift_saved-}\" ]; then\n  _vrift_saved=1\n";
  for (const auto& [name, value] : vars) {
    out += save(name);
  }
  out += save("PS1");
  // A cd function of the user's own (autoenv, nvm...) is kept under another name and
  // called by ours.
  out += shell == Shell::bash ? "  if declare -F cd > /dev/null; then _vrift_had_cd=$(declare -f cd); eval \"_vrift_old_cd "
                                "${_vrift_had_cd#cd }\"; fi\n"
                              : "  if typeset -f cd > /dev/null; then _vrift_had_cd=1; functions -c cd _vrift_old_cd; fi\n";
  out += "fi\n";
  for (const auto& [name, value] : vars) {
    out += "export " + name + "=" + shell_quote(shell, value) + "\n";
  }
  out += "PS1=" + shell_quote(shell, prefix) + "\"${_vrift_old_PS1-}\"\n";
  // The shell itself runs without the shim, so its own cd cannot enter a directory the
  // project keeps virtual (Phantom, `directories = "virtual"`): a shimmed `test -d`
  // makes it first.
  out +=
      "cd() {\n"
      "  if [ \"$#\" -gt 0 ]; then\n"
      "    local _vrift_dir\n"
      "    eval \"_vrift_dir=\\${$#}\"\n"
      "    case $_vrift_dir in -*) ;; *) [ -e \"$_vrift_dir\" ] || command env test -d \"$_vrift_dir\" 2> /dev/null ;; "
      "esac\n"
      "  fi\n"
      "  if [ -n \"${_vrift_had_cd-}\" ]; then _vrift_old_cd \"$@\"; else builtin cd \"$@\"; fi\n"
      "}\n";
  return out;
}

std::string posix_leave(Shell shell, const std::vector<std::string>& names,
                        const std::vector<std::pair<std::string, std::optional<std::string>>>& fallback) {
  std::string unexport = shell == Shell::bash ? "export -n " : "typeset -g +x ";
  auto restore = [&](const std::string& name) {
    return "  case \"${_vrift_had_" + name + "-}\" in x) export " + name + "=\"$_vrift_old_" + name + "\" ;; s) " +
           name + "=$_vrift_old_" + name + "; " + unexport + name + " ;; *) unset " + name + " ;; esac\n";
  };
  std::string out = "if [ -n \"${_vrift_saved-}\" ]; then\n";
  std::string saved = "_vrift_saved";
  for (const auto& name : names) {
    out += restore(name);
    saved += " _vrift_old_" + name + " _vrift_had_" + name;
  }
  out += restore("PS1");
  out += "  unset -f cd\n";
  out += shell == Shell::bash
             ? "  if [ -n \"${_vrift_had_cd-}\" ]; then _vrift_had_cd=$(declare -f _vrift_old_cd); eval \"cd "
               "${_vrift_had_cd#_vrift_old_cd }\"; unset -f _vrift_old_cd; fi\n"
             : "  if [ -n \"${_vrift_had_cd-}\" ]; then functions -c _vrift_old_cd cd; unset -f _vrift_old_cd; fi\n";
  out += "  unset " + saved + " _vrift_old_PS1 _vrift_had_PS1 _vrift_had_cd\n";
  out += "else\n";
  for (const auto& [name, value] : fallback) {
    out += value ? "  export " + name + "=" + shell_quote(shell, *value) + "\n" : "  unset " + name + "\n";
  }
  out += "  :\nfi\n";
  return out;
}

std::string fish_enter(const ShellVars& vars, std::string_view prefix) {
  std::string out = "if not set -q _vrift_saved\n  set -g _vrift_saved 1\n";
  for (const auto& [name, value] : vars) {
    out += "  if set -qx " + name + "; set -g _vrift_had_" + name + " x; set -g _vrift_old_" + name + " $" + name +
           "; else if set -q " + name + "; set -g _vrift_had_" + name + " s; set -g _vrift_old_" + name + " $" +
           name + "; else; set -g _vrift_had_" + name + " ''; end\n";
  }
  // The old prompt is kept as a function; the wrapper calls it first, inside a command
  // substitution, so it still sees the last command's $status and $pipestatus.
  out += "  if functions -q fish_prompt; functions -c fish_prompt _vrift_old_fish_prompt; end\n";
  out += "  if functions -q cd; functions -c cd _vrift_old_cd; end\n";
  out += "end\n";
  for (const auto& [name, value] : vars) {
    out += "set -gx " + name + " " + shell_quote(Shell::fish, value) + "\n";
  }
  out += "set -g _vrift_prompt_prefix " + shell_quote(Shell::fish, prefix) + "\n";
  out += "if functions -q _vrift_old_fish_prompt\n"
         "  function fish_prompt\n"
         "    set -l _vrift_prompt (_vrift_old_fish_prompt | string collect -N)\n"
         "    printf '%s' $_vrift_prompt_prefix $_vrift_prompt\n"
         "  end\n"
         "else\n"
         "  function fish_prompt\n"
         "    printf '%s' $_vrift_prompt_prefix\n"
         "  end\n"
         "end\n";
  // As for bash and zsh (posix_enter): a shimmed `test -d` makes a virtual directory.
  out += "function cd\n"
         "  if set -q argv[1]; and not string match -q -- '-*' $argv[-1]; and not test -e $argv[-1]\n"
         "    command env test -d $argv[-1] 2> /dev/null\n"
         "  end\n"
         "  if functions -q _vrift_old_cd; _vrift_old_cd $argv; else; builtin cd $argv; end\n"
         "end\n";
  return out;
}

std::string fish_leave(const std::vector<std::string>& names,
                       const std::vector<std::pair<std::string, std::optional<std::string>>>& fallback) {
  std::string out = "if set -q _vrift_saved\n";
  for (const auto& name : names) {
    out += "  switch \"$_vrift_had_" + name + "\"\n    case x; set -gx " + name + " $_vrift_old_" + name +
           "\n    case s; set -gu " + name + " $_vrift_old_" + name + "\n    case '*'; set -e -g " + name +
           "\n  end\n";
    out += "  set -e -g _vrift_had_" + name + "; set -e -g _vrift_old_" + name + "\n";
  }
  out += "  functions -e fish_prompt\n"
         "  if functions -q _vrift_old_fish_prompt\n"
         "    functions -c _vrift_old_fish_prompt fish_prompt; functions -e _vrift_old_fish_prompt\n"
         "  end\n"
         "  functions -e cd\n"
         "  if functions -q _vrift_old_cd; functions -c _vrift_old_cd cd; functions -e _vrift_old_cd; end\n"
         "  set -e -g _vrift_prompt_prefix; set -e -g _vrift_saved\n"
         "else\n";
  for (const auto& [name, value] : fallback) {
    out += value ? "  set -gx " + name + " " + shell_quote(Shell::fish, *value) + "\n"
                 : "  set -e -g " + name + "\n";
  }
  out += "end\n";
  return out;
}

}  // namespace

std::string enter_code(Shell shell, const ShellVars& vars, std::string_view prompt_prefix) {
  return shell == Shell::fish ? fish_enter(vars, prompt_prefix) : posix_enter(shell, vars, prompt_prefix);
}

std::string leave_code(Shell shell, const std::vector<std::string>& names,
                       const std::vector<std::pair<std::string, std::optional<std::string>>>& fallback) {
  return shell == Shell::fish ? fish_leave(names, fallback) : posix_leave(shell, names, fallback);
}

std::string hook_code(Shell shell, std::string_view vrift_path) {
  std::string vrift = shell_quote(shell, vrift_path);
  if (shell == Shell::fish) {
    return "function _vrift_hook --on-variable PWD\n"
           "  set -l d $PWD\n"
           "  set -l s\n"
           "  while true\n"
           "    if test -f \"$d/.vrift/session.json\"\n"
           "      set s \"$d\"; test -n \"$s\"; or set s /\n"
           "      break\n"
           "    end\n"
           "    test -n \"$d\"; or break\n"
           "    set d (string replace -r '/[^/]*$' '' -- \"$d\")\n"
           "  end\n"
           "  if test -n \"$s\"\n"
           "    if test \"$s\" != \"$_vrift_hook_root\"\n"
           "      set -g _vrift_hook_root \"$s\"\n"
           "      if not set -q _vrift_saved; or test \"$s\" != \"$VRIFT_PROJECT\"\n"
           "        eval \"$(" + vrift + " -C \"$s\" inception)\"\n"
           "      end\n"
           "    end\n"
           "  else if set -q _vrift_hook_root[1]; or set -q _vrift_saved\n"
           "    set -e -g _vrift_hook_root\n"
           "    if set -q _vrift_saved\n"
           "      eval \"$(" + vrift + " wake --keep)\"\n"
           "    end\n"
           "  end\n"
           "end\n"
           "_vrift_hook\n";
  }
  // bash and zsh: one function. bash runs it before each prompt and it returns at once
  // unless $PWD changed; zsh runs it only when the directory changes (chpwd).
  std::string out =
      "_vrift_hook() {\n"
      "  local _vrift_rc=$? d s\n"
      "  [ \"${_vrift_hook_pwd-}\" != \"$PWD\" ] || return $_vrift_rc\n"
      "  _vrift_hook_pwd=$PWD\n"
      "  d=$PWD s=\n"
      "  while :; do\n"
      "    if [ -f \"$d/.vrift/session.json\" ]; then s=${d:-/}; break; fi\n"
      "    [ -n \"$d\" ] || break\n"
      "    d=${d%/*}\n"
      "  done\n"
      "  if [ -n \"$s\" ]; then\n"
      "    if [ \"$s\" != \"${_vrift_hook_root-}\" ]; then\n"
      "      _vrift_hook_root=$s\n"
      "      if [ -z \"${_vrift_saved-}\" ] || [ \"$s\" != \"${VRIFT_PROJECT-}\" ]; then\n"
      "        eval \"$(" + vrift + " -C \"$s\" inception)\"\n"
      "      fi\n"
      "    fi\n"
      "  elif [ -n \"${_vrift_hook_root-}${_vrift_saved-}\" ]; then\n"
      "    _vrift_hook_root=\n"
      "    if [ -n \"${_vrift_saved-}\" ]; then eval \"$(" + vrift + " wake --keep)\"; fi\n"
      "  fi\n"
      "  return $_vrift_rc\n"
      "}\n";
  if (shell == Shell::zsh) {
    out += "(( ${chpwd_functions[(I)_vrift_hook]} )) || chpwd_functions+=(_vrift_hook)\n"
           "_vrift_hook\n";
  } else {
    out += "case \";${PROMPT_COMMAND-};\" in\n"
           "  *\";_vrift_hook;\"*) ;;\n"
           "  *) PROMPT_COMMAND=\"_vrift_hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}\" ;;\n"
           "esac\n";
  }
  return out;
}

}  // namespace vrift::project
