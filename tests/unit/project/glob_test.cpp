#include "project/glob.hpp"

#include <gtest/gtest.h>

namespace vrift::project {
namespace {

TEST(Glob, DoubleStarMatchesAnyDepthIncludingNone) {
  EXPECT_TRUE(glob_match("**/node_modules/**", "node_modules/a/index.js"));
  EXPECT_TRUE(glob_match("**/node_modules/**", "packages/x/node_modules/b/c.js"));
  EXPECT_TRUE(glob_match("**/node_modules/**", "node_modules"));
  EXPECT_FALSE(glob_match("**/node_modules/**", "src/node_modules_old/a.js"));
  EXPECT_TRUE(glob_match("target/**", "target/debug/app"));
  EXPECT_FALSE(glob_match("target/**", "src/target/x"));
  EXPECT_TRUE(glob_match("**", "anything/at/all"));
  EXPECT_TRUE(glob_match("a/**/z", "a/z"));
  EXPECT_TRUE(glob_match("a/**/z", "a/b/c/z"));
  EXPECT_FALSE(glob_match("a/**/z", "a/b/c/y"));
}

TEST(Glob, StarStaysWithinAComponent) {
  EXPECT_TRUE(glob_match("*.js", "index.js"));
  EXPECT_FALSE(glob_match("*.js", "lib/index.js"));
  EXPECT_TRUE(glob_match("lib/*.js", "lib/index.js"));
  EXPECT_TRUE(glob_match("lib/*", "lib/.hidden"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
}

TEST(Glob, QuestionMarkAndClasses) {
  EXPECT_TRUE(glob_match("file?.txt", "file1.txt"));
  EXPECT_FALSE(glob_match("file?.txt", "file/.txt"));
  EXPECT_TRUE(glob_match("[abc].c", "b.c"));
  EXPECT_FALSE(glob_match("[abc].c", "d.c"));
  EXPECT_TRUE(glob_match("[a-z]x", "qx"));
  EXPECT_TRUE(glob_match("[!a-z]x", "Qx"));
  EXPECT_TRUE(glob_match("[x", "[x"));  // an unclosed bracket is literal
}

TEST(Glob, WholePathOnly) {
  EXPECT_FALSE(glob_match("build", "build/x"));
  EXPECT_TRUE(glob_match("build", "build"));
  EXPECT_FALSE(glob_match("build/**", "builds/x"));
}

}  // namespace
}  // namespace vrift::project
