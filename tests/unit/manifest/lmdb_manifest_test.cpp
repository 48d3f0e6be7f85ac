#include "manifest/lmdb_manifest.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "manifest_test_util.hpp"
#include "temp_dir.hpp"

namespace vrift::manifest {
namespace {

using namespace std::string_literals;
using test::create_options;
using test::describe;
using test::dir_entry;
using test::file_entry;
using test::symlink_entry;

LmdbManifest open_new(const std::string& dir, OpenOptions options = create_options()) {
  auto m = LmdbManifest::open(dir.c_str(), options);
  if (!m) {
    ADD_FAILURE() << describe(m.error());
    std::abort();
  }
  return std::move(*m);
}

// Layered children of `dir` as name -> size.
std::vector<std::pair<std::string, uint64_t>> children(LmdbManifest& m, std::string_view dir) {
  std::vector<std::pair<std::string, uint64_t>> out;
  auto t = m.read();
  EXPECT_TRUE(t);
  EXPECT_OK(m.list_children(*t, dir, [&](std::string_view name, const Entry& e) {
    out.emplace_back(std::string(name), e.size);
    return true;
  }));
  return out;
}

std::vector<std::pair<std::string, uint64_t>> children(LmdbManifest& m, Layer layer,
                                                       std::string_view dir) {
  std::vector<std::pair<std::string, uint64_t>> out;
  auto t = m.read();
  EXPECT_TRUE(t);
  EXPECT_OK(m.list_children(*t, layer, dir, [&](std::string_view name, const Entry& e) {
    out.emplace_back(std::string(name), e.is_whiteout() ? UINT64_MAX : e.size);
    return true;
  }));
  return out;
}

std::optional<uint64_t> size_at(LmdbManifest& m, std::string_view path) {
  auto t = m.read();
  EXPECT_TRUE(t);
  Entry e;
  auto hit = m.get(*t, path, e);
  EXPECT_TRUE(hit) << describe(hit.error());
  if (!hit || !*hit) {
    return std::nullopt;
  }
  return e.size;
}

TEST(LmdbManifest, MissingWithoutCreateIsEnoent) {
  vrift::test::TempDir dir;
  auto m = LmdbManifest::open((dir / "manifest.lmdb").c_str(), OpenOptions{});
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errc::system);
  EXPECT_EQ(m.error().sys, ENOENT);
  // An existing but empty directory is not a manifest either, and stays empty.
  ASSERT_EQ(::mkdir((dir / "empty.lmdb").c_str(), 0755), 0);
  m = LmdbManifest::open((dir / "empty.lmdb").c_str(), OpenOptions{});
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().sys, ENOENT);
  EXPECT_NE(::access((dir / "empty.lmdb/data.mdb").c_str(), F_OK), 0);
}

TEST(LmdbManifest, CreatePutGetReopen) {
  vrift::test::TempDir dir;
  std::string path = dir / "manifest.lmdb";
  {
    LmdbManifest m = open_new(path);
    EXPECT_FALSE(m.base_is_shared());
    EXPECT_FALSE(m.forked());
    ASSERT_OK(m.write([](WriteTxn& w) -> Status {
      VRIFT_CHECK(w.put(Layer::base, "", dir_entry()));
      VRIFT_CHECK(w.put(Layer::base, "node_modules", dir_entry()));
      VRIFT_CHECK(w.put(Layer::base, "node_modules/a.js", file_entry(1, 100)));
      return w.put(Layer::base, "node_modules/.bin/tsc", symlink_entry("../typescript/bin/tsc"));
    }));
  }
  LmdbManifest m = open_new(path, OpenOptions{});
  auto t = m.read();
  ASSERT_TRUE(t);
  Entry e;
  ASSERT_EQ(m.get(*t, "node_modules/a.js", e), true);
  Entry want = file_entry(1, 100);
  EXPECT_EQ(e.kind, EntryKind::file);
  EXPECT_EQ(e.size, 100u);
  EXPECT_EQ(e.hash, want.hash);
  EXPECT_EQ(e.mtime_ns, want.mtime_ns);
  EXPECT_EQ(e.ext, "js");
  ASSERT_EQ(m.get(*t, "node_modules/.bin/tsc", e), true);
  EXPECT_EQ(e.kind, EntryKind::symlink);
  EXPECT_EQ(e.target, "../typescript/bin/tsc");
  ASSERT_EQ(m.get(*t, "", e), true);
  EXPECT_EQ(e.kind, EntryKind::dir);
  EXPECT_EQ(m.get(*t, "node_modules/b.js", e), false);
  // Malformed lookups miss instead of failing.
  for (std::string bad :
       {"/node_modules/a.js"s, "node_modules/a.js/"s, "node_modules//a.js"s,
        "node_modules/a.js\0x"s, std::string(5000, 'x'), "a/" + std::string(300, 'n')}) {
    EXPECT_EQ(m.get(*t, bad, e), false) << bad.substr(0, 40);
  }
}

