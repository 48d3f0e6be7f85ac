// What open() and lookups do with environments that are not (or no longer) what this
// build writes: a newer format, a garbled or missing format record, files that are not
// LMDB, truncated files, damaged records. Each must be a clear error, never a crash.
//
// Tampering goes through the raw LMDB API, always after the manifest is closed (one
// process must not open an environment twice).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "manifest/keys.hpp"
#include "manifest/lmdb_manifest.hpp"
#include "manifest_test_util.hpp"
#include "temp_dir.hpp"

namespace vrift::manifest {
namespace {

using namespace std::string_literals;
using test::create_options;
using test::describe;
using test::file_entry;
using test::run_in_child;

void make_manifest(const std::string& path, int entries = 10) {
  auto m = LmdbManifest::open(path.c_str(), create_options());
  ASSERT_TRUE(m) << describe(m.error());
  ASSERT_OK(m->write([&](WriteTxn& w) -> Status {
    for (int i = 0; i < entries; ++i) {
      VRIFT_CHECK(
          w.put(Layer::base, "f" + std::to_string(i), file_entry(static_cast<uint64_t>(i))));
    }
    return {};
  }));
}

// Runs `edit(txn, dbi of `db`)` in a raw LMDB write transaction on the environment.
void tamper(const std::string& path, const char* db,
            const std::function<void(MDB_txn*, MDB_dbi)>& edit) {
  MDB_env* env = nullptr;
  ASSERT_EQ(::mdb_env_create(&env), MDB_SUCCESS);
  ::mdb_env_set_maxdbs(env, 4);
  ASSERT_EQ(::mdb_env_open(env, path.c_str(), 0, 0644), MDB_SUCCESS);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(::mdb_txn_begin(env, nullptr, 0, &txn), MDB_SUCCESS);
  MDB_dbi dbi;
  ASSERT_EQ(::mdb_dbi_open(txn, db, 0, &dbi), MDB_SUCCESS);
  edit(txn, dbi);
  ASSERT_EQ(::mdb_txn_commit(txn), MDB_SUCCESS);
  ::mdb_env_close(env);
}

void put_raw(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = lmdb::to_val(key);
  MDB_val v = lmdb::to_val(value);
  ASSERT_EQ(::mdb_put(txn, dbi, &k, &v, 0), MDB_SUCCESS);
}

void set_format(const std::string& path, std::string_view value) {
  tamper(path, "meta", [&](MDB_txn* txn, MDB_dbi dbi) { put_raw(txn, dbi, "format", value); });
}

std::string u32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), sizeof(v)); }

// Opens in a child process so that a crash (SIGBUS, SIGSEGV) fails the test cleanly;
// returns the Errc as an int, 100 for success, 128+signal for a crash.
int open_code(const std::string& path, bool create = false) {
  return run_in_child([&] {
    auto m = LmdbManifest::open(path.c_str(), create ? create_options() : OpenOptions{});
    if (m) {
      auto t = m->read();
      Entry e;
      if (t) {
        (void)m->get(*t, "f1", e);
      }
      return 100;
    }
    return static_cast<int>(m.error().code);
  });
}

constexpr int k_corrupt = static_cast<int>(Errc::corrupt);
constexpr int k_too_new = static_cast<int>(Errc::too_new);

uint32_t format_of(LmdbManifest& m) {
  auto t = m.read();
  std::string_view v;
  uint32_t version = 0;
  if (t && m.get_meta(*t, k_meta_format_key, v) && v.size() == sizeof(version)) {
    std::memcpy(&version, v.data(), sizeof(version));
  }
  return version;
}

