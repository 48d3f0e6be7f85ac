#include "shim/origin.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {
namespace {

constexpr int k_max_needed = 32;
constexpr int k_max_depth = 8;

// What ld.so reads of an ELF object to find its libraries.
struct ElfDeps {
  char search[PATH_MAX] = {};  // DT_RUNPATH, else DT_RPATH
  char needed[k_max_needed][256] = {};
  int needed_count = 0;
};

bool read_string(int fd, off_t at, char* out, size_t cap) {
  ssize_t n = ::pread(fd, out, cap - 1, at);
  if (n <= 0) {
    return false;
  }
  out[n] = '\0';
  return std::memchr(out, '\0', static_cast<size_t>(n)) != nullptr;
}

// Reads the dynamic section of a 64-bit ELF file. False when it is not one or has none.
bool read_deps(const char* path, ElfDeps& deps) {
  int fd = real().openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  bool ok = false;
  Elf64_Ehdr eh;
  Elf64_Phdr ph[64];
  Elf64_Dyn dyn[512];
  if (::pread(fd, &eh, sizeof eh, 0) == sizeof eh && std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
      eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum <= 64 &&
      ::pread(fd, ph, eh.e_phnum * sizeof(Elf64_Phdr), static_cast<off_t>(eh.e_phoff)) ==
          static_cast<ssize_t>(eh.e_phnum * sizeof(Elf64_Phdr))) {
    const Elf64_Phdr* dynamic = nullptr;
    for (int i = 0; i < eh.e_phnum; ++i) {
      dynamic = ph[i].p_type == PT_DYNAMIC ? &ph[i] : dynamic;
    }
    ssize_t got = dynamic == nullptr ? -1
                                     : ::pread(fd, dyn, std::min<size_t>(dynamic->p_filesz, sizeof dyn),
                                               static_cast<off_t>(dynamic->p_offset));
    if (got > 0) {
      uint64_t strtab = 0;
      int64_t runpath = -1;
      int64_t rpath = -1;
      uint64_t needed[k_max_needed];
      int needed_count = 0;
      for (size_t i = 0; i < static_cast<size_t>(got) / sizeof(Elf64_Dyn) && dyn[i].d_tag != DT_NULL; ++i) {
        switch (dyn[i].d_tag) {
          case DT_STRTAB: strtab = dyn[i].d_un.d_ptr; break;
          case DT_RUNPATH: runpath = static_cast<int64_t>(dyn[i].d_un.d_val); break;
          case DT_RPATH: rpath = static_cast<int64_t>(dyn[i].d_un.d_val); break;
          case DT_NEEDED:
            if (needed_count < k_max_needed) {
              needed[needed_count++] = dyn[i].d_un.d_val;
            }
            break;
          default: break;
        }
      }
      // The string table's file offset, through the loadable segment that holds it.
      off_t strtab_off = -1;
      for (int i = 0; i < eh.e_phnum; ++i) {
        if (ph[i].p_type == PT_LOAD && strtab >= ph[i].p_vaddr && strtab < ph[i].p_vaddr + ph[i].p_filesz) {
          strtab_off = static_cast<off_t>(strtab - ph[i].p_vaddr + ph[i].p_offset);
        }
      }
      int64_t search = runpath >= 0 ? runpath : rpath;
      ok = strtab_off >= 0 && search >= 0 && read_string(fd, strtab_off + search, deps.search, sizeof deps.search);
      for (int i = 0; ok && i < needed_count; ++i) {
        if (read_string(fd, strtab_off + static_cast<off_t>(needed[i]), deps.needed[deps.needed_count], 256)) {
          ++deps.needed_count;
        }
      }
    }
  }
  real().close(fd);
  return ok;
}

// <project>/.vrift/materialized/tree
size_t mirror_root(char* out, size_t cap) {
  int n = std::snprintf(out, cap, "%s/.vrift/materialized/tree", g_session.project);
  return n > 0 && static_cast<size_t>(n) < cap ? static_cast<size_t>(n) : 0;
}

// Copies `from` to `dest` (creating its directories) unless a copy of that size is
// there already; temp + rename, so a copy is whole or absent.
bool copy_to(const char* from, const char* dest, mode_t mode, off_t size) {
  struct stat st;
  if (real().fstatat(AT_FDCWD, dest, &st, 0) == 0 && st.st_size == size) {
    return true;
  }
  char dir[PATH_MAX];
  std::snprintf(dir, sizeof dir, "%s", dest);
  for (char* slash = std::strchr(dir + 1, '/'); slash != nullptr; slash = std::strchr(slash + 1, '/')) {
    *slash = '\0';
    real().mkdir(dir, 0755);
    *slash = '/';
  }
  char tmp[PATH_MAX + 32];
  std::snprintf(tmp, sizeof tmp, "%s.tmp-%d", dest, static_cast<int>(::getpid()));
  int in = real().openat(AT_FDCWD, from, O_RDONLY | O_CLOEXEC);
  int out = real().openat(AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  bool ok = in >= 0 && out >= 0;
  for (off_t done = 0; ok && done < size;) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, static_cast<size_t>(size - done), 0);
    ok = n > 0;
    done += n > 0 ? n : 0;
  }
  if (in >= 0) {
    real().close(in);
  }
  if (out >= 0) {
    real().close(out);
  }
  if (!ok || real().rename(tmp, dest) != 0) {
    real().unlink(tmp);
    return false;
  }
  return true;
}