TEST(LmdbManifest, LookupNeedsABegunTransaction) {
  vrift::test::TempDir dir;
  LmdbManifest m = open_new(dir / "m");
  ReadTxn t;
  Entry e;
  auto r = m.get(t, "x", e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid);
  ASSERT_OK(m.begin_read(t));
  EXPECT_EQ(m.get(t, "x", e), false);
  t.reset();
  EXPECT_FALSE(m.get(t, "x", e));
  // A ReadTxn of another manifest is refused.
  LmdbManifest other = open_new(dir / "other");
  ASSERT_OK(other.begin_read(t));
  EXPECT_FALSE(m.get(t, "x", e));
  // ...until rebound.
  ASSERT_OK(m.begin_read(t));
  EXPECT_EQ(m.get(t, "x", e), false);
}

TEST(LmdbManifest, PutValidates) {
  vrift::test::TempDir dir;
  LmdbManifest m = open_new(dir / "m");
  auto code_of_put = [&](Layer layer, std::string path, Entry e) {
    Status st = m.write([&](WriteTxn& w) { return w.put(layer, path, e); });
    return st ? std::optional<Errc>() : std::optional<Errc>(st.error().code);
  };
  EXPECT_EQ(code_of_put(Layer::base, "/abs", file_entry(1)), Errc::invalid);
  EXPECT_EQ(code_of_put(Layer::base, "a/../b", file_entry(1)), Errc::invalid);
  EXPECT_EQ(code_of_put(Layer::base, "a", make_whiteout()), Errc::invalid);
  Entry bad = file_entry(1);
  bad.ext = "toolongextension";
  EXPECT_EQ(code_of_put(Layer::delta, "a", bad), Errc::invalid);
  EXPECT_EQ(code_of_put(Layer::delta, "a", make_whiteout()), std::nullopt);
  // A failed write leaves nothing behind.
  auto t = m.read();
  ASSERT_TRUE(t);
  auto stats = m.stats(*t, Layer::base);
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->entries, 0u);
}

