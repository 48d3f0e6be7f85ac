// exec and spawn. Two jobs:
//  1. Children stay in the session: a program that rebuilt its environment without
//     LD_PRELOAD or the VRIFT_* variables gets them back (not `env -i` run by a static
//     binary: nothing reaches that).
//  2. A phantom file can be run: the kernel cannot open it, so an ELF runs from its blob
//     and a `#!` script runs its interpreter with the project path as the script, so $0,
//     __filename and sys.argv[0] stay project paths. (Solid projections need nothing:
//     the kernel follows the link and passes the path as given to interpreters.)
// 3. A statically linked program (esbuild, Go tools) bypasses LD_PRELOAD: in a Phantom
//     session it is named on stderr with the remedy, since it cannot see the files.
// glibc's execvp, execl* and posix_spawn* reach execve internally, so each is rebuilt
// here on the wrapped execve. Nothing here allocates: a vfork child runs it in its
// parent's memory.

#include <alloca.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "shim/export.hpp"
#include "shim/fd_paths.hpp"
#include "shim/hooks.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/origin.hpp"
#include "shim/vfs.hpp"
#include "shim/writes.hpp"

extern char** environ;

namespace vrift::shim {

namespace {

constexpr size_t k_max_args = 1024;  // execl-style argument lists only (on the stack)

size_t count(char* const* v) {
  size_t n = 0;
  while (v != nullptr && v[n] != nullptr) {
    ++n;
  }
  return n;
}

bool has_var(char* const* envp, const char* var) {
  const char* eq = std::strchr(var, '=');
  size_t n = static_cast<size_t>(eq - var) + 1;
  for (char* const* e = envp; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, var, n) == 0) {
      return std::strcmp(*e, var) == 0 || (n == 11 && std::strstr(*e, var + 11) != nullptr);
    }
  }
  return false;
}

// envp with the session's variables; `out` (count(envp) + 8 slots) is used only when
// something is missing. LD_PRELOAD keeps whatever else it held, before the shim (the
// order `vrift run` sets, session.cpp).
char* const* session_env(char* const* envp, char** out, char* preload_buf, size_t preload_cap) {
  const char* vars[] = {g_session.env_preload, g_session.env_project, g_session.env_cas_root, g_session.env_mode,
                        "UV_USE_IO_URING=0", g_session.env_alias};
  bool complete = true;
  for (const char* v : vars) {
    if (v[0] != '\0' && !has_var(envp, v)) {
      complete = false;
    }
  }
  if (complete) {
    return envp;
  }
  size_t n = 0;
  const char* old_preload = nullptr;
  for (char* const* e = envp; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "LD_PRELOAD=", 11) == 0) {
      old_preload = *e + 11;
      continue;
    }
    if (std::strncmp(*e, "VRIFT_PROJECT=", 14) == 0 || std::strncmp(*e, "VRIFT_CAS_ROOT=", 15) == 0 ||
        std::strncmp(*e, "VRIFT_MODE=", 11) == 0 || std::strncmp(*e, "UV_USE_IO_URING=", 16) == 0 ||
        std::strncmp(*e, "VRIFT_PROJECT_ALIAS=", 20) == 0) {
      continue;
    }
    out[n++] = *e;
  }
  const char* preload = g_session.env_preload;
  if (old_preload != nullptr && old_preload[0] != '\0' && std::strstr(old_preload, g_session.env_preload + 11) == nullptr &&
      std::strlen(g_session.env_preload) + 1 + std::strlen(old_preload) < preload_cap) {
    std::strcpy(preload_buf, "LD_PRELOAD=");
    std::strcat(preload_buf, old_preload);
    std::strcat(preload_buf, ":");
    std::strcat(preload_buf, g_session.env_preload + 11);
    preload = preload_buf;
  } else if (old_preload != nullptr && std::strstr(old_preload, g_session.env_preload + 11) != nullptr &&
             std::strlen(old_preload) + 11 < preload_cap) {
    std::strcpy(preload_buf, "LD_PRELOAD=");
    std::strcat(preload_buf, old_preload);
    preload = preload_buf;
  }
  if (preload[0] != '\0') {
    out[n++] = const_cast<char*>(preload);
  }
  for (size_t i = 1; i < sizeof vars / sizeof vars[0]; ++i) {
    if (vars[i][0] != '\0') {
      out[n++] = const_cast<char*>(vars[i]);
    }
  }
  out[n] = nullptr;
  return out;
}

