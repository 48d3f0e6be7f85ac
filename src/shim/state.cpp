#include "shim/state.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "manifest/lmdb_manifest.hpp"
#include "shim/kernel.hpp"
#include "shim/real.hpp"
#include "shim/writes.hpp"

namespace vrift::shim {

constinit SessionConfig g_session{};
__thread int t_depth __attribute__((tls_model("initial-exec"))) = 0;
__thread bool t_vforked __attribute__((tls_model("initial-exec"))) = false;
constinit std::atomic<int> g_shim_state{k_shim_uninit};

namespace {

// This process's pid (a vfork child has another one); kept current across fork().
constinit std::atomic<pid_t> g_pid{0};

char g_manifest_dir[4096 + 32] = {};
constinit std::atomic<manifest::LmdbManifest*> g_manifest{nullptr};
constinit std::atomic<bool> g_manifest_failed{false};
// Taken only to open the manifest; a fork in the middle must not leave it locked.
constinit pthread_mutex_t g_manifest_lock = PTHREAD_MUTEX_INITIALIZER;

void open_manifest_locked() noexcept {
  manifest::OpenOptions options;
  options.read_only = !g_session.writable;
  auto opened = manifest::LmdbManifest::open(g_manifest_dir, options);
  auto* m = opened ? new (std::nothrow) manifest::LmdbManifest(std::move(*opened)) : nullptr;
  if (m == nullptr) {
    debug_log("vrift shim: cannot open manifest %s (%s); project paths pass through", g_manifest_dir,
              opened ? "out of memory" : error_reason(opened.error()));
    g_manifest_failed.store(true, std::memory_order_release);
    return;
  }
  g_manifest.store(m, std::memory_order_release);
}

bool copy_env(const char* name, char* out, size_t cap, size_t& len) {
  const char* value = std::getenv(name);
  if (value == nullptr || value[0] != '/') {
    return false;
  }
  len = std::strlen(value);
  while (len > 1 && value[len - 1] == '/') {
    --len;
  }
  if (len >= cap) {
    return false;
  }
  std::memcpy(out, value, len);
  out[len] = '\0';
  return true;
}

bool initialize() noexcept {
  Guard guard;
  g_pid.store(::getpid(), std::memory_order_relaxed);
  const char* debug = std::getenv("VRIFT_DEBUG");
  g_session.debug = debug != nullptr && debug[0] != '\0' && debug[0] != '0';
  if (!copy_env("VRIFT_PROJECT", g_session.project, sizeof g_session.project, g_session.project_len) ||
      !copy_env("VRIFT_CAS_ROOT", g_session.cas_root, sizeof g_session.cas_root, g_session.cas_root_len)) {
    return false;  // not in a session: pass everything through
  }
  if (!copy_env("VRIFT_PROJECT_ALIAS", g_session.alias, sizeof g_session.alias, g_session.alias_len) ||
      std::strcmp(g_session.alias, g_session.project) == 0) {
    g_session.alias[0] = '\0';
    g_session.alias_len = 0;
  }
  const char* mode = std::getenv("VRIFT_MODE");
  g_session.phantom = mode != nullptr && std::strcmp(mode, "phantom") == 0;
  const char* reingest = std::getenv("VRIFT_REINGEST");
  g_session.reingest_at_exit = reingest != nullptr && std::strcmp(reingest, "exit") == 0;
  struct stat st;
  if (real().fstatat(AT_FDCWD, g_session.project, &st, 0) != 0) {
    debug_log("vrift shim: project %s unreadable; passing through", g_session.project);
    return false;
  }
  g_session.project_dev = st.st_dev;
  // Managed files belong to whoever owns the project (its files would, on disk): the
  // session user in the usual case, root's for another user reading root's project.
  g_session.uid = st.st_uid;
  g_session.gid = st.st_gid;
  direct_kernel_calls();

  Dl_info self;
  if (::dladdr(reinterpret_cast<void*>(&debug_log), &self) != 0 && self.dli_fname != nullptr) {
    std::snprintf(g_session.env_preload, sizeof g_session.env_preload, "LD_PRELOAD=%s", self.dli_fname);
  }
  std::snprintf(g_session.env_project, sizeof g_session.env_project, "VRIFT_PROJECT=%s", g_session.project);
  if (g_session.alias_len > 0) {
    std::snprintf(g_session.env_alias, sizeof g_session.env_alias, "VRIFT_PROJECT_ALIAS=%s", g_session.alias);
  }
  std::snprintf(g_session.env_cas_root, sizeof g_session.env_cas_root, "VRIFT_CAS_ROOT=%s", g_session.cas_root);
  std::snprintf(g_session.env_mode, sizeof g_session.env_mode, "VRIFT_MODE=%s",
                g_session.phantom ? "phantom" : "solid");

  std::snprintf(g_manifest_dir, sizeof g_manifest_dir, "%s/.vrift/manifest.lmdb", g_session.project);
  // Read-write when the project lets this user write it: files written in the session
  // are recorded in the delta layer. Otherwise read-only, and writes to managed files
  // fail with EROFS.
  g_session.writable = ::access(g_manifest_dir, W_OK) == 0;
  // Files the previous program image was writing through descriptors that survived exec.
  adopt_writing_env();
  debug_log("vrift shim: ready, project %s, %s mode", g_session.project, g_session.phantom ? "phantom" : "solid");
  return true;
}

}  // namespace

manifest::LmdbManifest* session_manifest() noexcept {
  manifest::LmdbManifest* m = g_manifest.load(std::memory_order_acquire);
  if (__builtin_expect(m != nullptr, 1) || g_manifest_failed.load(std::memory_order_acquire)) {
    return m;
  }
  Guard guard;  // LMDB's own opens go straight through (and above k_shim_fd_floor)
  int saved = errno;
  ::pthread_mutex_lock(&g_manifest_lock);
  if (g_manifest.load(std::memory_order_acquire) == nullptr && !g_manifest_failed.load(std::memory_order_acquire)) {
    open_manifest_locked();
  }
  ::pthread_mutex_unlock(&g_manifest_lock);
  errno = saved;
  return g_manifest.load(std::memory_order_acquire);
}

Caller caller() noexcept {
  if (__builtin_expect(t_depth == 0, 1)) {
    return Caller::program;
  }
  if (__builtin_expect(!t_vforked, 1)) {
    return Caller::shim;
  }
  if (::getpid() != g_pid.load(std::memory_order_relaxed)) {  // glibc asks the kernel each time
    return Caller::vfork_child;
  }
  t_vforked = false;  // the parent, back from vfork: the child has exec'd or exited
  --t_depth;
  return t_depth == 0 ? Caller::program : Caller::shim;
}

void enter_vfork() noexcept {
  // Current even in a process made by a raw clone() or _Fork(), which run no atfork
  // handler: a stale pid would leave the parent looking like its own child.
  g_pid.store(::getpid(), std::memory_order_relaxed);
  ++t_depth;
  t_vforked = true;
}

bool active_slow() noexcept {
  if (t_depth != 0 && caller() != Caller::program) {
    return false;
  }
  int state = g_shim_state.load(std::memory_order_acquire);
  if (state == k_shim_ready) {
    return true;
  }
  if (state != k_shim_uninit) {
    return false;
  }
  int expected = k_shim_uninit;
  if (!g_shim_state.compare_exchange_strong(expected, k_shim_initializing, std::memory_order_acq_rel)) {
    return false;
  }
  int saved = errno;
  bool ok = initialize();
  errno = saved;
  g_shim_state.store(ok ? k_shim_ready : k_shim_disabled, std::memory_order_release);
  return ok;
}

namespace {
constexpr int k_unopened = -2;
constinit std::atomic<int> g_blobs_dir{k_unopened};
}  // namespace

int relocate_shim_fd(int fd) noexcept {
  if (fd < 0 || fd >= k_shim_fd_floor) {
    return fd;
  }
  int saved = errno;
  int high = real().fcntl(fd, F_DUPFD_CLOEXEC, k_shim_fd_floor);
  if (high >= 0) {
    real().close(fd);
    fd = high;
  }
  errno = saved;
  return fd;
}

int blobs_dir_fd() noexcept {
  int fd = g_blobs_dir.load(std::memory_order_acquire);
  if (fd != k_unopened) {
    return fd;
  }
  char path[sizeof g_session.cas_root + 8];
  std::snprintf(path, sizeof path, "%s/blake3", g_session.cas_root);
  int saved = errno;
  int opened = relocate_shim_fd(real().openat(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC));
  opened = opened >= 0 ? opened : -1;
  int expected = k_unopened;
  if (!g_blobs_dir.compare_exchange_strong(expected, opened, std::memory_order_acq_rel) && opened >= 0) {
    real().close(opened);  // another thread opened it first
    opened = expected;
  }
  errno = saved;
  return opened;
}

size_t shim_fds(int* out, size_t cap) noexcept {
  manifest::LmdbManifest* m = g_manifest.load(std::memory_order_acquire);  // none before it is opened
  size_t n = m != nullptr ? m->descriptors(out, cap) : 0;
  n = n < cap ? n : cap;
  int blobs = g_blobs_dir.load(std::memory_order_acquire);
  if (blobs >= 0 && n < cap) {
    out[n++] = blobs;
  }
  return n;
}

void debug_log(const char* fmt, ...) noexcept {
  if (!g_session.debug) {
    return;
  }
  int saved = errno;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) {
    errno = saved;
    return;
  }
  size_t len = static_cast<size_t>(n) < sizeof buf - 1 ? static_cast<size_t>(n) : sizeof buf - 2;
  buf[len++] = '\n';
  ssize_t ignored = ::write(STDERR_FILENO, buf, len);
  (void)ignored;
  errno = saved;
}

}  // namespace vrift::shim

namespace {

// Initializes at load as well, not only on first use: a program may clear its
// environment (env -i, a sandbox) before it calls anything the shim wraps, and the
// session's variables must have been read by then.
__attribute__((constructor)) void initialize_at_load() {
  ::pthread_atfork([] { ::pthread_mutex_lock(&vrift::shim::g_manifest_lock); },
                   [] { ::pthread_mutex_unlock(&vrift::shim::g_manifest_lock); },
                   [] {
                     ::pthread_mutex_init(&vrift::shim::g_manifest_lock, nullptr);
                     vrift::shim::g_pid.store(::getpid(), std::memory_order_relaxed);
                   });
  vrift::shim::active();
}

}  // namespace
