#include "project/session.hpp"

#include <dlfcn.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace vrift::project {

Outcome<std::string> find_shim() {
  if (const char* env = std::getenv("VRIFT_SHIM"); env && *env) {
    std::string path = absolute_path(env);
    if (::access(path.c_str(), R_OK) != 0) {
      return failure("cannot find the shim", path, "VRIFT_SHIM names a file that cannot be read");
    }
    return path;
  }
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    return failure("cannot find the shim", "/proc/self/exe", sys_error("readlink"));
  }
  std::string dir(exe, static_cast<size_t>(n));
  dir.resize(dir.rfind('/'));
  for (const char* candidate : {"/libvrift_shim.so", "/../lib/vrift/libvrift_shim.so", "/../lib/libvrift_shim.so"}) {
    std::string path = absolute_path(dir + candidate);
    if (::access(path.c_str(), R_OK) == 0) {
      return path;
    }
  }
  return failure("cannot find the shim", dir + "/libvrift_shim.so",
                 "it is not beside the vrift binary; set VRIFT_SHIM to its path");
}

std::string logical_project_root(const std::string& root) {
  const char* pwd = std::getenv("PWD");
  char cwd[PATH_MAX];
  if (pwd == nullptr || pwd[0] != '/' || ::getcwd(cwd, sizeof cwd) == nullptr) {
    return {};
  }
  std::string_view logical(pwd);
  std::string_view real(cwd);
  if (logical == real || !(real == root || (real.starts_with(root) && real[root.size()] == '/'))) {
    return {};
  }
  // The part below the root is the same in both, unless a symlink inside the project
  // is on the way (then no alias: only the root's own alias is understood).
  std::string_view below = real.substr(root.size());
  if (!logical.ends_with(below) || logical.size() <= below.size()) {
    return {};
  }
  std::string alias(logical.substr(0, logical.size() - below.size()));
  bool normal = alias.find("//") == std::string::npos && alias.find("/./") == std::string::npos &&
                alias.find("/../") == std::string::npos && !alias.ends_with("/.") && !alias.ends_with("/..") &&
                !alias.ends_with("/");
  struct stat a;
  struct stat r;
  if (!normal || ::stat(alias.c_str(), &a) != 0 || ::stat(root.c_str(), &r) != 0 || a.st_dev != r.st_dev ||
      a.st_ino != r.st_ino) {
    return {};
  }
  return alias;
}

std::vector<std::string> session_variables() {
  std::vector<std::string> names;
  for (const auto& [name, value] : session_environment(SessionSpec{}, {})) {
    names.push_back(name);
  }
  return names;
}

std::string preload_without_shim(std::string_view preload, std::string_view shim_path) {
  std::string rest;
  size_t i = 0;
  while (i <= preload.size()) {
    size_t j = preload.find_first_of(": ", i);
    if (j == std::string_view::npos) {
      j = preload.size();
    }
    std::string_view item = preload.substr(i, j - i);
    if (!item.empty() && item != shim_path && !item.ends_with("/libvrift_shim.so") && item != "libvrift_shim.so") {
      rest += rest.empty() ? "" : ":";
      rest += item;
    }
    i = j + 1;
  }
  return rest;
}

std::map<std::string, std::string> current_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq != nullptr) {
      env.emplace(std::string(*e, static_cast<size_t>(eq - *e)), std::string(eq + 1));
    }
  }
  return env;
}

std::map<std::string, std::string> session_environment(const SessionSpec& spec,
                                                       std::map<std::string, std::string> env) {
  std::string preload = spec.shim_path;
  if (auto it = env.find("LD_PRELOAD"); it != env.end()) {
    // Keep other preloads, before ours; drop earlier copies of ours (no stacking). The
    // shim comes last, nearest libc: a library that interposes the same calls (fakeroot)
    // sees the program's own and reaches the shim through its next definitions, and
    // one that must be loaded first (a sanitizer's runtime) still is.
    if (std::string rest = preload_without_shim(it->second, spec.shim_path); !rest.empty()) {
      preload = rest + ":" + preload;
    }
  }
  env["LD_PRELOAD"] = preload;
  env["VRIFT_PROJECT"] = spec.project.root;
  env["VRIFT_CAS_ROOT"] = spec.cas_root;
  env["VRIFT_MODE"] = mode_name(spec.mode);
  env["VRIFT_PROJECT_ALIAS"] = spec.project_alias;
  env["UV_USE_IO_URING"] = "0";
  // A program built with AddressSanitizer (whose runtime gcc links dynamically) refuses
  // to start unless that runtime comes first among its libraries, and the shim is
  // preloaded before it: this option says the order is intended. The user's own
  // options stay, and a setting of it they made wins.
  std::string asan = env["ASAN_OPTIONS"];
  if (asan.find("verify_asan_link_order=") == std::string::npos) {
    asan += asan.empty() ? "verify_asan_link_order=0" : ":verify_asan_link_order=0";
  }
  env["ASAN_OPTIONS"] = asan;
  if (spec.reingest_at_exit) {
    env.emplace("VRIFT_REINGEST", "exit");
  }
  return env;
}

namespace {

pid_t g_child = -1;

void forward_signal(int sig) {
  if (g_child > 0) {
    ::kill(g_child, sig);
  }
}

}  // namespace

Outcome<int> run_in_session(const SessionSpec& spec, const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return failure("nothing to run", "", "give a command after --, e.g. vrift run -- node app.js");
  }
  auto env = session_environment(spec, current_environment());
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [name, value] : env) {
    env_strings.push_back(name + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) {
    argp.push_back(a.data());
  }
  argp.push_back(nullptr);

  struct sigaction forward {};
  forward.sa_handler = forward_signal;
  ::sigemptyset(&forward.sa_mask);
  struct sigaction old[4];
  const int sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  for (int i = 0; i < 4; ++i) {
    ::sigaction(sigs[i], &forward, &old[i]);
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    return failure("cannot run command", argv[0], sys_error("fork"));
  }
  if (pid == 0) {
    for (int i = 0; i < 4; ++i) {
      ::sigaction(sigs[i], &old[i], nullptr);
    }
    // Exec through the shim's own execvp, so the command itself may be a phantom file
    // (./node_modules/.bin/tool) that only the shim knows how to run.
    environ = envp.data();
    using ExecvpFn = int (*)(const char*, char* const*);
    if (void* shim = ::dlopen(spec.shim_path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      if (auto shim_execvp = reinterpret_cast<ExecvpFn>(::dlsym(shim, "execvp"))) {
        shim_execvp(argp[0], argp.data());
      }
    }
    ::execvpe(argp[0], argp.data(), envp.data());
    int err = errno;
    std::string msg = "vrift: error: cannot run command (" + argv[0] + "): " + std::strerror(err) + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, msg.data(), msg.size());
    (void)ignored;
    ::_exit(err == ENOENT ? 127 : 126);
  }
  g_child = pid;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return failure("cannot wait for command", argv[0], sys_error("waitpid"));
    }
  }
  g_child = -1;
  for (int i = 0; i < 4; ++i) {
    ::sigaction(sigs[i], &old[i], nullptr);
  }
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  return 128 + WTERMSIG(status);
}

}  // namespace vrift::project