// env plus `var` ("NAME=value", replacing NAME=...) in out (count(env) + 2 slots), or
// env itself when var is empty.
char* const* with_var(char* const* env, const char* var, char** out) {
  if (var[0] == '\0') {
    return env;
  }
  size_t name_len = static_cast<size_t>(std::strchr(var, '=') - var) + 1;
  size_t n = 0;
  for (char* const* e = env; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, var, name_len) != 0) {
      out[n++] = *e;
    }
  }
  out[n++] = const_cast<char*>(var);
  out[n] = nullptr;
  return out;
}

// The project path of the phantom executable this process runs from its blob, handed
// over by the exec that started it (VRIFT_EXE, removed from the environment at load so
// the program never sees it).
constinit char g_exe[PATH_MAX] = {};

__attribute__((constructor)) void adopt_exe() {
  const char* exe = std::getenv("VRIFT_EXE");
  if (exe == nullptr) {
    return;
  }
  if (exe[0] == '/' && std::strlen(exe) < sizeof g_exe) {
    std::strcpy(g_exe, exe);
  }
  ::unsetenv("VRIFT_EXE");
}

bool is_elf_fd(int fd) {
  char head[SELFMAG];
  return ::pread(fd, head, sizeof head, 0) == SELFMAG && std::memcmp(head, ELFMAG, SELFMAG) == 0;
}

// How to run `path` when it is a phantom file. Returns false when the path is not one
// (run it as given). On true, `exe` and `args` say what to execute.
struct Plan {
  char exe[PATH_MAX];
  char interp_arg[256];
  char** args;  // count(argv) + 4 slots, provided by the caller
  char exe_var[PATH_MAX + 16];  // "VRIFT_EXE=<project path>" for an ELF run from its blob
};

// `lookup` names the file when it differs from `path` as the program gave it (a spawn
// that changes directory first); a script still gets `path` as its name.
bool plan_phantom(const char* path, char* const* argv, Plan& plan, bool& refused, const char* lookup = nullptr) {
  refused = false;
  plan.exe_var[0] = '\0';
  if (!g_session.phantom) {
    return false;
  }
  ManagedFile file;
  int found = file.resolve(AT_FDCWD, lookup != nullptr ? lookup : path, true);
  if (found == 0) {
    return false;
  }
  if (found < 0) {
    refused = true;
    return true;
  }
  if ((file.st.st_mode & 0111) == 0) {
    refused = true;
    errno = EACCES;
    return true;
  }
  char blob[PATH_MAX];
  if (!blob_path(file.entry, blob)) {
    refused = true;
    errno = ENAMETOOLONG;
    return true;
  }
  char head[256];
  ssize_t n = -1;
  int fd = real().openat(AT_FDCWD, blob, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    n = ::read(fd, head, sizeof head - 1);
    ::close(fd);
  }
  if (n >= 2 && head[0] == '#' && head[1] == '!') {
    // "#!interp [one arg]", as the kernel reads it.
    head[n] = '\0';
    char* end = std::strchr(head, '\n');
    if (end == nullptr) {
      refused = true;
      errno = ENOEXEC;
      return true;
    }
    *end = '\0';
    char* p = head + 2;
    while (*p == ' ' || *p == '\t') {
      ++p;
    }
    char* interp = p;
    while (*p != '\0' && *p != ' ' && *p != '\t') {
      ++p;
    }
    char* arg = nullptr;
    if (*p != '\0') {
      *p++ = '\0';
      while (*p == ' ' || *p == '\t') {
        ++p;
      }
      if (*p != '\0') {
        arg = p;
        for (char* q = arg + std::strlen(arg); q > arg && (q[-1] == ' ' || q[-1] == '\t'); --q) {
          q[-1] = '\0';
        }
      }
    }
    std::strncpy(plan.exe, interp, sizeof plan.exe - 1);
    plan.exe[sizeof plan.exe - 1] = '\0';
    size_t i = 0;
    plan.args[i++] = plan.exe;
    if (arg != nullptr) {
      std::strncpy(plan.interp_arg, arg, sizeof plan.interp_arg - 1);
      plan.interp_arg[sizeof plan.interp_arg - 1] = '\0';
      plan.args[i++] = plan.interp_arg;
    }
    plan.args[i++] = const_cast<char*>(path);
    for (size_t k = 1; argv != nullptr && argv[0] != nullptr && argv[k] != nullptr; ++k) {
      plan.args[i++] = argv[k];
    }
    plan.args[i] = nullptr;
    return true;
  }
  std::strcpy(plan.exe, blob);
  if (n >= 4 && std::memcmp(head, ELFMAG, SELFMAG) == 0) {
    std::snprintf(plan.exe_var, sizeof plan.exe_var, "VRIFT_EXE=%s", file.path.abs);
    file.lookup.release();  // the mirror looks up the program's libraries
    char mirror[PATH_MAX];
    if (mirror_for_origin(file.path, blob, mirror)) {
      std::strcpy(plan.exe, mirror);
    }
  }
  size_t i = 0;
  for (; argv != nullptr && argv[i] != nullptr; ++i) {
    plan.args[i] = argv[i];
  }
  plan.args[i] = nullptr;
  return true;
}

