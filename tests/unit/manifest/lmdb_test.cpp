#include "manifest/lmdb.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "manifest_test_util.hpp"
#include "temp_dir.hpp"

namespace vrift::manifest {
namespace {

using test::run_in_child;

TEST(Lmdb, ErrorMapping) {
  for (int rc : {MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_INVALID, MDB_VERSION_MISMATCH}) {
    Error e = lmdb::to_error(rc, "op");
    EXPECT_EQ(e.code, Errc::corrupt) << rc;
    EXPECT_EQ(e.sys, rc);
    EXPECT_STREQ(e.op, "op");
  }
  for (int rc : {ENOENT, EACCES, ENOMEM, ENOSPC}) {
    Error e = lmdb::to_error(rc, "op");
    EXPECT_EQ(e.code, Errc::system);
    EXPECT_EQ(e.sys, rc);
  }
  for (int rc : {MDB_MAP_FULL, MDB_KEYEXIST, MDB_NOTFOUND, MDB_READERS_FULL, MDB_MAP_RESIZED,
                 MDB_TXN_FULL, MDB_PANIC, MDB_BAD_TXN}) {
    Error e = lmdb::to_error(rc, "op");
    EXPECT_EQ(e.code, Errc::lmdb) << rc;
    EXPECT_EQ(e.sys, rc);
    EXPECT_TRUE(lmdb::has_code(e, rc));
    EXPECT_NE(std::string(lmdb::reason(e)), "");
  }
  EXPECT_FALSE(lmdb::has_code(lmdb::to_error(ENOENT, "op"), MDB_MAP_FULL));
  EXPECT_TRUE(lmdb::check(MDB_SUCCESS, "op"));
  EXPECT_FALSE(lmdb::check(MDB_MAP_FULL, "op"));
  EXPECT_STREQ(lmdb::reason(lmdb::to_error(MDB_MAP_FULL, "op")), ::mdb_strerror(MDB_MAP_FULL));
}

TEST(Lmdb, RaiiRoundTrip) {
  vrift::test::TempDir dir;
  auto env = lmdb::Env::create();
  ASSERT_TRUE(env);
  EXPECT_TRUE(env->owned_here());
  ASSERT_EQ(::mdb_env_open(env->get(), dir.str().c_str(), MDB_NOTLS, 0644), MDB_SUCCESS);
  MDB_dbi dbi;
  {
    auto txn = lmdb::Txn::begin(env->get(), 0);
    ASSERT_TRUE(txn);
    ASSERT_EQ(::mdb_dbi_open(txn->get(), nullptr, 0, &dbi), MDB_SUCCESS);
    MDB_val k = lmdb::to_val("key");
    MDB_val v = lmdb::to_val("value");
    ASSERT_EQ(::mdb_put(txn->get(), dbi, &k, &v, 0), MDB_SUCCESS);
    ASSERT_TRUE(txn->commit());
    EXPECT_FALSE(*txn);
    EXPECT_FALSE(txn->commit());  // consumed
  }
  {
    auto txn = lmdb::Txn::begin(env->get(), 0);
    ASSERT_TRUE(txn);
    MDB_val k = lmdb::to_val("other");
    MDB_val v = lmdb::to_val("x");
    ASSERT_EQ(::mdb_put(txn->get(), dbi, &k, &v, 0), MDB_SUCCESS);
    // Destroyed without commit: aborted.
  }
  auto txn = lmdb::Txn::begin(env->get(), MDB_RDONLY);
  ASSERT_TRUE(txn);
  auto cursor = lmdb::Cursor::open(txn->get(), dbi);
  ASSERT_TRUE(cursor);
  MDB_val k;
  MDB_val v;
  ASSERT_EQ(::mdb_cursor_get(cursor->get(), &k, &v, MDB_FIRST), MDB_SUCCESS);
  EXPECT_EQ(lmdb::to_view(k), "key");
  EXPECT_EQ(lmdb::to_view(v), "value");
  EXPECT_EQ(::mdb_cursor_get(cursor->get(), &k, &v, MDB_NEXT), MDB_NOTFOUND);
}

// Counts reader-table slots held by `pid` (mdb_reader_list prints one line per slot).
int reader_slots_of(MDB_env* env, pid_t pid) {
  struct Ctx {
    pid_t pid;
    int count;
  } ctx{pid, 0};
  ::mdb_reader_list(
      env,
      [](const char* msg, void* p) -> int {
        auto* c = static_cast<Ctx*>(p);
        int slot_pid = 0;
        if (std::sscanf(msg, "%d", &slot_pid) == 1 && slot_pid == c->pid) {
          ++c->count;
        }
        return 0;
      },
      &ctx);
  return ctx.count;
}

// lmdb::Env and lmdb::Txn destroyed in a forked child leave the parent's reader slot
// alone. (Aborting an inherited read transaction releases the parent's slot, shown
// below. LMDB releases after 0.9.24 also clear slots by the opener's pid in
// mdb_env_close; 0.9.24 clears by the closer's. lmdb.h forbids both uses regardless.)
TEST(Lmdb, EnvDestroyedInForkedChildLeavesParentReadersAlone) {
  vrift::test::TempDir dir;
  auto env = lmdb::Env::create();
  ASSERT_TRUE(env);
  ASSERT_EQ(::mdb_env_open(env->get(), dir.str().c_str(), MDB_NOTLS, 0644), MDB_SUCCESS);
  auto txn = lmdb::Txn::begin(env->get(), MDB_RDONLY);
  ASSERT_TRUE(txn);
  pid_t me = ::getpid();
  ASSERT_EQ(reader_slots_of(env->get(), me), 1);

  // Guarded: the child destroys its copies of the Txn and the Env.
  int code = run_in_child([&] {
    lmdb::Txn child_txn = std::move(*txn);
    lmdb::Env child_env = std::move(*env);
    child_txn.abort();
    child_env.close();
    return 0;
  });
  ASSERT_EQ(code, 0);
  EXPECT_EQ(reader_slots_of(env->get(), me), 1) << "the child cleared the parent's reader slot";

  // Unguarded, to show what the guard prevents: aborting the inherited transaction in
  // the child releases the reader slot the parent's snapshot lives in.
  code = run_in_child([&] {
    ::mdb_txn_abort(txn->get());
    return 0;
  });
  ASSERT_EQ(code, 0);
  EXPECT_EQ(reader_slots_of(env->get(), me), 0);
}

}  // namespace
}  // namespace vrift::manifest
