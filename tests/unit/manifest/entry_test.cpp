#include "manifest/entry.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "hash/hasher.hpp"

namespace vrift::manifest {
namespace {

using namespace std::string_literals;

std::string encode(const Entry& e, std::string_view parent = {}) {
  std::string out(record_size(e, parent), '\0');
  auto n = encode_record(e, parent, out.data(), out.size());
  EXPECT_TRUE(n);
  EXPECT_EQ(*n, out.size());
  return out;
}

// Decodes from an exactly sized heap copy, so AddressSanitizer catches any read past
// the end.
Status decode_exact(const std::string& bytes, Entry& out, std::string_view* parent = nullptr,
                    std::unique_ptr<char[]>* keep = nullptr) {
  auto copy = std::make_unique<char[]>(bytes.size() + (bytes.empty() ? 1 : 0));
  std::memcpy(copy.get(), bytes.data(), bytes.size());
  Status st = decode_record(std::string_view(copy.get(), bytes.size()), out, parent);
  if (keep != nullptr) {
    *keep = std::move(copy);
  }
  return st;
}

Entry sample_file() {
  Entry e;
  e.kind = EntryKind::file;
  e.tier = Tier::tier1;
  e.flags = k_flag_phantom | 0x80;
  e.mode = 0100755;
  e.size = 0x0123456789abcdefull;
  e.mtime_ns = -5;  // before the epoch
  e.ctime_ns = INT64_MAX;
  e.ino = UINT64_MAX - 7;
  e.hash = hash::hash_bytes("hello", 5);
  e.ext = "tar0";
  return e;
}

void expect_same(const Entry& a, const Entry& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.tier, b.tier);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.mtime_ns, b.mtime_ns);
  EXPECT_EQ(a.ctime_ns, b.ctime_ns);
  EXPECT_EQ(a.ino, b.ino);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.ext, b.ext);
  EXPECT_EQ(a.target, b.target);
}

TEST(EntryCodec, FileRoundTrip) {
  Entry e = sample_file();
  std::string rec = encode(e);
  EXPECT_EQ(rec.size(), k_record_header + 4);
  EXPECT_EQ(rec[0], 1);
  Entry back;
  std::string_view parent = "junk";
  std::unique_ptr<char[]> keep;
  ASSERT_TRUE(decode_exact(rec, back, &parent, &keep));
  expect_same(e, back);
  EXPECT_TRUE(parent.empty());
  EXPECT_TRUE(back.phantom());
  EXPECT_TRUE(back.executable());
}

TEST(EntryCodec, LittleEndianLayout) {
  Entry e;
  e.mode = 0x11223344;
  e.size = 0x0102030405060708ull;
  std::string rec = encode(e);
  EXPECT_EQ(rec.substr(4, 4), "\x44\x33\x22\x11"s);
  EXPECT_EQ(rec.substr(8, 8), "\x08\x07\x06\x05\x04\x03\x02\x01"s);
}

TEST(EntryCodec, SymlinkWithLongTargetAndParent) {
  std::string target(k_max_target, 't');
  target[0] = '/';
  target[100] = '\n';
  target[200] = '\xff';
  Entry e;
  e.kind = EntryKind::symlink;
  e.mode = 0120777;
  e.target = target;
  std::string parent(4000, 'p');
  std::string rec = encode(e, parent);
  EXPECT_EQ(rec.size(), k_record_header + target.size() + parent.size());
  Entry back;
  std::string_view got_parent;
  std::unique_ptr<char[]> keep;
  ASSERT_TRUE(decode_exact(rec, back, &got_parent, &keep));
  expect_same(e, back);
  EXPECT_EQ(got_parent, parent);
}

TEST(EntryCodec, DirAndWhiteout) {
  Entry d;
  d.kind = EntryKind::dir;
  d.mode = 040755;
  Entry back;
  std::unique_ptr<char[]> keep;
  ASSERT_TRUE(decode_exact(encode(d), back, nullptr, &keep));
  expect_same(d, back);
  Entry w = make_whiteout();
  ASSERT_TRUE(decode_exact(encode(w), back, nullptr, &keep));
  EXPECT_TRUE(back.is_whiteout());
}