// Calls visit(candidate) for `file` in each directory of $PATH (default /bin:/usr/bin;
// an empty entry is the cwd) until it returns true. Returns whether one did.
template <class Visit>
bool search_path(const char* file, Visit&& visit) {
  const char* dirs = std::getenv("PATH");
  if (dirs == nullptr) {
    dirs = "/bin:/usr/bin";
  }
  size_t flen = std::strlen(file);
  for (const char* p = dirs;; ++p) {
    const char* start = p;
    while (*p != '\0' && *p != ':') {
      ++p;
    }
    size_t dlen = static_cast<size_t>(p - start);
    char candidate[PATH_MAX];
    if (dlen + 2 + flen < sizeof candidate) {
      size_t n = 0;
      if (dlen == 0) {
        candidate[n++] = '.';
      } else {
        std::memcpy(candidate, start, dlen);
        n = dlen;
      }
      candidate[n++] = '/';
      std::memcpy(candidate + n, file, flen + 1);
      if (visit(candidate)) {
        return true;
      }
    }
    if (*p == '\0') {
      return false;
    }
  }
}

// True when `path` is an ELF executable without an interpreter (statically linked): no
// LD_PRELOAD reaches it.
bool is_static_elf(const char* path) {
  int fd = real().openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  Elf64_Ehdr eh;
  bool is_static = false;
  if (::pread(fd, &eh, sizeof eh, 0) == static_cast<ssize_t>(sizeof eh) && std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
      eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum > 0 &&
      eh.e_phnum < 256) {
    is_static = true;
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr ph;
      off_t at = static_cast<off_t>(eh.e_phoff + i * sizeof ph);
      if (::pread(fd, &ph, sizeof ph, at) != static_cast<ssize_t>(sizeof ph) || ph.p_type == PT_INTERP) {
        is_static = false;
        break;
      }
    }
  }
  ::close(fd);
  return is_static;
}

// A Phantom session cannot show its files to a static program: say so, once per exec.
void warn_if_static(const char* path) {
  if (g_session.phantom && is_static_elf(path)) {
    char msg[PATH_MAX + 256];
    int n = std::snprintf(msg, sizeof msg,
                          "vrift: warning: %s is statically linked and cannot see Phantom files; "
                          "run it in a Solid session (vrift run --solid)\n",
                          path);
    if (n > 0) {
      ssize_t ignored = ::write(STDERR_FILENO, msg, static_cast<size_t>(n) < sizeof msg ? static_cast<size_t>(n) : sizeof msg - 1);
      (void)ignored;
    }
  }
}

// env with `var` ("NAME=value") set, replacing an earlier value; `out` has
// count(env) + 2 slots.
char* const* with_var(char* const* env, char** out, char* var) {
  size_t name_len = static_cast<size_t>(std::strchr(var, '=') - var) + 1;
  size_t n = 0;
  for (char* const* e = env; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, var, name_len) != 0) {
      out[n++] = *e;
    }
  }
  out[n++] = var;
  out[n] = nullptr;
  return out;
}

