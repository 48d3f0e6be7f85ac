/* Helpers shared by the probe's subcommands: escaped, root-relative output; attribute
 * formatting without the fields that legitimately differ between a plain copy and a
 * projection (inode, device, link count, atime/ctime, blocks, directory sizes); a
 * content digest; errno names. Everything here is deterministic for a given tree. */
#ifndef VRIFT_PROBE_UTIL_H
#define VRIFT_PROBE_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The tree root: the working directory at start. Paths below it print as "@/rel". */
static char g_root[PATH_MAX];
static size_t g_rootlen;
/* Directory mtimes are printed only with PROBE_DIR_MTIME=1: ingest legitimately rewrites
 * a directory's entries, and the harness checks directory mtimes in a check of its own. */
static int g_dir_mtime;

/* errno's symbolic name (ENOENT), or its number. */
static const char *en(int e) {
  static char buf[8][16];
  static int k;
  const char *n = strerrorname_np(e);
  if (n) {
    return n;
  }
  char *o = buf[k++ & 7];
  snprintf(o, sizeof buf[0], "E#%d", e);
  return o;
}

/* A printable form of n bytes: backslash and bytes outside 0x20..0x7e become \\ and \xNN. */
#define ESC_SLOTS 16
#define ESC_MAX (4 * PATH_MAX + 16)
static char *esc_n(const char *s, size_t n) {
  static char ring[ESC_SLOTS][ESC_MAX];
  static int k;
  char *o = ring[k++ % ESC_SLOTS];
  char *p = o;
  for (size_t i = 0; i < n && p < o + ESC_MAX - 8; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\\') {
      *p++ = '\\';
      *p++ = '\\';
    } else if (c >= 0x20 && c < 0x7f) {
      *p++ = (char)c;
    } else {
      p += sprintf(p, "\\x%02x", c);
    }
  }
  *p = 0;
  return o;
}
static char *esc(const char *s) { return esc_n(s, strlen(s)); }

/* A path as printed: the tree root becomes "@", "/usr/.." and the tree root "^",
 * everything else stays as given. */
static int under_root(const char *p) {
  return g_rootlen && strncmp(p, g_root, g_rootlen) == 0 && (p[g_rootlen] == '/' || p[g_rootlen] == 0);
}
static char *rel(const char *p) {
  const char *mark = "@";
  if (strncmp(p, "/usr/..", 7) == 0 && under_root(p + 7)) {
    mark = "^";
    p += 7;
  }
  if (under_root(p)) {
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s%s", mark, p + g_rootlen);
    return esc(tmp);
  }
  return esc(p);
}

static void probe_init(void) {
  if (!getcwd(g_root, sizeof g_root)) {
    perror("getcwd");
    exit(2);
  }
  g_rootlen = strlen(g_root);
  const char *dm = getenv("PROBE_DIR_MTIME");
  g_dir_mtime = dm && strcmp(dm, "1") == 0;
}

/* Attributes that must match between a plain copy and a projection. */
static char *fmt_attr(unsigned mode, long long size, long long sec, long nsec, unsigned uid, unsigned gid) {
  static char ring[16][160];
  static int k;
  char *o = ring[k++ & 15];
  char sz[32], mt[48];
  if (S_ISDIR(mode)) {
    snprintf(sz, sizeof sz, "dir");
  } else {
    snprintf(sz, sizeof sz, "%lld", size);
  }
  if (S_ISDIR(mode) && !g_dir_mtime) {
    snprintf(mt, sizeof mt, "dir");
  } else {
    snprintf(mt, sizeof mt, "%lld.%09ld", sec, nsec);
  }
  snprintf(o, sizeof ring[0], "mode=%07o size=%s mtime=%s uid=%u gid=%u", mode, sz, mt, uid, gid);
  return o;
}
/* Works for struct stat and struct stat64 alike. */
#define FMT_ST(st)                                                                                   \
  fmt_attr((unsigned)(st).st_mode, (long long)(st).st_size, (long long)(st).st_mtim.tv_sec,         \
           (long)(st).st_mtim.tv_nsec, (unsigned)(st).st_uid, (unsigned)(st).st_gid)

