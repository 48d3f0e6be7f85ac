#pragma once
// Helpers shared by the manifest tests: entries, error text, child processes.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "hash/hasher.hpp"
#include "manifest/lmdb.hpp"
#include "manifest/lmdb_manifest.hpp"

namespace vrift::manifest::test {

inline std::string describe(const Error& e) {
  return std::string(e.op) + ": " + lmdb::reason(e) + " (sys " + std::to_string(e.sys) + ")";
}

// A file entry whose hash and fields derive from `seed`.
inline Entry file_entry(uint64_t seed, uint64_t size = 583) {
  Entry e;
  e.kind = EntryKind::file;
  e.tier = (seed % 3 == 0) ? Tier::tier1 : Tier::tier2;
  e.mode = 0100644;
  e.size = size;
  e.mtime_ns = static_cast<int64_t>(1700000000000000000ull + seed);
  e.ctime_ns = e.mtime_ns + 1;
  e.ino = 1000 + seed;
  e.hash = hash::hash_bytes(&seed, sizeof(seed));
  e.ext = "js";
  return e;
}

// A layout-1 record, written from the layout documented in entry.hpp: what vrift wrote
// before layout 2, and what manifests and base indexes on disk may still hold.
inline std::string encode_v1(const Entry& e, std::string_view parent = {}) {
  std::string out(k_record_v1_header, '\0');
  auto put = [&](size_t off, const void* p, size_t n) { std::memcpy(out.data() + off, p, n); };
  out[0] = 1;
  out[1] = static_cast<char>(e.kind);
  out[2] = static_cast<char>(e.tier);
  out[3] = static_cast<char>(e.flags);
  put(4, &e.mode, 4);
  put(8, &e.size, 8);
  put(16, &e.mtime_ns, 8);
  put(24, &e.ctime_ns, 8);
  put(32, &e.ino, 8);
  put(40, e.hash.bytes.data(), 32);
  out[72] = static_cast<char>(e.ext.size());
  auto target_len = static_cast<uint16_t>(e.target.size());
  auto parent_len = static_cast<uint16_t>(parent.size());
  put(74, &target_len, 2);
  put(76, &parent_len, 2);
  return out + std::string(e.ext) + std::string(e.target) + std::string(parent);
}

inline Entry dir_entry() {
  Entry e;
  e.kind = EntryKind::dir;
  e.mode = 040755;
  return e;
}

inline Entry symlink_entry(std::string_view target) {
  Entry e;
  e.kind = EntryKind::symlink;
  e.mode = 0120777;
  e.target = target;
  e.size = target.size();
  return e;
}

inline OpenOptions create_options(uint64_t map_size = k_default_map_size) {
  OpenOptions o;
  o.create = true;
  o.initial_map_size = map_size;
  return o;
}

// Runs `fn` in a forked child; returns its exit code (128 + signal when killed). The
// child never returns into GoogleTest: it leaves with _exit(fn()).
template <class F>
int run_in_child(F&& fn) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    return -1;
  }
  if (pid == 0) {
    int code = std::forward<F>(fn)();
    ::_exit(code);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  return 128 + WTERMSIG(status);
}

// Runs a shell command and returns its standard output ("" when it cannot run).
inline std::string run_command(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    out.append(buf, n);
  }
  ::pclose(p);
  return out;
}

inline bool have_tool(const char* name) {
  return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace vrift::manifest::test

#define ASSERT_OK(expr)                                                             \
  do {                                                                              \
    auto vrift_ok_ = (expr);                                                        \
    ASSERT_TRUE(vrift_ok_) << #expr << ": "                                         \
                           << ::vrift::manifest::test::describe(vrift_ok_.error()); \
  } while (0)

#define EXPECT_OK(expr)                                                             \
  do {                                                                              \
    auto vrift_ok_ = (expr);                                                        \
    EXPECT_TRUE(vrift_ok_) << #expr << ": "                                         \
                           << ::vrift::manifest::test::describe(vrift_ok_.error()); \
  } while (0)
