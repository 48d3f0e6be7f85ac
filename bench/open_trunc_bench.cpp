// bench_open_trunc PATH...: the time of open(O_WRONLY|O_TRUNC) on each path (the close
// that follows is not timed). Prints "<median> <min> <max>" in microseconds. Run inside
// `vrift run` on Tier-2 files (break-before-write) and outside on plain files.

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace {

double now_us() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<double> samples;
  for (int i = 1; i < argc; ++i) {
    double start = now_us();
    int fd = open(argv[i], O_WRONLY | O_TRUNC | O_CLOEXEC);
    double took = now_us() - start;
    if (fd < 0) {
      std::perror(argv[i]);
      return 1;
    }
    close(fd);
    samples.push_back(took);
  }
  if (samples.empty()) {
    return 2;
  }
  std::sort(samples.begin(), samples.end());
  std::printf("%.1f %.1f %.1f\n", samples[samples.size() / 2], samples.front(), samples.back());
  return 0;
}
