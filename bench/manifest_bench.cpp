// LmdbManifest lookup and listing costs, beside the yardstick a lookup competes with
// (stat() of a real path, in the same run).
//
// Manifests of 100k and 1M entries shaped like node_modules: node_modules/<pkg>/... at
// depth 3 to 8, about 1% of entries overridden or whiteouted in delta (unless noted). Lookups pick
// random existing paths (a hot, warm map: the common case for a shim in a build).
//
// The base index (manifest/base_index.hpp) is built after populating, as ingest does.
//
//   get/txn         layered get inside one long read transaction, random paths
//   get/txn-lmdb-only  the same without the base index (LMDB B-trees only)
//   get/base-only   the same, one layer (one B-tree lookup instead of two)
//   get/in-path-order  layered get of every file in path order (directory locality)
//   get/empty-delta layered get in a manifest whose delta is empty (just ingested)
//   get/cycle       what the shim does per call: begin_read (renew), get, reset
//   miss            a path that does not exist, in an existing directory
//   children/20     layered listing of a directory with 20 children
//   children/1000   ... with 1000 children
//   stat/3, /10     stat() of a real file with 3 and 10 path components

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "tree_paths.hpp"
#include "hash/hasher.hpp"
#include "manifest/lmdb_manifest.hpp"

namespace vrift::manifest {
namespace {

Entry entry_for(uint64_t i) { return bench::sample_file_entry(i); }

// Paths laid out one after another in the order the benchmark visits them, so that the
// figures measure the manifest rather than cache misses on the benchmark's own inputs
// (a caller's path is normally hot: it was just built).
struct PathList {
  std::string arena;
  std::vector<size_t> ends;
  std::vector<std::string_view> views;