// Copies into the mirror every phantom library that `deps`' $ORIGIN entries name, with
// $ORIGIN = `origin` (an absolute project directory), and theirs in turn.
void mirror_deps(const char* origin, const ElfDeps& deps, const char* root, int depth) {
  for (const char* entry = deps.search; *entry != '\0' && depth < k_max_depth;) {
    const char* end = std::strchr(entry, ':');
    size_t len = end != nullptr ? static_cast<size_t>(end - entry) : std::strlen(entry);
    char dir[PATH_MAX];
    size_t n = 0;
    bool uses_origin = false;
    for (size_t i = 0; i < len && n + 1 < sizeof dir;) {
      size_t token = std::strncmp(entry + i, "${ORIGIN}", 9) == 0 ? 9 : std::strncmp(entry + i, "$ORIGIN", 7) == 0 ? 7 : 0;
      if (token != 0 && n + std::strlen(origin) < sizeof dir) {
        n += static_cast<size_t>(std::snprintf(dir + n, sizeof dir - n, "%s", origin));
        i += token;
        uses_origin = true;
      } else {
        dir[n++] = entry[i++];
      }
    }
    dir[n] = '\0';
    for (int k = 0; uses_origin && k < deps.needed_count; ++k) {
      char candidate[PATH_MAX];
      if (std::snprintf(candidate, sizeof candidate, "%s/%s", dir, deps.needed[k]) >= PATH_MAX) {
        continue;
      }
      char blob[PATH_MAX];
      char dest[PATH_MAX];
      char lib_dir[PATH_MAX];
      mode_t mode = 0;
      off_t size = 0;
      {
        ManagedFile lib;
        if (lib.resolve(AT_FDCWD, candidate, true) != 1 || !blob_path(lib.entry, blob) ||
            std::snprintf(dest, sizeof dest, "%s/%.*s", root, static_cast<int>(lib.path.rel_len), lib.path.rel) >= PATH_MAX) {
          continue;
        }
        mode = lib.st.st_mode & 0777;
        size = lib.st.st_size;
        std::snprintf(lib_dir, sizeof lib_dir, "%s", lib.path.abs);
        *std::strrchr(lib_dir, '/') = '\0';
      }
      ElfDeps lib_deps;
      if (copy_to(blob, dest, mode, size) && read_deps(blob, lib_deps)) {
        mirror_deps(lib_dir, lib_deps, root, depth + 1);
      }
    }
    entry = end != nullptr ? end + 1 : entry + len;
  }
}

}  // namespace

bool mirror_for_origin(const ManagedPath& exe, const char* blob, char* out) noexcept {
  Guard guard;
  int saved = errno;
  ElfDeps deps;
  char root[PATH_MAX];
  size_t root_len = mirror_root(root, sizeof root);
  struct stat st;
  bool ok = root_len != 0 && read_deps(blob, deps) &&
            (std::strstr(deps.search, "$ORIGIN") != nullptr || std::strstr(deps.search, "${ORIGIN}") != nullptr) &&
            std::snprintf(out, PATH_MAX, "%s/%.*s", root, static_cast<int>(exe.rel_len), exe.rel) < PATH_MAX &&
            real().fstatat(AT_FDCWD, blob, &st, 0) == 0 && copy_to(blob, out, 0555, st.st_size);
  if (ok) {
    char origin[PATH_MAX];
    std::snprintf(origin, sizeof origin, "%s", exe.abs);
    *std::strrchr(origin, '/') = '\0';
    mirror_deps(origin, deps, root, 0);
  }
  errno = saved;
  return ok;
}

size_t project_of_mirror(const char* path, size_t n, char* out, size_t cap) noexcept {
  char root[PATH_MAX];
  size_t root_len = mirror_root(root, sizeof root);
  if (root_len == 0 || n <= root_len + 1 || std::memcmp(path, root, root_len) != 0 || path[root_len] != '/') {
    return 0;
  }
  size_t rest = n - root_len;  // "/<rel>"
  if (g_session.project_len + rest >= cap) {
    return 0;
  }
  std::memcpy(out, g_session.project, g_session.project_len);
  std::memcpy(out + g_session.project_len, path + root_len, rest);
  out[g_session.project_len + rest] = '\0';
  return g_session.project_len + rest;
}

}  // namespace vrift::shim
