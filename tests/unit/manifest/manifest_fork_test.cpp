// Fork safety and multi-process access: a forked child reopens instead of reusing the
// parent's environment and leaves the parent's reader slots alone; several processes
// read while one writes and see each commit whole.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "manifest/lmdb_manifest.hpp"
#include "manifest_test_util.hpp"
#include "temp_dir.hpp"

namespace vrift::manifest {
namespace {

using test::create_options;
using test::describe;
using test::file_entry;
using test::run_in_child;

// Reader-table slots held by `pid`, from `mdb_stat -r` (-1 when the tool is missing).
int reader_slots_of(const std::string& env_dir, pid_t pid) {
  if (!test::have_tool("mdb_stat")) {
    return -1;
  }
  std::string out = test::run_command("mdb_stat -r " + env_dir);
  int count = 0;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    std::string line = out.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    int slot_pid = 0;
    if (std::sscanf(line.c_str(), "%d", &slot_pid) == 1 && slot_pid == pid) {
      ++count;
    }
    if (end == std::string::npos) {
      break;
    }
    pos = end + 1;
  }
  return count;
}

TEST(ManifestFork, ChildReopensAndLeavesTheParentAlone) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  auto m = LmdbManifest::open(path.c_str(), create_options());
  ASSERT_TRUE(m);
  ASSERT_OK(m->write([](WriteTxn& w) { return w.put(Layer::base, "a", file_entry(1, 1)); }));
  ReadTxn t;
  ASSERT_OK(m->begin_read(t));  // active across the fork
  Entry e;
  ASSERT_EQ(m->get(t, "a", e), true);
  pid_t me = ::getpid();
  int slots_before = reader_slots_of(path, me);

  // Child 1 uses the inherited manifest and ReadTxn: both are rebound, not reused.
  int code = run_in_child([&] {
    if (!m->forked()) {
      return 10;
    }
    ReadTxn fresh;
    if (!m->begin_read(fresh)) {  // reopens the environment
      return 11;
    }
    if (m->forked()) {
      return 12;
    }
    Entry ce;
    auto hit = m->get(fresh, "a", ce);
    if (!hit || !*hit || ce.size != 1) {
      return 13;
    }
    // The inherited active ReadTxn is refused until begun again, then works.
    if (m->get(t, "a", ce)) {
      return 14;
    }
    if (!m->begin_read(t) || !m->get(t, "a", ce) || ce.size != 1) {
      return 15;
    }
    t.reset();
    fresh.reset();
    Status st =
        m->write([](WriteTxn& w) { return w.put(Layer::delta, "from-child", file_entry(2, 2)); });
    return st ? 0 : 16;
  });
  EXPECT_EQ(code, 0);

  // Child 2 destroys the inherited manifest and ReadTxn without reopening.
  code = run_in_child([&] {
    {
      ReadTxn inherited = std::move(t);
      LmdbManifest doomed = std::move(*m);
    }
    return 0;
  });
  EXPECT_EQ(code, 0);

  // The parent's snapshot and its reader slot survived both children.
  ASSERT_EQ(m->get(t, "a", e), true);
  EXPECT_EQ(m->get(t, "from-child", e), false);  // still the old snapshot
  if (slots_before >= 0) {
    EXPECT_GE(slots_before, 1);
    EXPECT_EQ(reader_slots_of(path, me), slots_before);
  }
  ASSERT_OK(m->begin_read(t));
  ASSERT_EQ(m->get(t, "from-child", e), true);
  EXPECT_EQ(e.size, 2u);
}

TEST(ManifestFork, ExplicitReopenAfterFork) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  auto m = LmdbManifest::open(path.c_str(), create_options());
  ASSERT_TRUE(m);
  ASSERT_OK(m->write([](WriteTxn& w) { return w.put(Layer::base, "a", file_entry(1, 1)); }));
  ASSERT_OK(m->reopen_after_fork());  // a no-op in the opening process
  int code = run_in_child([&] {
    if (!m->forked() || !m->reopen_after_fork() || m->forked()) {
      return 10;
    }
    if (!m->reopen_after_fork()) {  // idempotent
      return 11;
    }
    auto t = m->read();
    Entry e;
    if (!t || !m->get(*t, "a", e) || e.size != 1) {
      return 12;
    }
    // A grandchild reopens again.
    int inner = run_in_child([&] {
      auto gt = m->read();
      Entry ge;
      return gt && m->get(*gt, "a", ge) && *m->get(*gt, "a", ge) ? 0 : 1;
    });
    return inner == 0 ? 0 : 13;
  });
  EXPECT_EQ(code, 0);
  auto t = m->read();
  ASSERT_TRUE(t);
  Entry e;
  EXPECT_EQ(m->get(*t, "a", e), true);
}

