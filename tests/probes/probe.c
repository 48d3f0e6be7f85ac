/* probe: asks libc about files the way real programs do, and prints what it answered in
 * a form that can be diffed between a plain copy of a tree and a vrift projection of it.
 *
 *   probe stat PATH...        stat family: libc names, *64, __xstat ABI, fstatat, statx,
 *                             raw syscall(), fd-based forms (AT_EMPTY_PATH)
 *   probe open PATH...        open family: open/open64/openat(dirfd)/__open_2/..., flags,
 *                             raw syscall(SYS_open/openat/openat2); fstat+content per fd
 *   probe procfd PATH...      readlink("/proc/self/fd/N") for fds opened on PATHs
 *   probe fopen PATH...       fopen/fopen64/freopen/freopen64 + stdio reads
 *   probe read FILE...        read/pread/lseek/readv/mmap/sendfile/copy_file_range
 *   probe access PATH...      access/faccessat/euidaccess/eaccess + raw syscalls, xattrs
 *   probe readlink PATH...    readlink/readlinkat/__readlink_chk + raw syscalls
 *   probe realpath PATH...    realpath/canonicalize_file_name/__realpath_chk
 *   probe readdir DIR...      opendir/readdir(64)/fdopendir/rewinddir/seekdir/scandir(at)/
 *                             readdir_r/getdents64 (libc and syscall); per-entry fstatat
 *   probe glob PATTERN...     glob/glob64 with several flag sets
 *   probe nftw DIR...         nftw/nftw64/ftw (physical walks)
 *   probe nftw-follow DIR...  nftw following symlinks (trees without a directory twice)
 *   probe fts DIR...          fts_open/fts_read/fts_children, physical/logical/nostat
 *   probe fts-order DIR...    fts with compar, in traversal order: fts_set, fts_accpath,
 *                             fts_number/fts_pointer, chdir walks, fts_children
 *   probe statfs PATH...      statfs/statvfs (+64) by path and fstatfs/fstatvfs by fd
 *   probe chdir DIR REL...    chdir/fchdir into DIR, then relative stat/open/opendir
 *   probe dup FILE...         dup/dup2/dup3/fcntl(F_DUPFD*) then fstat + shared offsets
 *   probe fork FILE...        fork: inherited fd and fresh opens in the child
 *   probe fds FILE            which fds a process holds (none of the shim's below 1000)
 *   probe threads N ROUNDS PATH...  N threads stat/open/read/readdir PATHs ROUNDS times,
 *                             while the main thread forks; prints mismatches
 *   probe spawn PROG ARG...   posix_spawn(p)/execve/execv/execvp/vfork/fexecve/execveat/
 *                             system/popen/addchdir of PROG
 *   probe stdin FILE...       posix_spawn of cat with addopen(FILE) as its stdin
 *   probe dlopen SO...        dlopen/dlsym/dladdr of shared objects; handle identity
 *   probe hashfiles LIST      "<digest> <path>" for each line of the file LIST
 *
 * Paths print relative to the working directory at start ("@/..."). Fields that differ
 * legitimately between two copies are never printed: st_ino, st_dev, st_nlink, atime,
 * ctime, st_blocks, directory sizes, directory order, fd numbers (except in `fds`). */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "probe_util.h"

extern char **environ;

/* The old stat ABI (make 4.3 and node 20 import these) and the fortify entry points,
 * called by name so every build variant reaches them. */
extern int __xstat(int, const char *, struct stat *);
extern int __lxstat(int, const char *, struct stat *);
extern int __fxstat(int, int, struct stat *);
extern int __fxstatat(int, int, const char *, struct stat *, int);
extern int __xstat64(int, const char *, struct stat64 *);
extern int __lxstat64(int, const char *, struct stat64 *);
extern int __fxstat64(int, int, struct stat64 *);
extern int __fxstatat64(int, int, const char *, struct stat64 *, int);
extern int __open_2(const char *, int);
extern int __open64_2(const char *, int);
extern int __openat_2(int, const char *, int);
extern int __openat64_2(int, const char *, int);
extern char *__realpath_chk(const char *, char *, size_t);
extern ssize_t __readlink_chk(const char *, char *, size_t, size_t);
extern ssize_t __readlinkat_chk(int, const char *, char *, size_t, size_t);

/* Not compile-time constants, so that _FORTIFY_SOURCE routes open/openat through
 * __open_2/__openat_2 and readlink through __readlink_chk. */
static volatile int g_rdonly = O_RDONLY;
static volatile size_t g_linkbuf = PATH_MAX;

#define SENTINEL EALREADY /* errno set before a call that should succeed */

/* ------------------------------------------------------------------------------------ */
/* stat                                                                                 */

#define REPORT_ST(label, path, call, st)                                                  \
  do {                                                                                    \
    errno = SENTINEL;                                                                     \
    int rc_ = (int)(call);                                                                \
    int e_ = errno;                                                                       \
    if (rc_ == 0) {                                                                       \
      out(label, path, "%s%s%s", FMT_ST(st), e_ == SENTINEL ? "" : " errno-changed-to=", \
          e_ == SENTINEL ? "" : en(e_));                                                  \
    } else {                                                                              \
      out(label, path, "rc=%d %s", rc_, en(e_));                                          \
    }                                                                                     \
  } while (0)

static char *fmt_stx(const struct statx *x) {
  static char ring[4][256];
  static int k;
  char *o = ring[k++ & 3];
  snprintf(o, sizeof ring[0], "%s mask=%03x",
           fmt_attr(x->stx_mode, (long long)x->stx_size, (long long)x->stx_mtime.tv_sec, (long)x->stx_mtime.tv_nsec,
                    x->stx_uid, x->stx_gid),
           x->stx_mask & STATX_BASIC_STATS);
  return o;
}

#define REPORT_STX(label, path, call, x)                       \
  do {                                                         \
    memset(&(x), 0, sizeof(x));                                \
    errno = SENTINEL;                                          \
    long rc_ = (long)(call);                                   \
    int e_ = errno;                                            \
    if (rc_ == 0) {                                            \
      out(label, path, "%s", fmt_stx(&(x)));                   \
    } else {                                                   \
      out(label, path, "rc=%ld %s", rc_, en(e_));              \
    }                                                          \
  } while (0)

static int open_parent(const char *path, char *base, size_t bn) {
  char dir[PATH_MAX];
  split_path(path, dir, sizeof dir, base, bn);
  return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void fd_stats(const char *how, const char *path, int fd) {
  struct stat st;
  struct stat64 st64;
  struct statx x;
  char label[64];
  if (fd < 0) {
    snprintf(label, sizeof label, "%s", how);
    out(label, path, "open failed %s", en(errno));
    return;
  }
#define L(s) (snprintf(label, sizeof label, "%s.%s", how, s), label)
  REPORT_ST(L("fstat"), path, fstat(fd, &st), st);
  REPORT_ST(L("fstat64"), path, fstat64(fd, &st64), st64);
  REPORT_ST(L("__fxstat"), path, __fxstat(1, fd, &st), st);
  REPORT_ST(L("__fxstat64"), path, __fxstat64(1, fd, &st64), st64);
  REPORT_ST(L("fstatat.empty"), path, fstatat(fd, "", &st, AT_EMPTY_PATH), st);
  REPORT_ST(L("fstatat64.empty"), path, fstatat64(fd, "", &st64, AT_EMPTY_PATH), st64);
  REPORT_ST(L("sys_fstat"), path, syscall(SYS_fstat, fd, &st), st);
  REPORT_ST(L("sys_newfstatat.empty"), path, syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH), st);
  REPORT_STX(L("statx.empty"), path, statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &x), x);
  REPORT_STX(L("sys_statx.empty"), path, syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &x), x);
#undef L
  close(fd);
}

static int cmd_stat(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    struct stat st;
    struct stat64 st64;
    struct statx x;
    char base[PATH_MAX];
    REPORT_ST("stat", p, stat(p, &st), st);
    REPORT_ST("lstat", p, lstat(p, &st), st);
    REPORT_ST("stat64", p, stat64(p, &st64), st64);
    REPORT_ST("lstat64", p, lstat64(p, &st64), st64);
    REPORT_ST("__xstat", p, __xstat(1, p, &st), st);
    REPORT_ST("__lxstat", p, __lxstat(1, p, &st), st);
    REPORT_ST("__xstat64", p, __xstat64(1, p, &st64), st64);
    REPORT_ST("__lxstat64", p, __lxstat64(1, p, &st64), st64);
    REPORT_ST("fstatat", p, fstatat(AT_FDCWD, p, &st, 0), st);
    REPORT_ST("fstatat.nofollow", p, fstatat(AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW), st);
    REPORT_ST("fstatat64", p, fstatat64(AT_FDCWD, p, &st64, 0), st64);
    REPORT_ST("__fxstatat", p, __fxstatat(1, AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW), st);
    REPORT_ST("__fxstatat64", p, __fxstatat64(1, AT_FDCWD, p, &st64, 0), st64);
    REPORT_ST("sys_stat", p, syscall(SYS_stat, p, &st), st);
    REPORT_ST("sys_lstat", p, syscall(SYS_lstat, p, &st), st);
    REPORT_ST("sys_newfstatat", p, syscall(SYS_newfstatat, AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW), st);
    REPORT_STX("statx", p, statx(AT_FDCWD, p, 0, STATX_BASIC_STATS, &x), x);
    REPORT_STX("statx.nofollow", p, statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &x), x);
    REPORT_STX("statx.all", p, statx(AT_FDCWD, p, AT_STATX_SYNC_AS_STAT, STATX_ALL, &x), x);
    REPORT_STX("sys_statx", p, syscall(SYS_statx, AT_FDCWD, p, 0, STATX_BASIC_STATS, &x), x);
    REPORT_STX("sys_statx.nofollow", p, syscall(SYS_statx, AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &x), x);
    int dfd = open_parent(p, base, sizeof base);
    if (dfd >= 0 && base[0]) {
      REPORT_ST("fstatat.dirfd", p, fstatat(dfd, base, &st, 0), st);
      REPORT_ST("fstatat.dirfd.nofollow", p, fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW), st);
      REPORT_ST("sys_newfstatat.dirfd", p, syscall(SYS_newfstatat, dfd, base, &st, 0), st);
      REPORT_STX("statx.dirfd.nofollow", p, statx(dfd, base, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &x), x);
      REPORT_STX("sys_statx.dirfd", p, syscall(SYS_statx, dfd, base, 0, STATX_BASIC_STATS, &x), x);
    } else {
      out("dirfd", p, "%s", dfd < 0 ? en(errno) : "no base name");
    }
    if (dfd >= 0) {
      close(dfd);
    }
    fd_stats("fd", p, open(p, O_RDONLY | O_CLOEXEC));
    fd_stats("opath", p, open(p, O_PATH | O_CLOEXEC));
    fd_stats("opath.nofollow", p, open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* open                                                                                 */

static void procfd_target(int fd, char *outbuf, size_t n) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t r = readlink(link, outbuf, n - 1);
  if (r < 0) {
    snprintf(outbuf, n, "(%s)", en(errno));
  } else {
    outbuf[r] = 0;
  }
}

