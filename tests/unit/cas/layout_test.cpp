#include "cas/layout.hpp"

#include <gtest/gtest.h>

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
