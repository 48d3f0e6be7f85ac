#include "project/leaving_dirs.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "project/projection.hpp"
#include "temp_dir.hpp"

namespace vrift::project {
namespace {

class LeavingDirsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_root = m_dir.path().string();
    m_fd = ::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(m_fd, 0);
  }
  void TearDown() override { ::close(m_fd); }

  // Writes `rel` and records it in `leaving` as the file read.
  void add_file(LeavingDirs& leaving, const std::string& rel) {
    write(rel, "content of " + rel);
    struct stat st;
    ASSERT_EQ(::stat((m_root + "/" + rel).c_str(), &st), 0);
    leaving.add(rel, st, false);
  }
  void write(const std::string& rel, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(m_root + "/" + rel).parent_path());
    std::ofstream(m_root + "/" + rel) << text;
  }
  bool exists(const std::string& rel) const { return std::filesystem::exists(m_root + "/" + rel); }
  // Names in `rel` (a directory), sorted, space separated.
  std::string listing(const std::string& rel) const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(m_root + "/" + rel)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    std::string out;
    for (const auto& n : names) {
      out += (out.empty() ? "" : " ") + n;
    }
    return out;
  }

  test::TempDir m_dir;
  std::string m_root;
  int m_fd = -1;
};

TEST_F(LeavingDirsTest, ADirectoryOfRecordedFilesGoesWithThem) {
  LeavingDirs leaving(m_fd, nullptr);
  add_file(leaving, "nm/pkg/lib/a.js");
  add_file(leaving, "nm/pkg/lib/b.js");
  add_file(leaving, "nm/pkg/index.js");
  std::vector<std::string> kept;
  EXPECT_TRUE(leaving.remove("nm/pkg/lib", kept));  // deepest first, as ingest goes
  EXPECT_TRUE(leaving.remove("nm/pkg", kept));
  EXPECT_TRUE(kept.empty());
  EXPECT_EQ(listing("nm"), "");
}

TEST_F(LeavingDirsTest, WhatElseIsThereStaysWithItsDirectory) {
  LeavingDirs leaving(m_fd, nullptr);
  add_file(leaving, "nm/pkg/a.js");
  add_file(leaving, "nm/pkg/b.js");
  add_file(leaving, "nm/pkg/c.js");
  write("nm/pkg/new.txt", "made since ingest read the directory");
  ASSERT_EQ(::unlink((m_root + "/nm/pkg/b.js").c_str()), 0);  // the same name, another file:
  write("nm/pkg/b.js", "saved by an editor since");
  ASSERT_EQ(::unlink((m_root + "/nm/pkg/c.js").c_str()), 0);  // removed since
  std::vector<std::string> kept;
  EXPECT_FALSE(leaving.remove("nm/pkg", kept));
  EXPECT_EQ(kept, std::vector<std::string>{"nm/pkg/b.js"});
  EXPECT_EQ(listing("nm"), "pkg");  // back under its name, no temp beside it
  EXPECT_EQ(listing("nm/pkg"), "b.js new.txt");
  std::ifstream saved(m_root + "/nm/pkg/b.js");
  std::string text((std::istreambuf_iterator<char>(saved)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "saved by an editor since");
}

TEST_F(LeavingDirsTest, FilesOfDirectoriesNotRemovedLeaveOneByOne) {
  LeavingDirs leaving(m_fd, nullptr);
  add_file(leaving, "nm/kept/a.js");
  add_file(leaving, "nm/kept/b.js");
  std::vector<std::string> kept;
  leaving.remove_rest(kept);
  EXPECT_TRUE(kept.empty());
  EXPECT_EQ(listing("nm/kept"), "");  // the directory itself stays
}

TEST_F(LeavingDirsTest, AnInterruptedRemovalIsPutBackUnderItsName) {
  std::string aside = aside_name_for("nm/pkg");
  ASSERT_FALSE(aside.empty());
  EXPECT_TRUE(aside.starts_with("nm/.vrift-tmp-")) << aside;
  EXPECT_TRUE(aside.ends_with(".pkg")) << aside;
  EXPECT_TRUE(is_projection_temp(aside));
  EXPECT_EQ(original_of_aside(aside), "nm/pkg");
  EXPECT_EQ(original_of_aside("nm/.vrift-tmp-12-3"), "");  // a file's temp names nothing
  EXPECT_EQ(aside_name_for("nm/" + std::string(250, 'x')), "");  // too long to keep its name
  write(aside + "/a.js", "a");
  EXPECT_TRUE(put_back_aside(m_fd, aside));
  EXPECT_TRUE(exists("nm/pkg/a.js"));
  write(aside + "/b.js", "b");
  EXPECT_FALSE(put_back_aside(m_fd, aside));  // the name is taken: it stays aside
  EXPECT_TRUE(exists(aside + "/b.js"));
}

}  // namespace
}  // namespace vrift::project
