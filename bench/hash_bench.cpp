// BLAKE3 throughput in memory and from a warm file, one thread.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "hash/hasher.hpp"

namespace {

void bm_hash_bytes(benchmark::State& state) {
  std::vector<uint8_t> data(static_cast<size_t>(state.range(0)), 0x5a);
  for (auto _ : state) {
    benchmark::DoNotOptimize(vrift::hash::hash_bytes(data.data(), data.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_hash_bytes)->Arg(583)->Arg(6 << 10)->Arg(1 << 20)->Arg(64 << 20);

void bm_hash_file(benchmark::State& state) {
  std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/vrift-bench-hash-file";
  std::vector<uint8_t> data(static_cast<size_t>(state.range(0)), 0x33);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    state.SkipWithError("cannot write the input file");
    return;
  }
  ::close(fd);
  for (auto _ : state) {
    benchmark::DoNotOptimize(vrift::hash::hash_file(path.c_str()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  ::unlink(path.c_str());
}
BENCHMARK(bm_hash_file)->Arg(583)->Arg(6 << 10)->Arg(256 << 20);

}  // namespace

BENCHMARK_MAIN();
