#include "manifest/keys.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hash/hasher.hpp"

namespace vrift::manifest {
namespace {

using namespace std::string_literals;

std::string key_of(std::string_view path) {
  KeyBuf k;
  EXPECT_TRUE(encode_key(path, k)) << path;
  return std::string(k.view());
}

std::string prefix_of(std::string_view dir) {
  KeyBuf k;
  EXPECT_TRUE(encode_children_prefix(dir, k));
  return std::string(k.view());
}

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

TEST(Keys, RootAndItsChildren) {
  EXPECT_EQ(key_of(""), "\0"s);
  EXPECT_EQ(prefix_of(""), "\x01\0"s);
  EXPECT_EQ(key_of("a"), "\x01\0a"s);
  EXPECT_EQ(key_of("node_modules"), "\x01\0node_modules"s);
  KeyParts parts;
  std::string root_key = "\0"s;
  ASSERT_TRUE(decode_key(root_key, parts));
  EXPECT_EQ(parts.tag, k_key_root);
  EXPECT_TRUE(parts.name.empty());
  std::string a_key = key_of("a");
  ASSERT_TRUE(decode_key(a_key, parts));
  EXPECT_EQ(parts.parent, "");
  EXPECT_EQ(parts.name, "a");
}

TEST(Keys, InlineParent) {
  std::string k = key_of("a/b/c.js");
  EXPECT_EQ(k,
            "\x01"
            "a/b\0c.js"s);
  EXPECT_EQ(k.substr(0, prefix_of("a/b").size()), prefix_of("a/b"));
  KeyParts parts;
  ASSERT_TRUE(decode_key(k, parts));
  EXPECT_EQ(parts.tag, k_key_inline);
  EXPECT_EQ(parts.parent, "a/b");
  EXPECT_EQ(parts.name, "c.js");
  EXPECT_FALSE(key_parent_hashed("a/b/c.js"));
}

TEST(Keys, ParentOf240BytesIsInlineAndLongerIsHashed) {
  std::string p240(240, 'p');
  std::string p241(241, 'p');
  std::string k240 = key_of(p240 + "/n");
  EXPECT_EQ(k240[0], k_key_inline);
  EXPECT_EQ(k240.size(), 1 + 240 + 1 + 1u);
  EXPECT_FALSE(key_parent_hashed(p240 + "/n"));

  std::string k241 = key_of(p241 + "/n");
  EXPECT_EQ(k241[0], k_key_hashed);
  EXPECT_EQ(k241.size(), 1 + k_parent_digest_len + 1 + 1);
  EXPECT_TRUE(key_parent_hashed(p241 + "/n"));
  hash::Digest d = hash::hash_bytes(p241.data(), p241.size());
  EXPECT_EQ(k241.substr(1, k_parent_digest_len),
            std::string(reinterpret_cast<const char*>(d.bytes.data()), k_parent_digest_len));
  KeyParts parts;
  ASSERT_TRUE(decode_key(k241, parts));
  EXPECT_EQ(parts.tag, k_key_hashed);
  EXPECT_TRUE(parts.parent.empty());
  EXPECT_EQ(parts.digest, k241.substr(1, k_parent_digest_len));
  EXPECT_EQ(parts.name, "n");
}

TEST(Keys, PathsNearPathMax) {
  // 15 components of 255 bytes plus separators: 3839 bytes; then a last name to 4095.
  std::string parent;
  for (int i = 0; i < 15; ++i) {
    if (!parent.empty()) {
      parent += '/';
    }
    parent += std::string(255, static_cast<char>('a' + i));
  }
  std::string name(k_max_path - parent.size() - 1, 'z');
  ASSERT_LE(name.size(), k_max_name);
  std::string path = parent + "/" + name;
  ASSERT_EQ(path.size(), k_max_path);
  EXPECT_TRUE(validate_path(path));
  KeyBuf k;
  ASSERT_TRUE(encode_key(path, k));
  EXPECT_LE(k.len, 511u);
  KeyParts parts;
  ASSERT_TRUE(decode_key(k.view(), parts));
  EXPECT_EQ(parts.name, name);

  // A full-length name under a long parent still fits LMDB's key limit.
  std::string long_name(255, 'n');
  EXPECT_TRUE(encode_key(parent + "/" + long_name, k));
  EXPECT_EQ(k.len, 1 + k_parent_digest_len + 1 + 255);

  // One byte over PATH_MAX, or a 256-byte name, cannot be a key.
  EXPECT_FALSE(encode_key(path + "x", k));
  EXPECT_FALSE(validate_path(path + "x"));
  EXPECT_FALSE(encode_key("a/" + std::string(256, 'n'), k));
  // The longest inline key: 240-byte parent, 255-byte name.
  ASSERT_TRUE(encode_key(std::string(240, 'p') + "/" + std::string(255, 'n'), k));
  EXPECT_EQ(k.len, k_max_key);
}

TEST(Keys, ValidatePath) {
  for (std::string ok : {""s, "a"s, "a/b"s, "node_modules/.bin/tsc"s, "a/b c"s, "x\ny/z"s,
                         "\xff\xfe/\x80"s, "..."s, "a/.x"s, "a/..b"s}) {
    EXPECT_TRUE(validate_path(ok)) << ok;
  }
  for (std::string bad : {"/a"s, "a/"s, "a//b"s, "."s, ".."s, "a/./b"s, "a/../b"s, "a/.."s, "a\0b"s,
                          "/"s, std::string(256, 'n'), "a/" + std::string(256, 'n')}) {
    auto st = validate_path(bad);
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code, Errc::invalid);
  }
}

TEST(Keys, DecodeRejectsMalformedKeys) {
  KeyParts parts;
  for (std::string bad : {""s, "\0x"s, "\x01"s,
                          "\x01"
                          "abc"s,
                          "\x01\0"s, "\x03\0a"s, "\x02\0\0\0"s,
                          "\x01"
                          "a\0b/c"s,
                          "\x01"
                          "a\0b\0c"s}) {
    EXPECT_FALSE(decode_key(bad, parts)) << testing::PrintToString(bad);
  }
  std::string parent241(241, 'q');
  KeyBuf k;
  ASSERT_TRUE(encode_key(parent241 + "/x", k));
  std::string hashed(k.view());
  hashed[1 + k_parent_digest_len] = 'x';  // separator clobbered
  EXPECT_FALSE(decode_key(hashed, parts));
}

TEST(Keys, JoinPath) {
  char buf[16];
  EXPECT_EQ(join_path("", "", buf, sizeof(buf)), 0u);
  size_t n = join_path("", "a", buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, n), "a");
  n = join_path("a/b", "c", buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, n), "a/b/c");
  EXPECT_EQ(join_path("0123456789", "abcdef", buf, sizeof(buf)), SIZE_MAX);
}