/* One line per opened fd: fstat, flags, content and where /proc says it points. */
static void describe_fd(const char *label, const char *path, long fdl, int err) {
  if (fdl < 0) {
    out(label, path, "rc=%ld %s", fdl, en(err));
    return;
  }
  int fd = (int)fdl;
  struct stat st;
  char stbuf[200], content[96];
  if (fstat(fd, &st) == 0) {
    snprintf(stbuf, sizeof stbuf, "%s", FMT_ST(st));
  } else {
    snprintf(stbuf, sizeof stbuf, "fstat=%s", en(errno));
  }
  digest d;
  int e = read_all(fd, &d);
  if (e) {
    snprintf(content, sizeof content, "read=%s", en(e));
  } else {
    snprintf(content, sizeof content, "%s", dg_str(&d));
  }
  int fl = fcntl(fd, F_GETFL);
  int fdfl = fcntl(fd, F_GETFD);
  errno = SENTINEL;
  int crc = close(fd);
  int ce = errno;
  out(label, path, "ok %s %s fl=0%o cloexec=%d close=%d%s%s%s", stbuf, content, fl, fdfl & FD_CLOEXEC, crc,
      crc ? en(ce) : "", !crc && ce != SENTINEL ? " errno-changed-to=" : "",
      !crc && ce != SENTINEL ? en(ce) : "");
}

#define TRY_OPEN(label, path, call)          \
  do {                                       \
    errno = SENTINEL;                        \
    long fd_ = (long)(call);                 \
    int e_ = errno;                          \
    describe_fd(label, path, fd_, e_);       \
  } while (0)

static int cmd_open(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    char base[PATH_MAX], slashed[PATH_MAX + 2];
    int dfd = open_parent(p, base, sizeof base);
    TRY_OPEN("open", p, open(p, O_RDONLY));
    TRY_OPEN("open64", p, open64(p, O_RDONLY));
    TRY_OPEN("openat", p, openat(AT_FDCWD, p, O_RDONLY));
    TRY_OPEN("openat64", p, openat64(AT_FDCWD, p, O_RDONLY));
    TRY_OPEN("open.varflags", p, open(p, g_rdonly));
    TRY_OPEN("openat.varflags", p, openat(AT_FDCWD, p, g_rdonly));
    TRY_OPEN("__open_2", p, __open_2(p, O_RDONLY));
    TRY_OPEN("__open64_2", p, __open64_2(p, O_RDONLY));
    TRY_OPEN("__openat_2", p, __openat_2(AT_FDCWD, p, O_RDONLY));
    if (dfd >= 0 && base[0]) {
      TRY_OPEN("openat.dirfd", p, openat(dfd, base, O_RDONLY));
      TRY_OPEN("openat64.dirfd", p, openat64(dfd, base, O_RDONLY));
      TRY_OPEN("__openat64_2.dirfd", p, __openat64_2(dfd, base, O_RDONLY));
      TRY_OPEN("sys_openat.dirfd", p, syscall(SYS_openat, dfd, base, O_RDONLY));
    }
    TRY_OPEN("open.nofollow", p, open(p, O_RDONLY | O_NOFOLLOW));
    TRY_OPEN("open.directory", p, open(p, O_RDONLY | O_DIRECTORY));
    TRY_OPEN("open.cloexec", p, open(p, O_RDONLY | O_CLOEXEC));
    TRY_OPEN("open.noctty.nonblock", p, open(p, O_RDONLY | O_NOCTTY | O_NONBLOCK));
    TRY_OPEN("open.path", p, open(p, O_PATH));
    TRY_OPEN("open.path.nofollow", p, open(p, O_PATH | O_NOFOLLOW));
    snprintf(slashed, sizeof slashed, "%s/", p);
    TRY_OPEN("open.slash", p, open(slashed, O_RDONLY));
    TRY_OPEN("sys_open", p, syscall(SYS_open, p, O_RDONLY));
    TRY_OPEN("sys_openat", p, syscall(SYS_openat, AT_FDCWD, p, O_RDONLY));
    struct open_how how = {.flags = O_RDONLY, .mode = 0, .resolve = 0};
    TRY_OPEN("sys_openat2", p, syscall(SYS_openat2, AT_FDCWD, p, &how, sizeof how));
    struct open_how how_nl = {.flags = O_RDONLY, .mode = 0, .resolve = RESOLVE_NO_SYMLINKS};
    TRY_OPEN("sys_openat2.nosymlinks", p, syscall(SYS_openat2, AT_FDCWD, p, &how_nl, sizeof how_nl));
    /* O_CREAT on a path that exists opens it without writing; with O_EXCL it is EEXIST. */
    struct stat st;
    if (stat(p, &st) == 0) {
      TRY_OPEN("open.creat.existing", p, open(p, O_RDONLY | O_CREAT, 0644));
      TRY_OPEN("open.creat.excl.existing", p, open(p, O_RDONLY | O_CREAT | O_EXCL, 0644));
    }
    if (dfd >= 0) {
      close(dfd);
    }
  }
  return 0;
}

/* Where /proc/self/fd/N points for fds opened on each path: the project path, never
 * The Source (tools print it, and some find their siblings through it). */
