#include "manifest/entry.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "hash/hasher.hpp"
#include "manifest_test_util.hpp"

namespace vrift::manifest {
namespace {

using namespace std::string_literals;
using test::encode_v1;

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

// A layout-2 record from its parts: header bytes, then `body` (mode onwards) as given.
std::string raw_v2(uint8_t present, const std::string& body, uint8_t kind = 1) {
  return std::string{'\x02', static_cast<char>(kind), '\x02', '\x00', static_cast<char>(present)} +
         body;
}

std::string le64(int64_t v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);
  return out;
}

std::string code_of(const std::string& rec) {
  Entry back;
  auto st = decode_exact(rec, back);
  return st ? std::string("ok")
            : std::string(st.error().code == Errc::corrupt   ? "corrupt"
                          : st.error().code == Errc::too_new ? "too_new"
                                                             : "other");
}

// Every proper prefix of `rec`, and `rec` with one more byte, is corrupt.
void expect_exact_length(const std::string& rec) {
  Entry back;
  for (size_t len = 0; len < rec.size(); ++len) {
    auto st = decode_exact(rec.substr(0, len), back);
    ASSERT_FALSE(st) << len;
    EXPECT_EQ(st.error().code, Errc::corrupt) << len;
  }
  for (char pad : {'\0', 'x'}) {
    auto st = decode_exact(rec + pad, back);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, Errc::corrupt);
  }
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

// A file as ingest records it: small size, current times, an inode, a short ext.
Entry typical_file() {
  Entry e;
  e.mode = 0100644;
  e.size = 1234;
  e.mtime_ns = 1'700'000'000'123'456'789;
  e.ctime_ns = 1'700'000'001'000'000'000;
  e.ino = 123456;
  e.hash = hash::hash_bytes("content", 7);
  e.ext = "js";
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
  // header 5, mode 3, mtime 8, size 9, ctime 8, ino 10, hash 32, ext 1+4
  EXPECT_EQ(rec.size(), 80u);
  EXPECT_EQ(rec[0], 2);
  Entry back;
  std::string_view parent = "junk";
  std::unique_ptr<char[]> keep;
  ASSERT_TRUE(decode_exact(rec, back, &parent, &keep));
  expect_same(e, back);
  EXPECT_TRUE(parent.empty());
  EXPECT_TRUE(back.phantom());
  EXPECT_TRUE(back.executable());
}

TEST(EntryCodec, ExtremeNumbersRoundTrip) {
  Entry e = sample_file();
  for (uint64_t big : {uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{1} << 63, UINT64_MAX}) {
    for (int64_t t : {INT64_MIN, int64_t{-1}, int64_t{1}, INT64_MAX}) {
      e.size = big;
      e.ino = big;
      e.mode = static_cast<uint32_t>(big);
      e.mtime_ns = t;
      e.ctime_ns = t == INT64_MIN ? INT64_MAX : -t;
      std::string rec = encode(e);
      Entry back;
      std::unique_ptr<char[]> keep;
      ASSERT_TRUE(decode_exact(rec, back, nullptr, &keep)) << big << " " << t;
      expect_same(e, back);
    }
  }
  e.mode = UINT32_MAX;
  e.size = e.ino = UINT64_MAX;
  e.mtime_ns = 0;
  e.ctime_ns = INT64_MIN;
  Entry back;
  std::unique_ptr<char[]> keep;
  ASSERT_TRUE(decode_exact(encode(e), back, nullptr, &keep));
  expect_same(e, back);
}

TEST(EntryCodec, TypicalAndPhantomFiles) {
  Entry e = typical_file();
  std::string rec = encode(e);
  // header 5, mode 3, mtime 8, size 2, ctime 8, ino 3, hash 32, ext 1+2
  EXPECT_EQ(rec.size(), 64u);
  EXPECT_EQ(static_cast<uint8_t>(rec[4]), k_has_size | k_has_ctime | k_has_ino | k_has_hash | k_has_ext);
  Entry back;
  std::unique_ptr<char[]> keep;
  ASSERT_TRUE(decode_exact(rec, back, nullptr, &keep));
  expect_same(e, back);

  e.flags = k_flag_phantom;
  e.ino = 0;  // nothing at the project path
  rec = encode(e);
  EXPECT_EQ(rec.size(), 61u);
  EXPECT_EQ(static_cast<uint8_t>(rec[4]) & k_has_ino, 0);
  back.ino = 99;  // absent fields are cleared, not left over
  ASSERT_TRUE(decode_exact(rec, back, nullptr, &keep));
  expect_same(e, back);

  e = typical_file();
  e.size = 0;  // an empty file still has a hash
  e.ext = "";
  rec = encode(e);
  EXPECT_EQ(rec.size(), 59u);
  ASSERT_TRUE(decode_exact(rec, back, nullptr, &keep));
  expect_same(e, back);
}

TEST(EntryCodec, V2Layout) {
  Entry e;
  e.mode = 0x11223344;
  e.mtime_ns = 0x0102030405060708;
  e.size = 300;
  std::string rec = encode(e);
  EXPECT_EQ(rec, "\x02\x01\x02\x00\x01"s       // version, kind, tier, flags, present: size
                 "\xc4\xe6\x88\x89\x01"s       // mode varint
                 "\x08\x07\x06\x05\x04\x03\x02\x01"s  // mtime
                 "\xac\x02"s);                  // size varint
}

TEST(EntryCodec, SymlinkWithLongTargetAndParent) {
  std::string target(k_max_target, 't');
  target[0] = '/';
  target[100] = '\n';
  target[200] = '\xff';
  Entry e;
  e.kind = EntryKind::symlink;
  e.mode = 0120777;
  e.mtime_ns = 5;
  e.target = target;
  std::string parent(4000, 'p');
  std::string rec = encode(e, parent);
  // header 5, mode 3, mtime 8, target 2+4095, parent 2+4000; no hash, size or ino
  EXPECT_EQ(rec.size(), 5 + 3 + 8 + 2 + target.size() + 2 + parent.size());
  Entry back;
  back.hash = hash::hash_bytes("x", 1);
  std::string_view got_parent;
  std::unique_ptr<char[]> keep;
  ASSERT_TRUE(decode_exact(rec, back, &got_parent, &keep));
  expect_same(e, back);
  EXPECT_EQ(got_parent, parent);
}

TEST(EntryCodec, HashedParentRecord) {
  Entry e = typical_file();
  std::string parent = std::string(300, 'a') + "/b";
  std::string rec = encode(e, parent);
  EXPECT_EQ(rec.size(), 64 + 2 + parent.size());
  Entry back;
  std::string_view got_parent;
  std::unique_ptr<char[]> keep;
  ASSERT_TRUE(decode_exact(rec, back, &got_parent, &keep));
  expect_same(e, back);
  EXPECT_EQ(got_parent, parent);
  expect_exact_length(rec);
}

TEST(EntryCodec, DirAndWhiteout) {
  Entry d;
  d.kind = EntryKind::dir;
  d.mode = 040755;
  d.mtime_ns = 1'700'000'000'000'000'000;
  d.ctime_ns = 1'700'000'000'000'000'001;
  std::string rec = encode(d);
  EXPECT_EQ(rec.size(), 5 + 3 + 8 + 8u);  // no size, ino or hash
  Entry back = sample_file();
  std::unique_ptr<char[]> keep;
  ASSERT_TRUE(decode_exact(rec, back, nullptr, &keep));
  expect_same(d, back);
  Entry w = make_whiteout();
  rec = encode(w);
  EXPECT_EQ(rec.size(), 5 + 1 + 8u);
  ASSERT_TRUE(decode_exact(rec, back, nullptr, &keep));
  EXPECT_TRUE(back.is_whiteout());
  expect_same(w, back);
}

TEST(EntryCodec, LargestRecordFitsMaxRecord) {
  std::string target(k_max_target, 't');
  std::string parent(k_max_path, 'p');
  Entry e = sample_file();
  e.kind = EntryKind::symlink;
  e.mode = UINT32_MAX;
  e.size = e.ino = UINT64_MAX;
  e.ext = "abcdefghij";
  e.target = target;
  EXPECT_EQ(record_size(e, parent), k_record_v2_max);
  EXPECT_LE(k_record_v2_max, k_max_record);
  EXPECT_LE(k_record_v1_max, k_max_record);
  std::vector<char> buf(k_max_record);
  auto n = encode_record(e, parent, buf.data(), buf.size());
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, k_record_v2_max);
  Entry back;
  std::string_view got_parent;
  ASSERT_TRUE(decode_record(std::string_view(buf.data(), *n), back, &got_parent));
  expect_same(e, back);
  EXPECT_EQ(got_parent, parent);
}

