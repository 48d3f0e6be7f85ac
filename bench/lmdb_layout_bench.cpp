// What decides the cost of a random manifest lookup at 1M entries: the same entries
// stored three ways in plain LMDB, looked up by random existing paths (a warm map).
//
//   layout/path          the manifest's key (keys.hpp) -> record (entry.hpp), written in
//                        random order over several commits, as a manifest that grew
//   layout/path-packed   the same, written once in key order (MDB_APPEND: full pages)
//   layout/point-index   a 64-bit hash of the path (MDB_INTEGERKEY) -> path + record; the
//                        path is compared on lookup, so a hash collision cannot mislead
//   layout/point-digest  the same key -> a second 64-bit hash + record: smaller pages, but
//                        only a 128-bit match stands for the path (a real index would need
//                        a keyed or cryptographic hash there)
//
// Counters: the tree's depth, leaf pages and MiB of pages. The manifest needs its
// path-ordered tree for listings; a point index would be a second tree beside it.

#include <benchmark/benchmark.h>
#include <lmdb.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "hash/hasher.hpp"
#include "manifest/entry.hpp"
#include "manifest/keys.hpp"
#include "bench_support.hpp"
#include "tree_paths.hpp"

namespace vrift::manifest {
namespace {

enum class Layout { path, path_packed, point_index, point_digest };

void must(int rc, const char* what) {
  if (rc != MDB_SUCCESS) {
    std::fprintf(stderr, "%s: %s\n", what, ::mdb_strerror(rc));
    std::abort();
  }
}

// A record as the manifest stores it for file `i`.
std::string record_for(uint64_t i) {
  Entry e = bench::sample_file_entry(i);
  char buf[k_max_record];
  auto n = encode_record(e, {}, buf, sizeof buf);
  if (!n) {
    std::abort();
  }
  return std::string(buf, *n);
}

// 64-bit hash of a path, eight bytes at a time (not cryptographic: lookups compare the path).
uint64_t path_hash(std::string_view p, uint64_t seed = 0x9e3779b97f4a7c15ull) {
  uint64_t h = seed ^ p.size();
  size_t i = 0;
  for (; i + 8 <= p.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, p.data() + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p.data() + i, p.size() - i);
  h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 32);
}

constexpr uint64_t k_second_seed = 0x2545f4914f6cdd1dull;

struct Store {
  std::filesystem::path dir;
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  std::vector<std::string> lookups;  // existing paths, random order
  MDB_stat stat{};
};

void put_all(Store& s, Layout layout, const std::vector<std::string>& paths, const std::vector<uint64_t>& order) {
  const size_t batch = layout == Layout::path_packed ? order.size() : 100000;
  for (size_t start = 0; start < order.size(); start += batch) {
    MDB_txn* txn;
    must(::mdb_txn_begin(s.env, nullptr, 0, &txn), "mdb_txn_begin");
    for (size_t j = start; j < std::min(order.size(), start + batch); ++j) {
      uint64_t i = order[j];
      std::string value = record_for(i);
      KeyBuf kb;
      MDB_val k;
      uint64_t h = 0;
      if (layout == Layout::point_index || layout == Layout::point_digest) {
        h = path_hash(paths[i]);
        k = {sizeof h, &h};
        uint64_t h2 = path_hash(paths[i], k_second_seed);
        value = layout == Layout::point_index ? paths[i] + '\0' + value
                                              : std::string(reinterpret_cast<const char*>(&h2), sizeof h2) + value;
      } else {
        encode_key(paths[i], kb);
        k = {kb.len, kb.bytes};
      }
      MDB_val v{value.size(), value.data()};
      must(::mdb_put(txn, s.dbi, &k, &v, layout == Layout::path_packed ? MDB_APPEND : 0), "mdb_put");
    }
    must(::mdb_txn_commit(txn), "mdb_txn_commit");
  }
}

std::map<std::pair<int, uint64_t>, std::unique_ptr<Store>>& stores() {
  static std::map<std::pair<int, uint64_t>, std::unique_ptr<Store>> cache;
  return cache;
}

Store& store(Layout layout, uint64_t n) {
  auto& slot = stores()[{static_cast<int>(layout), n}];
  if (slot) {
    return *slot;
  }
  slot = std::make_unique<Store>();
  Store& s = *slot;
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/vrift-layout-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::abort();
  }
  s.dir = pattern;
  std::mt19937_64 rng(12345);
  bench::TreePaths tree = bench::node_modules_paths(n, rng);
  std::vector<uint64_t> order(n);
  for (uint64_t i = 0; i < n; ++i) {
    order[i] = i;
  }
  if (layout == Layout::path_packed) {
    std::vector<std::pair<std::string, uint64_t>> keyed;
    for (uint64_t i = 0; i < n; ++i) {
      KeyBuf kb;
      encode_key(tree.files[i], kb);
      keyed.emplace_back(std::string(kb.view()), i);
    }
    std::sort(keyed.begin(), keyed.end());
    for (uint64_t i = 0; i < n; ++i) {
      order[i] = keyed[i].second;
    }
  } else {
    std::shuffle(order.begin(), order.end(), rng);
  }
  must(::mdb_env_create(&s.env), "mdb_env_create");
  must(::mdb_env_set_mapsize(s.env, uint64_t{8} << 30), "mdb_env_set_mapsize");
  must(::mdb_env_open(s.env, s.dir.c_str(), MDB_NOSYNC, 0644), "mdb_env_open");
  MDB_txn* txn;
  must(::mdb_txn_begin(s.env, nullptr, 0, &txn), "mdb_txn_begin");
  bool integer_keys = layout == Layout::point_index || layout == Layout::point_digest;
  must(::mdb_dbi_open(txn, nullptr, integer_keys ? MDB_INTEGERKEY : 0, &s.dbi), "mdb_dbi_open");
  must(::mdb_txn_commit(txn), "mdb_txn_commit");
  put_all(s, layout, tree.files, order);
  s.lookups = std::move(tree.files);
  std::shuffle(s.lookups.begin(), s.lookups.end(), rng);
  must(::mdb_txn_begin(s.env, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
  must(::mdb_stat(txn, s.dbi, &s.stat), "mdb_stat");
  ::mdb_txn_abort(txn);
  return s;
}

void BM_Layout(benchmark::State& state, Layout layout) {
  Store& s = store(layout, static_cast<uint64_t>(state.range(0)));
  MDB_txn* txn;
  must(::mdb_txn_begin(s.env, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
  size_t i = 0;
  uint64_t hits = 0;
  Entry e;
  for (auto _ : state) {
    std::string_view path = s.lookups[i];
    MDB_val v;
    if (layout == Layout::point_index) {
      uint64_t h = path_hash(path);
      MDB_val k{sizeof h, &h};
      if (::mdb_get(txn, s.dbi, &k, &v) == MDB_SUCCESS && v.mv_size > path.size() &&
          std::memcmp(v.mv_data, path.data(), path.size()) == 0 &&
          static_cast<const char*>(v.mv_data)[path.size()] == '\0') {
        const char* rec = static_cast<const char*>(v.mv_data) + path.size() + 1;
        hits += decode_record(std::string_view(rec, v.mv_size - path.size() - 1), e).has_value() ? 1 : 0;
      }
    } else if (layout == Layout::point_digest) {
      uint64_t h = path_hash(path);
      uint64_t h2 = path_hash(path, k_second_seed);
      MDB_val k{sizeof h, &h};
      if (::mdb_get(txn, s.dbi, &k, &v) == MDB_SUCCESS && v.mv_size > sizeof h2 &&
          std::memcmp(v.mv_data, &h2, sizeof h2) == 0) {
        const char* rec = static_cast<const char*>(v.mv_data) + sizeof h2;
        hits += decode_record(std::string_view(rec, v.mv_size - sizeof h2), e).has_value() ? 1 : 0;
      }
    } else {
      KeyBuf kb;
      encode_key(path, kb);
      MDB_val k{kb.len, kb.bytes};
      if (::mdb_get(txn, s.dbi, &k, &v) == MDB_SUCCESS) {
        hits += decode_record(std::string_view(static_cast<const char*>(v.mv_data), v.mv_size), e).has_value() ? 1 : 0;
      }
    }
    benchmark::DoNotOptimize(e.size);
    if (++i == s.lookups.size()) {
      i = 0;
    }
  }
  ::mdb_txn_abort(txn);
  if (hits != static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("a lookup missed");
  }
  state.counters["depth"] = s.stat.ms_depth;
  state.counters["leaf_pages"] = static_cast<double>(s.stat.ms_leaf_pages);
  state.counters["MiB"] = static_cast<double>((s.stat.ms_leaf_pages + s.stat.ms_branch_pages) * s.stat.ms_psize) / (1 << 20);
}

using bench::max_of;
using bench::min_of;

#define VRIFT_LAYOUT(layout, name)                                                              \
  BENCHMARK_CAPTURE(BM_Layout, layout, Layout::layout)                                          \
      ->Name(name)->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of)         \
      ->Arg(100000)->Arg(1000000)

VRIFT_LAYOUT(path, "layout/path");
VRIFT_LAYOUT(path_packed, "layout/path-packed");
VRIFT_LAYOUT(point_index, "layout/point-index");
VRIFT_LAYOUT(point_digest, "layout/point-digest");

}  // namespace
}  // namespace vrift::manifest

int main(int argc, char** argv) {
  int status = vrift::bench::run_benchmarks(argc, argv);
  for (auto& [key, s] : vrift::manifest::stores()) {
    ::mdb_env_close(s->env);
    std::error_code ec;
    std::filesystem::remove_all(s->dir, ec);
  }
  return status;
}
