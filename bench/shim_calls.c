/* shim_calls: nanoseconds per file call, for the shim figures of bench/run.py.
 *
 *   shim_calls stat LIST ROUNDS        stat() of every path in LIST, ROUNDS times
 *   shim_calls open LIST ROUNDS        open + read to the end + close of every path
 *
 * LIST is a file of paths, one a line (read before timing). Prints the mean time per
 * call in ns, and the number of calls that failed (the figure is void unless it is 0). */
#define _GNU_SOURCE
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

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: shim_calls stat|open LIST ROUNDS\n");
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
