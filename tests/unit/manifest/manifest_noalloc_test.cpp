// The shim's lookup path must not allocate: begin_read on a bound ReadTxn, get,
// list_children and reset. This file interposes malloc/calloc/realloc for the whole
// test binary (forwarding to glibc) and counts calls made by the current thread while
// counting is on. Under AddressSanitizer or ThreadSanitizer the allocator belongs to the
// sanitizer, so the test is compiled out there.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>

#include "manifest/lmdb_manifest.hpp"
#include "manifest_test_util.hpp"
#include "temp_dir.hpp"

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)

extern "C" void* __libc_malloc(size_t size);
extern "C" void* __libc_calloc(size_t n, size_t size);
extern "C" void* __libc_realloc(void* p, size_t size);

namespace {
thread_local bool t_counting = false;
thread_local uint64_t t_allocations = 0;
}  // namespace

extern "C" void* malloc(size_t size) {
  if (t_counting) {
    ++t_allocations;
  }
  return __libc_malloc(size);
}

extern "C" void* calloc(size_t n, size_t size) {
  if (t_counting) {
    ++t_allocations;
  }
  return __libc_calloc(n, size);
}

extern "C" void* realloc(void* p, size_t size) {
  if (t_counting) {
    ++t_allocations;
  }
  return __libc_realloc(p, size);
}

namespace vrift::manifest {
namespace {

using test::create_options;
using test::file_entry;

TEST(ManifestNoAlloc, LookupPathDoesNotAllocate) {
  vrift::test::TempDir dir;
  std::string shared = dir / "shared";
  {
    auto b = LmdbManifest::open(shared.c_str(), create_options());
    ASSERT_TRUE(b);
    ASSERT_OK(b->write([](WriteTxn& w) -> Status {
      for (uint64_t i = 0; i < 2000; ++i) {
        VRIFT_CHECK(w.put(Layer::base, "lib/f" + std::to_string(i), file_entry(i)));
      }
      return {};
    }));
  }
  // A local base (looked up in LMDB, then through its base index) and a shared one.
  for (int variant : {0, 1, 2}) {
    bool use_shared = variant == 1;
    bool indexed = variant == 2;
    OpenOptions o = create_options();
    o.base_env_dir = use_shared ? shared.c_str() : nullptr;
    std::string path = dir / (use_shared ? "p-shared" : indexed ? "p-indexed" : "p-local");
    auto m = LmdbManifest::open(path.c_str(), o);
    ASSERT_TRUE(m);
    ASSERT_OK(m->write([&](WriteTxn& w) -> Status {
      for (uint64_t i = 0; i < 2000 && !use_shared; ++i) {
        VRIFT_CHECK(w.put(Layer::base, "lib/f" + std::to_string(i), file_entry(i)));
      }
      VRIFT_CHECK(w.put(Layer::delta, "lib/local", file_entry(1)));
      VRIFT_CHECK(w.put(Layer::delta, "lib/f1", file_entry(2)));
      return w.whiteout("lib/f2");
    }));
    if (indexed) {
      ASSERT_OK(m->update_base_index(0));
    }
    ReadTxn t;
    ASSERT_OK(m->begin_read(t));  // binding allocates (transactions, cursors)
    ASSERT_EQ(m->base_index_in_use(t), indexed);
    Entry e;
    ASSERT_TRUE(m->get(t, "lib/f1", e));
    t.reset();

    t_allocations = 0;
    t_counting = true;
    uint64_t hits = 0;
    uint64_t listed = 0;
    bool ok = true;
    for (int round = 0; round < 100; ++round) {
      ok = ok && m->begin_read(t);
      auto r = m->get(t, "lib/f1", e);
      hits += r && *r ? 1 : 0;
      r = m->get(t, "lib/f7", e);
      hits += r && *r ? 1 : 0;
      r = m->get(t, "lib/missing", e);
      hits += r && *r ? 1 : 0;
      r = m->get(t, Layer::base, "lib/f9", e);
      hits += r && *r ? 1 : 0;
      ok = ok && m->list_children(
                     t, "lib", [&](std::string_view, const Entry&) { return ++listed % 50 != 0; });
      t.reset();
    }
    t_counting = false;
    EXPECT_TRUE(ok);
    EXPECT_EQ(t_allocations, 0u) << (use_shared ? "shared base" : indexed ? "base index" : "local base");
    EXPECT_EQ(hits, 300u);
    EXPECT_EQ(listed, 100u * 50);
  }
}

// The counter itself works (otherwise the test above proves nothing).
TEST(ManifestNoAlloc, CounterSeesAllocations) {
  t_allocations = 0;
  t_counting = true;
  void* p = std::malloc(64);
  t_counting = false;
  std::free(p);
  EXPECT_EQ(t_allocations, 1u);
}

}  // namespace
}  // namespace vrift::manifest

#endif  // no ASan, no TSan
