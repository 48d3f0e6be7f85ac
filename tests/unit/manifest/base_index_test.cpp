// The base index answers exactly what LMDB answers, and only for the base it was built
// from: any base change since sends lookups back to LMDB until the next update.

#include "manifest/base_index.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "manifest/lmdb_manifest.hpp"
#include "manifest_test_util.hpp"
#include "temp_dir.hpp"

namespace vrift::manifest {
namespace {

using test::create_options;
using test::describe;
using test::dir_entry;
using test::file_entry;
using test::symlink_entry;

LmdbManifest open_at(const std::string& dir, bool use_index) {
  OpenOptions o = create_options();
  o.use_base_index = use_index;
  auto m = LmdbManifest::open(dir.c_str(), o);
  if (!m) {
    ADD_FAILURE() << describe(m.error());
    std::abort();
  }
  return std::move(*m);
}

// A record's bytes, so that two lookups compare field by field.
std::optional<std::string> lookup(LmdbManifest& m, ReadTxn& t, std::string_view path,
                                  std::optional<Layer> layer = std::nullopt) {
  Entry e;
  auto hit = layer ? m.get(t, *layer, path, e) : m.get(t, path, e);
  EXPECT_TRUE(hit) << path << ": " << (hit ? "" : describe(hit.error()));
  if (!hit || !*hit) {
    return std::nullopt;
  }
  char buf[k_max_record];
  auto n = encode_record(e, std::string_view(), buf, sizeof(buf));
  EXPECT_TRUE(n);
  return std::string(buf, n ? *n : 0);
}

struct Fixture {
  vrift::test::TempDir dir;
  std::string env = dir / "manifest.lmdb";
  std::string index_file = env + "/" + std::string(k_base_index_name);
  std::vector<std::string> paths;
  std::vector<std::string> misses = {"lib/absent.js", "lib", "lib/f1/x", "", "lib/f1.j", "LIB/f1.js"};

  Fixture() {
    std::string long_parent = "deep/" + std::string(250, 'p');  // a hashed-parent key
    paths = {"lib", "lib/link", long_parent, long_parent + "/file.js", "bin/tool"};
    for (int i = 0; i < 3000; ++i) {
      paths.push_back("lib/f" + std::to_string(i) + ".js");
    }
    LmdbManifest m = open_at(env, false);
    EXPECT_TRUE(m.write([&](WriteTxn& w) -> Status {
      VRIFT_CHECK(w.put(Layer::base, "lib", dir_entry()));
      VRIFT_CHECK(w.put(Layer::base, "lib/link", symlink_entry("f1.js")));
      VRIFT_CHECK(w.put(Layer::base, long_parent, dir_entry()));
      VRIFT_CHECK(w.put(Layer::base, long_parent + "/file.js", file_entry(7)));
      VRIFT_CHECK(w.put(Layer::base, "bin/tool", file_entry(8)));
      for (int i = 0; i < 3000; ++i) {
        VRIFT_CHECK(w.put(Layer::base, "lib/f" + std::to_string(i) + ".js", file_entry(i)));
      }
      // Delta over the base: an override, a whiteout, a new path.
      VRIFT_CHECK(w.put(Layer::delta, "lib/f1.js", file_entry(99999)));
      VRIFT_CHECK(w.whiteout("lib/f2.js"));
      return w.put(Layer::delta, "lib/new.js", file_entry(5));
    }));
    paths.push_back("lib/new.js");
  }

  // Every path and miss answers the same through the index as through LMDB alone,
  // layered and in the base layer.
  void build_index() {
    LmdbManifest m = open_at(env, true);
    ASSERT_OK(m.update_base_index(0));
  }

