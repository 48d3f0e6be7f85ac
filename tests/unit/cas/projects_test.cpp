#include "cas/projects.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "temp_dir.hpp"

namespace vrift::cas {
namespace {

struct ProjectsTest : ::testing::Test {
  test::TempDir dir;
  TheSource source = *TheSource::open((dir.path() / "source").string(), true);
};

TEST_F(ProjectsTest, NoneRegisteredAtFirst) {
  auto listed = registered_projects(source);
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty());
}

TEST_F(ProjectsTest, RegisteringTwiceListsOnce) {
  ASSERT_TRUE(register_project(source, "/work/app"));
  ASSERT_TRUE(register_project(source, "/work/app"));
  auto listed = registered_projects(source);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].root, "/work/app");
  EXPECT_EQ((*listed)[0].id.size(), 32u);
}

TEST_F(ProjectsTest, EachRootIsItsOwnEntryAndCanBeForgotten) {
  ASSERT_TRUE(register_project(source, "/work/app"));
  ASSERT_TRUE(register_project(source, "/work/moved-app"));
  auto listed = registered_projects(source);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  std::string gone = (*listed)[0].root == "/work/app" ? (*listed)[0].id : (*listed)[1].id;
  ASSERT_TRUE(forget_project(source, gone));
  listed = registered_projects(source);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].root, "/work/moved-app");
  EXPECT_TRUE(forget_project(source, gone));  // already gone: nothing to do
}

TEST_F(ProjectsTest, TempOfAnInterruptedRegistrationIsNotAProject) {
  ASSERT_TRUE(register_project(source, "/work/app"));
  ASSERT_EQ(::symlinkat("/work/half", source.root_fd(), "projects/0123456789abcdef0123456789abcdef.tmp.42"), 0);
  auto listed = registered_projects(source);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].root, "/work/app");
}

TEST_F(ProjectsTest, SharedHoldersCoexistAndKeepTheExclusiveOneOut) {
  auto a = source.hold_references(false);
  auto b = source.hold_references(false);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  auto gc = source.hold_exclusively(false);
  ASSERT_FALSE(gc);
  EXPECT_EQ(gc.error().sys, EWOULDBLOCK);
  a->reset();
  b->reset();
  gc = source.hold_exclusively(false);
  ASSERT_TRUE(gc);
  EXPECT_FALSE(source.hold_references(false));  // gc running: a session leaves its file private
}

}  // namespace
}  // namespace vrift::cas