TEST(LmdbManifest, FailedCallbackRollsBack) {
  vrift::test::TempDir dir;
  LmdbManifest m = open_new(dir / "m");
  Status st = m.write([](WriteTxn& w) -> Status {
    VRIFT_CHECK(w.put(Layer::base, "kept?", file_entry(1)));
    return fail(Errc::changed, "caller gave up");
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::changed);
  EXPECT_EQ(size_at(m, "kept?"), std::nullopt);
}

TEST(LmdbManifest, DeltaOverridesAndWhiteoutHides) {
  vrift::test::TempDir dir;
  LmdbManifest m = open_new(dir / "m");
  ASSERT_OK(m.write([](WriteTxn& w) -> Status {
    for (uint64_t i = 1; i <= 3; ++i) {
      VRIFT_CHECK(w.put(Layer::base, "d/f" + std::to_string(i), file_entry(i, i)));
    }
    return {};
  }));
  ASSERT_OK(m.write([](WriteTxn& w) -> Status {
    VRIFT_CHECK(w.put(Layer::delta, "d/f2", file_entry(20, 20)));
    VRIFT_CHECK(w.whiteout("d/f3"));
    return w.put(Layer::delta, "d/f4", file_entry(4, 4));
  }));
  EXPECT_EQ(size_at(m, "d/f1"), 1u);
  EXPECT_EQ(size_at(m, "d/f2"), 20u);
  EXPECT_EQ(size_at(m, "d/f3"), std::nullopt);
  EXPECT_EQ(size_at(m, "d/f4"), 4u);

  auto t = m.read();
  ASSERT_TRUE(t);
  Entry e;
  ASSERT_EQ(m.get(*t, Layer::delta, "d/f3", e), true);
  EXPECT_TRUE(e.is_whiteout());
  ASSERT_EQ(m.get(*t, Layer::base, "d/f3", e), true);
  EXPECT_EQ(e.size, 3u);
  ASSERT_EQ(m.get(*t, Layer::base, "d/f2", e), true);
  EXPECT_EQ(e.size, 2u);
  EXPECT_EQ(m.get(*t, Layer::base, "d/f4", e), false);
}

TEST(LmdbManifest, ChildrenMergeAcrossLayersSortedByName) {
  vrift::test::TempDir dir;
  LmdbManifest m = open_new(dir / "m");
  std::string weird1 = "x\ny";
  std::string weird2 = "\xff\xfe";
  ASSERT_OK(m.write([&](WriteTxn& w) -> Status {
    VRIFT_CHECK(w.put(Layer::base, "dir", dir_entry()));
    for (uint64_t i = 1; i <= 5; ++i) {
      VRIFT_CHECK(w.put(Layer::base, "dir/x" + std::to_string(i), file_entry(i, i)));
    }
    VRIFT_CHECK(w.put(Layer::base, "dir/sub", dir_entry()));
    VRIFT_CHECK(w.put(Layer::base, "dir/sub/deep", file_entry(99, 99)));
    VRIFT_CHECK(w.put(Layer::base, "dir.other/x", file_entry(98, 98)));
    VRIFT_CHECK(w.put(Layer::base, "dir/" + weird2, file_entry(7, 7)));
    VRIFT_CHECK(w.put(Layer::base, "top", file_entry(8, 8)));
    // delta: override x2, delete x3, add x0, x9, x2a and a newline name.
    VRIFT_CHECK(w.put(Layer::delta, "dir/x2", file_entry(20, 20)));
    VRIFT_CHECK(w.whiteout("dir/x3"));
    VRIFT_CHECK(w.put(Layer::delta, "dir/x0", file_entry(10, 10)));
    VRIFT_CHECK(w.put(Layer::delta, "dir/x9", file_entry(90, 90)));
    VRIFT_CHECK(w.put(Layer::delta, "dir/x2a", file_entry(21, 21)));
    VRIFT_CHECK(w.put(Layer::delta, "dir/" + weird1, file_entry(11, 11)));
    return w.whiteout("dir/never-existed");
  }));
  using V = std::vector<std::pair<std::string, uint64_t>>;
  EXPECT_EQ(children(m, "dir"), (V{{"sub", 0},
                                   {weird1, 11},
                                   {"x0", 10},
                                   {"x1", 1},
                                   {"x2", 20},
                                   {"x2a", 21},
                                   {"x4", 4},
                                   {"x5", 5},
                                   {"x9", 90},
                                   {weird2, 7}}));
  EXPECT_EQ(children(m, Layer::delta, "dir"), (V{{"never-existed", UINT64_MAX},
                                                 {weird1, 11},
                                                 {"x0", 10},
                                                 {"x2", 20},
                                                 {"x2a", 21},
                                                 {"x3", UINT64_MAX},
                                                 {"x9", 90}}));
  EXPECT_EQ(children(m, Layer::base, "dir").size(), 7u);
  EXPECT_EQ(children(m, "dir/sub"), (V{{"deep", 99}}));
  V root = children(m, "");
  ASSERT_EQ(root.size(), 2u);  // "dir.other" has no entry of its own, only a child
  EXPECT_EQ(root[0].first, "dir");
  EXPECT_EQ(root[1].first, "top");
  EXPECT_TRUE(children(m, "nope").empty());
  EXPECT_TRUE(children(m, "dir/x1").empty());

  // A visitor can stop early.
  auto t = m.read();
  ASSERT_TRUE(t);
  int seen = 0;
  ASSERT_OK(m.list_children(*t, "dir", [&](std::string_view, const Entry&) { return ++seen < 3; }));
  EXPECT_EQ(seen, 3);
}

TEST(LmdbManifest, ChildrenOfLongDirectories) {
  vrift::test::TempDir dir;
  LmdbManifest m = open_new(dir / "m");
  std::string long_dir;
  while (long_dir.size() < 3500) {
    long_dir += (long_dir.empty() ? "" : "/") + std::string(200, 'd');
  }
  std::string sibling = long_dir + "e";  // shares a long common prefix
  ASSERT_OK(m.write([&](WriteTxn& w) -> Status {
    VRIFT_CHECK(w.put(Layer::base, long_dir + "/a", file_entry(1, 1)));
    VRIFT_CHECK(w.put(Layer::base, long_dir + "/b", file_entry(2, 2)));
    VRIFT_CHECK(w.put(Layer::base, sibling + "/zz", file_entry(3, 3)));
    VRIFT_CHECK(w.put(Layer::delta, long_dir + "/c", file_entry(4, 4)));
    return w.whiteout(long_dir + "/a");
  }));
  using V = std::vector<std::pair<std::string, uint64_t>>;
  EXPECT_EQ(children(m, long_dir), (V{{"b", 2}, {"c", 4}}));
  EXPECT_EQ(children(m, sibling), (V{{"zz", 3}}));
  EXPECT_EQ(size_at(m, long_dir + "/b"), 2u);
  EXPECT_EQ(size_at(m, long_dir + "/a"), std::nullopt);
}

TEST(LmdbManifest, ForEachRebuildsEveryPath) {
  vrift::test::TempDir dir;
  LmdbManifest m = open_new(dir / "m");
  std::string long_parent = std::string(200, 'L') + "/" + std::string(100, 'M');
  std::map<std::string, uint64_t> want = {{"", 0},
                                          {"a", 1},
                                          {"a/b", 2},
                                          {"a/b/c\nd", 3},
                                          {std::string(200, 'L'), 8},
                                          {long_parent, 4},
                                          {long_parent + "/x", 5},
                                          {long_parent + "/x/" + std::string(255, 'y'), 6},
                                          {"z\xff", 7}};
  ASSERT_OK(m.write([&](WriteTxn& w) -> Status {
    for (const auto& [path, size] : want) {
      VRIFT_CHECK(w.put(size % 2 ? Layer::base : Layer::delta, path, file_entry(size, size)));
    }
    VRIFT_CHECK(w.put(Layer::base, "gone", file_entry(50, 50)));
    VRIFT_CHECK(w.put(Layer::base, long_parent + "/gone", file_entry(51, 51)));
    VRIFT_CHECK(w.whiteout("gone"));
    return w.whiteout(long_parent + "/gone");
  }));
  auto t = m.read();
  ASSERT_TRUE(t);
  std::map<std::string, uint64_t> got;
  ASSERT_OK(m.for_each(*t, [&](std::string_view path, const Entry& e) {
    EXPECT_TRUE(got.emplace(std::string(path), e.size).second) << path;
    return true;
  }));
  EXPECT_EQ(got, want);
  std::set<std::string> delta_paths;
  ASSERT_OK(m.for_each(*t, Layer::delta, [&](std::string_view path, const Entry&) {
    delta_paths.emplace(path);
    return true;
  }));
  EXPECT_EQ(delta_paths.size(), 7u);  // 5 even sizes + 2 whiteouts
  EXPECT_TRUE(delta_paths.count(long_parent + "/gone"));

  auto census = m.census(*t);
  ASSERT_TRUE(census);
  EXPECT_EQ(census->entries, want.size());
  EXPECT_EQ(census->files, want.size());
  EXPECT_EQ(census->delta_entries, 7u);
  EXPECT_EQ(census->delta_whiteouts, 2u);
}

TEST(LmdbManifest, EraseIsLayerAware) {
  vrift::test::TempDir dir;
  LmdbManifest m = open_new(dir / "m");
  ASSERT_OK(m.write([](WriteTxn& w) -> Status {
    VRIFT_CHECK(w.put(Layer::base, "in-base", file_entry(1)));
    VRIFT_CHECK(w.put(Layer::base, "both", file_entry(2)));
    VRIFT_CHECK(w.put(Layer::delta, "both", file_entry(3)));
    return w.put(Layer::delta, "in-delta", file_entry(4));
  }));
  ASSERT_OK(m.write([](WriteTxn& w) -> Status {
    EXPECT_EQ(w.erase("in-base"), true);
    EXPECT_EQ(w.erase("both"), true);
    EXPECT_EQ(w.erase("in-delta"), true);
    EXPECT_EQ(w.erase("nowhere"), false);
    EXPECT_EQ(w.erase("in-base"), false);  // already erased in this transaction
    Entry e;
    EXPECT_EQ(w.get("both", e), false);
    return {};
  }));
  auto t = m.read();
  ASSERT_TRUE(t);
  Entry e;
  for (const char* p : {"in-base", "both", "in-delta", "nowhere"}) {
    EXPECT_EQ(m.get(*t, p, e), false) << p;
  }
  ASSERT_EQ(m.get(*t, Layer::delta, "in-base", e), true);
  EXPECT_TRUE(e.is_whiteout());
  ASSERT_EQ(m.get(*t, Layer::delta, "both", e), true);
  EXPECT_TRUE(e.is_whiteout());
  EXPECT_EQ(m.get(*t, Layer::delta, "in-delta", e), false);  // no whiteout needed
  EXPECT_EQ(m.get(*t, Layer::delta, "nowhere", e), false);
}

TEST(LmdbManifest, SnapshotIsolationAndRenewal) {
  vrift::test::TempDir dir;
  LmdbManifest m = open_new(dir / "m");
  ReadTxn t;
  ASSERT_OK(m.begin_read(t));
  Entry e;
  // Another thread commits while `t` is active (this thread must not write while it
  // holds an active ReadTxn: see write()).
  std::thread writer([&] {
    EXPECT_OK(m.write([](WriteTxn& w) { return w.put(Layer::base, "new", file_entry(1)); }));
  });
  writer.join();
  EXPECT_EQ(m.get(t, "new", e), false);  // old snapshot
  ASSERT_OK(m.begin_read(t));            // renewed
  EXPECT_EQ(m.get(t, "new", e), true);
  for (int i = 0; i < 1000; ++i) {
    t.reset();
    ASSERT_OK(m.begin_read(t));
  }
  ReadTxn moved = std::move(t);
  EXPECT_FALSE(t.active());
  EXPECT_TRUE(moved.active());
  EXPECT_EQ(m.get(moved, "new", e), true);
}

TEST(LmdbManifest, ReadTxnMayOutliveManifest) {
  vrift::test::TempDir dir;
  ReadTxn t;
  {
    LmdbManifest m = open_new(dir / "m");
    ASSERT_OK(m.write([](WriteTxn& w) { return w.put(Layer::base, "a", file_entry(1)); }));
    ASSERT_OK(m.begin_read(t));
  }
  t.reset();
  // Reopening while `t` still references the environment shares it.
  LmdbManifest m = open_new(dir / "m", OpenOptions{});
  ASSERT_OK(m.begin_read(t));
  Entry e;
  EXPECT_EQ(m.get(t, "a", e), true);
}

TEST(LmdbManifest, OpenTwiceInOneProcessSharesTheEnvironment) {
  vrift::test::TempDir dir;
  LmdbManifest m1 = open_new(dir / "m");
  auto m2 = LmdbManifest::open((dir / "m").c_str(), OpenOptions{});
  ASSERT_TRUE(m2);
  ASSERT_OK(m1.write([](WriteTxn& w) { return w.put(Layer::base, "a", file_entry(1, 1)); }));
  EXPECT_EQ(size_at(*m2, "a"), 1u);
  m1 = open_new(dir / "other");  // drops the first reference
  ASSERT_OK(m2->write([](WriteTxn& w) { return w.put(Layer::base, "b", file_entry(2, 2)); }));
  EXPECT_EQ(size_at(*m2, "b"), 2u);
}

TEST(LmdbManifest, ReadOnlyRefusesWrites) {
  vrift::test::TempDir dir;
  { open_new(dir / "m"); }
  OpenOptions ro;
  ro.read_only = true;
  auto m = LmdbManifest::open((dir / "m").c_str(), ro);
  ASSERT_TRUE(m) << describe(m.error());
  Status st = m->write([](WriteTxn& w) { return w.put(Layer::delta, "a", file_entry(1)); });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::invalid);
  EXPECT_EQ(size_at(*m, "a"), std::nullopt);
  // The same environment wanted read-write while open read-only here is refused.
  auto rw = LmdbManifest::open((dir / "m").c_str(), OpenOptions{});
  ASSERT_FALSE(rw);
  EXPECT_EQ(rw.error().code, Errc::invalid);
  OpenOptions bad = create_options();
  bad.read_only = true;
  EXPECT_FALSE(LmdbManifest::open((dir / "x").c_str(), bad));
}

