#pragma once
// parallel_for: the one way the project layer spreads work over threads.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include "hash/hasher.hpp"

namespace vrift::project {

namespace detail {
inline thread_local unsigned t_worker = 0;
}  // namespace detail

// Which worker of the innermost parallel_runs() the calling thread is: 0 for the thread
// that called it, 1..jobs-1 for the others (so per-worker resources need no lock).
inline unsigned worker_index() { return detail::t_worker; }

// Runs fn(begin, end) on `jobs` threads over runs of consecutive indices that cover
// [0, n) once: tasks are in walk order, so a run mostly stays in one directory and
// threads rarely contend for the same directory's lock.
template <class Fn>
void parallel_runs(size_t n, unsigned jobs, Fn&& fn) {
  constexpr size_t k_run = 32;
  std::atomic<size_t> next{0};
  auto work = [&](unsigned worker) {
    unsigned outer = detail::t_worker;
    detail::t_worker = worker;
    hash::ReadBufferScope buffer;  // one read buffer per worker, not one per file
    for (size_t begin = next.fetch_add(k_run); begin < n; begin = next.fetch_add(k_run)) {
      fn(begin, std::min(n, begin + k_run));
    }
    detail::t_worker = outer;
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < jobs && t < n; ++t) {
    pool.emplace_back(work, t);
  }
  work(0);
  for (auto& t : pool) {
    t.join();
  }
}

// Runs fn(i) for i in [0, n) on `jobs` threads, in runs as above.
template <class Fn>
void parallel_for(size_t n, unsigned jobs, Fn&& fn) {
  parallel_runs(n, jobs, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      fn(i);
    }
  });
}

// The default worker count: `jobs`, else four per core (file work waits on I/O as much
// as it computes), at most 32.
inline unsigned default_jobs(unsigned jobs) {
  return jobs != 0 ? jobs : std::min(32u, 4 * std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace vrift::project