static int cmd_procfd(int argc, char **argv) {
  static const struct {
    int flags;
    const char *name;
  } how[] = {{O_RDONLY, "rdonly"}, {O_PATH, "path"}, {O_PATH | O_NOFOLLOW, "path.nofollow"}};
  for (int i = 0; i < argc; i++) {
    for (size_t k = 0; k < sizeof how / sizeof how[0]; k++) {
      char label[64], target[PATH_MAX];
      snprintf(label, sizeof label, "procfd.%s", how[k].name);
      int fd = open(argv[i], how[k].flags | O_CLOEXEC);
      if (fd < 0) {
        out(label, argv[i], "open=%s", en(errno));
        continue;
      }
      procfd_target(fd, target, sizeof target);
      out(label, argv[i], "%s", rel(target));
      close(fd);
    }
    FILE *f = fopen(argv[i], "re");
    if (f) {
      char target[PATH_MAX];
      procfd_target(fileno(f), target, sizeof target);
      out("procfd.fopen", argv[i], "%s", rel(target));
      fclose(f);
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* fopen                                                                                */

static void describe_file(const char *label, const char *path, FILE *f, int err) {
  if (!f) {
    out(label, path, "NULL %s", en(err));
    return;
  }
  char line[128] = "";
  char stbuf[200];
  struct stat st;
  if (fstat(fileno(f), &st) == 0) {
    snprintf(stbuf, sizeof stbuf, "%s", FMT_ST(st));
  } else {
    snprintf(stbuf, sizeof stbuf, "fstat=%s", en(errno));
  }
  const char *first = fgets(line, sizeof line, f) ? esc(line) : (ferror(f) ? "(error)" : "(eof)");
  char firstbuf[600];
  snprintf(firstbuf, sizeof firstbuf, "%s", first);
  int sk = fseek(f, 0, SEEK_END);
  long end = sk == 0 ? ftell(f) : -1;
  rewind(f);
  digest d;
  dg_init(&d);
  char buf[8192];
  size_t n;
  clearerr(f);
  errno = 0;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    dg_add(&d, buf, n);
  }
  int rerr = ferror(f) ? errno : 0;
  int crc = fclose(f);
  out(label, path, "ok %s first=\"%s\" end=%ld %s%s%s fclose=%d", stbuf, firstbuf, end, dg_str(&d),
      rerr ? " ferror=" : "", rerr ? en(rerr) : "", crc);
}

#define TRY_FOPEN(label, path, call)          \
  do {                                        \
    errno = 0;                                \
    FILE *f_ = (call);                        \
    describe_file(label, path, f_, errno);    \
  } while (0)

static int cmd_fopen(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    TRY_FOPEN("fopen.r", p, fopen(p, "r"));
    TRY_FOPEN("fopen.re", p, fopen(p, "re"));
    TRY_FOPEN("fopen.rm", p, fopen(p, "rm"));
    TRY_FOPEN("fopen64.r", p, fopen64(p, "r"));
    FILE *a = fopen("/dev/null", "r");
    TRY_FOPEN("freopen.r", p, freopen(p, "r", a));
    FILE *b = fopen("/dev/null", "r");
    TRY_FOPEN("freopen64.r", p, freopen64(p, "r", b));
    int fd = open(p, O_RDONLY);
    TRY_FOPEN("fdopen.r", p, fd >= 0 ? fdopen(fd, "r") : NULL);
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* read / pread / lseek / mmap                                                          */

static char *hexbytes(const unsigned char *b, ssize_t n) {
  static char ring[8][80];
  static int k;
  char *o = ring[k++ & 7];
  o[0] = 0;
  for (ssize_t i = 0; i < n && i < 32; i++) {
    sprintf(o + 2 * i, "%02x", b[i]);
  }
  return o;
}

static int cmd_read(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      out("read.open", p, "%s", en(errno));
      continue;
    }
    struct stat st;
    fstat(fd, &st);
    long long size = (long long)st.st_size;
    unsigned char b[64];
    ssize_t n = read(fd, b, 7);
    out("read.7", p, "n=%zd %s pos=%lld", n, hexbytes(b, n), (long long)lseek(fd, 0, SEEK_CUR));
    n = pread(fd, b, 16, size / 2);
    out("pread.mid", p, "n=%zd %s pos=%lld", n, hexbytes(b, n), (long long)lseek(fd, 0, SEEK_CUR));
    n = pread64(fd, b, 16, size + 10);
    out("pread64.pasteof", p, "n=%zd", n);
    out("lseek.end", p, "%lld", (long long)lseek(fd, 0, SEEK_END));
    off_t o3 = lseek(fd, -3, SEEK_END);
    n = read(fd, b, sizeof b);
    out("lseek.end-3", p, "off=%lld n=%zd %s", (long long)o3, n, o3 < 0 ? en(errno) : hexbytes(b, n));
    out("lseek64.set", p, "%lld", (long long)lseek64(fd, size > 5 ? 5 : 0, SEEK_SET));
    n = read(fd, b, 4);
    out("read.after-seek", p, "n=%zd %s", n, hexbytes(b, n));
    lseek(fd, 0, SEEK_SET);
    unsigned char v1[3], v2[5];
    struct iovec iov[2] = {{v1, sizeof v1}, {v2, sizeof v2}};
    n = readv(fd, iov, 2);
    out("readv", p, "n=%zd %s|%s", n, hexbytes(v1, n < 3 ? n : 3), hexbytes(v2, n > 3 ? n - 3 : 0));
    n = preadv(fd, iov, 2, size > 1 ? 1 : 0);
    out("preadv", p, "n=%zd %s", n, hexbytes(v1, n < 3 ? n : 3));
    lseek(fd, 0, SEEK_SET);
    digest d;
    int e = read_all(fd, &d);
    out("read.all", p, "%s %s", e ? en(e) : "ok", dg_str(&d));
    out("posix_fadvise", p, "%d", posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED));
    errno = 0;
    void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      out("mmap", p, "MAP_FAILED %s", en(errno));
    } else {
      dg_init(&d);
      dg_add(&d, m, (size_t)size);
      out("mmap", p, "%s", dg_str(&d));
      munmap(m, (size_t)size);
    }
    if (size > 4096) {
      m = mmap64(NULL, (size_t)size - 4096, PROT_READ, MAP_SHARED, fd, 4096);
      if (m == MAP_FAILED) {
        out("mmap64.shared.off4096", p, "MAP_FAILED %s", en(errno));
      } else {
        dg_init(&d);
        dg_add(&d, m, (size_t)size - 4096);
        out("mmap64.shared.off4096", p, "%s", dg_str(&d));
        munmap(m, (size_t)size - 4096);
      }
    }
    /* the kernel copies from this fd to another: sendfile into a memfd, copy_file_range
     * into an unnamed temporary file. */
    int mfd = memfd_create("probe", MFD_CLOEXEC);
    off_t off = 0;
    ssize_t sent = 0, s;
    while ((s = sendfile(mfd, fd, &off, 1 << 20)) > 0) {
      sent += s;
    }
    lseek(mfd, 0, SEEK_SET);
    e = read_all(mfd, &d);
    out("sendfile", p, "sent=%zd %s %s", sent, s < 0 ? en(errno) : "ok", dg_str(&d));
    close(mfd);
    int tfd = open("/tmp", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
    if (tfd >= 0) {
      loff_t in_off = 0;
      ssize_t copied = 0, c;
      while ((c = copy_file_range(fd, &in_off, tfd, NULL, 1 << 20, 0)) > 0) {
        copied += c;
      }
      int ce = c < 0 ? errno : 0;
      lseek(tfd, 0, SEEK_SET);
      read_all(tfd, &d);
      out("copy_file_range", p, "copied=%zd %s %s", copied, ce ? en(ce) : "ok", dg_str(&d));
      close(tfd);
    }
    close(fd);
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* access                                                                               */

static char *rcs(long rc, int e) {
  static char ring[32][24];
  static int k;
  char *o = ring[k++ & 31];
  if (rc == 0) {
    snprintf(o, sizeof ring[0], "0");
  } else {
    snprintf(o, sizeof ring[0], "%ld/%s", rc, en(e));
  }
  return o;
}
#define RC(call) (errno = 0, rc_tmp = (long)(call), rcs(rc_tmp, errno))

static int cmd_access(int argc, char **argv) {
  long rc_tmp;
  static const int modes[] = {F_OK, R_OK, W_OK, X_OK, R_OK | X_OK};
  static const char *mnames[] = {"F", "R", "W", "X", "RX"};
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    char base[PATH_MAX];
    int dfd = open_parent(p, base, sizeof base);
    for (int m = 0; m < 5; m++) {
      int md = modes[m];
      const char *a = RC(access(p, md));
      const char *b = RC(faccessat(AT_FDCWD, p, md, 0));
      const char *c = RC(faccessat(AT_FDCWD, p, md, AT_EACCESS));
      const char *d = RC(faccessat(AT_FDCWD, p, md, AT_SYMLINK_NOFOLLOW));
      const char *e = RC(euidaccess(p, md));
      const char *f = RC(eaccess(p, md));
      const char *g = RC(syscall(SYS_access, p, md));
      const char *h = RC(syscall(SYS_faccessat, AT_FDCWD, p, md));
      const char *j = RC(syscall(SYS_faccessat2, AT_FDCWD, p, md, AT_SYMLINK_NOFOLLOW));
      const char *k = dfd >= 0 && base[0] ? RC(faccessat(dfd, base, md, 0)) : "-";
      printf("access.%s %s: access=%s faccessat=%s eaccess-flag=%s nofollow=%s euidaccess=%s eaccess=%s "
             "sys_access=%s sys_faccessat=%s sys_faccessat2.nofollow=%s dirfd=%s\n",
             mnames[m], rel(p), a, b, c, d, e, f, g, h, j, k);
    }
    char val[256];
    ssize_t n;
    errno = 0;
    n = getxattr(p, "user.vrift.probe", val, sizeof val);
    out("getxattr", p, "%zd %s", n, n < 0 ? en(errno) : "");
    errno = 0;
    n = lgetxattr(p, "user.vrift.probe", val, sizeof val);
    out("lgetxattr", p, "%zd %s", n, n < 0 ? en(errno) : "");
    char names[1024];
    errno = 0;
    n = listxattr(p, names, sizeof names);
    out("listxattr", p, "%zd %s", n, n < 0 ? en(errno) : esc_n(names, n > 0 ? (size_t)n : 0));
    errno = 0;
    n = llistxattr(p, names, sizeof names);
    out("llistxattr", p, "%zd %s", n, n < 0 ? en(errno) : esc_n(names, n > 0 ? (size_t)n : 0));
    if (dfd >= 0) {
      close(dfd);
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* readlink                                                                             */

#define REPORT_RL(label, path, call, buf)                                                  \
  do {                                                                                     \
    memset(buf, 'X', sizeof buf);                                                          \
    errno = SENTINEL;                                                                      \
    long n_ = (long)(call);                                                                \
    int e_ = errno;                                                                        \
    if (n_ >= 0) {                                                                         \
      out(label, path, "n=%ld \"%s\" next=%s", n_, esc_n(buf, (size_t)n_),                 \
          (size_t)n_ < sizeof buf ? (buf[n_] == 'X' ? "untouched" : "WRITTEN") : "-");   \
    } else {                                                                               \
      out(label, path, "rc=%ld %s", n_, en(e_));                                           \
    }                                                                                      \
  } while (0)

static int cmd_readlink(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    char buf[PATH_MAX], small[4], base[PATH_MAX];
    int dfd = open_parent(p, base, sizeof base);
    REPORT_RL("readlink", p, readlink(p, buf, sizeof buf), buf);
    REPORT_RL("readlink.varlen", p, readlink(p, buf, g_linkbuf), buf);
    REPORT_RL("readlink.small3", p, readlink(p, small, 3), small);
    REPORT_RL("readlinkat", p, readlinkat(AT_FDCWD, p, buf, sizeof buf), buf);
    REPORT_RL("__readlink_chk", p, __readlink_chk(p, buf, sizeof buf, sizeof buf), buf);
    REPORT_RL("__readlinkat_chk", p, __readlinkat_chk(AT_FDCWD, p, buf, sizeof buf, sizeof buf), buf);
    REPORT_RL("sys_readlink", p, syscall(SYS_readlink, p, buf, sizeof buf), buf);
    REPORT_RL("sys_readlinkat", p, syscall(SYS_readlinkat, AT_FDCWD, p, buf, sizeof buf), buf);
    if (dfd >= 0 && base[0]) {
      REPORT_RL("readlinkat.dirfd", p, readlinkat(dfd, base, buf, sizeof buf), buf);
      REPORT_RL("readlinkat.dirfd.varlen", p, readlinkat(dfd, base, buf, g_linkbuf), buf);
    }
    /* readlinkat(fd, "") on an O_PATH|O_NOFOLLOW fd reads the link itself */
    int lfd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (lfd >= 0) {
      REPORT_RL("readlinkat.opath.empty", p, readlinkat(lfd, "", buf, sizeof buf), buf);
      close(lfd);
    }
    if (dfd >= 0) {
      close(dfd);
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* realpath                                                                             */

static void report_path(const char *label, const char *path, const char *res, int err) {
  if (res) {
    out(label, path, "%s", rel(res));
  } else {
    out(label, path, "NULL %s", en(err));
  }
}

static int cmd_realpath(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    char buf[PATH_MAX];
    errno = 0;
    char *r = realpath(p, NULL);
    report_path("realpath.alloc", p, r, errno);
    free(r);
    errno = 0;
    r = realpath(p, buf);
    report_path("realpath.buf", p, r, errno);
    errno = 0;
    r = canonicalize_file_name(p);
    report_path("canonicalize_file_name", p, r, errno);
    free(r);
    errno = 0;
    r = __realpath_chk(p, buf, sizeof buf);
    report_path("__realpath_chk", p, r, errno);
    char abs[PATH_MAX * 2];
    snprintf(abs, sizeof abs, "%s/%s", g_root, p);
    errno = 0;
    r = realpath(abs, NULL);
    report_path("realpath.absolute", p, r, errno);
    free(r);
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* directories                                                                          */

/* Reads a DIR to its end: "name" into names; a line per entry into detail when given. */
static int drain_dir(DIR *d, strlist *names, int use64, strlist *detail) {
  for (;;) {
    errno = 0;
    const char *name;
    unsigned char type;
    unsigned long long ino;
    if (use64) {
      struct dirent64 *e = readdir64(d);
      if (!e) {
        break;
      }
      name = e->d_name, type = e->d_type, ino = e->d_ino;
    } else {
      struct dirent *e = readdir(d);
      if (!e) {
        break;
      }
      name = e->d_name, type = e->d_type, ino = e->d_ino;
    }
    sl_add(names, name);
    if (detail) {
      char line[PATH_MAX + 600];
      struct stat st;
      int fd = dirfd(d);
      int src = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW);
      const char *ino_ok = ino == 0 ? "zero" : src == 0 && (unsigned long long)st.st_ino == ino ? "eq-lstat" : "ne-lstat";
      if (strcmp(name, "..") == 0) {
        ino_ok = ino ? "nonzero" : "zero"; /* the parent may be a mount point */
      }
      char content[96] = "";
      if (type == DT_REG) {
        int cfd = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        digest dg;
        if (cfd < 0) {
          snprintf(content, sizeof content, " openat=%s", en(errno));
        } else {
          int e = read_all(cfd, &dg);
          snprintf(content, sizeof content, " %s", e ? en(e) : dg_str(&dg));
          close(cfd);
        }
      }
      snprintf(line, sizeof line, "%s type=%s ino=%s lstat=%s%s", esc(name), dtype_name(type), ino_ok,
               src == 0 ? FMT_ST(st) : en(errno), content);
      sl_add(detail, line);
    }
  }
  return errno;
}

struct ld64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static int getdents_names(int fd, strlist *names, int use_syscall, int *calls) {
  char buf[256] __attribute__((aligned(8)));
  *calls = 0;
  for (;;) {
    long n = use_syscall ? syscall(SYS_getdents64, fd, buf, sizeof buf) : (long)getdents64(fd, buf, sizeof buf);
    (*calls)++;
    if (n < 0) {
      return errno;
    }
    if (n == 0) {
      return 0;
    }
    for (long off = 0; off < n;) {
      struct ld64 *e = (struct ld64 *)(buf + off);
      char line[PATH_MAX + 16];
      snprintf(line, sizeof line, "%s", e->d_name);
      sl_add(names, line);
      off += e->d_reclen;
    }
  }
}

static int no_dot(const struct dirent *e) { return e->d_name[0] != '.'; }

static void print_cmp(const char *label, const char *dir, strlist *ref, strlist *got, int err, int sort) {
  if (sort) {
    sl_sort(got);
  }
  out(label, dir, "n=%zu %s%s%s", got->n, sl_diff(ref, got), err ? " errno=" : "", err ? en(err) : "");
  sl_free(got);
}

static int cmd_readdir(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    char base[PATH_MAX];
    strlist ref = {0}, detail = {0}, got = {0};
    errno = 0;
    DIR *d = opendir(p);
    if (!d) {
      out("opendir", p, "NULL %s", en(errno));
      continue;
    }
    int err = drain_dir(d, &ref, 0, &detail);
    sl_sort(&ref);
    sl_sort(&detail);
    out("readdir", p, "n=%zu end-errno=%s", ref.n, err ? en(err) : "0");
    for (size_t k = 0; k < detail.n; k++) {
      out("entry", p, "%s", detail.v[k]);
    }
    sl_free(&detail);
    rewinddir(d);
    err = drain_dir(d, &got, 0, NULL);
    print_cmp("rewinddir", p, &ref, &got, err, 1);
    errno = SENTINEL;
    int crc = closedir(d);
    out("closedir", p, "%d%s", crc, errno != SENTINEL ? " errno-changed" : "");

    d = opendir(p);
    err = drain_dir(d, &got, 1, NULL);
    print_cmp("readdir64", p, &ref, &got, err, 1);
    closedir(d);

    /* telldir/seekdir: the rest of the stream after a saved position is the same twice */
    d = opendir(p);
    strlist head = {0}, r1 = {0}, r2 = {0};
    for (int k = 0; k < 3; k++) {
      struct dirent *e = readdir(d);
      if (e) {
        sl_add(&head, e->d_name);
      }
    }
    long pos = telldir(d);
    drain_dir(d, &r1, 0, NULL);
    seekdir(d, pos);
    drain_dir(d, &r2, 0, NULL);
    out("seekdir", p, "%s", sl_diff(&r1, &r2));
    for (size_t k = 0; k < r1.n; k++) {
      sl_add(&head, r1.v[k]);
    }
    print_cmp("telldir.total", p, &ref, &head, 0, 1);
    sl_free(&r1);
    sl_free(&r2);
    closedir(d);

    d = opendir(p);
    for (;;) {
      struct dirent ent, *res = NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      int rr = readdir_r(d, &ent, &res);
#pragma GCC diagnostic pop
      if (rr || !res) {
        break;
      }
      sl_add(&got, res->d_name);
    }
    print_cmp("readdir_r", p, &ref, &got, 0, 1);
    closedir(d);

    int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d) {
      err = drain_dir(d, &got, 0, NULL);
      print_cmp("fdopendir", p, &ref, &got, err, 1);
      closedir(d);
    } else {
      out("fdopendir", p, "%s", en(errno));
    }
    int pfd = open_parent(p, base, sizeof base);
    if (pfd >= 0 && base[0]) {
      fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      d = fd >= 0 ? fdopendir(fd) : NULL;
      if (d) {
        err = drain_dir(d, &got, 1, NULL);
        print_cmp("fdopendir.openat.nofollow", p, &ref, &got, err, 1);
        closedir(d);
      } else {
        out("fdopendir.openat.nofollow", p, "%s", en(errno));
      }
    }

    struct dirent **list = NULL;
    errno = 0;
    int n = scandir(p, &list, NULL, alphasort);
    if (n < 0) {
      out("scandir", p, "%d %s", n, en(errno));
    } else {
      for (int k = 0; k < n; k++) {
        sl_add(&got, list[k]->d_name);
        free(list[k]);
      }
      free(list);
      print_cmp("scandir.alphasort", p, &ref, &got, 0, 0);
    }
    n = scandir(p, &list, no_dot, alphasort);
    if (n >= 0) {
      for (int k = 0; k < n; k++) {
        free(list[k]);
      }
      free(list);
    }
    out("scandir.filter", p, "%d", n);
    struct dirent64 **list64 = NULL;
    n = scandir64(p, &list64, NULL, alphasort64);
    if (n >= 0) {
      for (int k = 0; k < n; k++) {
        sl_add(&got, list64[k]->d_name);
        free(list64[k]);
      }
      free(list64);
      print_cmp("scandir64", p, &ref, &got, 0, 0);
    } else {
      out("scandir64", p, "%s", en(errno));
    }
    if (pfd >= 0 && base[0]) {
      n = scandirat(pfd, base, &list, NULL, alphasort);
      if (n >= 0) {
        for (int k = 0; k < n; k++) {
          sl_add(&got, list[k]->d_name);
          free(list[k]);
        }
        free(list);
        print_cmp("scandirat.dirfd", p, &ref, &got, 0, 0);
      } else {
        out("scandirat.dirfd", p, "%s", en(errno));
      }
    }
    if (pfd >= 0) {
      close(pfd);
    }

    int calls;
    fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    err = getdents_names(fd, &got, 0, &calls);
    print_cmp("getdents64", p, &ref, &got, err, 1);
    close(fd);
    fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    err = getdents_names(fd, &got, 1, &calls);
    print_cmp("sys_getdents64", p, &ref, &got, err, 1);
    close(fd);
    sl_free(&ref);
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* glob                                                                                 */

static int glob_err_cb(const char *path, int err) {
  printf("  glob-error %s: %s\n", rel(path), en(err));
  return 0;
}

static int cmd_glob(int argc, char **argv) {
  static const struct {
    int flags;
    const char *name;
  } sets[] = {{0, "plain"},
              {GLOB_MARK, "mark"},
              {GLOB_NOSORT, "nosort"},
              {GLOB_ONLYDIR, "onlydir"},
              {GLOB_PERIOD | GLOB_MARK, "period-mark"},
              {GLOB_NOCHECK | GLOB_BRACE, "nocheck-brace"}};
  for (int i = 0; i < argc; i++) {
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
      glob_t g;
      memset(&g, 0, sizeof g);
      int rc = glob(argv[i], sets[s].flags, glob_err_cb, &g);
      strlist got = {0};
      for (size_t k = 0; k < g.gl_pathc; k++) {
        sl_add(&got, g.gl_pathv[k]);
      }
      if (sets[s].flags & GLOB_NOSORT) {
        sl_sort(&got);
      }
      printf("glob.%s %s: rc=%d n=%zu\n", sets[s].name, rel(argv[i]), rc, got.n);
      for (size_t k = 0; k < got.n; k++) {
        printf("  %s\n", rel(got.v[k]));
      }
      sl_free(&got);
      globfree(&g);
    }
    glob64_t g64;
    memset(&g64, 0, sizeof g64);
    int rc = glob64(argv[i], GLOB_MARK, NULL, &g64);
    printf("glob64.mark %s: rc=%d n=%zu\n", rel(argv[i]), rc, g64.gl_pathc);
    for (size_t k = 0; k < g64.gl_pathc; k++) {
      printf("  %s\n", rel(g64.gl_pathv[k]));
    }
    globfree64(&g64);
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* nftw / ftw / fts                                                                     */

static strlist g_walk;
static int g_walk_chdir;

static const char *ftw_name(int t) {
  switch (t) {
    case FTW_F: return "F";
    case FTW_D: return "D";
    case FTW_DNR: return "DNR";
    case FTW_NS: return "NS";
    case FTW_SL: return "SL";
    case FTW_SLN: return "SLN";
    case FTW_DP: return "DP";
    default: return "?";
  }
}

static int nftw_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  char line[PATH_MAX + 400];
  char extra[64] = "";
  if (g_walk_chdir) {
    /* with FTW_CHDIR the base name is reachable from the working directory */
    struct stat here;
    int r = lstat(path + ftw->base, &here);
    snprintf(extra, sizeof extra, " cwd-lstat=%s",
             r != 0 ? en(errno) : here.st_mode == sb->st_mode && here.st_size == sb->st_size ? "same" : "DIFF");
  }
  snprintf(line, sizeof line, "%s type=%s level=%d %s%s", rel(path), ftw_name(type), ftw->level,
           type == FTW_NS ? "nostat" : FMT_ST(*sb), extra);
  sl_add(&g_walk, line);
  return 0;
}
static int nftw64_cb(const char *path, const struct stat64 *sb, int type, struct FTW *ftw) {
  char line[PATH_MAX + 400];
  snprintf(line, sizeof line, "%s type=%s level=%d %s", rel(path), ftw_name(type), ftw->level,
           type == FTW_NS ? "nostat" : FMT_ST(*sb));
  sl_add(&g_walk, line);
  return 0;
}
static int ftw_cb(const char *path, const struct stat *sb, int type) {
  char line[PATH_MAX + 400];
  snprintf(line, sizeof line, "%s type=%s %s", rel(path), ftw_name(type), type == FTW_NS ? "nostat" : FMT_ST(*sb));
  sl_add(&g_walk, line);
  return 0;
}

static void print_walk(const char *label, const char *dir, int rc, int err) {
  sl_sort(&g_walk);
  printf("%s %s: rc=%d%s%s n=%zu\n", label, rel(dir), rc, rc ? " " : "", rc ? en(err) : "", g_walk.n);
  for (size_t k = 0; k < g_walk.n; k++) {
    printf("  %s\n", g_walk.v[k]);
  }
  sl_free(&g_walk);
}

static int cmd_nftw(int argc, char **argv, int follow) {
  char here[PATH_MAX];
  if (!getcwd(here, sizeof here)) {
    return 2;
  }
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    int rc;
    if (follow) {
      rc = nftw(p, nftw_cb, 16, 0);
      print_walk("nftw.follow", p, rc, errno);
      rc = nftw(p, nftw_cb, 16, FTW_DEPTH | FTW_MOUNT);
      print_walk("nftw.follow.depth", p, rc, errno);
      rc = ftw(p, ftw_cb, 16);
      print_walk("ftw", p, rc, errno);
      continue;
    }
    rc = nftw(p, nftw_cb, 16, FTW_PHYS);
    print_walk("nftw.phys", p, rc, errno);
    rc = nftw(p, nftw_cb, 16, FTW_PHYS | FTW_DEPTH);
    print_walk("nftw.phys.depth", p, rc, errno);
    g_walk_chdir = 1;
    rc = nftw(p, nftw_cb, 16, FTW_PHYS | FTW_CHDIR);
    g_walk_chdir = 0;
    print_walk("nftw.phys.chdir", p, rc, errno);
    if (chdir(here) != 0) {
      return 2;
    }
    rc = nftw64(p, nftw64_cb, 4, FTW_PHYS);
    print_walk("nftw64.phys", p, rc, errno);
  }
  return 0;
}

static const char *fts_info_name(int i) {
  switch (i) {
    case FTS_D: return "D";
    case FTS_DC: return "DC";
    case FTS_DEFAULT: return "DEFAULT";
    case FTS_DNR: return "DNR";
    case FTS_DOT: return "DOT";
    case FTS_DP: return "DP";
    case FTS_ERR: return "ERR";
    case FTS_F: return "F";
    case FTS_NS: return "NS";
    case FTS_NSOK: return "NSOK";
    case FTS_SL: return "SL";
    case FTS_SLNONE: return "SLNONE";
    default: return "?";
  }
}

static int cmd_fts(int argc, char **argv) {
  static const struct {
    int opts;
    const char *name;
  } sets[] = {{FTS_PHYSICAL | FTS_NOCHDIR, "physical.nochdir"},
              {FTS_PHYSICAL, "physical"},
              {FTS_LOGICAL | FTS_NOCHDIR, "logical.nochdir"},
              {FTS_PHYSICAL | FTS_NOSTAT | FTS_NOCHDIR, "physical.nostat"},
              {FTS_PHYSICAL | FTS_COMFOLLOW | FTS_SEEDOT, "physical.comfollow.seedot"}};
  char here[PATH_MAX];
  if (!getcwd(here, sizeof here)) {
    return 2;
  }
  for (int i = 0; i < argc; i++) {
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
      char *roots[] = {argv[i], NULL};
      errno = 0;
      FTS *f = fts_open(roots, sets[s].opts, NULL);
      if (!f) {
        printf("fts.%s %s: fts_open NULL %s\n", sets[s].name, rel(argv[i]), en(errno));
        continue;
      }
      FTSENT *e;
      int first = 1;
      while ((e = fts_read(f)) != NULL) {
        char line[PATH_MAX + 400];
        const char *st = "nostat";
        /* with FTS_NOSTAT fts_statp is not even allocated */
        if (!(sets[s].opts & FTS_NOSTAT) && e->fts_info != FTS_NS && e->fts_info != FTS_NSOK &&
            e->fts_info != FTS_DNR && e->fts_info != FTS_ERR) {
          st = FMT_ST(*e->fts_statp);
        }
        snprintf(line, sizeof line, "%s info=%s level=%d%s%s %s", rel(e->fts_path), fts_info_name(e->fts_info),
                 (int)e->fts_level, e->fts_errno ? " errno=" : "", e->fts_errno ? en(e->fts_errno) : "", st);
        sl_add(&g_walk, line);
        if (first && e->fts_info == FTS_D) {
          first = 0;
          FTSENT *c = fts_children(f, FTS_NAMEONLY);
          strlist kids = {0};
          for (; c; c = c->fts_link) {
            sl_add(&kids, c->fts_name);
          }
          sl_sort(&kids);
          char kl[8192];
          size_t used = (size_t)snprintf(kl, sizeof kl, "fts_children(%s):", rel(e->fts_path));
          for (size_t k = 0; k < kids.n && used < sizeof kl - PATH_MAX; k++) {
            used += (size_t)snprintf(kl + used, sizeof kl - used, " %s", esc(kids.v[k]));
          }
          sl_add(&g_walk, kl);
          sl_free(&kids);
        }
      }
      int err = errno;
      char label[64];
      snprintf(label, sizeof label, "fts.%s", sets[s].name);
      print_walk(label, argv[i], 0, 0);
      if (err) {
        printf("  end errno=%s\n", en(err));
      }
      fts_close(f);
      if (chdir(here) != 0) {
        return 2;
      }
    }
  }
  return 0;
}

/* fts in traversal order (compar sorts each directory): pre/post order, fts_level,
 * fts_accpath (opened to read each file, in chdir and nochdir walks), fts_number and
 * fts_pointer kept from FTS_D to FTS_DP, fts_set's FTS_SKIP (directories named "many"),
 * FTS_FOLLOW (symlinks to directories) and FTS_AGAIN (the first file, once). */
static int by_name(const FTSENT **a, const FTSENT **b) { return strcmp((*a)->fts_name, (*b)->fts_name); }

static int cmd_fts_order(int argc, char **argv) {
  static const struct {
    int opts;
    const char *name;
  } sets[] = {{FTS_PHYSICAL, "physical"},
              {FTS_PHYSICAL | FTS_NOCHDIR, "physical.nochdir"},
              {FTS_LOGICAL, "logical"},
              {FTS_PHYSICAL | FTS_XDEV | FTS_SEEDOT, "physical.xdev.seedot"}};
  char here[PATH_MAX];
  if (!getcwd(here, sizeof here)) {
    return 2;
  }
  for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
    errno = 0;
    FTS *f = fts_open(argv, sets[s].opts, by_name);
    if (!f) {
      printf("fts-order.%s: fts_open NULL %s\n", sets[s].name, en(errno));
      continue;
    }
    printf("fts-order.%s:\n", sets[s].name);
    FTSENT *e;
    int again = 1;
    while ((e = fts_read(f)) != NULL) {
      char content[96] = "";
      if (e->fts_info == FTS_F) {
        int fd = open(e->fts_accpath, O_RDONLY | O_CLOEXEC);
        digest dg;
        int err = fd < 0 ? errno : read_all(fd, &dg);
        snprintf(content, sizeof content, " %s", err ? en(err) : dg_str(&dg));
        if (fd >= 0) {
          close(fd);
        }
      }
      const char *kept = "";
      if (e->fts_info == FTS_D) {
        e->fts_number = 1000 + e->fts_level;
        e->fts_pointer = e;
        if (strcmp(e->fts_name, "many") == 0) {
          fts_set(f, e, FTS_SKIP);
        }
      } else if (e->fts_info == FTS_DP) {
        kept = e->fts_number == 1000 + e->fts_level && e->fts_pointer == e ? " kept" : " LOST";
      } else if (e->fts_info == FTS_SL && (e->fts_level > 0 || !(sets[s].opts & FTS_XDEV))) {
        /* (not a root with FTS_XDEV: glibc compares with a device it never set) */
        struct stat st;
        if (stat(e->fts_accpath, &st) == 0 && S_ISDIR(st.st_mode)) {
          fts_set(f, e, FTS_FOLLOW);
        }
      } else if (e->fts_info == FTS_F && again) {
        again = 0;
        fts_set(f, e, FTS_AGAIN);
      }
      int lens_ok = strlen(e->fts_path) == e->fts_pathlen && strlen(e->fts_name) == e->fts_namelen;
      printf("  %s name=%s info=%s level=%d%s%s%s%s %s%s\n", rel(e->fts_path), esc(e->fts_name),
             fts_info_name(e->fts_info), (int)e->fts_level, lens_ok ? "" : " LENGTHS-WRONG",
             e->fts_errno ? " errno=" : "", e->fts_errno ? en(e->fts_errno) : "", kept,
             e->fts_info == FTS_NS || e->fts_info == FTS_DNR || e->fts_info == FTS_ERR ? "nostat"
                                                                                        : FMT_ST(*e->fts_statp),
             content);
    }
    printf("  end errno=%s\n", errno ? en(errno) : "0");
    errno = SENTINEL;
    int rc = fts_close(f);
    printf("  fts_close=%d%s\n", rc, errno != SENTINEL ? " errno-changed" : "");
    char cwd[PATH_MAX];
    printf("  cwd %s\n", getcwd(cwd, sizeof cwd) && strcmp(cwd, here) == 0 ? "restored" : "MOVED");
    if (chdir(here) != 0) {
      return 2;
    }
  }
  /* fts_children of the roots before the first fts_read, and of a root directory
   * (chdir walk, full entries) */
  FTS *f = fts_open(argv, FTS_PHYSICAL, by_name);
  if (f) {
    for (FTSENT *c = fts_children(f, 0); c; c = c->fts_link) {
      printf("fts_children.roots %s info=%s level=%d\n", rel(c->fts_accpath), fts_info_name(c->fts_info), c->fts_level);
    }
    FTSENT *e = fts_read(f);
    if (e && e->fts_info == FTS_D) {
      for (FTSENT *c = fts_children(f, 0); c; c = c->fts_link) {
        printf("fts_children %s/%s info=%s level=%d %s\n", rel(e->fts_path), esc(c->fts_name),
               fts_info_name(c->fts_info), c->fts_level,
               c->fts_info == FTS_NS ? "nostat" : FMT_ST(*c->fts_statp));
      }
    }
    fts_close(f);
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* statfs                                                                               */

/* What filesystem each path is on, by path and by fd: the fields that say which
 * filesystem it is (free counts change, the fsid is not printed). */
static int cmd_statfs(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    struct statfs sf;
    struct statfs64 sf64;
    struct statvfs sv;
    struct statvfs64 sv64;
#define SF(label, call, b)                                                                                   \
  do {                                                                                                       \
    errno = SENTINEL;                                                                                        \
    if ((call) == 0) {                                                                                       \
      out(label, p, "type=%lx bsize=%ld namelen=%ld flags=%lx", (unsigned long)(b).f_type, (long)(b).f_bsize, \
          (long)(b).f_namelen, (unsigned long)(b).f_flags & ~(unsigned long)ST_RELATIME);                    \
    } else {                                                                                                 \
      out(label, p, "rc=-1 %s", en(errno));                                                                  \
    }                                                                                                        \
  } while (0)
#define SV(label, call, b)                                                                                     \
  do {                                                                                                         \
    errno = SENTINEL;                                                                                          \
    if ((call) == 0) {                                                                                         \
      out(label, p, "bsize=%lu namemax=%lu flag=%lx", (unsigned long)(b).f_bsize, (unsigned long)(b).f_namemax, \
          (unsigned long)(b).f_flag);                                                                          \
    } else {                                                                                                   \
      out(label, p, "rc=-1 %s", en(errno));                                                                    \
    }                                                                                                          \
  } while (0)
    SF("statfs", statfs(p, &sf), sf);
    SF("statfs64", statfs64(p, &sf64), sf64);
    SV("statvfs", statvfs(p, &sv), sv);
    SV("statvfs64", statvfs64(p, &sv64), sv64);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      out("fstatfs", p, "open=%s", en(errno));
      continue;
    }
    SF("fstatfs", fstatfs(fd, &sf), sf);
    SF("fstatfs64", fstatfs64(fd, &sf64), sf64);
    SV("fstatvfs", fstatvfs(fd, &sv), sv);
    SV("fstatvfs64", fstatvfs64(fd, &sv64), sv64);
#undef SF
#undef SV
    close(fd);
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* chdir                                                                                */

static void cwd_report(const char *how, const char *dir, int argc, char **argv) {
  char cwd[PATH_MAX];
  out(how, dir, "getcwd=%s", getcwd(cwd, sizeof cwd) ? rel(cwd) : en(errno));
  char *gc = get_current_dir_name();
  out(how, dir, "get_current_dir_name=%s", gc ? rel(gc) : en(errno));
  free(gc);
  for (int i = 0; i < argc; i++) {
    const char *r = argv[i];
    struct stat st;
    char label[128];
    snprintf(label, sizeof label, "%s.stat", how);
    REPORT_ST(label, r, stat(r, &st), st);
    snprintf(label, sizeof label, "%s.lstat", how);
    REPORT_ST(label, r, lstat(r, &st), st);
    snprintf(label, sizeof label, "%s.open", how);
    TRY_OPEN(label, r, open(r, O_RDONLY));
    snprintf(label, sizeof label, "%s.access.R", how);
    out(label, r, "%d", access(r, R_OK));
    char buf[PATH_MAX];
    snprintf(label, sizeof label, "%s.realpath", how);
    errno = 0;
    char *rp = realpath(r, buf);
    report_path(label, r, rp, errno);
  }
  DIR *d = opendir(".");
  strlist names = {0};
  if (d) {
    drain_dir(d, &names, 0, NULL);
    closedir(d);
  }
  sl_sort(&names);
  strlist none = {0};
  out(how, dir, "opendir(.) n=%zu:%s", names.n, sl_diff(&none, &names));
  sl_free(&names);
}

static int cmd_chdir(int argc, char **argv) {
  if (argc < 1) {
    return 2;
  }
  const char *dir = argv[0];
  int root = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  errno = 0;
  int rc = chdir(dir);
  out("chdir", dir, "%d %s", rc, rc ? en(errno) : "");
  if (rc == 0) {
    cwd_report("chdir", dir, argc - 1, argv + 1);
  }
  if (fchdir(root) != 0) {
    return 2;
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  rc = fd >= 0 ? fchdir(fd) : -1;
  out("fchdir", dir, "%d %s", rc, rc ? en(errno) : "");
  if (rc == 0) {
    cwd_report("fchdir", dir, argc - 1, argv + 1);
    /* openat relative to the directory fd, from the tree root */
    if (fchdir(root) != 0) {
      return 2;
    }
    for (int i = 1; i < argc; i++) {
      TRY_OPEN("openat.dirfd", argv[i], openat(fd, argv[i], O_RDONLY));
    }
  }
  if (fd >= 0) {
    close(fd);
  }
  if (fchdir(root) != 0) {
    return 2;
  }
  fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  rc = fd >= 0 ? fchdir(fd) : -1;
  out("fchdir.opath", dir, "%d %s", rc, rc ? en(errno) : "");
  if (rc == 0) {
    char cwd[PATH_MAX];
    out("fchdir.opath", dir, "getcwd=%s", getcwd(cwd, sizeof cwd) ? rel(cwd) : en(errno));
  }
  if (fd >= 0) {
    close(fd);
  }
  if (fchdir(root) != 0) {
    return 2;
  }
  close(root);
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* dup, fork, fds                                                                       */

static int cmd_dup(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      out("dup.open", p, "%s", en(errno));
      continue;
    }
    unsigned char b[16];
    ssize_t n = read(fd, b, 10);
    int d1 = dup(fd);
    int d2 = dup2(fd, 100);
    int d3 = dup3(fd, 101, O_CLOEXEC);
    int d4 = fcntl(fd, F_DUPFD, 200);
    int d5 = fcntl(fd, F_DUPFD_CLOEXEC, 300);
    int d6 = (int)syscall(SYS_dup3, fd, 102, 0);
    close(fd); /* the duplicates keep the open file description alive */
    int fds[] = {d1, d2, d3, d4, d5, d6};
    const char *names[] = {"dup", "dup2", "dup3", "F_DUPFD", "F_DUPFD_CLOEXEC", "sys_dup3"};
    out("dup.first-read", p, "n=%zd %s", n, hexbytes(b, n));
    for (int k = 0; k < 6; k++) {
      struct stat st;
      char label[64];
      snprintf(label, sizeof label, "dup.%s.fstat", names[k]);
      if (fds[k] < 0) {
        out(label, p, "dup failed %s", en(errno));
        continue;
      }
      REPORT_ST(label, p, fstat(fds[k], &st), st);
      snprintf(label, sizeof label, "dup.%s.offset", names[k]);
      out(label, p, "%lld cloexec=%d", (long long)lseek(fds[k], 0, SEEK_CUR), fcntl(fds[k], F_GETFD) & FD_CLOEXEC);
    }
    /* the offset is shared: read the rest through one duplicate, then all are at the end */
    digest dg;
    int e = read_all(d1, &dg);
    out("dup.rest", p, "%s %s", e ? en(e) : "ok", dg_str(&dg));
    out("dup2.offset-after", p, "%lld", (long long)lseek(d2, 0, SEEK_CUR));
    lseek(d4, 0, SEEK_SET);
    e = read_all(d4, &dg);
    out("F_DUPFD.reread", p, "%s %s", e ? en(e) : "ok", dg_str(&dg));
    /* dup2 onto an fd that is open on another file of the tree replaces it */
    int other = open(p, O_RDONLY | O_CLOEXEC);
    int r = dup2(d5, other);
    struct stat st;
    REPORT_ST("dup2.onto-open.fstat", p, fstat(other, &st), st);
    out("dup2.onto-open", p, "same-fd=%d offset=%lld", r == other, (long long)lseek(other, 0, SEEK_CUR));
    for (int k = 0; k < 6; k++) {
      if (fds[k] >= 0) {
        close(fds[k]);
      }
    }
    close(other);
  }
  return 0;
}

static int cmd_fork(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *p = argv[i];
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    unsigned char b[8];
    ssize_t n = fd >= 0 ? read(fd, b, 5) : -1;
    out("fork.parent-read", p, "fd=%s n=%zd %s", fd >= 0 ? "ok" : en(errno), n, n > 0 ? hexbytes(b, n) : "");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      struct stat st;
      REPORT_ST("fork.child.fstat-inherited", p, fstat(fd, &st), st);
      out("fork.child.offset", p, "%lld", (long long)lseek(fd, 0, SEEK_CUR));
      digest dg;
      int e = read_all(fd, &dg);
      out("fork.child.read-rest", p, "%s %s", e ? en(e) : "ok", dg_str(&dg));
      REPORT_ST("fork.child.stat", p, stat(p, &st), st);
      TRY_OPEN("fork.child.open", p, open(p, O_RDONLY));
      fflush(stdout);
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    out("fork.parent.child-status", p, "%d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    out("fork.parent.offset", p, "%lld", fd >= 0 ? (long long)lseek(fd, 0, SEEK_CUR) : -1LL);
    if (fd >= 0) {
      close(fd);
    }
  }
  return 0;
}

static int cmd_fds(int argc, char **argv) {
  if (argc < 1) {
    return 2;
  }
  const char *p = argv[0];
  int a = open(p, O_RDONLY);
  int b = open(p, O_RDONLY | O_CLOEXEC);
  FILE *f = fopen(p, "r");
  char dir[PATH_MAX], base[PATH_MAX];
  split_path(p, dir, sizeof dir, base, sizeof base);
  DIR *d = opendir(dir);
  struct stat st;
  stat(p, &st);
  out("fds", p, "open=%d open.cloexec=%d fopen=%d opendir=%d", a, b, f ? fileno(f) : -1, d ? dirfd(d) : -1);
  /* every fd below 1000 that this process holds, and what it is */
  DIR *pd = opendir("/proc/self/fd");
  strlist held = {0};
  struct dirent *e;
  while (pd && (e = readdir(pd)) != NULL) {
    if (e->d_name[0] == '.') {
      continue;
    }
    int n = atoi(e->d_name);
    if (n == dirfd(pd) || n >= 1000) {
      continue;
    }
    char target[PATH_MAX], line[PATH_MAX + 32];
    procfd_target(n, target, sizeof target);
    const char *what = strncmp(target, g_root, g_rootlen) == 0 ? rel(target) : "other";
    snprintf(line, sizeof line, "%04d %s", n, what);
    sl_add(&held, line);
  }
  if (pd) {
    closedir(pd);
  }
  sl_sort(&held);
  for (size_t k = 0; k < held.n; k++) {
    printf("  held %s\n", held.v[k]);
  }
  sl_free(&held);
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* threads                                                                              */

typedef struct {
  int is_dir;
  int err;
  struct stat st;
  digest dg;
} ref_t;

static char **g_tpaths;
static int g_tn;
static int g_rounds;
static ref_t *g_ref;
static atomic_int g_mismatch;
static atomic_int g_ops;
static pthread_barrier_t g_barrier;
static char g_first_bad[1024];
static pthread_mutex_t g_bad_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t dir_hash(const char *p, int *err) {
  DIR *d = opendir(p);
  if (!d) {
    *err = errno;
    return 0;
  }
  strlist names = {0};
  *err = drain_dir(d, &names, (p[0] & 1), NULL);
  closedir(d);
  sl_sort(&names);
  digest dg;
  dg_init(&dg);
  for (size_t k = 0; k < names.n; k++) {
    dg_add(&dg, names.v[k], strlen(names.v[k]) + 1);
  }
  sl_free(&names);
  return dg.h;
}

static void compute(const char *p, ref_t *r, int how) {
  memset(r, 0, sizeof *r);
  if (stat(p, &r->st) != 0) {
    r->err = errno;
    return;
  }
  if (S_ISDIR(r->st.st_mode)) {
    r->is_dir = 1;
    int e = 0;
    r->dg.h = dir_hash(p, &e);
    r->err = e;
    return;
  }
  if (how & 1) {
    FILE *f = fopen(p, "re");
    if (!f) {
      r->err = errno;
      return;
    }
    char buf[8192];
    size_t n;
    dg_init(&r->dg);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
      dg_add(&r->dg, buf, n);
    }
    fclose(f);
  } else {
    int fd = openat(AT_FDCWD, p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      r->err = errno;
      return;
    }
    r->err = read_all(fd, &r->dg);
    struct stat fst;
    if (fstat(fd, &fst) != 0 || fst.st_size != r->st.st_size || fst.st_mode != r->st.st_mode) {
      r->err = -1;
    }
    close(fd);
  }
}

static int same_ref(const ref_t *a, const ref_t *b) {
  return a->err == b->err && a->is_dir == b->is_dir && a->st.st_mode == b->st.st_mode &&
         (a->is_dir || a->st.st_size == b->st.st_size) && a->st.st_mtim.tv_sec == b->st.st_mtim.tv_sec &&
         a->st.st_mtim.tv_nsec == b->st.st_mtim.tv_nsec && a->dg.h == b->dg.h && a->dg.n == b->dg.n;
}

static void *thread_main(void *arg) {
  long id = (long)arg;
  pthread_barrier_wait(&g_barrier);
  for (int r = 0; r < g_rounds; r++) {
    for (int k = 0; k < g_tn; k++) {
      int idx = (int)((k + id * 7 + r) % g_tn);
      ref_t got;
      compute(g_tpaths[idx], &got, (int)(id + r + k));
      atomic_fetch_add(&g_ops, 1);
      if (!same_ref(&got, &g_ref[idx])) {
        if (atomic_fetch_add(&g_mismatch, 1) == 0) {
          pthread_mutex_lock(&g_bad_lock);
          snprintf(g_first_bad, sizeof g_first_bad, "%s err=%s/%s size=%lld/%lld %s/%s", g_tpaths[idx],
                   got.err > 0 ? en(got.err) : "-", g_ref[idx].err > 0 ? en(g_ref[idx].err) : "-",
                   (long long)got.st.st_size, (long long)g_ref[idx].st.st_size, dg_str(&got.dg),
                   dg_str(&g_ref[idx].dg));
          pthread_mutex_unlock(&g_bad_lock);
        }
      }
    }
  }
  return NULL;
}

static int cmd_threads(int argc, char **argv) {
  if (argc < 3) {
    return 2;
  }
  int nthreads = atoi(argv[0]);
  g_rounds = atoi(argv[1]);
  g_tpaths = argv + 2;
  g_tn = argc - 2;
  g_ref = calloc((size_t)g_tn, sizeof *g_ref);
  int errs = 0;
  for (int k = 0; k < g_tn; k++) {
    compute(g_tpaths[k], &g_ref[k], 0);
    errs += g_ref[k].err != 0;
    ref_t again;
    compute(g_tpaths[k], &again, 1);
    if (!same_ref(&again, &g_ref[k])) {
      printf("threads.fopen-vs-open %s: differ\n", rel(g_tpaths[k]));
    }
  }
  digest all;
  dg_init(&all);
  for (int k = 0; k < g_tn; k++) {
    dg_add(&all, &g_ref[k].dg.h, sizeof g_ref[k].dg.h);
    dg_add(&all, &g_ref[k].err, sizeof g_ref[k].err);
  }
  printf("threads.reference: paths=%d errors=%d %s\n", g_tn, errs, dg_str(&all));
  fflush(stdout);
  pthread_t *t = calloc((size_t)nthreads, sizeof *t);
  pthread_barrier_init(&g_barrier, NULL, (unsigned)nthreads + 1);
  for (long i = 0; i < nthreads; i++) {
    pthread_create(&t[i], NULL, thread_main, (void *)i);
  }
  pthread_barrier_wait(&g_barrier);
  /* fork while the threads are inside file calls: each child must not deadlock */
  int forks = 20, forks_ok = 0, hung = 0;
  for (int i = 0; i < forks; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      ref_t got;
      int idx = i % g_tn;
      compute(g_tpaths[idx], &got, i);
      _exit(same_ref(&got, &g_ref[idx]) ? 0 : 3);
    }
    int status = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        forks_ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
        break;
      }
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec - start.tv_sec > 30) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        hung++;
        break;
      }
      struct timespec ms = {0, 2000000};
      nanosleep(&ms, NULL);
    }
  }
  for (int i = 0; i < nthreads; i++) {
    pthread_join(t[i], NULL);
  }
  printf("threads %dx%d: ops=%d mismatches=%d%s%s\n", nthreads, g_rounds, atomic_load(&g_ops),
         atomic_load(&g_mismatch), g_first_bad[0] ? " first=" : "", esc(g_first_bad));
  printf("threads.forks: %d of %d children read correctly, %d hung\n", forks_ok, forks, hung);
  free(t);
  free(g_ref);
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* spawn / exec                                                                         */

/* Runs a child whose stdout and stderr go to a pipe; prints its status and output. */
typedef pid_t (*starter_fn)(int outfd, void *ctx);

static void capture(const char *label, const char *prog, starter_fn start, void *ctx) {
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    return;
  }
  fflush(stdout);
  pid_t pid = start(pfd[1], ctx);
  int start_err = errno;
  close(pfd[1]);
  digest dg;
  char outbuf[4096];
  size_t used = 0;
  ssize_t n;
  dg_init(&dg);
  while ((n = read(pfd[0], outbuf + used, sizeof outbuf - 1 - used)) > 0) {
    used += (size_t)n;
    if (used == sizeof outbuf - 1) {
      dg_add(&dg, outbuf, used);
      used = 0;
    }
  }
  dg_add(&dg, outbuf, used);
  close(pfd[0]);
  if (pid < 0) {
    out(label, prog, "start failed %s", en(start_err));
    return;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  out(label, prog, "exit=%d out=\"%s\"", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
      dg.n < sizeof outbuf ? esc_n(outbuf, used) : dg_str(&dg));
}

typedef struct {
  const char *prog;
  char **argv;
  int how;
  char cmdline[8192];
} spawn_ctx;

enum { SP_SPAWN, SP_SPAWNP, SP_EXECVE, SP_EXECV, SP_EXECVP, SP_VFORK, SP_FEXECVE, SP_EXECVEAT, SP_CHDIR };

static pid_t start_spawn(int outfd, void *vctx) {
  spawn_ctx *c = (spawn_ctx *)vctx;
  if (c->how == SP_SPAWN || c->how == SP_SPAWNP || c->how == SP_CHDIR) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, outfd, 1);
    posix_spawn_file_actions_adddup2(&fa, outfd, 2);
    const char *prog = c->prog;
    char dir[PATH_MAX], base[PATH_MAX + 2];
    if (c->how == SP_CHDIR) {
      char b[PATH_MAX];
      split_path(c->prog, dir, sizeof dir, b, sizeof b);
      snprintf(base, sizeof base, "./%s", b);
      posix_spawn_file_actions_addchdir_np(&fa, dir);
      prog = base;
    }
    pid_t pid;
    int rc = c->how == SP_SPAWNP ? posix_spawnp(&pid, prog, &fa, NULL, c->argv, environ)
                                 : posix_spawn(&pid, prog, &fa, NULL, c->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      errno = rc;
      return -1;
    }
    return pid;
  }
  int xfd = -1, dfd = -1;
  char base[PATH_MAX];
  /* Not O_CLOEXEC: a script's interpreter reads /dev/fd/N (fexecve) or /dev/fd/N/NAME
   * (execveat), so N shows in $0; a fixed N keeps the output independent of which fds
   * happen to be free. */
  if (c->how == SP_FEXECVE) {
    xfd = open(c->prog, O_RDONLY);
    if (xfd >= 0 && dup2(xfd, 900) == 900) {
      close(xfd);
      xfd = 900;
    }
  }
  if (c->how == SP_EXECVEAT) {
    char dir[PATH_MAX];
    split_path(c->prog, dir, sizeof dir, base, sizeof base);
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0 && dup2(dfd, 901) == 901) {
      close(dfd);
      dfd = 901;
    }
  }
  pid_t pid = c->how == SP_VFORK ? vfork() : fork();
  if (pid == 0) {
    dup2(outfd, 1);
    dup2(outfd, 2);
    switch (c->how) {
      case SP_EXECVE: execve(c->prog, c->argv, environ); break;
      case SP_EXECV: execv(c->prog, c->argv); break;
      case SP_EXECVP: execvp(c->prog, c->argv); break;
      case SP_VFORK: execve(c->prog, c->argv, environ); break;
      case SP_FEXECVE: fexecve(xfd, c->argv, environ); break;
      case SP_EXECVEAT: execveat(dfd, base, c->argv, environ, 0); break;
    }
    char msg[64];
    int len = snprintf(msg, sizeof msg, "exec failed %s", en(errno));
    if (write(1, msg, (size_t)len) < 0) {
      _exit(126);
    }
    _exit(127);
  }
  if (xfd >= 0) {
    close(xfd);
  }
  if (dfd >= 0) {
    close(dfd);
  }
  return pid;
}