  void build(const std::vector<std::string>& paths) {
    for (const std::string& p : paths) {
      arena += p;
      ends.push_back(arena.size());
    }
    size_t start = 0;
    for (size_t end : ends) {
      views.emplace_back(arena.data() + start, end - start);
      start = end;
    }
  }
  size_t size() const { return views.size(); }
  std::string_view operator[](size_t i) const { return views[i]; }
};

struct Corpus {
  std::filesystem::path dir;
  std::unique_ptr<LmdbManifest> manifest;
  std::unique_ptr<LmdbManifest> lmdb_only;  // the same environment, base index unused
  std::vector<std::string> paths;   // existing files, random order
  std::vector<std::string> misses;  // absent files in existing directories
  PathList random;                  // `paths`
  PathList in_order;                // `paths` sorted: directory locality
  PathList absent;                  // `misses`
};

// Generates `n` file paths (tree_paths.hpp). Deterministic.
void generate(Corpus& c, uint64_t n) {
  std::mt19937_64 rng(12345);
  bench::TreePaths tree = bench::node_modules_paths(n, rng);
  c.paths = std::move(tree.files);
  c.misses = std::move(tree.misses);
  std::vector<std::string> sorted = c.paths;
  std::sort(sorted.begin(), sorted.end());
  c.in_order.build(sorted);
  std::shuffle(c.paths.begin(), c.paths.end(), rng);
  std::shuffle(c.misses.begin(), c.misses.end(), rng);
  c.random.build(c.paths);
  c.absent.build(c.misses);
}

std::map<uint64_t, std::unique_ptr<Corpus>>& corpora() {
  static std::map<uint64_t, std::unique_ptr<Corpus>> cache;
  return cache;
}

// `n` paths; with_delta: about 1% of them overridden or whiteouted in delta, else an
// empty delta (a freshly ingested project).
Corpus& corpus(uint64_t n, bool with_delta = true) {
  auto& cache = corpora();
  uint64_t cache_key = n * 2 + (with_delta ? 1 : 0);
  auto it = cache.find(cache_key);
  if (it != cache.end()) {
    return *it->second;
  }
  auto c = std::make_unique<Corpus>();
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/vrift-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::abort();
  }
  c->dir = pattern;
  generate(*c, n);
  OpenOptions o;
  o.create = true;
  auto m = LmdbManifest::open((c->dir / "manifest.lmdb").c_str(), o);
  if (!m) {
    std::fprintf(stderr, "open: %s\n", m.error().op);
    std::abort();
  }
  c->manifest = std::make_unique<LmdbManifest>(std::move(*m));
  const uint64_t batch = 100000;
  for (uint64_t start = 0; start < n; start += batch) {
    Status st = c->manifest->write([&](WriteTxn& w) -> Status {
      for (uint64_t i = start; i < std::min(n, start + batch); ++i) {
        // About 1% lives in delta (overrides of base or whiteouts of extra base paths).
        if (with_delta && i % 100 == 0) {
          VRIFT_CHECK(w.put(Layer::base, c->paths[i], entry_for(i + n)));
          VRIFT_CHECK(w.put(Layer::delta, c->paths[i], entry_for(i)));
          VRIFT_CHECK(w.put(Layer::base, c->paths[i] + ".old", entry_for(i)));
          VRIFT_CHECK(w.whiteout(c->paths[i] + ".old"));
        } else {
          VRIFT_CHECK(w.put(Layer::base, c->paths[i], entry_for(i)));
        }
      }
      return {};
    });
    if (!st) {
      std::fprintf(stderr, "populate: %s\n", st.error().op);
      std::abort();
    }
  }
  // Directories of known size for listings, 10% of their children in delta.
  Status st = c->manifest->write([&](WriteTxn& w) -> Status {
    for (uint64_t size : {20u, 1000u}) {
      std::string dir = "node_modules/listing-" + std::to_string(size);
      for (uint64_t i = 0; i < size; ++i) {
        std::string p = dir + "/entry" + std::to_string(i) + ".js";
        VRIFT_CHECK(w.put(with_delta && i % 10 == 0 ? Layer::delta : Layer::base, p, entry_for(i)));
      }
    }
    return {};
  });
  if (!st) {
    std::abort();
  }
  if (!c->manifest->update_base_index(0)) {
    std::fprintf(stderr, "base index\n");
    std::abort();
  }
  o.create = false;
  o.use_base_index = false;
  auto plain = LmdbManifest::open((c->dir / "manifest.lmdb").c_str(), o);
  if (!plain) {
    std::abort();
  }
  c->lmdb_only = std::make_unique<LmdbManifest>(std::move(*plain));
  Corpus& ref = *c;
  cache.emplace(cache_key, std::move(c));
  return ref;
}

// Lookups in one read transaction: layered (delta, then base) or one layer only, in
// random order or in path order (files of one directory one after another, as a build
// touches them).
void get_in_txn(benchmark::State& state, bool layered, bool in_order, bool with_delta = true,
                bool indexed = true) {
  Corpus& c = corpus(static_cast<uint64_t>(state.range(0)), with_delta);
  const PathList& paths = in_order ? c.in_order : c.random;
  LmdbManifest& m = indexed ? *c.manifest : *c.lmdb_only;
  ReadTxn t;
  if (!m.begin_read(t) || m.base_index_in_use(t) != indexed) {
    state.SkipWithError("begin_read, or the base index not in the expected use");
    return;
  }
  Entry e;
  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) {
    auto r = layered ? m.get(t, paths[i], e) : m.get(t, Layer::base, paths[i], e);
    hits += (r && *r) ? 1 : 0;
    benchmark::DoNotOptimize(e.size);
    if (++i == paths.size()) {
      i = 0;
    }
  }
  if (hits != static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("a lookup missed");
  }
}

void BM_GetInTxn(benchmark::State& state) { get_in_txn(state, true, false); }
void BM_GetInTxnLmdbOnly(benchmark::State& state) { get_in_txn(state, true, false, true, false); }
void BM_GetBaseOnly(benchmark::State& state) { get_in_txn(state, false, false); }
void BM_GetInOrder(benchmark::State& state) { get_in_txn(state, true, true); }
void BM_GetEmptyDelta(benchmark::State& state) { get_in_txn(state, true, false, false); }

