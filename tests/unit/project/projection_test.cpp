#include "project/projection.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "hash/hasher.hpp"
#include "project/restored.hpp"
#include "temp_dir.hpp"

namespace vrift::project {
namespace {

pid_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(0);
  }
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST(Projection, TempNamesSitBesideTheirPathAndNameThisProcess) {
  std::string t = temp_beside("a/b/c.js");
  EXPECT_TRUE(t.starts_with("a/b/.vrift-tmp-" + std::to_string(::getpid()) + "-")) << t;
  EXPECT_TRUE(temp_beside("top").starts_with(".vrift-tmp-"));
  EXPECT_NE(temp_beside("x"), temp_beside("x"));
  EXPECT_TRUE(is_projection_temp(t));
  EXPECT_FALSE(is_projection_temp("a/.vrift-tmp/x"));
}

TEST(Projection, OnlyTempsOfDeadProcessesAreStale) {
  pid_t dead = dead_pid();
  EXPECT_TRUE(stale_project_temp("d/.vrift-tmp-" + std::to_string(dead) + "-3"));
  EXPECT_FALSE(stale_project_temp("d/.vrift-tmp-" + std::to_string(::getpid()) + "-3"));  // ours
  EXPECT_FALSE(stale_project_temp(".vrift-tmp-1-0"));  // init lives
  EXPECT_TRUE(stale_project_temp(".vrift-tmp-garbage"));  // nothing makes such a name
  EXPECT_FALSE(stale_project_temp("d/file.js"));
  EXPECT_TRUE(stale_source_temp(std::to_string(dead) + ".12.abc"));
  EXPECT_FALSE(stale_source_temp("1.12.abc"));
  EXPECT_TRUE(stale_source_temp("stray"));
}

TEST(Projection, UnderAnyMatchesWholeComponents) {
  EXPECT_TRUE(under_any("node_modules/lodash/fp/a.js", {"node_modules/lodash"}));
  EXPECT_TRUE(under_any("node_modules/lodash", {"node_modules/lodash"}));
  EXPECT_FALSE(under_any("node_modules/lodash-es/a.js", {"node_modules/lodash"}));
  EXPECT_TRUE(under_any("anything", {""}));
  EXPECT_FALSE(under_any("a", {}));
}

TEST(Projection, PrivateCopyTakesModeMtimeAndOnlyRightContent) {
  test::TempDir dir;
  ::mkdir((dir / "sub").c_str(), 0755);
  std::ofstream(dir / "src") << "hello, restore";
  UniqueFd root(::open(dir.str().c_str(), O_RDONLY | O_DIRECTORY));
  UniqueFd src(::open((dir / "src").c_str(), O_RDONLY));
  hash::Digest digest = hash::hash_bytes("hello, restore", 14);
  int64_t mtime = 1600000000123456789;

  auto staged = stage_private_copy(root.get(), "sub/f.txt", src.get(), digest, 14, 0640, mtime);
  ASSERT_TRUE(staged);
  ASSERT_TRUE(publish_private_copy(root.get(), "sub/f.txt", *staged));
  struct stat st;
  ASSERT_EQ(::stat((dir / "sub/f.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  std::stringstream content;
  content << std::ifstream(dir / "sub/f.txt").rdbuf();
  EXPECT_EQ(content.str(), "hello, restore");

  // Over an existing path (the link being replaced), the copy takes its place whole.
  auto again = stage_private_copy(root.get(), "sub/f.txt", src.get(), digest, 14, 0444, mtime);
  ASSERT_TRUE(again);
  ASSERT_TRUE(publish_private_copy(root.get(), "sub/f.txt", *again));
  ASSERT_EQ(::stat((dir / "sub/f.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);

  // Damaged content is refused and leaves nothing behind.
  hash::Digest other = hash::hash_bytes("something else", 14);
  auto bad = stage_private_copy(root.get(), "sub/g.txt", src.get(), other, 14, 0644, mtime);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::corrupt);
  EXPECT_NE(::access((dir / "sub/g.txt").c_str(), F_OK), 0);
}

TEST(Restored, ListRoundTripsAnyName) {
  test::TempDir dir;
  ::mkdir((dir / ".vrift").c_str(), 0755);
  ProjectPaths project{dir.str()};
  auto empty = load_restored(project);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  std::vector<std::string> paths = {"node_modules/lodash", "build/odd\nname", "build/sp ace"};
  ASSERT_TRUE(save_restored(project, paths));
  auto loaded = load_restored(project);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, paths);
  ASSERT_TRUE(save_restored(project, {}));
  EXPECT_NE(::access((dir / ".vrift/restored").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace vrift::project