TEST(EntryCodec, Version1RecordsStillDecode) {
  std::string long_target(k_max_target, 't');
  Entry link;
  link.kind = EntryKind::symlink;
  link.mode = 0120777;
  link.target = long_target;
  Entry dir;
  dir.kind = EntryKind::dir;
  dir.mode = 040700;
  dir.mtime_ns = -3;
  Entry phantom = typical_file();
  phantom.flags = k_flag_phantom;
  phantom.ino = 0;
  std::string parent = std::string(300, 'q') + "/r";
  struct Case {
    Entry e;
    std::string parent;
  };
  for (const Case& c : {Case{sample_file(), ""}, Case{typical_file(), parent}, Case{link, parent},
                        Case{dir, ""}, Case{phantom, ""}, Case{make_whiteout(), ""}}) {
    std::string rec = encode_v1(c.e, c.parent);
    EXPECT_EQ(rec.size(), k_record_v1_header + c.e.ext.size() + c.e.target.size() + c.parent.size());
    Entry back;
    std::string_view got_parent = "junk";
    std::unique_ptr<char[]> keep;
    ASSERT_TRUE(decode_exact(rec, back, &got_parent, &keep));
    expect_same(c.e, back);
    EXPECT_EQ(got_parent, c.parent);
    expect_exact_length(rec);
    // Written again, it becomes layout 2 and reads back the same.
    std::string again = encode(back, got_parent);
    EXPECT_EQ(again[0], 2);
    EXPECT_LT(again.size(), rec.size());
    Entry back2;
    std::string_view parent2;
    ASSERT_TRUE(decode_exact(again, back2, &parent2, &keep));
    expect_same(c.e, back2);
    EXPECT_EQ(parent2, c.parent);
  }
}