// A vfork child (state.hpp) execs here and in fexecve/execveat with the session's
// variables put back and nothing else: vfork() below lets one exist only where nothing
// more is needed (a Solid session: no phantom file to plan; no file being written:
// nothing to hand over), and no guard may be raised (a successful exec never lowers it).
int exec_impl(const char* path, char* const* argv, char* const* envp) {
  if (caller() == Caller::vfork_child) {
    auto** env_slots = static_cast<char**>(alloca((count(envp) + 8) * sizeof(char*)));
    char preload[8192];
    return real().execve(path, argv, session_env(envp, env_slots, preload, sizeof preload));
  }
  if (!active()) {
    return real().execve(path, argv, envp);
  }
  Guard guard;
  // Sized to what is there: a vfork child or a small thread stack cannot afford more.
  auto** env_slots = static_cast<char**>(alloca((count(envp) + 8) * sizeof(char*)));
  char preload[8192];
  char* const* env = session_env(envp, env_slots, preload, sizeof preload);
  char writing[8192];
  if (writing_env(writing, sizeof writing)) {
    auto** slots = static_cast<char**>(alloca((count(env) + 2) * sizeof(char*)));
    env = with_var(env, slots, writing);
  }
  Plan plan;
  plan.args = static_cast<char**>(alloca((count(argv) + 4) * sizeof(char*)));
  bool refused = false;
  if (plan_phantom(path, argv, plan, refused)) {
    if (refused) {
      return -1;
    }
    warn_if_static(plan.exe);
    auto** exe_env = static_cast<char**>(alloca((count(env) + 2) * sizeof(char*)));
    return real().execve(plan.exe, plan.args, with_var(env, plan.exe_var, exe_env));
  }
  warn_if_static(path);
  return real().execve(path, argv, env);
}

// execvpe as glibc does it, on the wrapped execve: search PATH, fall back to /bin/sh
// for an executable that is not one the kernel can run.
int execvpe_impl(const char* file, char* const* argv, char* const* envp) {
  if (file == nullptr || file[0] == '\0') {
    errno = ENOENT;
    return -1;
  }
  if (std::strchr(file, '/') != nullptr) {
    exec_impl(file, argv, envp);
    return -1;
  }
  bool saw_eacces = false;
  bool stop = search_path(file, [&](char* candidate) {
    exec_impl(candidate, argv, envp);
    if (errno == ENOEXEC) {
      // A script without "#!": glibc runs it with /bin/sh.
      auto** sh_args = static_cast<char**>(alloca((count(argv) + 3) * sizeof(char*)));
      size_t i = 0;
      sh_args[i++] = const_cast<char*>("/bin/sh");
      sh_args[i++] = candidate;
      for (size_t k = 1; argv[0] != nullptr && argv[k] != nullptr; ++k) {
        sh_args[i++] = argv[k];
      }
      sh_args[i] = nullptr;
      exec_impl("/bin/sh", sh_args, envp);
      return true;
    }
    if (errno == EACCES) {
      saw_eacces = true;
      return false;
    }
    return errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT;
  });
  if (stop) {
    return -1;
  }
  errno = saw_eacces ? EACCES : ENOENT;
  return -1;
}

// Collects execl-style arguments into argv (k_max_args + 1 slots).
void collect_args(const char* arg0, va_list ap, char** argv, char* const** envp_out) {
  size_t i = 0;
  argv[i++] = const_cast<char*>(arg0);
  while (arg0 != nullptr && i < k_max_args) {
    char* a = va_arg(ap, char*);
    argv[i++] = a;
    if (a == nullptr) {
      break;
    }
  }
  argv[k_max_args] = nullptr;
  if (envp_out != nullptr) {
    *envp_out = va_arg(ap, char* const*);
  }
}

// The directory a spawn's file actions change to (posix_spawn_file_actions_addchdir_np),
// so that a relative program or addopen path is looked up where the child will be.
struct SpawnDir {
  std::atomic<const posix_spawn_file_actions_t*> actions{nullptr};
  char dir[PATH_MAX];
};
constexpr int k_spawn_dirs = 16;
constinit SpawnDir g_spawn_dirs[k_spawn_dirs]{};

SpawnDir* spawn_dir(const posix_spawn_file_actions_t* actions) {
  for (SpawnDir& d : g_spawn_dirs) {
    if (actions != nullptr && d.actions.load(std::memory_order_acquire) == actions) {
      return &d;
    }
  }
  return nullptr;
}

void forget_spawn_dir(const posix_spawn_file_actions_t* actions) {
  if (SpawnDir* d = spawn_dir(actions)) {
    d->actions.store(nullptr, std::memory_order_release);
  }
}

