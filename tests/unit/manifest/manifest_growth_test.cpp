// Map growth: MDB_MAP_FULL inside one transaction and across transactions, and readers
// in other processes following a map that another process grew.

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "manifest/lmdb_manifest.hpp"
#include "manifest_test_util.hpp"
#include "temp_dir.hpp"

namespace vrift::manifest {
namespace {

using test::create_options;
using test::describe;
using test::file_entry;
using test::run_in_child;

constexpr uint64_t k_small_map = 1 << 20;  // 1 MiB: a few thousand entries fill it

std::string bulk_path(int batch, int i) {
  return "node_modules/pkg" + std::to_string(batch) + "/lib/deep/er/file" + std::to_string(i) +
         ".js";
}

TEST(ManifestGrowth, OneTransactionOverflowsTheMapSeveralTimes) {
  vrift::test::TempDir dir;
  auto m = LmdbManifest::open((dir / "m").c_str(), create_options(k_small_map));
  ASSERT_TRUE(m) << describe(m.error());
  uint64_t start = m->map_info(Layer::base)->map_size;
  ASSERT_EQ(start, k_small_map);
  int runs = 0;
  bool saw_map_full = false;
  ASSERT_OK(m->write([&](WriteTxn& w) -> Status {
    ++runs;
    for (int i = 0; i < 40000; ++i) {
      Status st = w.put(Layer::base, bulk_path(0, i), file_entry(static_cast<uint64_t>(i)));
      if (!st) {
        saw_map_full = saw_map_full || lmdb::has_code(st.error(), MDB_MAP_FULL);
        return st;
      }
    }
    return {};
  }));
  EXPECT_TRUE(saw_map_full);
  EXPECT_GE(runs, 4);  // 1 -> 2 -> 4 -> 8 MiB at least
  EXPECT_GE(m->map_info(Layer::base)->map_size, 8 * start);
  auto t = m->read();
  ASSERT_TRUE(t);
  EXPECT_EQ(m->stats(*t, Layer::base)->entries, 40000u);
  Entry e;
  EXPECT_EQ(m->get(*t, bulk_path(0, 39999), e), true);
}

TEST(ManifestGrowth, CallbackThatSwallowsMapFullIsStillRerun) {
  vrift::test::TempDir dir;
  auto m = LmdbManifest::open((dir / "m").c_str(), create_options(k_small_map));
  ASSERT_TRUE(m);
  int runs = 0;
  int stored = 0;
  ASSERT_OK(m->write([&](WriteTxn& w) -> Status {
    ++runs;
    stored = 0;
    for (int i = 0; i < 20000; ++i) {
      if (w.put(Layer::delta, bulk_path(1, i), file_entry(static_cast<uint64_t>(i)))) {
        ++stored;
      }
    }
    return {};  // errors ignored on purpose
  }));
  EXPECT_GE(runs, 2);
  EXPECT_EQ(stored, 20000);
  auto t = m->read();
  ASSERT_TRUE(t);
  EXPECT_EQ(m->stats(*t, Layer::delta)->entries, 20000u);
}

TEST(ManifestGrowth, GrowsAcrossTransactionsAndPersists) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  {
    auto m = LmdbManifest::open(path.c_str(), create_options(k_small_map));
    ASSERT_TRUE(m);
    for (int batch = 0; batch < 10; ++batch) {
      ASSERT_OK(m->write([&](WriteTxn& w) -> Status {
        for (int i = 0; i < 3000; ++i) {
          VRIFT_CHECK(
              w.put(Layer::base, bulk_path(batch, i), file_entry(static_cast<uint64_t>(i))));
        }
        return {};
      }));
    }
    EXPECT_GE(m->map_info(Layer::base)->map_size, 4 * k_small_map);
  }
  // Reopened with the small default, the environment keeps the size it grew to.
  auto m = LmdbManifest::open(path.c_str(), create_options(k_small_map));
  ASSERT_TRUE(m);
  EXPECT_GE(m->map_info(Layer::base)->map_size, 4 * k_small_map);
  auto t = m->read();
  ASSERT_TRUE(t);
  EXPECT_EQ(m->stats(*t, Layer::base)->entries, 30000u);
}

// A reader process keeps reading while the writer (this process) grows the map many
// times; a reader opened before the growth follows it (MDB_MAP_RESIZED).
TEST(ManifestGrowth, ReaderInAnotherProcessFollowsGrowth) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  auto m = LmdbManifest::open(path.c_str(), create_options(k_small_map));
  ASSERT_TRUE(m);
  ASSERT_OK(m->write([](WriteTxn& w) { return w.put(Layer::base, "anchor", file_entry(7, 7)); }));