TEST(EntryCodec, Version1BadHeaderFields) {
  std::string good = encode_v1(sample_file());
  ASSERT_EQ(code_of(good), "ok");
  std::string r = good;
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
  r = good;
  r[1] = 5;
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r[2] = 0;
  EXPECT_EQ(code_of(r), "corrupt");
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

  char small[79];  // sample_file() needs 80
  auto n = encode_record(sample_file(), {}, small, sizeof(small));
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, Errc::invalid);
  std::string huge_parent(k_max_path + 1, 'p');
  std::vector<char> big(k_max_record + 10);
  EXPECT_FALSE(encode_record(sample_file(), huge_parent, big.data(), big.size()));
}

TEST(EntryCodec, TruncatedAndPaddedRecordsAreCorrupt) {
  expect_exact_length(encode(sample_file(), "some/parent/" + std::string(240, 'x')));
  expect_exact_length(encode(typical_file()));
  Entry d;
  d.kind = EntryKind::dir;
  d.mode = 040755;
  expect_exact_length(encode(d));
  expect_exact_length(encode(make_whiteout()));
  std::string target(200, 'l');
  Entry link;
  link.kind = EntryKind::symlink;
  link.mode = 0120777;
  link.target = target;
  expect_exact_length(encode(link, std::string(300, 'p')));
}

TEST(EntryCodec, BadHeaderFields) {
  std::string good = encode(typical_file());
  ASSERT_EQ(code_of(good), "ok");
  std::string r = good;
  r[0] = 0;
  EXPECT_EQ(code_of(r), "corrupt");
  for (char v : {'\x03', '\x09', '\xff'}) {
    r = good;
    r[0] = v;
    EXPECT_EQ(code_of(r), "too_new");
  }
  EXPECT_EQ(code_of("\x03"s), "too_new");
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
  r[4] = static_cast<char>(r[4] | 0x80);  // an unknown present bit
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r[r.size() - 3] = 11;  // ext length
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r.back() = '.';  // ext byte not alphanumeric
  EXPECT_EQ(code_of(r), "corrupt");
  r = good;
  r[r.size() - 3] = 0;  // an ext present but empty
  EXPECT_EQ(code_of(r.substr(0, r.size() - 2)), "corrupt");
}