void BM_GetCycle(benchmark::State& state) {
  Corpus& c = corpus(static_cast<uint64_t>(state.range(0)));
  ReadTxn t;
  Entry e;
  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) {
    if (!c.manifest->begin_read(t)) {
      state.SkipWithError("begin_read");
      break;
    }
    auto r = c.manifest->get(t, c.random[i], e);
    hits += (r && *r) ? 1 : 0;
    benchmark::DoNotOptimize(e.size);
    t.reset();
    if (++i == c.random.size()) {
      i = 0;
    }
  }
  if (hits != static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("a lookup missed");
  }
}

void BM_Miss(benchmark::State& state) {
  Corpus& c = corpus(static_cast<uint64_t>(state.range(0)));
  ReadTxn t;
  if (!c.manifest->begin_read(t)) {
    state.SkipWithError("begin_read");
    return;
  }
  Entry e;
  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) {
    auto r = c.manifest->get(t, c.absent[i], e);
    hits += (r && *r) ? 1 : 0;
    if (++i == c.absent.size()) {
      i = 0;
    }
  }
  if (hits != 0) {
    state.SkipWithError("a miss hit");
  }
}

void BM_Children(benchmark::State& state) {
  Corpus& c = corpus(1000000);
  std::string dir = "node_modules/listing-" + std::to_string(state.range(0));
  ReadTxn t;
  if (!c.manifest->begin_read(t)) {
    state.SkipWithError("begin_read");
    return;
  }
  uint64_t listed = 0;
  for (auto _ : state) {
    uint64_t n = 0;
    Status st = c.manifest->list_children(t, dir, [&](std::string_view name, const Entry& e) {
      n += name.size() + e.size;
      ++listed;
      return true;
    });
    benchmark::DoNotOptimize(n);
    if (!st) {
      state.SkipWithError("list_children");
      break;
    }
  }
  if (listed != static_cast<uint64_t>(state.iterations() * state.range(0))) {
    state.SkipWithError("wrong number of children");
  }
  state.counters["children"] = static_cast<double>(state.range(0));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// The yardstick: stat() of a real file, `depth` components deep.
void BM_Stat(benchmark::State& state) {
  static std::string root;
  if (root.empty()) {
    root = corpus(100000).dir.string() + "/tree";
  }
  std::string path = root;
  for (int64_t d = 1; d < state.range(0); ++d) {
    path += "/d" + std::to_string(d);
  }
  std::filesystem::create_directories(path);
  path += "/file.js";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0644);
  if (fd >= 0) {
    ::close(fd);
  }
  struct stat st;
  for (auto _ : state) {
    benchmark::DoNotOptimize(::stat(path.c_str(), &st));
  }
}

using bench::max_of;
using bench::min_of;

// Medians with min and max over repetitions (--benchmark_repetitions=N): the machines
// are shared and noisy.
#define VRIFT_BENCH(fn, name) \
  BENCHMARK(fn)->Name(name)->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of)

VRIFT_BENCH(BM_GetInTxn, "get/txn")->Arg(100000)->Arg(1000000);
VRIFT_BENCH(BM_GetInTxnLmdbOnly, "get/txn-lmdb-only")->Arg(100000)->Arg(1000000);
VRIFT_BENCH(BM_GetBaseOnly, "get/base-only")->Arg(100000)->Arg(1000000);
VRIFT_BENCH(BM_GetInOrder, "get/in-path-order")->Arg(100000)->Arg(1000000);
VRIFT_BENCH(BM_GetEmptyDelta, "get/empty-delta")->Arg(100000)->Arg(1000000);
VRIFT_BENCH(BM_GetCycle, "get/cycle")->Arg(100000)->Arg(1000000);
VRIFT_BENCH(BM_Miss, "miss")->Arg(100000)->Arg(1000000);
VRIFT_BENCH(BM_Children, "children")->Arg(20)->Arg(1000);
VRIFT_BENCH(BM_Stat, "stat")->Arg(3)->Arg(10);

}  // namespace
}  // namespace vrift::manifest

int main(int argc, char** argv) {
  int status = vrift::bench::run_benchmarks(argc, argv);
  // Remove the generated manifests and trees.
  for (auto& [n, c] : vrift::manifest::corpora()) {
    c->lmdb_only.reset();
    c->manifest.reset();
    std::error_code ec;
    std::filesystem::remove_all(c->dir, ec);
  }
  return status;
}
