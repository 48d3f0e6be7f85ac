#include "project/walk.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "manifest/keys.hpp"
#include "temp_dir.hpp"

namespace vrift::project {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> walk_all(const test::TempDir& dir, const std::string& start,
                                  const std::string& prune = "(none)") {
  int root = ::open(dir.str().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  std::vector<std::string> seen;
  walk_tree(
      root, start,
      [&](const WalkEntry& e) {
        seen.push_back(e.rel);
        return e.rel != prune;
      },
      [&](const std::string& rel, const Error&) { ADD_FAILURE() << "walk error at " << rel; });
  ::close(root);
  return seen;
}

void touch(const test::TempDir& dir, const std::string& rel) {
  fs::create_directories(fs::path(dir / rel).parent_path());
  std::ofstream(dir / rel) << rel;
}

// Names that sort before '/' ("a-b", "a.c") are where a depth-first walk and the key
// order part: "a-b/..." comes before "a/..." in the manifest, though "a" < "a-b".
TEST(Walk, VisitsInManifestKeyOrder) {
  test::TempDir dir;
  for (const char* rel : {"m/a/x/1", "m/a/x/0", "m/a/y", "m/a-b/z", "m/a.c", "m/b/q", "m/a/x-y/2", "m/A/3",
                          "m/\xc3\xa9/4", "m/a b/5"}) {
    touch(dir, rel);
  }
  fs::create_directories(dir / "m/empty");
  ::symlink("a/y", (dir / "m/link").c_str());
  std::vector<std::string> seen = walk_all(dir, "m");
  ASSERT_EQ(seen.front(), "m");
  EXPECT_EQ(seen.size(), 21u);
  for (size_t i = 1; i < seen.size(); ++i) {
    manifest::KeyBuf a, b;
    ASSERT_TRUE(manifest::encode_key(seen[i - 1], a));
    ASSERT_TRUE(manifest::encode_key(seen[i], b));
    EXPECT_LT(manifest::compare_keys(a.view(), b.view()), 0) << seen[i - 1] << " then " << seen[i];
  }
}

TEST(Walk, ParentsComeFirstAndPrunedDirectoriesAreNotEntered) {
  test::TempDir dir;
  for (const char* rel : {"r/p/deep/er/f", "r/p/g", "r/skip/inside", "r/s-t/h"}) {
    touch(dir, rel);
  }
  std::vector<std::string> seen = walk_all(dir, "r", "r/skip");
  EXPECT_EQ(seen, (std::vector<std::string>{"r", "r/p", "r/s-t", "r/skip", "r/p/deep", "r/p/g", "r/p/deep/er",
                                            "r/p/deep/er/f", "r/s-t/h"}));
}

TEST(Walk, StartAtTheRoot) {
  test::TempDir dir;
  touch(dir, "b/c");
  touch(dir, "a");
  EXPECT_EQ(walk_all(dir, ""), (std::vector<std::string>{"", "a", "b", "b/c"}));
}

}  // namespace
}  // namespace vrift::project