void record_spawn_dir(const posix_spawn_file_actions_t* actions, const char* dir) {
  forget_spawn_dir(actions);
  if (std::strlen(dir) >= PATH_MAX) {
    return;
  }
  for (SpawnDir& d : g_spawn_dirs) {
    const posix_spawn_file_actions_t* expected = nullptr;
    // Claimed with a marker first, so no reader sees the slot before its dir is written.
    auto* claim = reinterpret_cast<const posix_spawn_file_actions_t*>(uintptr_t{1});
    if (d.actions.compare_exchange_strong(expected, claim, std::memory_order_acq_rel)) {
      std::strcpy(d.dir, dir);
      d.actions.store(actions, std::memory_order_release);
      return;
    }
  }
}

// Where a relative `path` is for a child that changes directory first (written into
// joined), or nullptr when it is where it says.
const char* spawn_lookup_path(const posix_spawn_file_actions_t* actions, const char* path, char* joined) {
  SpawnDir* d = path[0] == '/' ? nullptr : spawn_dir(actions);
  if (d == nullptr) {
    return nullptr;
  }
  int n = std::snprintf(joined, PATH_MAX, "%s/%s", d->dir, path);
  return n > 0 && n < PATH_MAX ? joined : nullptr;
}

int spawn_impl(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
               const posix_spawnattr_t* attr, char* const* argv, char* const* envp, bool search) {
  if (!active()) {
    return search ? real().posix_spawnp(pid, path, actions, attr, argv, envp)
                  : real().posix_spawn(pid, path, actions, attr, argv, envp);
  }
  Guard guard;
  auto** env_slots = static_cast<char**>(alloca((count(envp) + 8) * sizeof(char*)));
  char preload[8192];
  char* const* env = session_env(envp, env_slots, preload, sizeof preload);
  char writing[8192];
  if (writing_env(writing, sizeof writing)) {
    auto** slots = static_cast<char**>(alloca((count(env) + 2) * sizeof(char*)));
    env = with_var(env, slots, writing);
  }
  Plan plan;
  plan.args = static_cast<char**>(alloca((count(argv) + 4) * sizeof(char*)));
  bool refused = false;
  auto** exe_env = static_cast<char**>(alloca((count(env) + 2) * sizeof(char*)));
  if (!search || std::strchr(path, '/') != nullptr) {
    char joined[PATH_MAX];
    const char* lookup = spawn_lookup_path(actions, path, joined);
    if (plan_phantom(path, argv, plan, refused, lookup)) {
      return refused ? errno
                     : real().posix_spawn(pid, plan.exe, actions, attr, plan.args, with_var(env, plan.exe_var, exe_env));
    }
    if (!search) {
      warn_if_static(path);
    }
    return search ? real().posix_spawnp(pid, path, actions, attr, argv, env)
                  : real().posix_spawn(pid, path, actions, attr, argv, env);
  }
  // posix_spawnp of a bare name: a phantom executable on PATH comes first where it is.
  int spawned = -1;
  search_path(path, [&](char* candidate) {
    if (plan_phantom(candidate, argv, plan, refused) && !refused) {
      spawned = real().posix_spawn(pid, plan.exe, actions, attr, plan.args, with_var(env, plan.exe_var, exe_env));
      return true;
    }
    struct stat st;
    return real().fstatat(AT_FDCWD, candidate, &st, 0) == 0;  // a real file first: glibc runs it
  });
  if (spawned >= 0) {
    return spawned;
  }
  return real().posix_spawnp(pid, path, actions, attr, argv, env);
}

}  // namespace

size_t exe_project_path(const char* target, size_t n, char* out, size_t cap) noexcept {
  if (g_exe[0] != '\0') {
    if (size_t len = project_of_mirror(target, n, out, cap); len != 0) {
      return len;  // run from the $ORIGIN mirror
    }
  }
  size_t root = g_session.cas_root_len;
  if (g_exe[0] == '\0' || n <= root || std::memcmp(target, g_session.cas_root, root) != 0 || target[root] != '/') {
    return 0;
  }
  ManagedFile file;
  if (file.resolve(AT_FDCWD, g_exe, true) != 1 || !names_blob(file.entry, target, n)) {
    return 0;  // not the blob this process was started from
  }
  size_t len = std::strlen(g_exe);
  if (len >= cap) {
    return 0;
  }
  std::memcpy(out, g_exe, len + 1);
  return len;
}

}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT int execve(const char* path, char* const* argv, char* const* envp) { return exec_impl(path, argv, envp); }
VRIFT_EXPORT int execv(const char* path, char* const* argv) { return exec_impl(path, argv, environ); }
VRIFT_EXPORT int execvp(const char* file, char* const* argv) { return execvpe_impl(file, argv, environ); }
VRIFT_EXPORT int execvpe(const char* file, char* const* argv, char* const* envp) {
  return execvpe_impl(file, argv, envp);
}