TEST(ManifestFork, SharedBaseIsReopenedToo) {
  vrift::test::TempDir dir;
  std::string shared = dir / "shared";
  {
    auto b = LmdbManifest::open(shared.c_str(), create_options());
    ASSERT_TRUE(b);
    ASSERT_OK(b->write([](WriteTxn& w) { return w.put(Layer::base, "lib/x", file_entry(3, 3)); }));
  }
  OpenOptions o = create_options();
  o.base_env_dir = shared.c_str();
  auto m = LmdbManifest::open((dir / "p").c_str(), o);
  ASSERT_TRUE(m) << describe(m.error());
  int code = run_in_child([&] {
    auto t = m->read();
    Entry e;
    return t && m->get(*t, "lib/x", e) && e.size == 3 ? 0 : 1;
  });
  EXPECT_EQ(code, 0);
}

// Three reader processes and one writer (this process). Every transaction adds
// k_per_txn children of "w" and sets "w-count" to the new total: a reader that ever
// sees the two disagree has seen a partial commit.
TEST(ManifestFork, ProcessesReadWhileOneWrites) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  auto m = LmdbManifest::open(path.c_str(), create_options(1 << 20));
  ASSERT_TRUE(m);
  constexpr int k_txns = 30;
  constexpr int k_per_txn = 300;
  ASSERT_OK(m->write([](WriteTxn& w) { return w.put(Layer::base, "w-count", file_entry(0, 0)); }));
  int stop[2];
  ASSERT_EQ(::pipe(stop), 0);
  std::vector<pid_t> readers;
  for (int r = 0; r < 3; ++r) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(stop[1]);
      // Reader 0 keeps using the inherited manifest (automatic reopen); the others
      // open their own.
      LmdbManifest* rm = m.operator->();
      Result<LmdbManifest> own = fail(Errc::invalid, "unused");
      if (r != 0) {
        own = LmdbManifest::open(path.c_str(), OpenOptions{});
        if (!own) {
          ::_exit(10);
        }
        rm = &*own;
      }
      ReadTxn t;
      Entry e;
      uint64_t last = 0;
      uint64_t snapshots = 0;
      for (;;) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(stop[0], &fds);
        struct timeval tv {
          0, 0
        };
        bool finished = ::select(stop[0] + 1, &fds, nullptr, nullptr, &tv) > 0;
        if (!rm->begin_read(t)) {
          ::_exit(11);
        }
        auto hit = rm->get(t, "w-count", e);
        if (!hit || !*hit) {
          ::_exit(12);
        }
        uint64_t want = e.size;
        uint64_t n = 0;
        if (!rm->list_children(t, "w", [&](std::string_view, const Entry&) { return ++n, true; })) {
          ::_exit(13);
        }
        if (n != want || want < last || want % k_per_txn != 0) {
          ::_exit(14);
        }
        last = want;
        ++snapshots;
        t.reset();
        if (finished) {
          break;
        }
      }
      ::_exit(last == uint64_t{k_txns} * k_per_txn && snapshots >= 2 ? 0 : 15);
    }
    readers.push_back(pid);
  }
  ::close(stop[0]);
  for (int txn = 0; txn < k_txns; ++txn) {
    ASSERT_OK(m->write([&](WriteTxn& w) -> Status {
      for (int i = 0; i < k_per_txn; ++i) {
        VRIFT_CHECK(w.put(Layer::base, "w/" + std::to_string(txn) + "-" + std::to_string(i),
                          file_entry(static_cast<uint64_t>(i))));
      }
      return w.put(Layer::base, "w-count", file_entry(0, uint64_t{k_per_txn} * (txn + 1)));
    }));
  }
  ::close(stop[1]);  // EOF: readers finish after one more snapshot
  for (pid_t pid : readers) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "reader exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
}

}  // namespace
}  // namespace vrift::manifest
