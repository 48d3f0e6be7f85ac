/* shim_calls: nanoseconds per file call, for the shim figures of bench/run.py.
 *
 *   shim_calls stat LIST ROUNDS        stat() of every path in LIST, ROUNDS times
 *   shim_calls open LIST ROUNDS        open + read to the end + close of every path
 *   shim_calls stat-pair LIST ROUNDS   stat() of every path, round by round through the
 *                                      stat a program calls (the shim's, when it is
 *                                      loaded) and through libc's own, alternately
 *
 * LIST is a file of paths, one a line (read before timing). Prints the mean time per
 * call in ns, and the number of calls that failed (the figure is void unless it is 0).
 * stat-pair prints the median over rounds of the time per call through stat, the
 * failures, the same through libc's stat, and the median of the rounds' differences:
 * in one process, on the same paths and caches, the difference is what the wrapper
 * adds, free of the spread between two processes (±100 ns on this kind of host). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef int (*stat_fn)(const char *, struct stat *);

/* ns per call of `fn` over all paths; failures counted into *failed. */
static double stat_round(stat_fn fn, char **paths, size_t n, long *failed) {
  double start = now_ns();
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (fn(paths[i], &st) != 0) {
      (*failed)++;
    }
  }
  return (now_ns() - start) / (double)n;
}

static int stat_pair(char **paths, size_t n, int rounds) {
  void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  stat_fn own = libc ? (stat_fn)dlsym(libc, "stat") : NULL;
  if (!own) {
    fprintf(stderr, "shim_calls: libc's stat not found\n");
    return 2;
  }
  double *via = malloc((size_t)rounds * sizeof *via), *plain = malloc((size_t)rounds * sizeof *plain);
  double *diff = malloc((size_t)rounds * sizeof *diff);
  long failed = 0, ignored = 0;
  stat_round(stat, paths, n, &ignored); /* warm both paths' caches once */
  for (int r = 0; r < rounds; r++) {
    if (r % 2 == 0) {
      via[r] = stat_round(stat, paths, n, &failed);
      plain[r] = stat_round(own, paths, n, &failed);
    } else {
      plain[r] = stat_round(own, paths, n, &failed);
      via[r] = stat_round(stat, paths, n, &failed);
    }
    diff[r] = via[r] - plain[r];
  }
  printf("%.1f %ld %.1f %.1f\n", median(via, rounds), failed, median(plain, rounds), median(diff, rounds));
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: shim_calls stat|open|stat-pair LIST ROUNDS\n");
    return 2;
  }
  FILE *list = fopen(argv[2], "r");
  if (!list) {
    perror(argv[2]);
    return 2;
  }
  size_t n = 0, cap = 1024;
  char **paths = malloc(cap * sizeof *paths);
  char *line = NULL;
  size_t len = 0;
  ssize_t got;
  while ((got = getline(&line, &len, list)) > 0) {
    if (line[got - 1] == '\n') {
      line[got - 1] = 0;
    }
    if (n == cap) {
      cap *= 2;
      paths = realloc(paths, cap * sizeof *paths);
    }
    paths[n++] = strdup(line);
  }
  fclose(list);
  int rounds = atoi(argv[3]);
  if (strcmp(argv[1], "stat-pair") == 0) {
    return stat_pair(paths, n, rounds);
  }
  int do_open = strcmp(argv[1], "open") == 0;
  static char buf[1 << 16];
  long failed = 0;
  double start = now_ns();
  for (int r = 0; r < rounds; r++) {
    for (size_t i = 0; i < n; i++) {
      if (do_open) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
          failed++;
          continue;
        }
        while (read(fd, buf, sizeof buf) > 0) {
        }
        close(fd);
      } else {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
          failed++;
        }
      }
    }
  }
  double per_call = (now_ns() - start) / ((double)n * rounds);
  printf("%.1f %ld\n", per_call, failed);
  return 0;
}
