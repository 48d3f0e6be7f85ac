#include "project/shell_code.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "temp_dir.hpp"

namespace vrift::project {
namespace {

bool have(const char* program) {
  std::string cmd = std::string("command -v ") + program + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// Runs `script` in `shell` (no startup files) and returns what it printed on stdout.
std::string run_in(Shell shell, const std::string& script) {
  test::TempDir dir;
  std::string file = dir / "script";
  std::ofstream(file, std::ios::binary) << script;
  std::string cmd = shell == Shell::bash  ? "bash --norc --noprofile "
                    : shell == Shell::zsh ? "zsh -f "
                                          : "fish --no-config ";
  cmd += "'" + file + "'";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
      out.append(buf, n);
    }
    ::pclose(p);
  }
  return out;
}

const Shell k_shells[] = {Shell::bash, Shell::zsh, Shell::fish};

TEST(ShellCode, ParsesShellNamesAndPaths) {
  EXPECT_EQ(parse_shell("bash"), Shell::bash);
  EXPECT_EQ(parse_shell("/usr/bin/zsh"), Shell::zsh);
  EXPECT_EQ(parse_shell("-bash"), Shell::bash);
  EXPECT_EQ(parse_shell("/usr/local/bin/fish"), Shell::fish);
  EXPECT_EQ(parse_shell("/bin/sh"), std::nullopt);
  EXPECT_EQ(parse_shell("bash5"), std::nullopt);
  EXPECT_FALSE(detect_shell("tcsh"));
  EXPECT_EQ(detect_shell("zsh").value(), Shell::zsh);
}

TEST(ShellCode, QuotedWordsComeBackByteForByte) {
  const std::string values[] = {
      "",
      "plain",
      "with space",
      "it's",
      "''",
      "$HOME and ${PATH} and $(echo no) and `echo no`",
      "back\\slash\\\\ and trailing\\",
      "new\nline",
      "tab\there",
      "\"double\" quotes",
      "non-ASCII: ü 🌀 日本",
      "invalid UTF-8: \xff\xfe end",
      "glob * ? [a] ~ ! # % ; & | < >",
  };
  for (Shell shell : k_shells) {
    if (!have(shell_name(shell))) {
      continue;
    }
    for (const auto& v : values) {
      std::string out = run_in(shell, "printf '%s' " + shell_quote(shell, v) + "\n");
      EXPECT_EQ(out, v) << shell_name(shell) << " with " << shell_quote(shell, v);
    }
  }
}

TEST(ShellCode, LeaveRestoresWhatEnterChanged) {
  ShellVars vars = {{"XX_PRELOAD", "/x y/libvrift_shim.so:/old.so"}, {"VRIFT_PROJECT", "/p/it's"}, {"VRIFT_MODE", "solid"}};
  std::vector<std::string> names = {"XX_PRELOAD", "VRIFT_PROJECT", "VRIFT_MODE"};
  for (Shell shell : {Shell::bash, Shell::zsh}) {
    if (!have(shell_name(shell))) {
      continue;
    }
    // XX_PRELOAD exported, VRIFT_PROJECT set but not exported, VRIFT_MODE unset.
    std::string script = "export XX_PRELOAD=/old.so; VRIFT_PROJECT='local value'; unset VRIFT_MODE; PS1='$ '\n"
                         "show() { env | grep -E '^(XX_PRELOAD|VRIFT_MODE|VRIFT_PROJECT)=' | sort; printf '[%s|%s|%s]\\n' \"$PS1\" "
                         "\"${VRIFT_PROJECT-unset}\" \"${VRIFT_MODE-unset}\"; }\n"
                         "show\n";
    std::string enter = enter_code(shell, vars, "(pfx) ");
    std::string leave = leave_code(shell, names, {});
    script += "eval " + shell_quote(shell, enter) + "\nshow\n";
    script += "eval " + shell_quote(shell, enter) + "\nshow\n";  // twice: no stacking
    script += "eval " + shell_quote(shell, leave) + "\nshow\n";
    std::string out = run_in(shell, script);
    std::string before = "XX_PRELOAD=/old.so\n[$ |local value|unset]\n";
    std::string inside = "VRIFT_MODE=solid\nVRIFT_PROJECT=/p/it's\nXX_PRELOAD=/x y/libvrift_shim.so:/old.so\n"
                         "[(pfx) $ |/p/it's|solid]\n";
    EXPECT_EQ(out, before + inside + inside + before) << shell_name(shell);
  }
}

// The session's cd (which makes a virtual directory through a shimmed `test -d`) calls
// the user's own cd function or the builtin, fails as cd does, and goes with the session.
TEST(ShellCode, CdIsWrappedAndGivenBack) {
  test::TempDir dir;
  std::string root = dir.path().string();
  ::mkdir((root + "/a").c_str(), 0755);
  ShellVars vars = {{"VRIFT_MODE", "phantom"}};
  std::vector<std::string> names = {"VRIFT_MODE"};
  for (Shell shell : k_shells) {
    if (!have(shell_name(shell))) {
      continue;
    }
    for (bool own : {false, true}) {
      std::string d = shell_quote(shell, root);
      std::string script;
      if (own) {
        script += shell == Shell::fish ? "function cd; echo mine $argv; builtin cd $argv; end\n"
                                       : "cd() { echo \"mine $*\"; builtin cd \"$@\"; }\n";
      }
      std::string enter = enter_code(shell, vars, "(pfx) ");
      std::string leave = leave_code(shell, names, {});
      script += "eval " + shell_quote(shell, enter) + "\neval " + shell_quote(shell, enter) + "\n";
      script += "cd " + d + "/a; and pwd\n";
      script += "cd " + d + "/missing 2> /dev/null; echo \"rc=$" + (shell == Shell::fish ? "status" : "?") + "\"\n";
      script += "eval " + shell_quote(shell, leave) + "\n";
      script += "cd " + d + "\n";
      script += shell == Shell::fish ? "functions -q _vrift_old_cd; or echo gone\n"
                                     : "typeset -f _vrift_old_cd > /dev/null || echo gone\n";
      if (shell != Shell::fish) {
        // `a; and b` is fish's; bash and zsh read `and` as a command: spell it their way.
        size_t at = script.find("; and pwd");
        script.replace(at, 9, " && pwd");
      }
      std::string out = run_in(shell, script);
      std::string want = (own ? "mine " + root + "/a\n" : "") + root + "/a\n" + (own ? "mine " + root + "/missing\n" : "") +
                         "rc=1\n" + (own ? "mine " + root + "\n" : "") + "gone\n";
      EXPECT_EQ(out, want) << shell_name(shell) << (own ? " with its own cd" : "");
    }
  }
}

TEST(ShellCode, FishLeaveRestoresWhatEnterChanged) {
  if (!have("fish")) {
    GTEST_SKIP() << "fish is not installed";
  }
  ShellVars vars = {{"XX_PRELOAD", "/s.so:/old.so"}, {"VRIFT_PROJECT", "/p/it's \\ $x"}, {"VRIFT_MODE", "phantom"}};
  std::vector<std::string> names = {"XX_PRELOAD", "VRIFT_PROJECT", "VRIFT_MODE"};
  std::string script = "set -gx XX_PRELOAD /old.so; set -g VRIFT_PROJECT 'local value'; set -e VRIFT_MODE\n"
                       "function fish_prompt; printf '%s' 'st='$status' > '; end\n"
                       "function show; env | grep -E '^(XX_PRELOAD|VRIFT_MODE|VRIFT_PROJECT)=' | sort; false; "
                       "printf '[%s|%s]\\n' (fish_prompt) \"$VRIFT_PROJECT\"; set -q VRIFT_MODE; or echo no-mode; end\n"
                       "show\n";
  std::string enter = enter_code(Shell::fish, vars, "(pfx) ");
  std::string leave = leave_code(Shell::fish, names, {});
  script += "eval " + shell_quote(Shell::fish, enter) + "\nshow\n";
  script += "eval " + shell_quote(Shell::fish, enter) + "\nshow\n";
  script += "eval " + shell_quote(Shell::fish, leave) + "\nshow\n";
  std::string out = run_in(Shell::fish, script);
  std::string before = "XX_PRELOAD=/old.so\n[st=1 > |local value]\nno-mode\n";
  std::string inside = "VRIFT_MODE=phantom\nVRIFT_PROJECT=/p/it's \\ $x\nXX_PRELOAD=/s.so:/old.so\n"
                       "[(pfx) st=1 > |/p/it's \\ $x]\n";
  EXPECT_EQ(out, before + inside + inside + before);
}

TEST(ShellCode, LeaveWithoutSavedStateUsesTheFallback) {
  if (!have("bash")) {
    GTEST_SKIP() << "bash is not installed";
  }
  std::string leave = leave_code(Shell::bash, {"XX_PRELOAD", "VRIFT_MODE"},
                                 {{"XX_PRELOAD", std::string("/other.so")}, {"VRIFT_MODE", std::nullopt}});
  std::string out = run_in(Shell::bash, "export XX_PRELOAD=/s.so:/other.so VRIFT_MODE=solid\neval " +
                                            shell_quote(Shell::bash, leave) +
                                            "\nprintf '%s|%s\\n' \"$XX_PRELOAD\" \"${VRIFT_MODE-unset}\"\n");
  EXPECT_EQ(out, "/other.so|unset\n");
}

}  // namespace
}  // namespace vrift::project
