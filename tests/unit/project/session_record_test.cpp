#include "project/session_record.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "temp_dir.hpp"

namespace vrift::project {
namespace {

ProjectPaths make_project(const test::TempDir& dir) {
  ProjectPaths paths{dir.str()};
  ::mkdir(paths.state_dir().c_str(), 0755);
  return paths;
}

// A shell that has exited: a child reaped at once.
ShellRef dead_shell() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(0);
  }
  ::waitpid(pid, nullptr, 0);
  return ShellRef{pid, 1};
}

TEST(SessionRecord, WritesAndReadsBack) {
  test::TempDir dir;
  auto paths = make_project(dir);
  EXPECT_EQ(read_session(paths).value(), std::nullopt);

  SessionRecord r;
  r.mode = Mode::Phantom;
  r.project = paths.root;
  r.cas_root = "/cas root/it's";
  r.shim = "/b/libvrift_shim.so";
  r.started_at = utc_now();
  r.abi_context = "x86_64-linux-gnu";
  join_session(r, current_shell());
  ASSERT_TRUE(write_session(paths, r));
  auto back = read_session(paths).value();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->mode, Mode::Phantom);
  EXPECT_EQ(back->project, r.project);
  EXPECT_EQ(back->cas_root, r.cas_root);
  EXPECT_EQ(back->shim, r.shim);
  EXPECT_EQ(back->started_at, r.started_at);
  EXPECT_EQ(back->abi_context, r.abi_context);
  EXPECT_EQ(back->shells, r.shells);
  EXPECT_EQ(r.started_at.size(), 20u);
  EXPECT_EQ(r.started_at.back(), 'Z');

  ASSERT_TRUE(remove_session(paths));
  EXPECT_EQ(read_session(paths).value(), std::nullopt);
  EXPECT_TRUE(remove_session(paths));  // already gone: fine
}

TEST(SessionRecord, DamagedOrNewerFilesAreRefusedByName) {
  test::TempDir dir;
  auto paths = make_project(dir);
  std::ofstream(paths.session_file()) << "{not json";
  auto r = read_session(paths);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().path, paths.session_file());
  EXPECT_NE(r.error().why.find("not JSON"), std::string::npos);

  std::ofstream(paths.session_file()) << R"({"version": 1, "mode": "ghost", "project": "/p", "cas_root": "/c"})";
  r = read_session(paths);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().why.find("mode"), std::string::npos);

  std::ofstream(paths.session_file()) << R"({"version": 99, "mode": "solid", "project": "/p", "cas_root": "/c"})";
  r = read_session(paths);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().why.find("newer"), std::string::npos);

  std::ofstream(paths.session_file()) << R"({"version": 1, "mode": "solid", "project": 3, "cas_root": "/c"})";
  EXPECT_FALSE(read_session(paths));
}

TEST(SessionRecord, ShellsJoinOnceAndDeadOnesAreDropped) {
  ShellRef self = current_shell();
  ASSERT_TRUE(shell_alive(self));
  ShellRef dead = dead_shell();
  EXPECT_FALSE(shell_alive(dead));
  // Same pid, another start time: a reused pid is not the same shell.
  EXPECT_FALSE(shell_alive(ShellRef{self.pid, self.start + 1}));

  SessionRecord r;
  r.shells = {dead};
  join_session(r, self);
  join_session(r, self);
  ASSERT_EQ(r.shells.size(), 1u);
  EXPECT_EQ(r.shells[0], self);
  EXPECT_EQ(other_live_shells(r, self), 0u);
  EXPECT_EQ(other_live_shells(r, ShellRef{}), 1u);
  EXPECT_EQ(leave_session(r, self), 0u);
  EXPECT_TRUE(r.shells.empty());
}

TEST(SessionRecord, TheShellIsTheParentProcess) {
  // Run from a test binary, the "shell" is whatever started it: our parent.
  ShellRef self = current_shell();
  EXPECT_GT(self.pid, 0);
  EXPECT_GT(self.start, 0u);
}

TEST(SessionRecord, LockIsExclusiveAcrossProcesses) {
  test::TempDir dir;
  auto paths = make_project(dir);
  int to_child[2];
  int to_parent[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(to_parent), 0);
  // Forked before the parent locks, so the child does not share the lock's file.
  pid_t pid = ::fork();
  if (pid == 0) {
    char go;
    (void)!::read(to_child[0], &go, 1);
    // Held by the parent: a non-blocking attempt fails; the blocking one waits for it.
    int fd = ::open((paths.state_dir() + "/session.lock").c_str(), O_RDWR | O_CLOEXEC);
    bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);
    (void)!::write(to_parent[1], held ? "h" : "f", 1);
    auto child_lock = SessionLock::acquire(paths);
    (void)!::write(to_parent[1], child_lock ? "y" : "n", 1);
    ::_exit(0);
  }
  {
    auto lock = SessionLock::acquire(paths);
    ASSERT_TRUE(lock);
    (void)!::write(to_child[1], "g", 1);
    char c = 0;
    ASSERT_EQ(::read(to_parent[0], &c, 1), 1);
    EXPECT_EQ(c, 'h');
  }
  char c = 0;
  ASSERT_EQ(::read(to_parent[0], &c, 1), 1);
  EXPECT_EQ(c, 'y');
  ::waitpid(pid, nullptr, 0);
  for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) {
    ::close(fd);
  }
}

}  // namespace
}  // namespace vrift::project
