#include "cas/layout.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "hash/hasher.hpp"

namespace vrift::cas {
namespace {

BlobKey key_for(const char* text, bool exec = false, const char* ext = "") {
  BlobKey key;
  key.digest = hash::hash_bytes(text, std::char_traits<char>::length(text));
  key.size = std::char_traits<char>::length(text);
  key.executable = exec;
  EXPECT_TRUE(set_ext(key, ext));
  return key;
}

TEST(Layout, RelativePathIsShardedByFirstTwoHexDigits) {
  BlobKey key = key_for("hello", false, "js");
  char rel[k_max_blob_rel_path + 1];
  size_t n = blob_rel_path(key, rel);
  char hex[hash::k_hex_len + 1];
  hash::to_hex(key.digest, hex);
  std::string expect = std::string("blake3/") + hex[0] + hex[1] + "/" + hex + "_5.js";
  EXPECT_EQ(std::string(rel, n), expect);
}

TEST(Layout, ExecutableVariantAndNoExtension) {
  char name[k_max_blob_rel_path + 1];
  blob_file_name(key_for("x", true), name);
  EXPECT_TRUE(std::string(name).ends_with("_1_x"));
  blob_file_name(key_for("x", true, "sh"), name);
  EXPECT_TRUE(std::string(name).ends_with("_1_x.sh"));
}

// The first bytes of the digest in base64 with '+' and '_', most significant bits first.
std::string base64_prefix(const hash::Digest& d, size_t chars) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+_";
  std::string out;
  for (size_t i = 0; i < chars; ++i) {
    unsigned v = 0;
    for (size_t b = 0; b < 6; ++b) {
      size_t bit = i * 6 + b;
      unsigned set = bit < 256 ? (d.bytes[bit / 8] >> (7 - bit % 8)) & 1u : 0u;
      v = (v << 1) | set;
    }
    out += abc[v];
  }
  return out;
}

TEST(Layout, ShortNameFillsAFastSymlinkExactly) {
  BlobKey key = key_for("hello", false, "js");
  for (size_t root_len : {1u, 10u, 23u, 30u, 37u}) {
    char rel[k_max_short_rel_path + 1];
    size_t n = short_rel_path(key, root_len, rel);
    ASSERT_GT(n, 0u) << root_len;
    std::string name(rel, n);
    EXPECT_EQ(name.size(), std::strlen(rel));
    // "<root>/" + name is at most 59 bytes, and exactly 59 unless the whole hash fits
    size_t id_len = std::min<size_t>(k_max_short_id, k_fast_symlink_max - root_len - 3 - 3);
    EXPECT_EQ(root_len + 1 + n, root_len + 3 + id_len + 3) << name;
    EXPECT_LE(root_len + 1 + n, k_fast_symlink_max) << name;
    EXPECT_EQ(name, "s/" + base64_prefix(key.digest, id_len) + ".js");
  }
  char rel[k_max_short_rel_path + 1];
  EXPECT_EQ(short_rel_path(key, 1, rel), 2u + k_max_short_id + 3);  // the whole hash
}

TEST(Layout, ShortNameKeepsTheVariantAndNeedsNinetySixBits) {
  char rel[k_max_short_rel_path + 1];
  ASSERT_GT(short_rel_path(key_for("x", true, "sh"), 20, rel), 0u);
  std::string exec_name = rel;
  ASSERT_GT(short_rel_path(key_for("x", false, "sh"), 20, rel), 0u);
  EXPECT_EQ(exec_name, "x" + std::string(rel).substr(1));  // the same id, under x/
  EXPECT_EQ(rel[0], 's');
  ASSERT_GT(short_rel_path(key_for("x"), 20, rel), 0u);
  EXPECT_EQ(std::string(rel).find('.'), std::string::npos) << rel;
  // 59 - root - "/s/" - ".js" must leave k_min_short_id characters
  size_t widest_root = k_fast_symlink_max - 3 - 3 - k_min_short_id;
  EXPECT_GT(short_rel_path(key_for("x", false, "js"), widest_root, rel), 0u);
  EXPECT_EQ(short_rel_path(key_for("x", false, "js"), widest_root + 1, rel), 0u);
  EXPECT_EQ(short_rel_path(key_for("x", true, "markdown"), 33, rel), 0u);
}

TEST(Layout, NamesBlobAcceptsThePathAndTheShortNameOnly) {
  BlobKey key = key_for("hello", false, "js");
  std::string root = "/var/lib/src";
  char rel[k_max_blob_rel_path + 1];
  std::string path = root + "/" + std::string(rel, blob_rel_path(key, rel));
  std::string short_name = root + "/" + std::string(rel, short_rel_path(key, root.size(), rel));
  EXPECT_TRUE(names_blob(root, key, path));
  EXPECT_TRUE(names_blob(root, key, short_name));
  EXPECT_FALSE(names_blob(root, key, short_name.substr(0, short_name.size() - 3)));
  EXPECT_FALSE(names_blob(root, key_for("other", false, "js"), short_name));
  EXPECT_FALSE(names_blob(root, key_for("hello", true, "js"), short_name));
  EXPECT_FALSE(names_blob("/var/lib/sr", key, short_name));
  EXPECT_FALSE(names_blob(root, key, root));
}

TEST(Layout, NamesBlobAtAnyRoot) {
  BlobKey key = key_for("hello", false, "js");
  for (std::string root : {"/srv/the_source", "/home/someone/.vrift/the_source", "/s"}) {
    char rel[k_max_blob_rel_path + 1];
    std::string path = root + "/" + std::string(rel, blob_rel_path(key, rel));
    std::string short_name = root + "/" + std::string(rel, short_rel_path(key, root.size(), rel));
    EXPECT_TRUE(names_blob_at_any_root(key, path)) << path;
    EXPECT_TRUE(names_blob_at_any_root(key, short_name)) << short_name;
    EXPECT_FALSE(names_blob_at_any_root(key_for("other", false, "js"), path)) << path;
    EXPECT_FALSE(names_blob_at_any_root(key_for("other", false, "js"), short_name)) << short_name;
    EXPECT_FALSE(names_blob_at_any_root(key_for("hello", true, "js"), short_name)) << short_name;
  }
  EXPECT_FALSE(names_blob_at_any_root(key, "s/abc.js"));  // no root at all
  EXPECT_FALSE(names_blob_at_any_root(key, ""));
  EXPECT_FALSE(names_blob_at_any_root(key, "/srv/the_source/blake3/"));
}

TEST(Layout, ParseRoundTrip) {
  for (auto key : {key_for(""), key_for("abc", true), key_for("abc", false, "json"), key_for("z", true, "node")}) {
    char name[k_max_blob_rel_path + 1];
    blob_file_name(key, name);
    BlobKey back;
    ASSERT_TRUE(parse_blob_name(name, back)) << name;
    EXPECT_TRUE(back == key) << name;
  }
}

TEST(Layout, ParseRejectsNonBlobNames) {
  BlobKey k;
  std::string hex(64, 'a');
  EXPECT_FALSE(parse_blob_name("", k));
  EXPECT_FALSE(parse_blob_name(hex, k));
  EXPECT_FALSE(parse_blob_name(hex + "_", k));
  EXPECT_FALSE(parse_blob_name(hex + "_01", k));          // leading zero
  EXPECT_FALSE(parse_blob_name(hex + "_1.", k));          // empty extension
  EXPECT_FALSE(parse_blob_name(hex + "_1.a-b", k));       // not plain
  EXPECT_FALSE(parse_blob_name(hex + "_1_y", k));
  EXPECT_FALSE(parse_blob_name(std::string(64, 'A') + "_1", k));  // upper-case hex
  EXPECT_FALSE(parse_blob_name(hex + "_99999999999999999999999", k));  // overflow
  EXPECT_TRUE(parse_blob_name(hex + "_0", k));
}

TEST(Layout, ExtensionRules) {
  BlobKey k;
  set_ext_from_name(k, "node_modules/a/index.js");
  EXPECT_EQ(k.extension(), "js");
  set_ext_from_name(k, "lib/x.d.ts");
  EXPECT_EQ(k.extension(), "ts");
  set_ext_from_name(k, ".bashrc");
  EXPECT_EQ(k.extension(), "");
  set_ext_from_name(k, "dir.d/Makefile");
  EXPECT_EQ(k.extension(), "");
  set_ext_from_name(k, "file.");
  EXPECT_EQ(k.extension(), "");
  set_ext_from_name(k, "archive.verylongextension");
  EXPECT_EQ(k.extension(), "");
  set_ext_from_name(k, "weird.j s");
  EXPECT_EQ(k.extension(), "");
  set_ext_from_name(k, "bin\xff.\xfe");
  EXPECT_EQ(k.extension(), "");
  set_ext_from_name(k, "a.MJS");
  EXPECT_EQ(k.extension(), "MJS");
}

}  // namespace
}  // namespace vrift::cas