// A manifest from before base stamps (format 1) is read as it is; the first commit that
// changes its base, or the first base index, stamps it and makes it format 2, which a
// vrift that does not stamp then refuses to change.
TEST(ManifestFormat, VersionOneIsStampedIntoVersionTwo) {
  vrift::test::TempDir dir;
  for (bool by_index : {false, true}) {
    std::string path = dir / (by_index ? "indexed" : "written");
    make_manifest(path);
    tamper(path, "meta", [&](MDB_txn* txn, MDB_dbi dbi) {
      MDB_val k = lmdb::to_val(k_meta_base_stamp_key);
      ASSERT_EQ(::mdb_del(txn, dbi, &k, nullptr), MDB_SUCCESS);
      put_raw(txn, dbi, "format", u32(1));
    });
    auto m = LmdbManifest::open(path.c_str(), OpenOptions{});
    ASSERT_TRUE(m) << describe(m.error());
    EXPECT_EQ(format_of(*m), 1u);
    if (by_index) {
      ASSERT_OK(m->update_base_index(0));
      auto t = m->read();
      ASSERT_TRUE(t);
      EXPECT_TRUE(m->base_index_in_use(*t));
    } else {
      ASSERT_OK(m->write([](WriteTxn& w) -> Status { return w.put(Layer::base, "g", file_entry(1)); }));
    }
    EXPECT_EQ(format_of(*m), 2u) << (by_index ? "indexed" : "written");
  }
}

TEST(ManifestFormat, NewerFormatIsRefused) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  make_manifest(path);
  set_format(path, u32(k_format_version + 1));
  auto m = LmdbManifest::open(path.c_str(), OpenOptions{});
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errc::too_new);
  EXPECT_NE(std::string(error_reason(m.error())).find("newer"), std::string::npos);
  // create does not paper over it either.
  m = LmdbManifest::open(path.c_str(), create_options());
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errc::too_new);
  // Back to the current version: fine again.
  set_format(path, u32(k_format_version));
  EXPECT_TRUE(LmdbManifest::open(path.c_str(), OpenOptions{}));
}

TEST(ManifestFormat, GarbledOrMissingFormatIsCorrupt) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  make_manifest(path);
  for (std::string bad : {"\x01\x00\x00"s, "\x01\x00\x00\x00\x00"s, u32(0), ""s}) {
    if (bad.empty()) {
      tamper(path, "meta", [](MDB_txn* txn, MDB_dbi dbi) {
        MDB_val k = lmdb::to_val("format");
        ASSERT_EQ(::mdb_del(txn, dbi, &k, nullptr), MDB_SUCCESS);
      });
    } else {
      set_format(path, bad);
    }
    auto m = LmdbManifest::open(path.c_str(), OpenOptions{});
    ASSERT_FALSE(m) << bad.size();
    EXPECT_EQ(m.error().code, Errc::corrupt);
    m = LmdbManifest::open(path.c_str(), create_options());
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, Errc::corrupt);
  }
}

TEST(ManifestFormat, MissingLayerIsCorrupt) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  make_manifest(path);
  tamper(path, "delta",
         [](MDB_txn* txn, MDB_dbi dbi) { ASSERT_EQ(::mdb_drop(txn, dbi, 1), MDB_SUCCESS); });
  EXPECT_EQ(open_code(path), k_corrupt);
  EXPECT_EQ(open_code(path, true), k_corrupt);
}

TEST(ManifestFormat, OtherLmdbEnvironmentIsNotAManifest) {
  vrift::test::TempDir dir;
  std::string path = dir / "other";
  ASSERT_EQ(::mkdir(path.c_str(), 0755), 0);
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(::mdb_env_create(&env), MDB_SUCCESS);
    ASSERT_EQ(::mdb_env_open(env, path.c_str(), 0, 0644), MDB_SUCCESS);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(::mdb_txn_begin(env, nullptr, 0, &txn), MDB_SUCCESS);
    MDB_dbi dbi;
    ASSERT_EQ(::mdb_dbi_open(txn, nullptr, 0, &dbi), MDB_SUCCESS);
    put_raw(txn, dbi, "meta", "not a database");  // a plain key named like our DB
    ASSERT_EQ(::mdb_txn_commit(txn), MDB_SUCCESS);
    ::mdb_env_close(env);
  }
  EXPECT_EQ(open_code(path), k_corrupt);
  EXPECT_EQ(open_code(path, true), k_corrupt);
}