/* FNV-1a 64 over a byte stream, with its length. */
typedef struct {
  uint64_t h;
  uint64_t n;
} digest;
static void dg_init(digest *d) {
  d->h = 1469598103934665603ULL;
  d->n = 0;
}
static void dg_add(digest *d, const void *buf, size_t n) {
  const unsigned char *b = (const unsigned char *)buf;
  for (size_t i = 0; i < n; i++) {
    d->h ^= b[i];
    d->h *= 1099511628211ULL;
  }
  d->n += n;
}
static char *dg_str(const digest *d) {
  static char ring[8][64];
  static int k;
  char *o = ring[k++ & 7];
  snprintf(o, sizeof ring[0], "len=%llu fnv=%016llx", (unsigned long long)d->n, (unsigned long long)d->h);
  return o;
}
/* Reads fd to its end into d. Returns 0 or the errno of the failing read. */
static int read_all(int fd, digest *d) {
  static __thread char buf[65536];
  dg_init(d);
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    if (n == 0) {
      return 0;
    }
    dg_add(d, buf, (size_t)n);
  }
}

/* Splits path into its parent directory and last component. base is empty for a path
 * ending in '/'. */
static void split_path(const char *path, char *dir, size_t dn, char *base, size_t bn) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    snprintf(dir, dn, ".");
    snprintf(base, bn, "%s", path);
  } else if (slash == path) {
    snprintf(dir, dn, "/");
    snprintf(base, bn, "%s", slash + 1);
  } else {
    snprintf(dir, dn, "%.*s", (int)(slash - path), path);
    snprintf(base, bn, "%s", slash + 1);
  }
}

static const char *dtype_name(unsigned t) {
  switch (t) {
    case DT_REG: return "REG";
    case DT_DIR: return "DIR";
    case DT_LNK: return "LNK";
    case DT_UNKNOWN: return "UNKNOWN";
    case DT_FIFO: return "FIFO";
    case DT_SOCK: return "SOCK";
    case DT_CHR: return "CHR";
    case DT_BLK: return "BLK";
    default: return "?";
  }
}

/* A line "label path: text". */
static void out(const char *label, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void out(const char *label, const char *path, const char *fmt, ...) {
  va_list ap;
  printf("%s %s: ", label, rel(path));
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
}

/* Sorting C strings. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A growable list of strings. */
typedef struct {
  char **v;
  size_t n, cap;
} strlist;
static void sl_add(strlist *l, const char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->v = (char **)realloc(l->v, l->cap * sizeof *l->v);
    if (!l->v) {
      abort();
    }
  }
  l->v[l->n++] = strdup(s);
}
static void sl_sort(strlist *l) {
  if (l->n) {
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
  }
}
static void sl_free(strlist *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->v[i]);
  }
  free(l->v);
  l->v = NULL;
  l->n = l->cap = 0;
}
/* "same" when a and b hold the same strings in the same order, else what differs. */
static const char *sl_diff(const strlist *ref, const strlist *got) {
  static char buf[4096];
  size_t i = 0, j = 0, used = 0;
  if (ref->n == got->n) {
    size_t k = 0;
    while (k < ref->n && strcmp(ref->v[k], got->v[k]) == 0) {
      k++;
    }
    if (k == ref->n) {
      return "same";
    }
  }
  buf[0] = 0;
  /* both sorted: a merge shows what is missing (-) and extra (+) */
  while ((i < ref->n || j < got->n) && used < sizeof buf - 300) {
    int c = i == ref->n ? 1 : j == got->n ? -1 : strcmp(ref->v[i], got->v[j]);
    if (c == 0) {
      i++, j++;
    } else if (c < 0) {
      used += (size_t)snprintf(buf + used, sizeof buf - used, " -%s", esc(ref->v[i++]));
    } else {
      used += (size_t)snprintf(buf + used, sizeof buf - used, " +%s", esc(got->v[j++]));
    }
  }
  if (!buf[0]) {
    snprintf(buf, sizeof buf, " same names, different order");
  }
  return buf;
}

#endif
