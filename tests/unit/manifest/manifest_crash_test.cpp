// kill -9 in the middle of a large write transaction: after each kill the manifest must
// open, the writer lock must be usable again, and the killed transaction must be
// entirely there (it committed before the kill) or entirely absent.
//
// Each round forks a child that writes one transaction of k_entries entries (a marker
// first, then the bulk; the map starts small, so the child also grows it mid-way) and
// then waits to be killed. The parent kills it after a random delay between 0 and 1.3x
// the measured duration of a whole transaction, so kills land before, during and after
// the commit. VRIFT_MANIFEST_CRASH_ROUNDS and VRIFT_MANIFEST_CRASH_ENTRIES override the
// defaults (tests/integration/manifest_crash.sh runs a longer soak).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "manifest/lmdb_manifest.hpp"
#include "manifest_test_util.hpp"
#include "temp_dir.hpp"

namespace vrift::manifest {
namespace {

using test::describe;
using test::file_entry;

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

std::string round_dir(uint64_t round) { return "crash/" + std::to_string(round); }

// The child: one big transaction, then wait for SIGKILL. Signals the parent through
// `started` when the transaction begins and `committed` after it commits.
[[noreturn]] void child_writer(const std::string& path, uint64_t round, uint64_t entries,
                               int started, int committed) {
  OpenOptions o;
  o.initial_map_size = 8 << 20;
  auto m = LmdbManifest::open(path.c_str(), o);
  if (!m) {
    ::_exit(10);
  }
  bool signalled = false;
  std::string dir = round_dir(round);
  Status st = m->write([&](WriteTxn& w) -> Status {
    if (!signalled) {
      signalled = true;
      if (::write(started, "s", 1) != 1) {
        ::_exit(11);
      }
    }
    VRIFT_CHECK(w.put(Layer::base, dir + "/marker", file_entry(round, entries)));
    for (uint64_t i = 0; i < entries; ++i) {
      char name[64];
      std::snprintf(name, sizeof(name), "/bulk/node_modules/file%07llu.js",
                    static_cast<unsigned long long>(i));
      VRIFT_CHECK(w.put(Layer::base, dir + name, file_entry(i)));
    }
    return {};
  });
  if (!st) {
    ::_exit(12);
  }
  if (::write(committed, "c", 1) != 1) {
    ::_exit(13);
  }
  for (;;) {
    ::pause();
  }
}

struct RoundResult {
  bool marker = false;
  uint64_t count = 0;
};

RoundResult inspect(LmdbManifest& m, uint64_t round) {
  RoundResult r;
  auto t = m.read();
  EXPECT_TRUE(t) << describe(t.error());
  if (!t) {
    return r;
  }
  Entry e;
  auto hit = m.get(*t, round_dir(round) + "/marker", e);
  EXPECT_TRUE(hit);
  r.marker = hit && *hit;
  EXPECT_OK(m.list_children(*t, round_dir(round) + "/bulk/node_modules",
                            [&](std::string_view, const Entry&) {
                              ++r.count;
                              return true;
                            }));
  return r;
}

TEST(ManifestCrash, KillNineMidTransactionIsAllOrNothing) {
  const uint64_t rounds = env_or("VRIFT_MANIFEST_CRASH_ROUNDS", 8);
  const uint64_t entries = env_or("VRIFT_MANIFEST_CRASH_ENTRIES", 200000);
  vrift::test::TempDir dir;
  std::string path = dir / "manifest.lmdb";
  {
    auto m = LmdbManifest::open(path.c_str(), test::create_options(8 << 20));
    ASSERT_TRUE(m) << describe(m.error());
  }
  std::mt19937_64 rng(std::random_device{}());
  double full_seconds = 0;
  std::vector<uint64_t> committed_rounds;
  uint64_t rolled_back = 0;
  uint64_t after_writes = 0;

  for (uint64_t round = 0; round <= rounds; ++round) {
    int started[2];
    int committed[2];
    ASSERT_EQ(::pipe(started), 0);
    ASSERT_EQ(::pipe(committed), 0);
    std::fflush(nullptr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      child_writer(path, round, entries, started[1], committed[1]);
    }
    ::close(started[1]);
    ::close(committed[1]);
    char c;
    ASSERT_EQ(::read(started[0], &c, 1), 1) << "child died before its transaction";
    auto begin = std::chrono::steady_clock::now();
    double delay = 0;
    if (round == 0) {
      // Calibration: let the whole transaction commit, then kill the idle child.
      ASSERT_EQ(::read(committed[0], &c, 1), 1) << "calibration transaction failed";
      full_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    } else {
      delay = std::uniform_real_distribution<double>(0, 1.3 * full_seconds)(rng);
      struct timespec ts;
      ts.tv_sec = static_cast<time_t>(delay);
      ts.tv_nsec = static_cast<long>((delay - static_cast<double>(ts.tv_sec)) * 1e9);
      ::nanosleep(&ts, nullptr);
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child exited early with " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    ::close(started[0]);
    ::close(committed[0]);

    auto m = LmdbManifest::open(path.c_str(), OpenOptions{});
    ASSERT_TRUE(m) << "manifest unreadable after kill -9 in round " << round << ": "
                   << describe(m.error());
    RoundResult r = inspect(*m, round);
    if (r.marker) {
      EXPECT_EQ(r.count, entries) << "round " << round << " (kill after " << delay
                                  << " s): partial commit";
      committed_rounds.push_back(round);
    } else {
      EXPECT_EQ(r.count, 0u) << "round " << round << " (kill after " << delay
                             << " s): entries without marker";
      ++rolled_back;
    }
    // Earlier committed rounds are intact.
    for (uint64_t earlier : committed_rounds) {
      auto t = m->read();
      ASSERT_TRUE(t);
      Entry e;
      char name[64];
      std::snprintf(name, sizeof(name), "/bulk/node_modules/file%07llu.js",
                    static_cast<unsigned long long>(entries - 1));
      EXPECT_EQ(m->get(*t, round_dir(earlier) + "/marker", e), true) << earlier;
      EXPECT_EQ(m->get(*t, round_dir(earlier) + name, e), true) << earlier;
    }
    // The killed child held LMDB's writer mutex: the next writer must get it back.
    ASSERT_OK(m->write([&](WriteTxn& w) {
      return w.put(Layer::delta, round_dir(round) + "/after", file_entry(round));
    }));
    ++after_writes;
  }
  std::printf(
      "[ crash    ] %llu rounds after calibration (%.3f s per transaction): %zu committed, %llu "
      "rolled back\n",
      static_cast<unsigned long long>(rounds), full_seconds, committed_rounds.size() - 1,
      static_cast<unsigned long long>(rolled_back));

  // Independent oracle: mdb_stat's record counts.
  if (test::have_tool("mdb_stat")) {
    std::string base = test::run_command("mdb_stat -s base " + path);
    std::string want = "Entries: " + std::to_string(committed_rounds.size() * (entries + 1)) + "\n";
    EXPECT_NE(base.find(want), std::string::npos) << base << "want " << want;
    std::string delta = test::run_command("mdb_stat -s delta " + path);
    EXPECT_NE(delta.find("Entries: " + std::to_string(after_writes) + "\n"), std::string::npos)
        << delta;
  }
}

}  // namespace
}  // namespace vrift::manifest
