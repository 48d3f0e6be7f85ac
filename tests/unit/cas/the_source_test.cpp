#include "cas/the_source.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cas/verify.hpp"
#include "hash/hasher.hpp"
#include "temp_dir.hpp"

namespace vrift::cas {
namespace {

void write_file(const std::string& path, const std::string& content, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary) << content;
  ::chmod(path.c_str(), mode);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct SourceTest : ::testing::Test {
  test::TempDir dir;
  TheSource source = *TheSource::open(dir / "source", true);

  std::string blob_path(const BlobKey& key) {
    char buf[PATH_MAX];
    EXPECT_GT(source.path_of(key, buf, sizeof buf), 0u);
    return buf;
  }
  // Stores `content` as a blob with its short name; returns the key and the short name's
  // path (empty, with a test failure, when either step fails).
  std::pair<BlobKey, std::string> store_short_named(const std::string& content, const char* ext) {
    auto stored = source.store_bytes(content.data(), content.size(), false, ext);
    if (!stored || !source.add_short_name(stored->key)) {
      ADD_FAILURE() << "cannot store " << content << " with its short name";
      return {};
    }
    char target[PATH_MAX];
    std::string short_name(target, source.link_target(stored->key, target, sizeof target));
    EXPECT_TRUE(short_name.starts_with(source.root() + "/s/")) << short_name;
    return {stored->key, short_name};
  }
  size_t count_blobs() {
    size_t n = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir / "source/blake3")) {
      n += e.is_regular_file() ? 1 : 0;
    }
    return n;
  }
  size_t count_temps() {
    return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(dir / "source/tmp"),
                                             std::filesystem::directory_iterator()));
  }
};

TEST_F(SourceTest, StoreBytesPublishesReadOnlyBlobOnce) {
  auto first = source.store_bytes("hello", 5, false, "txt");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->method, StoreMethod::copied);
  auto second = source.store_bytes("hello", 5, false, "txt");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->method, StoreMethod::present);
  EXPECT_TRUE(first->key == second->key);

  std::string path = blob_path(first->key);
  EXPECT_EQ(read_file(path), "hello");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_TRUE(path.ends_with("_5.txt"));
  EXPECT_EQ(count_blobs(), 1u);
  EXPECT_EQ(count_temps(), 0u);
  EXPECT_TRUE(*source.contains(first->key));
}

