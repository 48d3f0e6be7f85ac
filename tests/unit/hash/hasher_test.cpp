#include "hash/hasher.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace vrift::hash {
namespace {

std::string hex(const Digest& d) {
  char buf[k_hex_len + 1];
  to_hex(d, buf);
  return buf;
}

// The BLAKE3 test vectors use this input pattern: byte i = i % 251.
std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = static_cast<uint8_t>(i % 251);
  }
  return v;
}

TEST(Hasher, KnownVectors) {
  EXPECT_EQ(hex(hash_bytes("", 0)), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  auto one = pattern(1);
  EXPECT_EQ(hex(hash_bytes(one.data(), one.size())),
            "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213");
  auto k1 = pattern(1024);
  EXPECT_EQ(hex(hash_bytes(k1.data(), k1.size())),
            "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7");
}

TEST(Hasher, IncrementalEqualsOneShot) {
  auto data = pattern(200000);
  Hasher h;
  for (size_t off = 0; off < data.size(); off += 7777) {
    h.update(data.data() + off, std::min<size_t>(7777, data.size() - off));
  }
  EXPECT_EQ(h.finish(), hash_bytes(data.data(), data.size()));
}

TEST(Hasher, FileEqualsMemoryAtBoundarySizes) {
  test::TempDir dir;
  for (size_t size : {0ul, 1ul, 1023ul, 1024ul, 1025ul, 16384ul, 16385ul, 65536ul, 1048577ul, 3145733ul}) {
    auto data = pattern(size);
    std::string path = dir / ("f" + std::to_string(size));
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
    auto result = hash_file(path.c_str());
    ASSERT_TRUE(result) << size;
    EXPECT_EQ(result->size, size);
    EXPECT_EQ(result->digest, hash_bytes(data.data(), data.size())) << size;
  }
}

// Copies hash exactly what they write, with or without a kept per-thread buffer, and a
// kept buffer carries nothing from one file into the next.
TEST(Hasher, CopyAndHashWritesAndHashesTheSameBytes) {
  test::TempDir dir;
  auto write_file = [&](const std::string& name, const std::vector<uint8_t>& data) {
    int fd = ::open((dir / name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
  };
  auto copy = [&](const std::string& from, const std::string& to, uint64_t limit) {
    int src = ::open((dir / from).c_str(), O_RDONLY);
    int dst = ::open((dir / to).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    auto result = copy_and_hash(src, dst, limit);
    ::close(src);
    ::close(dst);
    return result;
  };
  auto big = pattern(3 * 1048576 + 17);
  std::vector<uint8_t> small(1048576 + 5, 0x5a);
  write_file("big", big);
  write_file("small", small);
  for (bool scoped : {false, true}) {
    std::optional<ReadBufferScope> scope;
    if (scoped) {
      scope.emplace();
    }
    auto first = copy("big", "big.copy", UINT64_MAX);
    auto second = copy("small", "small.copy", UINT64_MAX);
    auto cut = copy("big", "big.cut", 1048576 + 1);
    ASSERT_TRUE(first && second && cut);
    EXPECT_EQ(first->size, big.size());
    EXPECT_EQ(first->digest, hash_bytes(big.data(), big.size()));
    EXPECT_EQ(second->digest, hash_bytes(small.data(), small.size()));
    EXPECT_EQ(cut->size, 1048576u + 1);
    EXPECT_EQ(cut->digest, hash_bytes(big.data(), 1048576 + 1));
    for (const char* name : {"big.copy", "small.copy"}) {
      auto copied = hash_file((dir / name).c_str());
      ASSERT_TRUE(copied);
      EXPECT_EQ(copied->digest, std::string(name) == "big.copy" ? first->digest : second->digest) << scoped;
    }
    auto again = hash_file((dir / "small").c_str());  // the kept buffer held "big" last
    ASSERT_TRUE(again);
    EXPECT_EQ(again->digest, second->digest);
  }
}

TEST(Hasher, FdOffsetIsIgnoredAndUnchanged) {
  test::TempDir dir;
  std::string path = dir / "f";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "hello world", 11), 11);
  auto result = hash_fd(fd);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->digest, hash_bytes("hello world", 11));
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 11);
  ::close(fd);
}

TEST(Hasher, MissingFileIsSystemError) {
  auto result = hash_file("/nonexistent/vrift/file");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::system);
  EXPECT_EQ(result.error().sys, ENOENT);
}

TEST(Digest, HexRoundTrip) {
  Digest d = hash_bytes("abc", 3);
  char buf[k_hex_len + 1];
  to_hex(d, buf);
  Digest back;
  ASSERT_TRUE(from_hex(buf, back));
  EXPECT_EQ(back, d);
  std::string upper(buf);
  for (auto& c : upper) {
    c = static_cast<char>(toupper(c));
  }
  ASSERT_TRUE(from_hex(upper, back));
  EXPECT_EQ(back, d);
  EXPECT_FALSE(from_hex(std::string(buf).substr(1), back));
  EXPECT_FALSE(from_hex(std::string(63, 'a') + "g", back));
}

// Every byte value, in every position: accepted exactly when it is a hex digit (of
// either case for from_hex, lowercase for from_lower_hex), decoded to its value.
TEST(Digest, EveryByteIsJudgedLikeTheDefinition) {
  for (size_t pos : {0ul, 1ul, 31ul, 62ul, 63ul}) {
    for (int c = 0; c < 256; ++c) {
      std::string text(k_hex_len, '0');
      text[pos] = static_cast<char>(c);
      int value = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      bool lower = value >= 0 && !(c >= 'A' && c <= 'F');
      Digest any;
      Digest low;
      EXPECT_EQ(from_hex(text, any), value >= 0) << pos << " " << c;
      EXPECT_EQ(from_lower_hex(text, low), lower) << pos << " " << c;
      if (value >= 0) {
        uint8_t byte = any.bytes[pos / 2];
        EXPECT_EQ(pos % 2 == 0 ? byte >> 4 : byte & 0xf, value) << pos << " " << c;
        EXPECT_EQ(any.bytes[pos / 2 ^ 1], 0) << pos;
      }
    }
  }
}

}  // namespace
}  // namespace vrift::hash