TEST(ManifestFormat, FilesThatAreNotLmdb) {
  vrift::test::TempDir dir;
  auto write_file = [](const std::string& p, const std::string& bytes) {
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  };
  std::mt19937_64 rng(3);
  std::string random_bytes(64 * 1024, '\0');
  for (char& c : random_bytes) {
    c = static_cast<char>(rng());
  }
  struct Case {
    const char* name;
    std::string data;
  } cases[] = {
      {"text", std::string(64 * 1024, 'x')},
      {"random", random_bytes},
      {"short", "SQLite format 3\0"s},
      {"one-page-of-zeros", std::string(4096, '\0')},
  };
  for (const Case& c : cases) {
    std::string path = dir / c.name;
    ASSERT_EQ(::mkdir(path.c_str(), 0755), 0);
    write_file(path + "/data.mdb", c.data);
    EXPECT_EQ(open_code(path), k_corrupt) << c.name;
    EXPECT_EQ(open_code(path, true), k_corrupt) << c.name;
  }
  // A regular file where the environment directory should be.
  write_file(dir / "plain", "hello");
  auto m = LmdbManifest::open((dir / "plain").c_str(), OpenOptions{});
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errc::system);
  EXPECT_EQ(m.error().sys, ENOTDIR);
  // A valid manifest with a garbage lock file.
  std::string path = dir / "badlock";
  make_manifest(path);
  write_file(path + "/lock.mdb", std::string(8192, 'L'));
  EXPECT_EQ(open_code(path), 100);  // LMDB rebuilds a lock file that no process holds
}

TEST(ManifestFormat, TruncatedDataFileIsCorruptNotSigbus) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  make_manifest(path, 20000);
  struct stat st;
  ASSERT_EQ(::stat((path + "/data.mdb").c_str(), &st), 0);
  ASSERT_GT(st.st_size, 64 * 1024);
  ASSERT_EQ(::truncate((path + "/data.mdb").c_str(), st.st_size / 2), 0);
  EXPECT_EQ(open_code(path), k_corrupt);
  EXPECT_EQ(open_code(path, true), k_corrupt);
  struct stat after;
  ASSERT_EQ(::stat((path + "/data.mdb").c_str(), &after), 0);
  EXPECT_EQ(after.st_size, st.st_size / 2);  // left as it was found
  ASSERT_EQ(::truncate((path + "/data.mdb").c_str(), 0), 0);
  EXPECT_EQ(open_code(path), k_corrupt);  // empty: not a manifest, and left untouched
  ASSERT_EQ(::stat((path + "/data.mdb").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
  ASSERT_EQ(::truncate((path + "/data.mdb").c_str(), 100), 0);
  EXPECT_EQ(open_code(path), k_corrupt);
}

// Pages a transaction takes from the end of the file and frees again before it commits
// are counted in the meta page but never written: LMDB can leave the file shorter than
// its page count says. Such a file is made here by cutting off free pages at the end
// (a large value stored, then deleted). That is not damage: the manifest opens, its
// entries read, and the file is grown back to its page count.
TEST(ManifestFormat, FileEndingInFreePagesIsNotTruncated) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  make_manifest(path);
  std::string big(64 * 1024, 'v');
  tamper(path, "base", [&](MDB_txn* txn, MDB_dbi dbi) { put_raw(txn, dbi, "\x05big", big); });
  tamper(path, "base", [&](MDB_txn* txn, MDB_dbi dbi) {
    MDB_val k = lmdb::to_val("\x05big");
    ASSERT_EQ(::mdb_del(txn, dbi, &k, nullptr), MDB_SUCCESS);
  });
  // How many pages at the end are free (`last`: the last page the meta page counts).
  auto free_at_end = [&](size_t& last) {
    MDB_env* env = nullptr;
    EXPECT_EQ(::mdb_env_create(&env), MDB_SUCCESS);
    ::mdb_env_set_maxdbs(env, 4);
    EXPECT_EQ(::mdb_env_open(env, path.c_str(), MDB_RDONLY, 0644), MDB_SUCCESS);
    MDB_envinfo info;
    EXPECT_EQ(::mdb_env_info(env, &info), MDB_SUCCESS);
    last = info.me_last_pgno;
    std::set<size_t> free_pages;
    MDB_txn* txn = nullptr;
    EXPECT_EQ(::mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), MDB_SUCCESS);
    MDB_cursor* cursor = nullptr;
    EXPECT_EQ(::mdb_cursor_open(txn, 0, &cursor), MDB_SUCCESS);
    MDB_val key;
    MDB_val val;
    for (int rc = ::mdb_cursor_get(cursor, &key, &val, MDB_FIRST); rc == MDB_SUCCESS;
         rc = ::mdb_cursor_get(cursor, &key, &val, MDB_NEXT)) {
      const auto* ids = static_cast<const size_t*>(val.mv_data);
      free_pages.insert(ids + 1, ids + 1 + ids[0]);
    }
    ::mdb_cursor_close(cursor);
    ::mdb_txn_abort(txn);
    ::mdb_env_close(env);
    size_t n = 0;
    while (free_pages.count(last - n) != 0) {
      ++n;
    }
    return n;
  };
  // Small transactions reuse the pages freed before, until the end of the file is free.
  size_t last = 0;
  size_t free_tail = 0;
  for (int i = 0; i < 20 && (free_tail = free_at_end(last)) == 0; ++i) {
    tamper(path, "base", [&](MDB_txn* txn, MDB_dbi dbi) { put_raw(txn, dbi, "\x05churn", "x"); });
    tamper(path, "base", [&](MDB_txn* txn, MDB_dbi dbi) {
      MDB_val k = lmdb::to_val("\x05churn");
      ASSERT_EQ(::mdb_del(txn, dbi, &k, nullptr), MDB_SUCCESS);
    });
  }
  ASSERT_GT(free_tail, 0u) << "no free page at the end of the file";
  off_t full = static_cast<off_t>((last + 1) * 4096);
  ASSERT_EQ(::truncate((path + "/data.mdb").c_str(), full - static_cast<off_t>(free_tail * 4096)), 0);

  EXPECT_EQ(open_code(path), 100);
  auto m = LmdbManifest::open(path.c_str(), OpenOptions{});
  ASSERT_TRUE(m) << describe(m.error());
  auto t = m->read();
  ASSERT_TRUE(t);
  Entry e;
  EXPECT_EQ(m->get(*t, "f1", e), true);
  struct stat st;
  ASSERT_EQ(::stat((path + "/data.mdb").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, full);
}