static pid_t start_system(int outfd, void *vctx) {
  spawn_ctx *c = (spawn_ctx *)vctx;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(outfd, 1);
    dup2(outfd, 2);
    int rc;
    if (c->how) {
      FILE *f = popen(c->cmdline, "r");
      char buf[4096];
      size_t n;
      while (f && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (write(1, buf, n) < 0) {
          break;
        }
      }
      rc = f ? pclose(f) : -1;
    } else {
      rc = system(c->cmdline);
    }
    _exit(rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : 99);
  }
  return pid;
}

static void shell_quote(char *dst, size_t n, char **argv) {
  size_t used = 0;
  dst[0] = 0;
  for (int i = 0; argv[i]; i++) {
    used += (size_t)snprintf(dst + used, n - used, "%s'", i ? " " : "");
    for (const char *s = argv[i]; *s && used < n - 8; s++) {
      if (*s == '\'') {
        used += (size_t)snprintf(dst + used, n - used, "'\\''");
      } else {
        dst[used++] = *s;
        dst[used] = 0;
      }
    }
    used += (size_t)snprintf(dst + used, n - used, "'");
  }
}

static int cmd_spawn(int argc, char **argv) {
  if (argc < 1) {
    return 2;
  }
  /* argv is NULL-terminated after the last argument */
  spawn_ctx c = {.prog = argv[0], .argv = argv};
  static const struct {
    int how;
    const char *name;
  } hows[] = {{SP_SPAWN, "posix_spawn"}, {SP_SPAWNP, "posix_spawnp"}, {SP_EXECVE, "fork+execve"},
              {SP_EXECV, "fork+execv"},  {SP_EXECVP, "fork+execvp"},  {SP_VFORK, "vfork+execve"},
              {SP_FEXECVE, "fexecve"},   {SP_EXECVEAT, "execveat"},   {SP_CHDIR, "posix_spawn.addchdir"}};
  for (size_t i = 0; i < sizeof hows / sizeof hows[0]; i++) {
    c.how = hows[i].how;
    capture(hows[i].name, argv[0], start_spawn, &c);
  }
  shell_quote(c.cmdline, sizeof c.cmdline, argv);
  c.how = 0;
  capture("system", argv[0], start_system, &c);
  c.how = 1;
  capture("popen", argv[0], start_system, &c);
  return 0;
}