TEST(LmdbManifest, MetaRecordsAreTheProjectsOwn) {
  vrift::test::TempDir dir;
  std::string shared = dir / "shared.lmdb";
  {
    LmdbManifest base = open_new(shared);
    ASSERT_OK(base.write([](WriteTxn& w) { return w.put_meta(k_meta_projected_key, "2shared\n"); }));
  }
  OpenOptions o = create_options();
  o.base_env_dir = shared.c_str();
  LmdbManifest m = open_new(dir / "p.lmdb", o);
  auto meta = [&]() -> std::optional<std::string> {
    auto txn = m.read();
    EXPECT_TRUE(txn);
    std::string_view v;
    auto found = m.get_meta(*txn, k_meta_projected_key, v);
    EXPECT_TRUE(found);
    return found && *found ? std::optional<std::string>(v) : std::nullopt;
  };
  EXPECT_EQ(meta(), std::nullopt);  // never the shared base's
  ASSERT_OK(m.write([](WriteTxn& w) { return w.put_meta(k_meta_projected_key, "1node_modules\n2target\n"); }));
  EXPECT_EQ(meta(), "1node_modules\n2target\n");
  ASSERT_OK(m.write([](WriteTxn& w) { return w.put_meta(k_meta_projected_key, "2build\n"); }));
  EXPECT_EQ(meta(), "2build\n");
  // The format record is not the caller's to change; the shared base has no meta to write.
  Status st = m.write([](WriteTxn& w) { return w.put_meta(k_meta_format_key, "x"); });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::invalid);
}