TEST(Keys, CompareKeysIsLmdbOrder) {
  EXPECT_LT(compare_keys("a", "b"), 0);
  EXPECT_LT(compare_keys("a", "ab"), 0);
  EXPECT_GT(compare_keys("\xff", "a"), 0);  // unsigned bytes
  EXPECT_EQ(compare_keys("", ""), 0);
  EXPECT_LT(compare_keys("", "\0"s), 0);
}

// Every directory's children are exactly the keys carrying its prefix, they form one
// contiguous run in key order, and that run is sorted by name bytewise.
TEST(Keys, ChildrenAreContiguousAndSortedByName) {
  std::mt19937_64 rng(42);
  const std::string alphabet = "ab.-_ /\n\x01\x7f\x80\xff";
  std::set<std::string> paths = {"a",    "a/b", "a.b/c", "a/b/c",   "a0", "a/\xff", "a/x\ny",
                                 "ab/c", "a!b", "a/b!",  "a/b/c/d", "b",  "a b/c"};
  std::string long_parent = "deep/" + std::string(250, 'L');
  paths.insert(long_parent + "/x");
  paths.insert(long_parent + "/y");
  paths.insert(long_parent + "/x/z");
  paths.insert(long_parent + "z/q");  // sibling of long_parent with a common prefix
  for (int i = 0; i < 3000; ++i) {
    std::string p;
    size_t len = 1 + rng() % 12;
    for (size_t j = 0; j < len; ++j) {
      p += alphabet[rng() % alphabet.size()];
    }
    // Normalize: collapse to valid components.
    std::string norm;
    std::string comp;
    auto flush = [&] {
      if (!comp.empty() && comp != "." && comp != "..") {
        norm += (norm.empty() ? "" : "/") + comp;
      }
      comp.clear();
    };
    for (char c : p) {
      if (c == '/') {
        flush();
      } else {
        comp += c;
      }
    }
    flush();
    if (!norm.empty()) {
      ASSERT_TRUE(validate_path(norm)) << testing::PrintToString(norm);
      paths.insert(norm);
    }
  }
  // Add every ancestor, as a real tree would have.
  std::vector<std::string> all(paths.begin(), paths.end());
  for (const std::string& p : all) {
    std::string a = parent_of(p);
    while (!a.empty()) {
      paths.insert(a);
      a = parent_of(a);
    }
  }
  std::vector<std::pair<std::string, std::string>> keyed;  // key, path
  for (const std::string& p : paths) {
    keyed.emplace_back(key_of(p), p);
  }
  std::sort(keyed.begin(), keyed.end(),
            [](const auto& x, const auto& y) { return compare_keys(x.first, y.first) < 0; });
  for (size_t i = 1; i < keyed.size(); ++i) {
    ASSERT_NE(keyed[i - 1].first, keyed[i].first) << "two paths share a key";
  }
  std::map<std::string, std::vector<size_t>> positions;  // parent -> indices
  for (size_t i = 0; i < keyed.size(); ++i) {
    positions[parent_of(keyed[i].second)].push_back(i);
  }
  for (const auto& [dir, idx] : positions) {
    std::string prefix = prefix_of(dir);
    // Contiguous.
    EXPECT_EQ(idx.back() - idx.front() + 1, idx.size()) << "children of " << dir;
    // Sorted by name.
    for (size_t j = 1; j < idx.size(); ++j) {
      EXPECT_LT(name_of(keyed[idx[j - 1]].second), name_of(keyed[idx[j]].second));
    }
    // Exactly the keys carrying the prefix.
    size_t with_prefix = 0;
    for (const auto& kp : keyed) {
      if (kp.first.compare(0, prefix.size(), prefix) == 0) {
        ++with_prefix;
        EXPECT_EQ(parent_of(kp.second), dir);
      }
    }
    EXPECT_EQ(with_prefix, idx.size());
  }
}

}  // namespace
}  // namespace vrift::manifest
