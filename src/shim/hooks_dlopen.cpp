// dlopen of a managed file. ld.so opens the file itself (no wrapper sees it), so a
// phantom library cannot be found; and ld.so identifies a loaded object by (device,
// inode), so two packages whose identical native addons share one blob would get one
// handle and one run of constructors ("Module did not self-register"). Each managed path
// therefore gets a real file of its own: a copy of its blob under
// <project>/.vrift/materialized/, named by the path's virtual inode, made once and
// atomically (temp + rename), reused after that.
// dladdr() names the project path, not the copy: each copy made or reused is remembered
// with its project path. Not covered yet: libraries found next to the object through
// $ORIGIN, which resolves relative to the copy.

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "shim/export.hpp"
#include "shim/origin.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {
namespace {

bool copy_fd(int from, int to, uint64_t size) {
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::copy_file_range(from, nullptr, to, nullptr, static_cast<size_t>(size - done), 0);
    if (n <= 0) {
      return false;
    }
    done += static_cast<uint64_t>(n);
  }
  return true;
}

// Writes into `out` the path of the per-path copy of a managed file, making it if needed.
bool materialize(const ManagedFile& file, char* out) {
  const char* name = std::strrchr(file.path.abs, '/');
  name = name != nullptr ? name + 1 : file.path.abs;
  char dir[PATH_MAX + 32];
  std::snprintf(dir, sizeof dir, "%s/.vrift/materialized", g_session.project);
  char id[24];
  std::snprintf(id, sizeof id, "/%llx-", static_cast<unsigned long long>(file.st.st_ino));
  size_t dir_len = std::strlen(dir);
  size_t id_len = std::strlen(id);
  size_t name_len = std::strlen(name);
  if (dir_len + id_len + name_len >= PATH_MAX) {
    return false;
  }
  std::memcpy(out, dir, dir_len);
  std::memcpy(out + dir_len, id, id_len);
  std::memcpy(out + dir_len + id_len, name, name_len + 1);
  struct stat st;
  if (real().fstatat(AT_FDCWD, out, &st, 0) == 0 && st.st_size == file.st.st_size) {
    return true;
  }
  ::mkdir(dir, 0755);
  char source[PATH_MAX];
  const char* from = file.path.abs;
  if (g_session.phantom) {
    if (!blob_path(file.entry, source)) {
      return false;
    }
    from = source;
  }
  char tmp[PATH_MAX + 96];
  std::snprintf(tmp, sizeof tmp, "%s/.tmp-%d-%llx", dir, static_cast<int>(::getpid()),
                static_cast<unsigned long long>(file.st.st_ino));
  int in = real().openat(AT_FDCWD, from, O_RDONLY | O_CLOEXEC);
  int dst = real().openat(AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0555);
  bool ok = in >= 0 && dst >= 0 && copy_fd(in, dst, static_cast<uint64_t>(file.st.st_size));
  if (in >= 0) {
    ::close(in);
  }
  if (dst >= 0) {
    ::close(dst);
  }
  if (!ok || ::rename(tmp, out) != 0) {
    ::unlink(tmp);
    return false;
  }
  return true;
}

// Copies this process loaded, with the project paths they stand for (dladdr).
struct Loaded {
  char copy[PATH_MAX];
  char project[PATH_MAX];
};
constexpr int k_max_loaded = 64;
constinit Loaded g_loaded[k_max_loaded]{};
constinit std::atomic<int> g_loaded_count{0};
constinit pthread_mutex_t g_loaded_lock = PTHREAD_MUTEX_INITIALIZER;

void remember_loaded(const char* copy, const char* project) {
  ::pthread_mutex_lock(&g_loaded_lock);
  int n = g_loaded_count.load(std::memory_order_relaxed);
  bool known = false;
  for (int i = 0; i < n && !known; ++i) {
    known = std::strcmp(g_loaded[i].copy, copy) == 0;
  }
  if (!known && n < k_max_loaded) {
    std::snprintf(g_loaded[n].copy, PATH_MAX, "%s", copy);
    std::snprintf(g_loaded[n].project, PATH_MAX, "%s", project);
    g_loaded_count.store(n + 1, std::memory_order_release);
  }
  ::pthread_mutex_unlock(&g_loaded_lock);
}

