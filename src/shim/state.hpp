#pragma once
// The shim's process-wide state: what the session said (project, The Source, mode), the
// manifest, and the guard that keeps the shim's own calls from re-entering it.
//
// Initialization is lazy and happens inside the first wrapper that needs it, because
// other libraries' constructors call wrapped functions before ours runs. States:
// uninit -> initializing -> ready (or disabled when there is no session or the manifest
// cannot be opened: then every wrapper passes straight through). A call that arrives
// while another thread initializes passes through too.
//
// Every global of the shim is constinit: other libraries' constructors may initialize
// the shim before its own constructors would run, and a dynamic initializer running
// afterwards would wipe that state.
//
// The re-entry guard is a thread-local counter in the initial-exec TLS model (a
// preloaded object gets static TLS: no allocation on first touch). Wrappers that find it
// raised pass through: that is how LMDB's own open/fstat/mmap calls, made from inside a
// lookup, reach libc untouched.

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vrift::manifest {
class LmdbManifest;
struct Entry;
}  // namespace vrift::manifest

namespace vrift::shim {

struct SessionConfig {
  char project[4096] = {};   // absolute, normalized, no trailing '/'
  size_t project_len = 0;
  char alias[4096] = {};     // the project root reached through a symlink, or empty
  size_t alias_len = 0;
  char cas_root[4096] = {};  // absolute
  size_t cas_root_len = 0;
  bool phantom = false;
  bool writable = false;     // the manifest is open read-write (files can be re-ingested)
  bool reingest_at_exit = false;  // VRIFT_REINGEST=exit: `vrift run` re-ingests written files at its end
  bool debug = false;
  dev_t project_dev = 0;
  uid_t uid = 0;             // owner of managed files: the project root's owner
  gid_t gid = 0;
  // The session's variables as "NAME=value", for children whose environment lost them.
  char env_preload[4096 + 16] = {};  // LD_PRELOAD=<this shim>
  char env_project[4096 + 16] = {};
  char env_alias[4096 + 32] = {};  // empty when there is no alias
  char env_cas_root[4096 + 16] = {};
  char env_mode[32] = {};
};

extern SessionConfig g_session;

// The project's manifest, opened on the first call that needs it (most programs a
// build runs never touch a project path, and opening costs ~0.15 ms of their start);
// nullptr when it cannot be opened (every project path then passes through).
manifest::LmdbManifest* session_manifest() noexcept;

extern __thread int t_depth __attribute__((tls_model("initial-exec")));
extern __thread bool t_vforked __attribute__((tls_model("initial-exec")));

// Who is calling a wrapper. The child of a vfork() runs in its parent's memory, on the
// calling thread's TLS, until it execs: nothing it does may change the shim's state.
// The vfork wrapper (hooks_exec.cpp) raises that thread's guard and marks it; the child
// finds the guard raised and passes everything through (exec still puts the session's
// variables back, and writes that would need a break-before-write are refused), and the
// parent, told apart by its pid, lowers the guard again on its next call.
enum class Caller : uint8_t { program, shim, vfork_child };
Caller caller() noexcept;

// The vfork wrapper's half of the above, in the parent just before the vfork.
void enter_vfork() noexcept;

// The shim's state (state.cpp): uninitialized, initializing, ready or disabled.
enum : int { k_shim_uninit = 0, k_shim_initializing = 1, k_shim_ready = 2, k_shim_disabled = 3 };
extern std::atomic<int> g_shim_state;

// active() past its common case: initializes, or tells a nested call apart.
bool active_slow() noexcept;

// True when the shim is ready and this call is not nested inside the shim itself (nor
// made by a vfork child). Initializes on first use. Inline: every wrapper asks first.
inline bool active() noexcept {
  if (__builtin_expect(t_depth == 0 && g_shim_state.load(std::memory_order_acquire) == k_shim_ready, 1)) {
    return true;
  }
  return active_slow();
}

// Raises the re-entry guard for a scope, and keeps errno as the caller expects: a
// wrapper sets errno only for the result it reports.
class Guard {
 public:
  Guard() noexcept { ++t_depth; }
  ~Guard() { --t_depth; }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
};

// Files the shim itself opens (LMDB's, from inside a lookup, and its own) sit at this
// descriptor or above and close on exec: a program expecting its first open to be fd 3
// still gets it, and no child inherits them.
inline constexpr int k_shim_fd_floor = 1000;

// Moves a descriptor the shim opened for itself to k_shim_fd_floor or above,
// close-on-exec (returned; `fd` itself when it cannot be moved or is negative). Keeps
// errno.
int relocate_shim_fd(int fd) noexcept;

// The Source's blake3/ directory, opened on first use (O_PATH, close-on-exec, at fd
// 1000 or above): blobs opened relative to it skip the walk of The Source's own path.
// -1 when it cannot be opened.
int blobs_dir_fd() noexcept;

// The descriptors the shim keeps open for itself (the manifest's, the blobs directory),
// at most `cap` of them, written to `out`. A program closing "every descriptor" must not
// close these: the session would lose its view.
size_t shim_fds(int* out, size_t cap) noexcept;

// One line on stderr when VRIFT_DEBUG is set (a stack buffer and one write).
void debug_log(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));

}  // namespace vrift::shim
