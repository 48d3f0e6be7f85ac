#include "shim/path_scan.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace vrift::shim {
namespace {

// The definition, one byte at a time.
bool needs_normalizing_plain(const std::string& p) {
  if (p.size() > 1 && p.back() == '/') {
    return true;
  }
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i] == '/' && (p[i + 1] == '/' || p[i + 1] == '.')) {
      return true;
    }
  }
  return false;
}

TEST(PathScan, KnownShapes) {
  EXPECT_FALSE(needs_normalizing("/", 1));
  EXPECT_FALSE(needs_normalizing("/usr/lib/x86_64-linux-gnu/libc.so.6", 35));
  EXPECT_TRUE(needs_normalizing("/usr/lib/gcc/x86_64-linux-gnu/12/../../../crt1.o", 49));
  EXPECT_TRUE(needs_normalizing("/a//b", 5));
  EXPECT_TRUE(needs_normalizing("/a/./b", 6));
  EXPECT_TRUE(needs_normalizing("/a/b/", 5));
  EXPECT_TRUE(needs_normalizing("/home/u/.cache", 14));
  EXPECT_FALSE(needs_normalizing("/home/u/x.cache", 15));
}

// Every length around the 16-byte steps and every position of the pair, with the rest
// of the buffer poisoned so a read past `len` that mattered would show.
TEST(PathScan, AgreesWithTheDefinitionAtEveryLengthAndPosition) {
  for (size_t len = 1; len <= 70; ++len) {
    for (size_t at = 0; at < len; ++at) {
      for (const char* pair : {"//", "/.", "/x", "./", "/"}) {
        std::string p(len, 'a');
        p[0] = '/';
        for (size_t k = 0; pair[k] != '\0' && at + k < len; ++k) {
          p[at + k] = pair[k];
        }
        std::string buf = p + std::string(32, '/');  // poison after the end
        ASSERT_EQ(needs_normalizing(buf.data(), len), needs_normalizing_plain(p)) << '"' << p << '"';
      }
    }
  }
}

TEST(PathScan, AgreesWithTheDefinitionOnRandomPaths) {
  std::mt19937 rng(7);
  const char alphabet[] = "/.ab";
  for (int n = 0; n < 200000; ++n) {
    std::string p(1 + rng() % 80, 'a');
    for (char& c : p) {
      c = alphabet[rng() % 4];
    }
    ASSERT_EQ(needs_normalizing(p.data(), p.size()), needs_normalizing_plain(p)) << '"' << p << '"';
  }
}

}  // namespace
}  // namespace vrift::shim