TEST(LmdbManifest, SharedBaseInAnotherEnvironment) {
  vrift::test::TempDir dir;
  std::string shared = dir / "shared.lmdb";
  {
    LmdbManifest base = open_new(shared);
    ASSERT_OK(base.write([](WriteTxn& w) -> Status {
      VRIFT_CHECK(w.put(Layer::base, "lib/a", file_entry(1, 1)));
      VRIFT_CHECK(w.put(Layer::base, "lib/b", file_entry(2, 2)));
      // The shared environment's own delta is not part of other projects' view.
      return w.put(Layer::delta, "lib/private", file_entry(3, 3));
    }));
  }
  OpenOptions o = create_options();
  o.base_env_dir = shared.c_str();
  using V = std::vector<std::pair<std::string, uint64_t>>;
  {
    LmdbManifest p1 = open_new(dir / "p1.lmdb", o);
    LmdbManifest p2 = open_new(dir / "p2.lmdb", o);
    EXPECT_TRUE(p1.base_is_shared());
    ASSERT_OK(p1.write([](WriteTxn& w) -> Status {
      VRIFT_CHECK(w.put(Layer::delta, "lib/b", file_entry(20, 20)));
      EXPECT_EQ(w.erase("lib/a"), true);  // reads the shared base to decide on a whiteout
      Entry e;
      EXPECT_EQ(w.get(Layer::base, "lib/a", e), true);
      Status st = w.put(Layer::base, "lib/c", file_entry(4));
      EXPECT_FALSE(st);
      return {};
    }));
    EXPECT_EQ(children(p1, "lib"), (V{{"b", 20}}));
    EXPECT_EQ(children(p2, "lib"), (V{{"a", 1}, {"b", 2}}));
    // Read-only shared base: write_shared_base refuses.
    EXPECT_FALSE(p1.write_shared_base([](WriteTxn&) -> Status { return {}; }));
  }
  // Read-write shared base: only the base layer is writable there. (Within one process
  // the first opener decides whether an environment is read-only.)
  OpenOptions rw = o;
  rw.base_read_only = false;
  LmdbManifest p1 = open_new(dir / "p1.lmdb", rw);
  LmdbManifest p2 = open_new(dir / "p2.lmdb", rw);
  ASSERT_OK(p2.write_shared_base([](WriteTxn& w) -> Status {
    EXPECT_FALSE(w.put(Layer::delta, "x", file_entry(1)));
    return w.put(Layer::base, "lib/c", file_entry(5, 5));
  }));
  EXPECT_EQ(children(p1, "lib"), (V{{"b", 20}, {"c", 5}}));
  auto info = p1.map_info(Layer::base);
  ASSERT_TRUE(info);
  EXPECT_GT(info->used_bytes, 0u);
  // The project's own environment as its shared base is refused.
  OpenOptions self = create_options();
  std::string p3 = dir / "p3.lmdb";
  self.base_env_dir = p3.c_str();
  auto m = LmdbManifest::open(p3.c_str(), self);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errc::invalid);
}