VRIFT_EXPORT int execl(const char* path, const char* arg0, ...) {
  char* argv[k_max_args + 1];
  va_list ap;
  va_start(ap, arg0);
  collect_args(arg0, ap, argv, nullptr);
  va_end(ap);
  return exec_impl(path, argv, environ);
}

VRIFT_EXPORT int execlp(const char* file, const char* arg0, ...) {
  char* argv[k_max_args + 1];
  va_list ap;
  va_start(ap, arg0);
  collect_args(arg0, ap, argv, nullptr);
  va_end(ap);
  return execvpe_impl(file, argv, environ);
}

VRIFT_EXPORT int execle(const char* path, const char* arg0, ...) {
  char* argv[k_max_args + 1];
  char* const* envp = nullptr;
  va_list ap;
  va_start(ap, arg0);
  collect_args(arg0, ap, argv, &envp);
  va_end(ap);
  return exec_impl(path, argv, envp);
}

VRIFT_EXPORT int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                             const posix_spawnattr_t* attr, char* const* argv, char* const* envp) {
  return spawn_impl(pid, path, actions, attr, argv, envp, false);
}

VRIFT_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                              const posix_spawnattr_t* attr, char* const* argv, char* const* envp) {
  return spawn_impl(pid, file, actions, attr, argv, envp, true);
}

// fexecve runs what fd is. A phantom ELF's fd is its blob: it runs as execve of its
// project path instead. glibc's fexecve reaches execveat internally.
VRIFT_EXPORT int fexecve(int fd, char* const* argv, char* const* envp) {
  if (caller() == Caller::vfork_child) {
    auto** env_slots = static_cast<char**>(alloca((count(envp) + 8) * sizeof(char*)));
    char preload[8192];
    return real().fexecve(fd, argv, session_env(envp, env_slots, preload, sizeof preload));
  }
  if (!active()) {
    return real().fexecve(fd, argv, envp);
  }
  char project[PATH_MAX];
  bool phantom_elf = false;
  {
    Guard guard;
    phantom_elf = g_session.phantom && fd_project_path(fd, project, sizeof project) > 0 && is_elf_fd(fd);
  }
  if (phantom_elf) {
    // The same bytes, run by their project path: exec finds its $ORIGIN libraries and
    // tells the program its path.
    return exec_impl(project, argv, envp);
  }
  Guard guard;
  auto** env_slots = static_cast<char**>(alloca((count(envp) + 8) * sizeof(char*)));
  char preload[8192];
  return real().fexecve(fd, argv, session_env(envp, env_slots, preload, sizeof preload));
}

// execveat of (dirfd, name) runs as execve of "/dev/fd/<dirfd>/<name>", the name the
// kernel gives a script run this way, which the wrapped execve can look up.
VRIFT_EXPORT int execveat(int dirfd, const char* path, char* const* argv, char* const* envp, int flags) {
  if (caller() == Caller::vfork_child) {
    auto** env_slots = static_cast<char**>(alloca((count(envp) + 8) * sizeof(char*)));
    char preload[8192];
    return real().execveat(dirfd, path, argv, session_env(envp, env_slots, preload, sizeof preload), flags);
  }
  if (!active()) {
    return real().execveat(dirfd, path, argv, envp, flags);
  }
  if ((flags & AT_EMPTY_PATH) != 0 && path[0] == '\0') {
    return fexecve(dirfd, argv, envp);
  }
  if (flags != 0) {
    Guard guard;
    auto** env_slots = static_cast<char**>(alloca((count(envp) + 8) * sizeof(char*)));
    char preload[8192];
    return real().execveat(dirfd, path, argv, session_env(envp, env_slots, preload, sizeof preload), flags);
  }
  char name[PATH_MAX];
  if (path[0] != '/' && dirfd != AT_FDCWD) {
    int n = std::snprintf(name, sizeof name, "/dev/fd/%d/%s", dirfd, path);
    if (n < 0 || static_cast<size_t>(n) >= sizeof name) {
      errno = ENAMETOOLONG;
      return -1;
    }
    path = name;
  }
  return exec_impl(path, argv, envp);
}

