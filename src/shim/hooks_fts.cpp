// fts_open/fts_read/fts_children/fts_set/fts_close (and the fts64_* names, the same
// code on x86-64), rebuilt on the wrapped opendir/readdir/stat/lstat/fchdir: glibc's fts
// reads directories and stats entries through internal calls no wrapper sees, so a
// phantom file would be missing and a Solid projection would show its blob's mode.
//
// The observable behaviour is glibc's (a 4.4BSD fts): the same order of entries (the
// directory's, or compar's), the same fts_info values and errno conventions, the same
// pre-order FTS_D / post-order FTS_DP visits, the same fts_path/fts_accpath/fts_level
// bookkeeping, cycle detection by (dev, ino) against the ancestors, FTS_NOSTAT's use of
// d_type and the directory's link count, and chdir-based walks that check each
// directory's (dev, ino) before entering it. Only streams made here carry k_ours in
// fts_options; a stream glibc made (before the session was ready) goes back to glibc.
//
// An entry is one allocation: the FTSENT, its name, then (aligned) its stat buffer.

#include <fcntl.h>
#include <fts.h>
#include <stdlib.h>
#include <sys/param.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>

#include "shim/export.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"

namespace vrift::shim {
namespace {

constexpr int k_ours = 0x4000;  // outside FTS_OPTIONMASK and fts's private bits
enum BuildKind { k_build_children = 1, k_build_names = 2, k_build_read = 3 };

using Compare = int (*)(const FTSENT**, const FTSENT**);

bool has(const FTS* sp, int opt) { return (sp->fts_options & opt) != 0; }
void set_opt(FTS* sp, int opt) { sp->fts_options |= opt; }
void clear_opt(FTS* sp, int opt) { sp->fts_options &= ~opt; }

bool is_dot(const char* name) { return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')); }

FTSENT* new_entry(FTS* sp, const char* name, size_t len) {
  size_t stat_at = offsetof(FTSENT, fts_name) + len + 1;
  stat_at = (stat_at + alignof(struct stat) - 1) & ~(alignof(struct stat) - 1);
  auto* p = static_cast<FTSENT*>(std::calloc(1, stat_at + sizeof(struct stat)));
  if (p == nullptr) {
    return nullptr;
  }
  std::memcpy(p->fts_name, name, len);
  p->fts_name[len] = '\0';
  p->fts_namelen = static_cast<unsigned short>(len);
  p->fts_statp = reinterpret_cast<struct stat*>(reinterpret_cast<char*>(p) + stat_at);
  p->fts_path = sp->fts_path;
  p->fts_instr = FTS_NOINSTR;
  return p;
}

void free_list(FTSENT* head) {
  while (head != nullptr) {
    FTSENT* next = head->fts_link;
    std::free(head);
    head = next;
  }
}

// Grows the path buffer by `more` (and some), keeping it within what fts_pathlen, an
// unsigned short in each entry, can describe.
bool grow_path(FTS* sp, size_t more) {
  size_t want = static_cast<size_t>(sp->fts_pathlen) + more + 256;
  if (want >= USHRT_MAX) {
    std::free(sp->fts_path);
    sp->fts_path = nullptr;
    errno = ENAMETOOLONG;
    return false;
  }
  auto* grown = static_cast<char*>(std::realloc(sp->fts_path, want));
  if (grown == nullptr) {
    std::free(sp->fts_path);
    sp->fts_path = nullptr;
    return false;
  }
  sp->fts_path = grown;
  sp->fts_pathlen = static_cast<int>(want);
  return true;
}

// After the path buffer moved: every live entry points into the new one.
void repoint_paths(FTS* sp, FTSENT* head) {
  char* base = sp->fts_path;
  auto repoint = [base](FTSENT* p) {
    if (p->fts_accpath != p->fts_name) {
      p->fts_accpath = base + (p->fts_accpath - p->fts_path);
    }
    p->fts_path = base;
  };
  for (FTSENT* p = sp->fts_child; p != nullptr; p = p->fts_link) {
    repoint(p);
  }
  for (FTSENT* p = head; p != nullptr && p->fts_level >= FTS_ROOTLEVEL;) {
    repoint(p);
    p = p->fts_link != nullptr ? p->fts_link : p->fts_parent;
  }
}

// What p is (FTS_D, FTS_F, FTS_SL...), asking the wrapped stat/lstat.
unsigned short stat_entry(FTS* sp, FTSENT* p, bool follow) {
  struct stat scratch;
  struct stat* sb = has(sp, FTS_NOSTAT) ? &scratch : p->fts_statp;
  if (has(sp, FTS_LOGICAL) || follow) {
    if (::stat(p->fts_accpath, sb) != 0) {
      int err = errno;
      if (::lstat(p->fts_accpath, sb) == 0) {
        errno = 0;
        return FTS_SLNONE;
      }
      p->fts_errno = err;
      std::memset(sb, 0, sizeof *sb);
      return FTS_NS;
    }
  } else if (::lstat(p->fts_accpath, sb) != 0) {
    p->fts_errno = errno;
    std::memset(sb, 0, sizeof *sb);
    return FTS_NS;
  }
  // Device and inode of every entry, not only directories: a root that is a symlink
  // gives FTS_XDEV its starting device even when FTS_FOLLOW makes it a directory later.
  p->fts_dev = sb->st_dev;
  p->fts_ino = sb->st_ino;
  p->fts_nlink = sb->st_nlink;
  if (S_ISDIR(sb->st_mode)) {
    if (is_dot(p->fts_name)) {
      return FTS_DOT;
    }
    for (FTSENT* t = p->fts_parent; t != nullptr && t->fts_level >= FTS_ROOTLEVEL; t = t->fts_parent) {
      if (t->fts_ino == p->fts_ino && t->fts_dev == p->fts_dev) {
        p->fts_cycle = t;
        return FTS_DC;
      }
    }
    return FTS_D;
  }
  if (S_ISLNK(sb->st_mode)) {
    return FTS_SL;
  }
  return S_ISREG(sb->st_mode) ? FTS_F : FTS_DEFAULT;
}

// fchdir unless the walk does not change directories; true on failure.
bool fchdir_failed(FTS* sp, int fd) { return !has(sp, FTS_NOCHDIR) && ::fchdir(fd) != 0; }

// Enters directory p (by fd, or by opening `path`), only when it is still the
// directory stat saw (someone may have swapped it for a symlink meanwhile).
int enter_dir(FTS* sp, const FTSENT* p, int fd, const char* path) {
  if (has(sp, FTS_NOCHDIR)) {
    return 0;
  }
  int dfd = fd >= 0 ? fd : real().openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (dfd < 0) {
    return -1;
  }
  struct stat st;
  int rc = -1;
  if (real().fstat(dfd, &st) == 0) {
    if (st.st_dev != p->fts_dev || st.st_ino != p->fts_ino) {
      errno = ENOENT;
    } else {
      rc = ::fchdir(dfd);
    }
  }
  if (fd < 0) {
    int saved = errno;
    ::close(dfd);
    errno = saved;
  }
  return rc;
}

// FTS_FOLLOW on a symlink: stat through it; a directory reached so needs a way back.
void follow_entry(FTS* sp, FTSENT* p) {
  p->fts_info = stat_entry(sp, p, true);
  if (p->fts_info == FTS_D && !has(sp, FTS_NOCHDIR)) {
    p->fts_symfd = real().openat(AT_FDCWD, ".", O_RDONLY | O_CLOEXEC);
    if (p->fts_symfd < 0) {
      p->fts_errno = errno;
      p->fts_info = FTS_ERR;
    } else {
      p->fts_flags |= FTS_SYMFOLLOW;
    }
  }
}

FTSENT* sort_entries(FTS* sp, FTSENT* head, int count) {
  if (count > sp->fts_nitems) {
    int cap = count + 40;
    auto** grown = static_cast<FTSENT**>(std::realloc(sp->fts_array, static_cast<size_t>(cap) * sizeof(FTSENT*)));
    if (grown == nullptr) {
      std::free(sp->fts_array);
      sp->fts_array = nullptr;
      sp->fts_nitems = 0;
      return head;  // unsorted rather than nothing
    }
    sp->fts_array = grown;
    sp->fts_nitems = cap;
  }
  int n = 0;
  for (FTSENT* p = head; p != nullptr; p = p->fts_link) {
    sp->fts_array[n++] = p;
  }
  std::qsort(sp->fts_array, static_cast<size_t>(count), sizeof(FTSENT*), sp->fts_compar);
  for (int i = 0; i + 1 < count; ++i) {
    sp->fts_array[i]->fts_link = sp->fts_array[i + 1];
  }
  sp->fts_array[count - 1]->fts_link = nullptr;
  return sp->fts_array[0];
}

// Where an entry's name goes in fts_path: after its parent's path, without doubling a
// trailing '/' (a root of "/").
size_t name_offset(const FTSENT* parent) {
  size_t len = parent->fts_pathlen;
  return len > 0 && parent->fts_path[len - 1] == '/' ? len - 1 : len;
}

// Reads the current directory's entries into a list (see the file comment).
FTSENT* build(FTS* sp, BuildKind kind) {
  FTSENT* cur = sp->fts_cur;
  DIR* dir = ::opendir(cur->fts_accpath);
  if (dir == nullptr) {
    if (kind == k_build_read) {
      cur->fts_info = FTS_DNR;
      cur->fts_errno = errno;
    }
    return nullptr;
  }
  // Directories still to find when FTS_NOSTAT may skip stat calls (-1: stat everything).
  int nlinks = -1;
  bool nostat = false;
  if (kind == k_build_names) {
    nlinks = 0;
  } else if (has(sp, FTS_NOSTAT) && has(sp, FTS_PHYSICAL)) {
    nlinks = static_cast<int>(cur->fts_nlink) - (has(sp, FTS_SEEDOT) ? 0 : 2);
    nostat = true;
  }
  bool descended = false;
  if (nlinks != 0 || kind == k_build_read) {
    if (enter_dir(sp, cur, ::dirfd(dir), nullptr) != 0) {
      if (nlinks != 0 && kind == k_build_read) {
        cur->fts_errno = errno;
      }
      cur->fts_flags |= FTS_DONTCHDIR;
      ::closedir(dir);
      dir = nullptr;
    } else {
      descended = true;
    }
  }
  size_t len = name_offset(cur);
  char* cp = nullptr;
  if (has(sp, FTS_NOCHDIR)) {
    cp = sp->fts_path + len;
    *cp++ = '/';
  }
  ++len;
  size_t room = static_cast<size_t>(sp->fts_pathlen) - len;
  short level = static_cast<short>(cur->fts_level + 1);
  bool moved = false;
  FTSENT* head = nullptr;
  FTSENT* tail = nullptr;
  int count = 0;
  while (dir != nullptr) {
    struct dirent64* d = ::readdir64(dir);
    if (d == nullptr) {
      break;
    }
    if (!has(sp, FTS_SEEDOT) && is_dot(d->d_name)) {
      continue;
    }
    size_t name_len = std::strlen(d->d_name);
    FTSENT* p = new_entry(sp, d->d_name, name_len);
    bool fail = p == nullptr;
    if (!fail && name_len >= room) {
      char* before = sp->fts_path;
      if (!grow_path(sp, name_len + len + 1)) {
        fail = true;
      } else {
        if (before != sp->fts_path) {
          moved = true;
          if (has(sp, FTS_NOCHDIR)) {
            cp = sp->fts_path + len;
          }
        }
        room = static_cast<size_t>(sp->fts_pathlen) - len;
      }
    }
    if (!fail && len + name_len >= USHRT_MAX) {
      errno = ENAMETOOLONG;
      fail = true;
    }
    if (fail) {
      int saved = errno;
      std::free(p);
      free_list(head);
      ::closedir(dir);
      cur->fts_info = FTS_ERR;
      set_opt(sp, FTS_STOP);
      errno = saved;
      return nullptr;
    }
    p->fts_level = level;
    p->fts_parent = sp->fts_cur;
    p->fts_pathlen = static_cast<unsigned short>(len + name_len);
    p->fts_path = sp->fts_path;
    bool known_not_dir = d->d_type != DT_DIR && d->d_type != DT_UNKNOWN;
    if (nlinks == 0 || (nostat && known_not_dir)) {
      p->fts_accpath = has(sp, FTS_NOCHDIR) ? p->fts_path : p->fts_name;
      p->fts_info = FTS_NSOK;
    } else {
      if (has(sp, FTS_NOCHDIR)) {
        p->fts_accpath = p->fts_path;
        std::memmove(cp, p->fts_name, name_len + 1);
      } else {
        p->fts_accpath = p->fts_name;
      }
      p->fts_info = stat_entry(sp, p, false);
      if (nlinks > 0 && (p->fts_info == FTS_D || p->fts_info == FTS_DC || p->fts_info == FTS_DOT)) {
        --nlinks;
      }
    }
    if (head == nullptr) {
      head = p;
    } else {
      tail->fts_link = p;
    }
    tail = p;
    ++count;
  }
  if (dir != nullptr) {
    ::closedir(dir);
  }
  if (moved) {
    repoint_paths(sp, head);
  }
  if (has(sp, FTS_NOCHDIR)) {
    if (len == static_cast<size_t>(sp->fts_pathlen) || count == 0) {
      --cp;
    }
    *cp = '\0';
  }
  // Back out of the directory when the caller will not walk into it now.
  if (descended && (kind == k_build_children || count == 0)) {
    bool failed = cur->fts_level == FTS_ROOTLEVEL ? fchdir_failed(sp, sp->fts_rfd)
                                                 : enter_dir(sp, cur->fts_parent, -1, "..") != 0;
    if (failed) {
      cur->fts_info = FTS_ERR;
      set_opt(sp, FTS_STOP);
      free_list(head);
      return nullptr;
    }
  }
  if (count == 0) {
    if (kind == k_build_read) {
      cur->fts_info = FTS_DP;
    }
    return nullptr;
  }
  if (sp->fts_compar != nullptr && count > 1) {
    head = sort_entries(sp, head, count);
  }
  return head;
}

// A root becomes the current path; its name becomes its last component.
void load_root(FTS* sp, FTSENT* p) {
  size_t len = p->fts_namelen;
  p->fts_pathlen = p->fts_namelen;
  std::memmove(sp->fts_path, p->fts_name, len + 1);
  char* slash = std::strrchr(p->fts_name, '/');
  if (slash != nullptr && (slash != p->fts_name || slash[1] != '\0')) {
    ++slash;
    size_t n = std::strlen(slash);
    std::memmove(p->fts_name, slash, n + 1);
    p->fts_namelen = static_cast<unsigned short>(n);
  }
  p->fts_accpath = p->fts_path = sp->fts_path;
  sp->fts_dev = p->fts_dev;
}

void append_name(FTS* sp, FTSENT* p) {
  char* t = sp->fts_path + name_offset(p->fts_parent);
  *t++ = '/';
  std::memmove(t, p->fts_name, p->fts_namelen + 1u);
}

FTS* open_impl(char* const* argv, int options, Compare compar) {
  if ((options & ~FTS_OPTIONMASK) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  auto* sp = static_cast<FTS*>(std::calloc(1, sizeof(FTS)));
  if (sp == nullptr) {
    return nullptr;
  }
  sp->fts_compar = reinterpret_cast<int (*)(const void*, const void*)>(compar);
  sp->fts_options = options | k_ours;
  if (has(sp, FTS_LOGICAL)) {
    set_opt(sp, FTS_NOCHDIR);  // symbolic links make chdir walks too hard
  }
  size_t longest = 0;
  for (char* const* a = argv; *a != nullptr; ++a) {
    size_t n = std::strlen(*a);
    longest = n > longest ? n : longest;
  }
  size_t initial = longest + 1 > MAXPATHLEN ? longest + 1 : MAXPATHLEN;
  FTSENT* parent = nullptr;
  FTSENT* root = nullptr;
  FTSENT* last = nullptr;
  int count = 0;
  if (!grow_path(sp, initial) || (parent = new_entry(sp, "", 0)) == nullptr) {
    std::free(sp->fts_path);
    std::free(sp);
    return nullptr;
  }
  parent->fts_level = FTS_ROOTPARENTLEVEL;
  for (char* const* a = argv; *a != nullptr; ++a, ++count) {
    size_t len = std::strlen(*a);
    FTSENT* p = len == 0 ? nullptr : new_entry(sp, *a, len);
    if (p == nullptr) {
      int saved = len == 0 ? ENOENT : errno;
      free_list(root);
      std::free(parent);
      std::free(sp->fts_path);
      std::free(sp);
      errno = saved;
      return nullptr;
    }
    p->fts_level = FTS_ROOTLEVEL;
    p->fts_parent = parent;
    p->fts_accpath = p->fts_name;
    p->fts_info = stat_entry(sp, p, has(sp, FTS_COMFOLLOW));
    if (p->fts_info == FTS_DOT) {
      p->fts_info = FTS_D;  // "." and ".." named as roots are directories to walk
    }
    if (compar != nullptr) {
      p->fts_link = root;  // sorted below
      root = p;
    } else {
      if (root == nullptr) {
        root = p;
      } else {
        last->fts_link = p;
      }
      last = p;
    }
  }
  if (compar != nullptr && count > 1) {
    root = sort_entries(sp, root, count);
  }
  // A dummy current entry "before" the roots, so the first fts_read moves to them.
  sp->fts_cur = new_entry(sp, "", 0);
  if (sp->fts_cur == nullptr) {
    free_list(root);
    std::free(parent);
    std::free(sp->fts_path);
    std::free(sp);
    return nullptr;
  }
  sp->fts_cur->fts_link = root;
  sp->fts_cur->fts_parent = parent;
  sp->fts_cur->fts_info = FTS_INIT;
  if (!has(sp, FTS_NOCHDIR)) {
    sp->fts_rfd = real().openat(AT_FDCWD, ".", O_RDONLY | O_CLOEXEC);
    if (sp->fts_rfd < 0) {
      set_opt(sp, FTS_NOCHDIR);
    }
  }
  return sp;
}

FTSENT* read_impl(FTS* sp) {
  if (sp->fts_cur == nullptr || has(sp, FTS_STOP)) {
    return nullptr;
  }
  FTSENT* p = sp->fts_cur;
  int instr = p->fts_instr;
  p->fts_instr = FTS_NOINSTR;
  if (instr == FTS_AGAIN) {
    p->fts_info = stat_entry(sp, p, false);
    return p;
  }
  if (instr == FTS_FOLLOW && (p->fts_info == FTS_SL || p->fts_info == FTS_SLNONE)) {
    follow_entry(sp, p);
    return p;
  }
  if (p->fts_info == FTS_D) {
    if (instr == FTS_SKIP || (has(sp, FTS_XDEV) && p->fts_dev != sp->fts_dev)) {
      if ((p->fts_flags & FTS_SYMFOLLOW) != 0) {
        ::close(p->fts_symfd);
      }
      free_list(sp->fts_child);
      sp->fts_child = nullptr;
      p->fts_info = FTS_DP;
      return p;
    }
    if (sp->fts_child != nullptr && has(sp, FTS_NAMEONLY)) {
      clear_opt(sp, FTS_NAMEONLY);  // names alone were read: read again with stats
      free_list(sp->fts_child);
      sp->fts_child = nullptr;
    }
    if (sp->fts_child != nullptr) {
      if (enter_dir(sp, p, -1, p->fts_accpath) != 0) {
        p->fts_errno = errno;
        p->fts_flags |= FTS_DONTCHDIR;
        for (FTSENT* c = sp->fts_child; c != nullptr; c = c->fts_link) {
          c->fts_accpath = c->fts_parent->fts_accpath;
        }
      }
    } else if ((sp->fts_child = build(sp, k_build_read)) == nullptr) {
      return has(sp, FTS_STOP) ? nullptr : p;
    }
    p = sp->fts_child;
    sp->fts_child = nullptr;
    sp->fts_cur = p;
    append_name(sp, p);
    return p;
  }
  // The next entry of this directory, or back up to the directory itself.
  FTSENT* done = p;
  for (FTSENT* next = done->fts_link; next != nullptr; next = done->fts_link) {
    sp->fts_cur = next;
    std::free(done);
    done = next;
    if (next->fts_level == FTS_ROOTLEVEL) {
      if (fchdir_failed(sp, sp->fts_rfd)) {
        set_opt(sp, FTS_STOP);
        return nullptr;
      }
      load_root(sp, next);
      return next;
    }
    if (next->fts_instr == FTS_SKIP) {
      continue;
    }
    if (next->fts_instr == FTS_FOLLOW) {
      follow_entry(sp, next);
      next->fts_instr = FTS_NOINSTR;
    }
    append_name(sp, next);
    return next;
  }
  p = done->fts_parent;
  sp->fts_cur = p;
  std::free(done);
  if (p == nullptr || p->fts_level == FTS_ROOTPARENTLEVEL) {
    std::free(p);
    errno = 0;  // the end, not an error
    sp->fts_cur = nullptr;
    return nullptr;
  }
  sp->fts_path[p->fts_pathlen] = '\0';
  if (p->fts_level == FTS_ROOTLEVEL) {
    if (fchdir_failed(sp, sp->fts_rfd)) {
      set_opt(sp, FTS_STOP);
      return nullptr;
    }
  } else if ((p->fts_flags & FTS_SYMFOLLOW) != 0) {
    if (fchdir_failed(sp, p->fts_symfd)) {
      int saved = errno;
      ::close(p->fts_symfd);
      errno = saved;
      set_opt(sp, FTS_STOP);
      return nullptr;
    }
    ::close(p->fts_symfd);
  } else if ((p->fts_flags & FTS_DONTCHDIR) == 0 && enter_dir(sp, p->fts_parent, -1, "..") != 0) {
    set_opt(sp, FTS_STOP);
    return nullptr;
  }
  p->fts_info = p->fts_errno != 0 ? FTS_ERR : FTS_DP;
  return p;
}

FTSENT* children_impl(FTS* sp, int instr) {
  if (instr != 0 && instr != FTS_NAMEONLY) {
    errno = EINVAL;
    return nullptr;
  }
  FTSENT* p = sp->fts_cur;
  errno = 0;  // an empty directory is not an error
  if (p == nullptr || has(sp, FTS_STOP)) {
    return nullptr;
  }
  if (p->fts_info == FTS_INIT) {
    return p->fts_link;  // the roots
  }
  if (p->fts_info != FTS_D) {
    return nullptr;
  }
  free_list(sp->fts_child);
  sp->fts_child = nullptr;
  BuildKind kind = k_build_children;
  if (instr == FTS_NAMEONLY) {
    set_opt(sp, FTS_NAMEONLY);
    kind = k_build_names;
  }
  // A relative root not entered yet: build() enters it, so come back afterwards.
  if (p->fts_level != FTS_ROOTLEVEL || p->fts_accpath[0] == '/' || has(sp, FTS_NOCHDIR)) {
    sp->fts_child = build(sp, kind);
    return sp->fts_child;
  }
  int here = real().openat(AT_FDCWD, ".", O_RDONLY | O_CLOEXEC);
  if (here < 0) {
    return nullptr;
  }
  sp->fts_child = build(sp, kind);
  int rc = ::fchdir(here);
  int saved = errno;
  ::close(here);
  errno = saved;
  return rc != 0 ? nullptr : sp->fts_child;
}

int close_impl(FTS* sp) {
  if (sp->fts_cur != nullptr) {
    // From the current entry along siblings and parents up to the roots' parent.
    FTSENT* p = sp->fts_cur;
    while (p != nullptr && p->fts_level >= FTS_ROOTLEVEL) {
      FTSENT* next = p->fts_link != nullptr ? p->fts_link : p->fts_parent;
      std::free(p);
      p = next;
    }
    std::free(p);
  }
  free_list(sp->fts_child);
  std::free(sp->fts_array);
  std::free(sp->fts_path);
  int err = 0;
  if (!has(sp, FTS_NOCHDIR)) {
    err = ::fchdir(sp->fts_rfd) != 0 ? errno : 0;
    ::close(sp->fts_rfd);
  }
  std::free(sp);
  if (err != 0) {
    errno = err;
    return -1;
  }
  return 0;
}

bool ours(const FTS* sp) { return sp != nullptr && (sp->fts_options & k_ours) != 0; }

}  // namespace
}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT FTS* fts_open(char* const* argv, int options, int (*compar)(const FTSENT**, const FTSENT**)) {
  if (!active()) {
    return real().fts_open(argv, options, compar);
  }
  return open_impl(argv, options, compar);
}

VRIFT_EXPORT FTSENT* fts_read(FTS* sp) { return ours(sp) ? read_impl(sp) : real().fts_read(sp); }

VRIFT_EXPORT FTSENT* fts_children(FTS* sp, int instr) {
  return ours(sp) ? children_impl(sp, instr) : real().fts_children(sp, instr);
}

VRIFT_EXPORT int fts_set(FTS* sp, FTSENT* p, int instr) noexcept {
  if (!ours(sp)) {
    return real().fts_set(sp, p, instr);
  }
  if (instr != 0 && instr != FTS_AGAIN && instr != FTS_FOLLOW && instr != FTS_NOINSTR && instr != FTS_SKIP) {
    errno = EINVAL;
    return 1;
  }
  p->fts_instr = static_cast<unsigned short>(instr);
  return 0;
}

VRIFT_EXPORT int fts_close(FTS* sp) { return ours(sp) ? close_impl(sp) : real().fts_close(sp); }

// FTS64 and FTSENT64 are FTS and FTSENT on x86-64 (ino64_t is ino_t, stat64 is stat).
static_assert(sizeof(FTS64) == sizeof(FTS) && sizeof(FTSENT64) == sizeof(FTSENT));

VRIFT_EXPORT FTS64* fts64_open(char* const* argv, int options, int (*compar)(const FTSENT64**, const FTSENT64**)) {
  if (!active()) {
    return real().fts64_open(argv, options, compar);
  }
  return reinterpret_cast<FTS64*>(open_impl(argv, options, reinterpret_cast<Compare>(compar)));
}

VRIFT_EXPORT FTSENT64* fts64_read(FTS64* sp) {
  auto* s = reinterpret_cast<FTS*>(sp);
  return ours(s) ? reinterpret_cast<FTSENT64*>(read_impl(s)) : real().fts64_read(sp);
}

VRIFT_EXPORT FTSENT64* fts64_children(FTS64* sp, int instr) {
  auto* s = reinterpret_cast<FTS*>(sp);
  return ours(s) ? reinterpret_cast<FTSENT64*>(children_impl(s, instr)) : real().fts64_children(sp, instr);
}

VRIFT_EXPORT int fts64_set(FTS64* sp, FTSENT64* p, int instr) noexcept {
  if (!ours(reinterpret_cast<FTS*>(sp))) {
    return real().fts64_set(sp, p, instr);
  }
  return fts_set(reinterpret_cast<FTS*>(sp), reinterpret_cast<FTSENT*>(p), instr);
}

VRIFT_EXPORT int fts64_close(FTS64* sp) {
  auto* s = reinterpret_cast<FTS*>(sp);
  return ours(s) ? close_impl(s) : real().fts64_close(sp);
}