typedef struct {
  const char *file;
} stdin_ctx;

static pid_t start_cat(int outfd, void *vctx) {
  stdin_ctx *c = (stdin_ctx *)vctx;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, c->file, O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, outfd, 1);
  posix_spawn_file_actions_adddup2(&fa, outfd, 2);
  char *args[] = {"cksum", NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, "/usr/bin/cksum", &fa, NULL, args, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) {
    errno = rc;
    return -1;
  }
  return pid;
}

static int cmd_stdin(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    stdin_ctx c = {argv[i]};
    capture("posix_spawn.addopen-stdin", argv[i], start_cat, &c);
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* dlopen                                                                               */

static int cmd_dlopen(int argc, char **argv) {
  void *handles[64];
  int nh = 0;
  for (int i = 0; i < argc && i < 64; i++) {
    const char *p = argv[i];
    dlerror();
    void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char *e = dlerror();
      out("dlopen", p, "NULL \"%s\"", e ? esc(e) : "");
      continue;
    }
    int idx = -1;
    for (int k = 0; k < nh; k++) {
      if (handles[k] == h) {
        idx = k;
      }
    }
    if (idx < 0) {
      handles[nh] = h;
      idx = nh++;
    }
    const char *(*id)(void) = (const char *(*)(void))dlsym(h, "plug_id");
    int (*counter)(void) = (int (*)(void))dlsym(h, "plug_counter");
    Dl_info info;
    memset(&info, 0, sizeof info);
    int da = id ? dladdr((void *)id, &info) : 0;
    char fname[PATH_MAX] = "";
    if (da && info.dli_fname) {
      char *rp = realpath(info.dli_fname, NULL);
      snprintf(fname, sizeof fname, "%s", rp ? rel(rp) : rel(info.dli_fname));
      free(rp);
    }
    out("dlopen", p, "handle#%d id=\"%s\" counter=%d dladdr.realpath=%s", idx, id ? esc(id()) : "(no plug_id)",
        counter ? counter() : -1, fname);
    void *again = dlopen(p, RTLD_NOW | RTLD_NOLOAD);
    out("dlopen.noload", p, "%s", again == h ? "same-handle" : again ? "OTHER-handle" : "NULL");
    if (again) {
      dlclose(again);
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* hashfiles                                                                            */

static int cmd_hashfiles(int argc, char **argv) {
  int bad = 0;
  for (int i = 0; i < argc; i++) {
    FILE *l = fopen(argv[i], "re");
    if (!l) {
      perror(argv[i]);
      return 2;
    }
    char line[PATH_MAX + 2];
    while (fgets(line, sizeof line, l)) {
      line[strcspn(line, "\n")] = 0;
      int fd = open(line, O_RDONLY | O_CLOEXEC);
      digest d;
      int e = fd < 0 ? errno : read_all(fd, &d);
      if (fd >= 0) {
        close(fd);
      }
      if (e) {
        bad++;
        printf("ERROR-%s %s\n", en(e), line);
      } else {
        printf("%016llx %llu %s\n", (unsigned long long)d.h, (unsigned long long)d.n, line);
      }
    }
    fclose(l);
  }
  return bad ? 1 : 0;
}

/* ------------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: probe COMMAND ARGS... (see the source's header)\n");
    return 2;
  }
  probe_init();
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  /* "@/x" in an argument stands for the absolute path of x below the tree root; "^/x"
   * for the same path reached from outside the tree, "/usr/../<root>/x" */
  for (int i = 2; i < argc; i++) {
    if ((argv[i][0] == '@' || argv[i][0] == '^') && argv[i][1] == '/') {
      const char *from = argv[i][0] == '^' ? "/usr/.." : "";
      size_t len = strlen(from) + g_rootlen + strlen(argv[i]);
      char *abs = malloc(len);
      snprintf(abs, len, "%s%s%s", from, g_root, argv[i] + 1);
      argv[i] = abs;
    }
  }
  const char *cmd = argv[1];
  int n = argc - 2;
  char **a = argv + 2;
  int rc;
  if (!strcmp(cmd, "stat")) rc = cmd_stat(n, a);
  else if (!strcmp(cmd, "open")) rc = cmd_open(n, a);
  else if (!strcmp(cmd, "procfd")) rc = cmd_procfd(n, a);
  else if (!strcmp(cmd, "fopen")) rc = cmd_fopen(n, a);
  else if (!strcmp(cmd, "read")) rc = cmd_read(n, a);
  else if (!strcmp(cmd, "access")) rc = cmd_access(n, a);
  else if (!strcmp(cmd, "readlink")) rc = cmd_readlink(n, a);
  else if (!strcmp(cmd, "realpath")) rc = cmd_realpath(n, a);
  else if (!strcmp(cmd, "readdir")) rc = cmd_readdir(n, a);
  else if (!strcmp(cmd, "glob")) rc = cmd_glob(n, a);
  else if (!strcmp(cmd, "nftw")) rc = cmd_nftw(n, a, 0);
  else if (!strcmp(cmd, "nftw-follow")) rc = cmd_nftw(n, a, 1);
  else if (!strcmp(cmd, "fts")) rc = cmd_fts(n, a);
  else if (!strcmp(cmd, "fts-order")) rc = cmd_fts_order(n, a);
  else if (!strcmp(cmd, "statfs")) rc = cmd_statfs(n, a);
  else if (!strcmp(cmd, "chdir")) rc = cmd_chdir(n, a);
  else if (!strcmp(cmd, "dup")) rc = cmd_dup(n, a);
  else if (!strcmp(cmd, "fork")) rc = cmd_fork(n, a);
  else if (!strcmp(cmd, "fds")) rc = cmd_fds(n, a);
  else if (!strcmp(cmd, "threads")) rc = cmd_threads(n, a);
  else if (!strcmp(cmd, "spawn")) rc = cmd_spawn(n, a);
  else if (!strcmp(cmd, "stdin")) rc = cmd_stdin(n, a);
  else if (!strcmp(cmd, "dlopen")) rc = cmd_dlopen(n, a);
  else if (!strcmp(cmd, "hashfiles")) rc = cmd_hashfiles(n, a);
  else {
    fprintf(stderr, "probe: unknown command %s\n", cmd);
    return 2;
  }
  fflush(stdout);
  return rc;
}