TEST(ManifestFormat, DamagedRecordsAreReportedNotTrusted) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  make_manifest(path);
  KeyBuf key;
  ASSERT_TRUE(encode_key("f1", key));
  KeyBuf newer;
  ASSERT_TRUE(encode_key("f2", newer));
  KeyBuf bad_key_hashed;
  ASSERT_TRUE(encode_key(std::string(300, 'p') + "/x", bad_key_hashed));
  tamper(path, "base", [&](MDB_txn* txn, MDB_dbi dbi) {
    put_raw(txn, dbi, key.view(), "\x01garbage");
    std::string rec(k_record_v1_header, '\0');
    rec[0] = 9;  // a future record layout
    put_raw(txn, dbi, newer.view(), rec);
    put_raw(txn, dbi, "\x07weird-key", std::string(k_record_v1_header, '\0'));
  });
  auto m = LmdbManifest::open(path.c_str(), OpenOptions{});
  ASSERT_TRUE(m);
  auto t = m->read();
  ASSERT_TRUE(t);
  Entry e;
  auto r = m->get(*t, "f1", e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::corrupt);
  r = m->get(*t, "f2", e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::too_new);
  EXPECT_EQ(m->get(*t, "f3", e), true);  // the rest is fine
  Status st = m->list_children(*t, "", [](std::string_view, const Entry&) { return true; });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::corrupt);
  st = m->for_each(*t, [](std::string_view, const Entry&) { return true; });
  ASSERT_FALSE(st);
  auto census = m->census(*t);
  EXPECT_FALSE(census);
}