TEST(EntryCodec, PresentBitsMustMatchFields) {
  std::string mode = "\xa4\x83\x02";  // 0100644
  std::string mtime = le64(7);
  EXPECT_EQ(code_of(raw_v2(0, mode + mtime)), "ok");
  // Each unknown present bit.
  EXPECT_EQ(code_of(raw_v2(0x80, mode + mtime)), "corrupt");
  // A present field that is zero: one encoding per entry.
  EXPECT_EQ(code_of(raw_v2(k_has_size, mode + mtime + "\x00"s)), "corrupt");
  EXPECT_EQ(code_of(raw_v2(k_has_size, mode + mtime + "\x05"s)), "ok");
  EXPECT_EQ(code_of(raw_v2(k_has_ctime, mode + mtime + le64(0))), "corrupt");
  EXPECT_EQ(code_of(raw_v2(k_has_ctime, mode + mtime + le64(-1))), "ok");
  EXPECT_EQ(code_of(raw_v2(k_has_ino, mode + mtime + "\x00"s)), "corrupt");
  EXPECT_EQ(code_of(raw_v2(k_has_hash, mode + mtime + std::string(32, '\0'))), "corrupt");
  EXPECT_EQ(code_of(raw_v2(k_has_hash, mode + mtime + std::string(31, '\0') + "\x01")), "ok");
  EXPECT_EQ(code_of(raw_v2(k_has_ext, mode + mtime + "\x00"s)), "corrupt");
  EXPECT_EQ(code_of(raw_v2(k_has_parent, mode + mtime + "\x00"s)), "corrupt");
  EXPECT_EQ(code_of(raw_v2(k_has_parent, mode + mtime + "\x01p"s)), "ok");
  // Targets: only, and always, on symlinks.
  EXPECT_EQ(code_of(raw_v2(k_has_target, mode + mtime + "\x01t"s)), "corrupt");
  EXPECT_EQ(code_of(raw_v2(k_has_target, mode + mtime + "\x01t"s, 2)), "ok");
  EXPECT_EQ(code_of(raw_v2(k_has_target, mode + mtime + "\x00"s, 2)), "corrupt");
  EXPECT_EQ(code_of(raw_v2(0, mode + mtime, 2)), "corrupt");
  // Lengths past the limits.
  EXPECT_EQ(code_of(raw_v2(k_has_target, mode + mtime + "\x80\x20"s + std::string(4096, 't'), 2)),
            "corrupt");
  EXPECT_EQ(code_of(raw_v2(k_has_target, mode + mtime + "\xff\x1f"s + std::string(4095, 't'), 2)),
            "ok");
  EXPECT_EQ(code_of(raw_v2(k_has_parent, mode + mtime + "\x80\x20"s + std::string(4096, 'p'))),
            "corrupt");
  // A length beyond the record.
  EXPECT_EQ(code_of(raw_v2(k_has_parent, mode + mtime + "\xff\xff\x03p"s)), "corrupt");
}

TEST(EntryCodec, VarintsMustBeMinimalAndFit) {
  std::string mtime = le64(7);
  auto with_mode = [&](const std::string& mode) { return code_of(raw_v2(0, mode + mtime)); };
  auto with_ino = [&](const std::string& ino) {
    return code_of(raw_v2(k_has_ino, "\x01"s + mtime + ino));
  };
  EXPECT_EQ(with_mode("\x00"s), "ok");
  EXPECT_EQ(with_mode("\x80\x00"s), "corrupt");          // overlong zero
  EXPECT_EQ(with_mode("\xa4\x81\x82\x00"s), "corrupt");  // trailing zero byte
  EXPECT_EQ(with_mode("\xff\xff\xff\xff\x0f"s), "ok");  // UINT32_MAX
  EXPECT_EQ(with_mode("\x80\x80\x80\x80\x10"s), "corrupt");  // 2^32: no st_mode
  EXPECT_EQ(with_ino("\x01"s), "ok");
  EXPECT_EQ(with_ino(std::string(9, '\xff') + "\x01"), "ok");  // UINT64_MAX, 10 bytes
  EXPECT_EQ(with_ino(std::string(9, '\xff') + "\x02"), "corrupt");  // bit 64
  EXPECT_EQ(with_ino(std::string(9, '\xff') + "\x7f"), "corrupt");
  EXPECT_EQ(with_ino(std::string(9, '\x80') + "\x81\x00"), "corrupt");  // 11 bytes
  EXPECT_EQ(with_ino(std::string(10, '\x80') + "\x01"), "corrupt");
  EXPECT_EQ(with_ino(std::string(9, '\x80')), "corrupt");  // runs off the end
  EXPECT_EQ(with_ino(std::string(20, '\xff')), "corrupt");
  Entry back;
  ASSERT_TRUE(decode_exact(raw_v2(k_has_ino, "\x01"s + mtime + std::string(9, '\xff') + "\x01"),
                           back));
  EXPECT_EQ(back.ino, UINT64_MAX);
}

TEST(EntryCodec, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(7);
  Entry back;
  std::string seed_v2 = encode(sample_file(), "p");
  std::string seed_v1 = encode_v1(sample_file(), "p");
  for (int i = 0; i < 40000; ++i) {
    std::string rec;
    if (i % 2 == 0) {
      rec.resize(rng() % 200);
      for (char& c : rec) {
        c = static_cast<char>(rng());
      }
      if (!rec.empty()) {
        rec[0] = static_cast<char>(1 + i % 4 / 2);  // layout 1 or 2
      }
    } else {
      rec = i % 4 == 1 ? seed_v2 : seed_v1;
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