TEST(EntryCodec, CheckEntryRejectsBadFields) {
  auto rejected = [](const Entry& e) {
    auto st = check_entry(e);
    return !st && st.error().code == Errc::invalid;
  };
  Entry e = sample_file();
  e.ext = "abcdefghijk";  // 11
  EXPECT_TRUE(rejected(e));
  e.ext = "tar.gz";
  EXPECT_TRUE(rejected(e));
  e.ext = "abcdefghij";  // 10: fine
  EXPECT_FALSE(rejected(e));
  e = sample_file();
  e.target = "x";
  EXPECT_TRUE(rejected(e));  // target on a file
  e = sample_file();
  e.kind = EntryKind::symlink;
  EXPECT_TRUE(rejected(e));  // symlink without target
  std::string too_long(k_max_target + 1, 't');
  e.target = too_long;
  EXPECT_TRUE(rejected(e));
  e = sample_file();
  e.kind = static_cast<EntryKind>(9);
  EXPECT_TRUE(rejected(e));
  e = sample_file();
  e.tier = static_cast<Tier>(0);
  EXPECT_TRUE(rejected(e));

  char small[k_record_header];
  auto n = encode_record(sample_file(), {}, small, sizeof(small));
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, Errc::invalid);
  std::string huge_parent(k_max_path + 1, 'p');
  std::vector<char> big(k_max_record + 10);
  EXPECT_FALSE(encode_record(sample_file(), huge_parent, big.data(), big.size()));
}

TEST(EntryCodec, TruncatedAndPaddedRecordsAreCorrupt) {
  Entry e = sample_file();
  std::string rec = encode(e, "some/parent/" + std::string(240, 'x'));
  Entry back;
  for (size_t len = 0; len < rec.size(); ++len) {
    auto st = decode_exact(rec.substr(0, len), back);
    ASSERT_FALSE(st) << len;
    EXPECT_EQ(st.error().code, Errc::corrupt) << len;
  }
  auto st = decode_exact(rec + "x", back);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::corrupt);
}

TEST(EntryCodec, BadHeaderFields) {
  std::string good = encode(sample_file());
  Entry back;
  auto code_of = [&](std::string rec) {
    auto st = decode_exact(rec, back);
    return st ? std::string("ok")
              : std::string(st.error().code == Errc::corrupt   ? "corrupt"
                            : st.error().code == Errc::too_new ? "too_new"
                                                               : "other");
  };
  std::string r = good;
  r[0] = 0;
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r[0] = 2;
  EXPECT_EQ(code_of(r), "too_new");
  r = good;
  r[1] = 0;
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r[1] = 5;
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r[2] = 3;
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r[72] = 11;
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r[80] = '.';  // ext byte not alphanumeric
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r[74] = 1;  // claims a target byte that is not there
  EXPECT_EQ(code_of(r), "corrupt");
  r = good + "x";
  r[74] = 1;  // a file with a target
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r[75] = '\x7f';  // huge target length
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r[77] = '\xff';  // huge parent length
  EXPECT_EQ(code_of(r), "corrupt");
}

TEST(EntryCodec, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(7);
  Entry back;
  std::string seed_rec = encode(sample_file(), "p");
  for (int i = 0; i < 20000; ++i) {
    std::string rec;
    if (i % 2 == 0) {
      rec.resize(rng() % 200);
      for (char& c : rec) {
        c = static_cast<char>(rng());
      }
      if (!rec.empty()) {
        rec[0] = 1;
      }
    } else {
      rec = seed_rec;
      for (int flips = 0; flips < 3; ++flips) {
        rec[rng() % rec.size()] ^= static_cast<char>(1u << (rng() % 8));
      }
    }
    auto st = decode_exact(rec, back);
    if (!st) {
      EXPECT_TRUE(st.error().code == Errc::corrupt || st.error().code == Errc::too_new);
    } else {
      EXPECT_LE(back.ext.size(), k_max_ext);
    }
  }
}

TEST(EntryCodec, BlobKeyOfEntry) {
  Entry e = sample_file();
  cas::BlobKey key = blob_key(e);
  EXPECT_EQ(key.digest, e.hash);
  EXPECT_EQ(key.size, e.size);
  EXPECT_TRUE(key.executable);
  EXPECT_EQ(key.extension(), "tar0");
  e.mode = 0100644;
  e.ext = "";
  key = blob_key(e);
  EXPECT_FALSE(key.executable);
  EXPECT_EQ(key.extension(), "");
}

}  // namespace
}  // namespace vrift::manifest