TEST(LmdbManifest, StatsAndCensus) {
  vrift::test::TempDir dir;
  LmdbManifest m = open_new(dir / "m");
  ASSERT_OK(m.write([](WriteTxn& w) -> Status {
    VRIFT_CHECK(w.put(Layer::base, "d", dir_entry()));
    for (uint64_t i = 0; i < 30; ++i) {
      Entry e = file_entry(i, 10);
      e.flags = i < 5 ? k_flag_phantom : 0;
      VRIFT_CHECK(w.put(Layer::base, "d/f" + std::to_string(i), e));
    }
    VRIFT_CHECK(w.put(Layer::base, "d/link", symlink_entry("f1")));
    VRIFT_CHECK(w.whiteout("d/f0"));
    return w.put(Layer::delta, "d/f1", file_entry(100, 1000));
  }));
  auto t = m.read();
  ASSERT_TRUE(t);
  auto base = m.stats(*t, Layer::base);
  ASSERT_TRUE(base);
  EXPECT_EQ(base->entries, 32u);
  EXPECT_GT(base->page_size, 0u);
  EXPECT_GE(base->depth, 1u);
  auto delta = m.stats(*t, Layer::delta);
  ASSERT_TRUE(delta);
  EXPECT_EQ(delta->entries, 2u);
  auto c = m.census(*t);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->entries, 31u);
  EXPECT_EQ(c->dirs, 1u);
  EXPECT_EQ(c->symlinks, 1u);
  EXPECT_EQ(c->files, 29u);
  EXPECT_EQ(c->file_bytes, 28u * 10 + 1000);
  EXPECT_EQ(c->phantom, 3u);  // f2..f4: f0 is whiteouted, f1 replaced by a non-phantom entry
  EXPECT_EQ(c->tier1 + c->tier2, 31u);
  EXPECT_EQ(c->delta_whiteouts, 1u);
}

