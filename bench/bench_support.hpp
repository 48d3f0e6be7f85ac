#pragma once
// What the Google Benchmark programs share: min and max over repetitions (the machines
// are shared and noisy, so medians come with their spread) and the usual main body.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

namespace vrift::bench {

inline double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
inline double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

// Parses the benchmark flags and runs what they select. Returns main's exit status.
inline int run_benchmarks(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace vrift::bench