// A manifest written before record layout 2 holds layout-1 records: read as they are,
// beside the layout-2 records later writes add.
TEST(ManifestFormat, LayoutOneRecordsAreStillRead) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  std::string long_dir = std::string(200, 'a') + "/" + std::string(100, 'b');
  Entry link = test::symlink_entry("f1");
  Entry d = test::dir_entry();
  std::vector<std::pair<std::string, Entry>> entries = {
      {"d", d}, {"d/l", link}, {"f1", file_entry(1)}, {long_dir, d}, {long_dir + "/x", file_entry(2)}};
  {
    auto m = LmdbManifest::open(path.c_str(), create_options());
    ASSERT_TRUE(m);
    ASSERT_OK(m->write([&](WriteTxn& w) -> Status {
      for (const auto& [p, e] : entries) {
        VRIFT_CHECK(w.put(Layer::base, p, e));
      }
      return {};
    }));
  }
  tamper(path, "base", [&](MDB_txn* txn, MDB_dbi dbi) {
    std::vector<std::pair<std::string, std::string>> v1;
    MDB_cursor* c = nullptr;
    ASSERT_EQ(::mdb_cursor_open(txn, dbi, &c), MDB_SUCCESS);
    MDB_val k;
    MDB_val v;
    for (int rc = ::mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = ::mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      Entry e;
      std::string_view parent;
      ASSERT_TRUE(decode_record(lmdb::to_view(v), e, &parent));
      v1.emplace_back(std::string(lmdb::to_view(k)), test::encode_v1(e, parent));
    }
    ::mdb_cursor_close(c);
    ASSERT_EQ(v1.size(), entries.size());
    for (const auto& [key, rec] : v1) {
      put_raw(txn, dbi, key, rec);
    }
  });
  auto m = LmdbManifest::open(path.c_str(), OpenOptions{});
  ASSERT_TRUE(m);
  auto check = [&] {
    auto t = m->read();
    ASSERT_TRUE(t);
    for (const auto& [p, want] : entries) {
      Entry e;
      auto hit = m->get(*t, p, e);
      ASSERT_TRUE(hit && *hit) << p;
      EXPECT_EQ(e.kind, want.kind) << p;
      EXPECT_EQ(e.hash, want.hash) << p;
      EXPECT_EQ(e.mtime_ns, want.mtime_ns) << p;
      EXPECT_EQ(e.target, want.target) << p;
    }
    std::set<std::string> seen;
    ASSERT_OK(m->for_each(*t, [&](std::string_view p, const Entry&) {
      seen.emplace(p);
      return true;
    }));
    EXPECT_EQ(seen.size(), entries.size());
    EXPECT_TRUE(seen.count(long_dir + "/x"));  // its parent came from a layout-1 record
  };
  check();
  entries.emplace_back("f2", file_entry(3));
  entries[2].second = file_entry(4);
  ASSERT_OK(m->write([&](WriteTxn& w) -> Status {
    VRIFT_CHECK(w.put(Layer::base, "f2", entries.back().second));
    return w.put(Layer::base, "f1", entries[2].second);
  }));
  check();
}

TEST(ManifestFormat, HashedKeyWithWrongParentIsCorrupt) {
  vrift::test::TempDir dir;
  std::string path = dir / "m";
  std::string long_dir = std::string(200, 'a') + "/" + std::string(100, 'b');
  {
    auto m = LmdbManifest::open(path.c_str(), create_options());
    ASSERT_TRUE(m);
    ASSERT_OK(
        m->write([&](WriteTxn& w) { return w.put(Layer::base, long_dir + "/x", file_entry(1)); }));
  }
  KeyBuf key;
  ASSERT_TRUE(encode_key(long_dir + "/x", key));
  tamper(path, "base", [&](MDB_txn* txn, MDB_dbi dbi) {
    // Same key, but the record names another parent.
    Entry e = file_entry(1);
    std::string other = std::string(200, 'a') + "/" + std::string(100, 'c');
    std::string rec(record_size(e, other), '\0');
    ASSERT_TRUE(encode_record(e, other, rec.data(), rec.size()));
    put_raw(txn, dbi, key.view(), rec);
  });
  auto m = LmdbManifest::open(path.c_str(), OpenOptions{});
  ASSERT_TRUE(m);
  auto t = m->read();
  ASSERT_TRUE(t);
  Status st = m->for_each(*t, [](std::string_view, const Entry&) { return true; });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::corrupt);
}

}  // namespace
}  // namespace vrift::manifest