// A read-only addopen of a phantom file opens its blob in the child (the child's open is
// glibc's own, which no wrapper sees).
VRIFT_EXPORT int posix_spawn_file_actions_addopen(posix_spawn_file_actions_t* actions, int fd, const char* path,
                                                  int oflag, mode_t mode) noexcept {
  if (active() && g_session.phantom && (oflag & (O_WRONLY | O_RDWR | O_TRUNC | O_APPEND | O_CREAT)) == 0) {
    char joined[PATH_MAX];
    const char* lookup = spawn_lookup_path(actions, path, joined);
    char blob[PATH_MAX];
    bool found = false;
    {
      int saved = errno;
      ManagedFile file;
      found = file.resolve(AT_FDCWD, lookup != nullptr ? lookup : path, (oflag & O_NOFOLLOW) == 0) == 1 &&
              blob_path(file.entry, blob);
      errno = saved;
    }
    if (found) {
      return real().posix_spawn_file_actions_addopen(actions, fd, blob, oflag, mode);
    }
  }
  return real().posix_spawn_file_actions_addopen(actions, fd, path, oflag, mode);
}

VRIFT_EXPORT int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t* actions, const char* path) noexcept {
  int rc = real().posix_spawn_file_actions_addchdir_np(actions, path);
  if (rc == 0) {
    record_spawn_dir(actions, path);
  }
  return rc;
}

VRIFT_EXPORT int posix_spawn_file_actions_init(posix_spawn_file_actions_t* actions) noexcept {
  forget_spawn_dir(actions);
  return real().posix_spawn_file_actions_init(actions);
}

VRIFT_EXPORT int posix_spawn_file_actions_destroy(posix_spawn_file_actions_t* actions) noexcept {
  forget_spawn_dir(actions);
  return real().posix_spawn_file_actions_destroy(actions);
}

// vfork. A compiler driver or Python's subprocess starts every child this way, and a
// fork instead (copying the page tables, then faulting in copy-on-write pages) cost a
// build ~10% of its time. The child of a real vfork shares this process's memory and
// the calling thread's TLS until it execs, so state.hpp's Caller::vfork_child applies:
// it passes through and only exec does anything. A fork is kept where the child could
// need more: in a Phantom session its exec may have to look a phantom file up in the
// manifest, and with files being written it would have their descriptors to hand over.
extern "C" __attribute__((visibility("hidden"))) void* vrift_vfork_target() noexcept {
  static std::atomic<void*> real_vfork{nullptr};
  void* fn = real_vfork.load(std::memory_order_acquire);
  if (fn == nullptr) {
    fn = ::dlsym(RTLD_NEXT, "vfork");
    real_vfork.store(fn, std::memory_order_release);
  }
  auto* fork_fn = reinterpret_cast<void*>(&::fork);
  if (caller() == Caller::vfork_child) {
    return fn != nullptr ? fn : fork_fn;  // a vfork child's own vfork: nothing of ours runs below it
  }
  // Not active (the shim disabled, or still initializing in another thread, after which
  // a child would no longer pass through) or the child could need more: a fork.
  if (!active() || fn == nullptr || g_session.phantom || writes_in_progress()) {
    return fork_fn;
  }
  enter_vfork();
  return fn;
}

#if defined(__x86_64__)
// The wrapper cannot call vfork and return: the child would return through this frame
// and the parent find it clobbered. It asks vrift_vfork_target() which function to
// run, then jumps to it, so libc's vfork (or fork) returns straight to our caller.
#if defined(__CET__)
#define VRIFT_VFORK_ENDBR "endbr64\n"
#else
#define VRIFT_VFORK_ENDBR ""
#endif
asm(".text\n"
    ".globl vfork\n"
    ".type vfork, @function\n"
    "vfork:\n" VRIFT_VFORK_ENDBR
    "sub $8, %rsp\n"  // keeps the stack 16-byte aligned for the call
    "call vrift_vfork_target\n"
    "add $8, %rsp\n"
    "jmp *%rax\n"
    ".size vfork, .-vfork\n");
#undef VRIFT_VFORK_ENDBR
#else
VRIFT_EXPORT pid_t vfork(void) { return ::fork(); }  // elsewhere: a true fork, always safe
#endif