// Several threads read (each with its own ReadTxn, renewed per lookup, as the shim
// does) while another thread writes enough to grow the map several times: the growth
// must wait for active readers and never pull the map from under them.
TEST(LmdbManifest, ThreadsReadWhileTheMapGrows) {
  vrift::test::TempDir dir;
  LmdbManifest m = open_new(dir / "m", create_options(1 << 20));
  ASSERT_OK(m.write([](WriteTxn& w) { return w.put(Layer::base, "anchor", file_entry(1, 1)); }));
  std::atomic<bool> done{false};
  std::atomic<uint64_t> lookups{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  // More readers than cores: their transactions overlap without a gap, so a remap
  // lock that let new readers in ahead of a waiting remap would starve the growth.
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      ReadTxn t;
      Entry e;
      while (!done.load()) {
        if (!m.begin_read(t)) {
          ++errors;
          continue;
        }
        auto hit = m.get(t, "anchor", e);
        if (!hit || !*hit || e.size != 1) {
          ++errors;
        }
        uint64_t n = 0;
        if (!m.list_children(t, "batch",
                             [&](std::string_view, const Entry&) { return ++n < 50; })) {
          ++errors;
        }
        t.reset();
        ++lookups;
      }
    });
  }
  uint64_t start = m.map_info(Layer::base)->map_size;
  Status written;
  for (int batch = 0; batch < 12 && written; ++batch) {
    written = m.write([&](WriteTxn& w) -> Status {
      for (int i = 0; i < 2000; ++i) {
        VRIFT_CHECK(w.put(Layer::base, "batch/" + std::to_string(batch) + "-" + std::to_string(i),
                          file_entry(static_cast<uint64_t>(i))));
      }
      return {};
    });
  }
  done = true;
  for (auto& th : readers) {
    th.join();  // before any ASSERT can return
  }
  ASSERT_TRUE(written) << describe(written.error());
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(lookups.load(), 0u);
  EXPECT_GE(m.map_info(Layer::base)->map_size, 4 * start);
  auto t = m.read();
  ASSERT_TRUE(t);
  EXPECT_EQ(m.stats(*t, Layer::base)->entries, 1u + 12 * 2000);
}

// LMDB's descriptors are close-on-exec (0.9.24 leaves its data descriptor inheritable)
// and listed for the shim, which must keep programs from closing them.
TEST(LmdbManifest, DescriptorsAreListedAndCloseOnExec) {
  vrift::test::TempDir dir;
  std::string shared = dir / "shared";
  { open_new(shared); }
  OpenOptions o = create_options();
  o.base_env_dir = shared.c_str();
  LmdbManifest m = open_new(dir / "m", o);
  int fds[16];
  size_t n = m.descriptors(fds, 16);
  EXPECT_GE(n, 4u);  // data and lock file of each environment at least
  ASSERT_LE(n, 16u);
  for (size_t i = 0; i < n; ++i) {
    int flags = ::fcntl(fds[i], F_GETFD);
    ASSERT_GE(flags, 0) << fds[i];
    EXPECT_TRUE(flags & FD_CLOEXEC) << fds[i];
  }
  EXPECT_EQ(m.descriptors(fds, 1), n);  // the count, whatever the room
  // A program this process runs sees none of them.
  std::string listing = test::run_command("ls -l /proc/self/fd/");
  EXPECT_EQ(listing.find(".mdb"), std::string::npos) << listing;
}