TEST_F(SourceTest, ShortNameIsASecondLinkThatSymlinkTargetsUse) {
  auto stored = source.store_bytes("console.log(1)\n", 15, false, "js");
  ASSERT_TRUE(stored);
  char target[PATH_MAX];
  size_t n = source.link_target(stored->key, target, sizeof target);
  EXPECT_EQ(std::string(target, n), blob_path(stored->key));  // no short name yet

  ASSERT_TRUE(source.add_short_name(stored->key));
  ASSERT_TRUE(source.add_short_name(stored->key, true));  // again: already there
  n = source.link_target(stored->key, target, sizeof target);
  std::string short_name(target, n);
  EXPECT_LE(short_name.size(), k_fast_symlink_max);
  EXPECT_TRUE(short_name.starts_with(source.root() + "/s/")) << short_name;
  EXPECT_TRUE(short_name.ends_with(".js")) << short_name;
  struct stat a;
  struct stat b;
  ASSERT_EQ(::stat(short_name.c_str(), &a), 0);
  ASSERT_EQ(::stat(blob_path(stored->key).c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_TRUE(source.is_link_to(stored->key, short_name));
  EXPECT_TRUE(source.is_link_to(stored->key, blob_path(stored->key)));

  // A symlink to it is a fast one: no data block.
  std::string link = dir / "link.js";
  ASSERT_EQ(::symlink(short_name.c_str(), link.c_str()), 0);
  EXPECT_EQ(read_file(link), "console.log(1)\n");
  struct stat l;
  ASSERT_EQ(::lstat(link.c_str(), &l), 0);
  EXPECT_EQ(l.st_blocks, 0) << "a symlink of " << short_name.size() << " bytes took a data block";
}

TEST_F(SourceTest, ShortNameHeldByAnotherInodeIsNeitherUsedNorTaken) {
  auto [key, short_name] = store_short_named("content", "txt");
  ASSERT_FALSE(short_name.empty());
  char target[PATH_MAX];
  // The name now holds another inode (another blob's name, however unlikely).
  ASSERT_EQ(::unlink(short_name.c_str()), 0);
  write_file(short_name, "another", 0444);
  EXPECT_EQ(std::string(target, source.link_target(key, target, sizeof target)), blob_path(key));
  auto added = source.add_short_name(key);
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().sys, EEXIST);
  EXPECT_EQ(read_file(short_name), "another");
  EXPECT_EQ(std::string(target, source.link_target(key, target, sizeof target)), blob_path(key));
  struct stat blob_st;
  ASSERT_EQ(::stat(blob_path(key).c_str(), &blob_st), 0);
  source.remove_short_name(key, blob_st);  // not the blob's inode: left alone
  EXPECT_EQ(read_file(short_name), "another");
  ASSERT_EQ(::unlink(short_name.c_str()), 0);
  ASSERT_TRUE(source.add_short_name(key));
  source.remove_short_name(key, blob_st);
  EXPECT_NE(::access(short_name.c_str(), F_OK), 0);
  EXPECT_EQ(read_file(blob_path(key)), "content");
}

TEST_F(SourceTest, BlobNamedAgainFromItsSurvivingShortName) {
  auto [key, short_name] = store_short_named("survivor", "js");
  ASSERT_FALSE(short_name.empty());
  struct stat before;
  ASSERT_EQ(::stat(short_name.c_str(), &before), 0);
  ASSERT_EQ(::unlink(blob_path(key).c_str()), 0);  // the blob's own name is lost
  EXPECT_FALSE(*source.contains(key));

  UniqueFd fd(::open(short_name.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_TRUE(source.name_from_short_name(key, fd.get()));
  EXPECT_TRUE(*source.contains(key));
  struct stat after;
  ASSERT_EQ(::stat(blob_path(key).c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);  // the same inode, not a copy
  EXPECT_EQ(read_file(blob_path(key)), "survivor");
  auto again = source.name_from_short_name(key, fd.get());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().sys, EEXIST);
}

TEST_F(SourceTest, ExecutableBlobHasItsOwnShortName) {
  auto plain = source.store_bytes("#!/bin/sh\n", 10, false, "sh");
  auto exec = source.store_bytes("#!/bin/sh\n", 10, true, "sh");
  ASSERT_TRUE(plain && exec);
  ASSERT_TRUE(source.add_short_name(plain->key));
  ASSERT_TRUE(source.add_short_name(exec->key));
  char a[PATH_MAX];
  char b[PATH_MAX];
  std::string plain_name(a, source.link_target(plain->key, a, sizeof a));
  std::string exec_name(b, source.link_target(exec->key, b, sizeof b));
  EXPECT_TRUE(plain_name.starts_with(source.root() + "/s/")) << plain_name;
  EXPECT_TRUE(exec_name.starts_with(source.root() + "/x/")) << exec_name;
  struct stat st;
  ASSERT_EQ(::stat(exec_name.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  ASSERT_EQ(::stat(plain_name.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
}

TEST_F(SourceTest, ExecutableContentIsItsOwnBlob) {
  auto plain = source.store_bytes("#!/bin/sh\n", 10, false, "");
  auto exec = source.store_bytes("#!/bin/sh\n", 10, true, "");
  ASSERT_TRUE(plain && exec);
  EXPECT_FALSE(plain->key == exec->key);
  struct stat st;
  ASSERT_EQ(::stat(blob_path(exec->key).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_EQ(count_blobs(), 2u);
}

TEST_F(SourceTest, StoreFileByLinkSharesTheInode) {
  std::string file = dir / "index.js";
  write_file(file, "module.exports = 1;\n");
  StoreRequest req;
  req.path = file.c_str();
  auto stored = source.store_file(req);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->method, StoreMethod::linked);
  struct stat a;
  struct stat b;
  ASSERT_EQ(::stat(file.c_str(), &a), 0);
  ASSERT_EQ(::stat(blob_path(stored->key).c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(b.st_mode & 07777, 0444u);
  EXPECT_TRUE(blob_path(stored->key).ends_with(".js"));
}

TEST_F(SourceTest, StoreFileWithoutLinkCopiesAndLeavesTheFileAlone) {
  std::string file = dir / "tool";
  write_file(file, "binary", 0755);
  StoreRequest req;
  req.path = file.c_str();
  req.executable = true;
  req.allow_link = false;
  auto stored = source.store_file(req);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->method, StoreMethod::copied);
  struct stat a;
  struct stat b;
  ASSERT_EQ(::stat(file.c_str(), &a), 0);
  ASSERT_EQ(::stat(blob_path(stored->key).c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_mode & 07777, 0755u);
  EXPECT_EQ(b.st_mode & 07777, 0555u);
  EXPECT_EQ(read_file(blob_path(stored->key)), "binary");
  EXPECT_EQ(count_temps(), 0u);
}

TEST_F(SourceTest, SameContentTwiceByLinkKeepsOneBlob) {
  write_file(dir / "a.js", "same");
  write_file(dir / "b.js", "same");
  std::string a = dir / "a.js";
  std::string b = dir / "b.js";
  StoreRequest req;
  req.path = a.c_str();
  ASSERT_EQ(source.store_file(req)->method, StoreMethod::linked);
  req.path = b.c_str();
  ASSERT_EQ(source.store_file(req)->method, StoreMethod::present);
  EXPECT_EQ(count_blobs(), 1u);
}

TEST_F(SourceTest, RejectsNonRegularFiles) {
  StoreRequest req;
  std::string d = dir.str();
  req.path = d.c_str();
  auto r = source.store_file(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid);
  std::string fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  req.path = fifo.c_str();
  r = source.store_file(req);  // must not block on the FIFO
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid);
}

TEST_F(SourceTest, CrossFilesystemStoreCopies) {
  if (!std::filesystem::exists("/dev/shm")) {
    GTEST_SKIP() << "no /dev/shm";
  }
  test::TempDir shm_parent;
  char pattern[] = "/dev/shm/vrift-test-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  std::string shm_root = pattern;
  auto other = TheSource::open(shm_root + "/source", true);
  ASSERT_TRUE(other);
  std::string file = dir / "lib.so";
  write_file(file, std::string(100000, 'x'));
  StoreRequest req;
  req.path = file.c_str();
  auto stored = other->store_file(req);
  ASSERT_TRUE(stored);
  EXPECT_TRUE(stored->method == StoreMethod::copied || stored->method == StoreMethod::cloned);
  char buf[PATH_MAX];
  other->path_of(stored->key, buf, sizeof buf);
  EXPECT_EQ(read_file(buf), std::string(100000, 'x'));
  std::filesystem::permissions(shm_root, std::filesystem::perms::owner_all, std::filesystem::perm_options::add);
  std::error_code ec;
  for (auto& e : std::filesystem::recursive_directory_iterator(shm_root, ec)) {
    std::filesystem::permissions(e.path(), std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
  }
  std::filesystem::remove_all(shm_root, ec);
}

TEST_F(SourceTest, BatchDiscardedWithoutCommitLeavesNoTemps) {
  {
    StoreBatch batch(source);
    ASSERT_TRUE(batch.add_bytes("one", 3, false, ""));
    ASSERT_TRUE(batch.add_bytes("two", 3, false, ""));
    EXPECT_EQ(count_temps(), 2u);
  }
  EXPECT_EQ(count_temps(), 0u);
  EXPECT_EQ(count_blobs(), 0u);
}

TEST_F(SourceTest, BatchCommitPublishesEverything) {
  StoreBatch batch(source);
  std::vector<BlobKey> keys;
  for (int i = 0; i < 50; ++i) {
    std::string content = "content " + std::to_string(i % 20);
    auto r = batch.add_bytes(content.data(), content.size(), false, "txt");
    ASSERT_TRUE(r);
    keys.push_back(r->key);
  }
  ASSERT_TRUE(batch.commit());
  EXPECT_EQ(count_blobs(), 20u);
  EXPECT_EQ(count_temps(), 0u);
  for (const auto& key : keys) {
    EXPECT_TRUE(*source.contains(key));
  }
}

TEST_F(SourceTest, ConcurrentThreadsStoringTheSameContentAllSucceed) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        std::string content = "shared " + std::to_string(i);
        if (!source.store_bytes(content.data(), content.size(), false, "")) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count_blobs(), 200u);
  EXPECT_EQ(count_temps(), 0u);
}

TEST_F(SourceTest, ContainsReportsWrongSizeAsCorrupt) {
  auto stored = source.store_bytes("12345", 5, false, "");
  ASSERT_TRUE(stored);
  std::string path = blob_path(stored->key);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_EQ(::truncate(path.c_str(), 2), 0);
  auto c = source.contains(stored->key);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::corrupt);
}

TEST_F(SourceTest, VerifyFindsEachKindOfDamage) {
  auto good = source.store_bytes("good", 4, false, "");
  auto flipped = source.store_bytes("flipped", 7, false, "");
  auto shortened = source.store_bytes("shortened", 9, false, "");
  auto writable = source.store_bytes("writable", 8, false, "");
  ASSERT_TRUE(good && flipped && shortened && writable);

  std::string p = blob_path(flipped->key);
  ::chmod(p.c_str(), 0644);
  write_file(p, "flipPed");
  ::chmod(p.c_str(), 0444);
  p = blob_path(shortened->key);
  ::chmod(p.c_str(), 0644);
  ::truncate(p.c_str(), 3);
  ::chmod(p.c_str(), 0444);
  ::chmod(blob_path(writable->key).c_str(), 0644);
  write_file(dir / "source/blake3/stray", "x");
  // A good blob's name in another shard, and a directory where only blobs belong (the
  // shape of a second shard level).
  char good_name[k_max_blob_rel_path + 1];
  blob_file_name(good->key, good_name);
  std::string other_shard = good_name[0] == '0' ? "ff" : "00";
  std::string misplaced = dir / ("source/blake3/" + other_shard + "/" + good_name);
  std::filesystem::create_directories(dir / ("source/blake3/" + other_shard + "/cd"));
  write_file(misplaced, "good");
  ::chmod(misplaced.c_str(), 0444);
  write_file(dir / "source/tmp/old", "x");
  std::string old_tmp = dir / "source/tmp/old";
  struct timespec times[2] = {{::time(nullptr) - 7200, 0}, {::time(nullptr) - 7200, 0}};
  ::utimensat(AT_FDCWD, old_tmp.c_str(), times, 0);
  write_file(dir / "source/tmp/fresh", "x");

  std::map<std::string, BlobProblem> found;
  auto shallow = verify(source, false, [&](const char* rel, BlobProblem pr) { found[rel] = pr; });
  ASSERT_TRUE(shallow);
  auto rel = [&](const BlobKey& k) {
    char b[k_max_blob_rel_path + 1];
    blob_rel_path(k, b);
    return std::string(b);
  };
  EXPECT_EQ(found.count(rel(flipped->key)), 0u);  // only a rehash finds it
  EXPECT_EQ(found.at(rel(shortened->key)), BlobProblem::wrong_size);
  EXPECT_EQ(found.at(rel(writable->key)), BlobProblem::wrong_mode);
  EXPECT_EQ(found.at("blake3/stray"), BlobProblem::not_a_blob);
  EXPECT_EQ(found.at("blake3/" + other_shard + "/" + good_name), BlobProblem::misplaced);
  EXPECT_EQ(found.at("blake3/" + other_shard + "/cd"), BlobProblem::not_a_blob);
  EXPECT_EQ(found.at("tmp/old"), BlobProblem::stray_temp);
  EXPECT_EQ(found.count("tmp/fresh"), 0u);

  found.clear();
  auto deep = verify(source, true, [&](const char* r, BlobProblem pr) { found[r] = pr; });
  ASSERT_TRUE(deep);
  EXPECT_EQ(found.at(rel(flipped->key)), BlobProblem::wrong_content);
  EXPECT_EQ(found.count(rel(good->key)), 0u);
  EXPECT_EQ(deep->problems, 7u);
  EXPECT_EQ(deep->blobs, 5u);
}

}  // namespace
}  // namespace vrift::cas