// The project path a loaded copy stands for, or null. Entries are never changed once
// published, so the returned string stays valid for the life of the process.
const char* project_of_copy(const char* name) {
  if (name == nullptr) {
    return nullptr;
  }
  int n = g_loaded_count.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    if (std::strcmp(g_loaded[i].copy, name) == 0) {
      return g_loaded[i].project;
    }
  }
  return nullptr;
}

}  // namespace
}  // namespace vrift::shim

using namespace vrift::shim;

namespace vrift::shim {
namespace {

// dli_fname of a per-path copy or of a library loaded from the $ORIGIN mirror becomes
// the project path it stands for.
void name_project_path(Dl_info* info) {
  if (const char* project = project_of_copy(info->dli_fname)) {
    info->dli_fname = project;
    return;
  }
  char path[PATH_MAX];
  if (info->dli_fname != nullptr &&
      project_of_mirror(info->dli_fname, std::strlen(info->dli_fname), path, sizeof path) != 0) {
    remember_loaded(info->dli_fname, path);
    if (const char* project = project_of_copy(info->dli_fname)) {
      info->dli_fname = project;
    }
  }
}

}  // namespace
}  // namespace vrift::shim

VRIFT_EXPORT int dladdr(const void* addr, Dl_info* info) {
  int rc = real().dladdr(addr, info);
  if (rc != 0) {
    name_project_path(info);
  }
  return rc;
}

VRIFT_EXPORT int dladdr1(const void* addr, Dl_info* info, void** extra, int flags) {
  int rc = real().dladdr1(addr, info, extra, flags);
  if (rc != 0) {
    name_project_path(info);
  }
  return rc;
}

VRIFT_EXPORT void* dlopen(const char* path, int flags) {
  if (path != nullptr && std::strchr(path, '/') != nullptr && active()) {
    int saved = errno;
    char copy[PATH_MAX];
    bool materialized = false;
    {
      ManagedFile file;
      materialized = file.resolve(AT_FDCWD, path, true) == 1 && materialize(file, copy);
    }
    errno = saved;
    if (materialized) {
      void* handle = real().dlopen(copy, flags);
      int dl_saved = errno;
      ManagedPath mp;
      if (classify(AT_FDCWD, path, mp)) {
        remember_loaded(copy, handle != nullptr ? mp.abs : path);  // a failure's message names `path`
      }
      errno = dl_saved;
      return handle;
    }
  }
  return real().dlopen(path, flags);
}

// A failed dlopen's message names the file ld.so opened: the copy. It names the path the
// program asked for instead.
VRIFT_EXPORT char* dlerror() {
  // Per thread, as dlerror's own message is; allocated on first use, since static TLS
  // must stay small for the shim to be dlopen-able (vrift run loads it that way).
  static __thread char* t_message __attribute__((tls_model("initial-exec"))) = nullptr;
  constexpr size_t k_message_cap = PATH_MAX + 512;
  char* message = real().dlerror();
  if (message == nullptr || g_loaded_count.load(std::memory_order_acquire) == 0) {
    return message;
  }
  const char* colon = std::strstr(message, ": ");
  if (colon == nullptr || static_cast<size_t>(colon - message) >= PATH_MAX) {
    return message;
  }
  char name[PATH_MAX];
  std::memcpy(name, message, static_cast<size_t>(colon - message));
  name[colon - message] = '\0';
  const char* project = project_of_copy(name);
  if (project == nullptr) {
    return message;
  }
  if (t_message == nullptr) {
    t_message = static_cast<char*>(std::malloc(k_message_cap));
    if (t_message == nullptr) {
      return message;
    }
  }
  std::snprintf(t_message, k_message_cap, "%s%s", project, colon);
  return t_message;
}