// Every descriptor of the environment is found, whether LMDB got neighbouring numbers
// (the usual case, found by looking next to the data descriptor) or scattered ones
// (found by the /proc/self/fd scan); /proc/self/fd is the oracle.
TEST(LmdbManifest, DescriptorsAreFoundWhereverLmdbPutsThem) {
  vrift::test::TempDir dir;
  for (int spacing : {1, 3, 7}) {
    std::string path = dir / ("m" + std::to_string(spacing));
    { open_new(path); }
    // Fill the lowest free numbers, then free one every `spacing`: LMDB's three opens
    // (lock, data, meta writer) land `spacing` apart.
    std::vector<int> filler;
    for (int i = 0; i < 3 * spacing + 3; ++i) {
      filler.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    for (int i = 0; i < 3; ++i) {
      ::close(filler[static_cast<size_t>(i * spacing)]);
      filler[static_cast<size_t>(i * spacing)] = -1;
    }
    std::set<int> listed;
    {
      LmdbManifest m = open_new(path, OpenOptions{});
      int fds[16];
      size_t n = m.descriptors(fds, 16);
      ASSERT_LE(n, 16u);
      listed.insert(fds, fds + n);
      std::set<int> open_on_mdb;
      for (int fd = 0; fd < 1024; ++fd) {
        char link[64];
        char target[4096];
        std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t len = ::readlink(link, target, sizeof target - 1);
        if (len > 0 && std::string(target, static_cast<size_t>(len)).starts_with(path + "/")) {
          open_on_mdb.insert(fd);
        }
      }
      EXPECT_EQ(listed, open_on_mdb) << "spacing " << spacing;
      EXPECT_EQ(listed.size(), 3u) << "lock, data, meta writer; spacing " << spacing;
    }
    for (int fd : filler) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
}

// mdb_stat and mdb_dump (lmdb-utils) as independent oracles for what was committed.
TEST(LmdbManifest, MdbToolsAgree) {
  if (!test::have_tool("mdb_stat") || !test::have_tool("mdb_dump")) {
    GTEST_SKIP() << "mdb_stat/mdb_dump not installed (lmdb-utils)";
  }
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  LmdbManifest m = open_new(path);
  ASSERT_OK(m.write([](WriteTxn& w) -> Status {
    for (uint64_t i = 0; i < 1234; ++i) {
      VRIFT_CHECK(w.put(Layer::base, "n/" + std::to_string(i), file_entry(i)));
    }
    for (uint64_t i = 0; i < 56; ++i) {
      VRIFT_CHECK(w.whiteout("n/" + std::to_string(i)));
    }
    return {};
  }));
  std::string base = test::run_command("mdb_stat -s base " + path);
  EXPECT_NE(base.find("Entries: 1234\n"), std::string::npos) << base;
  std::string delta = test::run_command("mdb_stat -s delta " + path);
  EXPECT_NE(delta.find("Entries: 56\n"), std::string::npos) << delta;
  std::string main_db = test::run_command("mdb_stat " + path);
  EXPECT_NE(main_db.find("Entries: 3\n"), std::string::npos) << main_db;  // meta, base, delta
  // The format record: key "format", value 2 as a little-endian uint32; and the base
  // stamp (8 bytes) its writes left.
  std::string meta = test::run_command("mdb_dump -s meta " + path);
  EXPECT_NE(meta.find(" 666f726d6174\n 02000000\n"), std::string::npos) << meta;
  EXPECT_NE(meta.find(" 626173655f7374616d70\n "), std::string::npos) << meta;
  // A delta key as mdb_dump prints it: 0x01, "n", NUL, "7".
  std::string dump = test::run_command("mdb_dump -s delta " + path);
  EXPECT_NE(dump.find("\n 016e0037\n"), std::string::npos);
}

}  // namespace
}  // namespace vrift::manifest