  int go[2];
  int done[2];
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::pipe(done), 0);
  constexpr int k_batches = 12;
  constexpr int k_per_batch = 2500;
  pid_t reader = ::fork();
  ASSERT_GE(reader, 0);
  if (reader == 0) {
    // Child: its own manifest handle (the inherited one must not be used).
    ::close(go[1]);
    ::close(done[0]);
    OpenOptions ro;
    ro.initial_map_size = k_small_map;  // so that it must follow the writer's growth
    auto rm = LmdbManifest::open(path.c_str(), ro);
    if (!rm || rm->map_info(Layer::base)->map_size != k_small_map) {
      ::_exit(10);
    }
    if (::write(done[1], "r", 1) != 1) {
      ::_exit(11);
    }
    ReadTxn t;
    Entry e;
    uint64_t last_count = 0;
    int rounds = 0;
    for (;;) {
      char c;
      // Non-blocking check for "writer finished".
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(go[0], &fds);
      struct timeval tv {
        0, 0
      };
      bool finished =
          ::select(go[0] + 1, &fds, nullptr, nullptr, &tv) > 0 && ::read(go[0], &c, 1) == 1;
      if (!rm->begin_read(t)) {
        ::_exit(12);
      }
      auto hit = rm->get(t, "anchor", e);
      if (!hit || !*hit || e.size != 7) {
        ::_exit(13);
      }
      auto st = rm->stats(t, Layer::base);
      if (!st || st->entries < last_count || (st->entries - 1) % k_per_batch != 0) {
        ::_exit(14);  // commits must appear whole and in order
      }
      last_count = st->entries;
      t.reset();
      ++rounds;
      if (finished) {
        break;
      }
    }
    if (last_count != 1 + uint64_t{k_batches} * k_per_batch || rounds < 2) {
      ::_exit(15);
    }
    if (rm->map_info(Layer::base)->map_size <= k_small_map) {
      ::_exit(16);
    }
    ::_exit(0);
  }
  ::close(go[0]);
  ::close(done[1]);
  char c;
  ASSERT_EQ(::read(done[0], &c, 1), 1);  // reader is open (with a 1 MiB map)
  for (int batch = 0; batch < k_batches; ++batch) {
    ASSERT_OK(m->write([&](WriteTxn& w) -> Status {
      for (int i = 0; i < k_per_batch; ++i) {
        VRIFT_CHECK(w.put(Layer::base, bulk_path(batch, i), file_entry(static_cast<uint64_t>(i))));
      }
      return {};
    }));
    ::usleep(2000);  // let the reader see each stage
  }
  EXPECT_GE(m->map_info(Layer::base)->map_size, 8 * k_small_map);
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(reader, &status, 0), reader);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "reader exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  ::close(go[1]);
  ::close(done[0]);
}

// The writer is another process; this process opened the manifest (1 MiB map) before it
// grew and must follow on its next begin_read.
TEST(ManifestGrowth, OpenReaderFollowsGrowthByAnotherProcess) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  auto m = LmdbManifest::open(path.c_str(), create_options(k_small_map));
  ASSERT_TRUE(m);
  ReadTxn t;
  ASSERT_OK(m->begin_read(t));
  t.reset();
  int code = run_in_child([&] {
    auto wm = LmdbManifest::open(path.c_str(), OpenOptions{});
    if (!wm) {
      return 10;
    }
    Status st = wm->write([&](WriteTxn& w) -> Status {
      for (int i = 0; i < 40000; ++i) {
        VRIFT_CHECK(w.put(Layer::base, bulk_path(2, i), file_entry(static_cast<uint64_t>(i))));
      }
      return {};
    });
    return st ? 0 : 11;
  });
  ASSERT_EQ(code, 0);
  EXPECT_EQ(m->map_info(Layer::base)->map_size, k_small_map);
  ASSERT_OK(m->begin_read(t));  // MDB_MAP_RESIZED handled inside
  EXPECT_GT(m->map_info(Layer::base)->map_size, k_small_map);
  EXPECT_EQ(m->stats(t, Layer::base)->entries, 40000u);
  Entry e;
  EXPECT_EQ(m->get(t, bulk_path(2, 39999), e), true);
  t.reset();
  // And this process can write on top.
  ASSERT_OK(m->write([](WriteTxn& w) { return w.put(Layer::delta, "after", file_entry(1)); }));
}

}  // namespace
}  // namespace vrift::manifest