  void expect_same_answers(bool index_expected) {
    LmdbManifest indexed = open_at(env, true);
    LmdbManifest plain = open_at(env, false);
    auto ti = indexed.read();
    auto tp = plain.read();
    ASSERT_TRUE(ti && tp);
    EXPECT_EQ(indexed.base_index_in_use(*ti), index_expected);
    EXPECT_FALSE(plain.base_index_in_use(*tp));
    std::vector<std::string> all = paths;
    all.insert(all.end(), misses.begin(), misses.end());
    for (const std::string& p : all) {
      EXPECT_EQ(lookup(indexed, *ti, p), lookup(plain, *tp, p)) << p;
      EXPECT_EQ(lookup(indexed, *ti, p, Layer::base), lookup(plain, *tp, p, Layer::base)) << p;
    }
  }
};

TEST(BaseIndex, AnswersWhatLmdbAnswers) {
  Fixture f;
  f.expect_same_answers(false);
  f.build_index();
  f.expect_same_answers(true);
  LmdbManifest m = open_at(f.env, true);
  auto t = m.read();
  ASSERT_TRUE(t);
  EXPECT_FALSE(lookup(m, *t, "lib/f2.js"));  // the delta's whiteout still hides it
  EXPECT_TRUE(lookup(m, *t, "lib/f2.js", Layer::base));
  Entry e;
  ASSERT_TRUE(m.get(*t, "lib/f1.js", e));
  EXPECT_EQ(e.hash, file_entry(99999).hash);  // the delta's override wins
}

TEST(BaseIndex, AnyBaseChangeRetiresItUntilTheNextUpdate) {
  Fixture f;
  LmdbManifest m = open_at(f.env, true);
  ASSERT_OK(m.update_base_index(0));
  ReadTxn t;
  ASSERT_OK(m.begin_read(t));
  ASSERT_TRUE(m.base_index_in_use(t));
  t.reset();

  // A delta write leaves the base, and its index, as they were.
  ASSERT_OK(m.write([](WriteTxn& w) -> Status { return w.whiteout("lib/f3.js"); }));
  ASSERT_OK(m.begin_read(t));
  EXPECT_TRUE(m.base_index_in_use(t));
  EXPECT_FALSE(lookup(m, t, "lib/f3.js"));
  t.reset();

  // A base write: lookups see it at once, through LMDB.
  ASSERT_OK(m.write([](WriteTxn& w) -> Status {
    VRIFT_CHECK(w.put(Layer::base, "lib/added.js", file_entry(4242)));
    VRIFT_TRY(w.remove(Layer::base, "lib/f4.js"));
    return w.put(Layer::base, "lib/f5.js", file_entry(5555));
  }));
  ASSERT_OK(m.begin_read(t));
  EXPECT_FALSE(m.base_index_in_use(t));
  Entry e;
  EXPECT_TRUE(lookup(m, t, "lib/added.js"));
  EXPECT_FALSE(lookup(m, t, "lib/f4.js"));
  ASSERT_TRUE(m.get(t, "lib/f5.js", e));
  EXPECT_EQ(e.hash, file_entry(5555).hash);
  t.reset();

  // The next update indexes the new base, and a renewed snapshot finds it.
  ASSERT_OK(m.update_base_index(0));
  ASSERT_OK(m.begin_read(t));
  EXPECT_TRUE(m.base_index_in_use(t));
  EXPECT_TRUE(lookup(m, t, "lib/added.js"));
  EXPECT_FALSE(lookup(m, t, "lib/f4.js"));
  ASSERT_TRUE(m.get(t, "lib/f5.js", e));
  EXPECT_EQ(e.hash, file_entry(5555).hash);
  t.reset();

  // Clearing the base retires it too.
  ASSERT_OK(m.write([](WriteTxn& w) -> Status { return w.clear(Layer::base); }));
  ASSERT_OK(m.begin_read(t));
  EXPECT_FALSE(m.base_index_in_use(t));
  EXPECT_FALSE(lookup(m, t, "lib/f6.js"));
}

TEST(BaseIndex, SmallBasesHaveNone) {
  Fixture f;
  LmdbManifest m = open_at(f.env, true);
  ASSERT_OK(m.update_base_index(0));
  const std::string& file = f.index_file;
  ASSERT_EQ(::access(file.c_str(), F_OK), 0);
  ASSERT_OK(m.update_base_index(1000000));
  EXPECT_NE(::access(file.c_str(), F_OK), 0);
  auto t = m.read();
  ASSERT_TRUE(t);
  EXPECT_FALSE(m.base_index_in_use(*t));
  f.expect_same_answers(false);
}

TEST(BaseIndex, AnUpToDateIndexIsLeftAlone) {
  Fixture f;
  LmdbManifest m = open_at(f.env, true);
  ASSERT_OK(m.update_base_index(0));
  const std::string& file = f.index_file;
  struct stat before;
  ASSERT_EQ(::stat(file.c_str(), &before), 0);
  ASSERT_OK(m.update_base_index(0));
  struct stat after;
  ASSERT_EQ(::stat(file.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
}

// A damaged or foreign file in the index's place is never read as an index: lookups
// go to LMDB and give the same answers.
TEST(BaseIndex, ADamagedFileIsNotUsed) {
  Fixture f;
  f.build_index();
  const std::string& file = f.index_file;
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  ASSERT_EQ(::truncate(file.c_str(), st.st_size - 1), 0);
  f.expect_same_answers(false);

  int fd = ::open(file.c_str(), O_WRONLY | O_TRUNC);
  ASSERT_GE(fd, 0);
  const char garbage[] = "not an index at all, just some bytes of another file";
  ASSERT_EQ(::write(fd, garbage, sizeof(garbage)), static_cast<ssize_t>(sizeof(garbage)));
  ::close(fd);
  f.expect_same_answers(false);
  EXPECT_EQ(BaseIndexMap::stamp_on_disk(f.env.c_str()), 0u);

  // The next update replaces it.
  f.build_index();
  f.expect_same_answers(true);
}

// An index an older vrift built holds layout-1 records: still used, and still found to
// agree with the base.
TEST(BaseIndex, AnIndexOfLayoutOneRecordsStillServes) {
  Fixture f;
  uint64_t stamp = 0;
  BaseIndexBuilder b;
  {
    LmdbManifest m = open_at(f.env, true);
    ASSERT_OK(m.update_base_index(0));
    stamp = BaseIndexMap::stamp_on_disk(f.env.c_str());
    auto t = m.read();
    ASSERT_TRUE(t);
    ASSERT_OK(m.for_each(*t, Layer::base, [&](std::string_view path, const Entry& e) {
      b.add(path, test::encode_v1(e));
      return true;
    }));
  }
  ASSERT_NE(stamp, 0u);
  ASSERT_OK(b.write(f.env.c_str(), stamp));
  f.expect_same_answers(true);
  LmdbManifest m = open_at(f.env, true);
  auto disagree = m.verify_base_index();
  ASSERT_TRUE(disagree);
  EXPECT_EQ(*disagree, 0u);
}

// An index built for another stamp (an older base) is not mapped.
TEST(BaseIndex, AnIndexOfAnotherBaseIsNotMapped) {
  vrift::test::TempDir dir;
  BaseIndexBuilder b;
  b.add("a", "record-a");
  b.add("b/c", "record-c");
  ASSERT_OK(b.write(dir.path().c_str(), 17));
  EXPECT_EQ(BaseIndexMap::stamp_on_disk(dir.path().c_str()), 17u);
  BaseIndexMap map;
  auto other = BaseIndexMap::open(dir.path().c_str(), 18, map);
  ASSERT_TRUE(other);
  EXPECT_FALSE(*other);
  EXPECT_FALSE(map.mapped());
  auto same = BaseIndexMap::open(dir.path().c_str(), 17, map);
  ASSERT_TRUE(same && *same);
  std::string_view record;
  auto hit = map.find("b/c", record);
  ASSERT_TRUE(hit && *hit);
  EXPECT_EQ(record, "record-c");
  hit = map.find("b", record);
  ASSERT_TRUE(hit);
  EXPECT_FALSE(*hit);
  map.unmap();
}

}  // namespace
}  // namespace vrift::manifest
