#include "manifest/entry.hpp"

namespace vrift::manifest {

namespace {

bool valid_kind(uint8_t k) noexcept { return k >= 1 && k <= 4; }
bool valid_tier(uint8_t t) noexcept { return t == 1 || t == 2; }

bool valid_ext(std::string_view ext) noexcept {
  if (ext.size() > k_max_ext) {
    return false;
  }
  for (char c : ext) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) {
      return false;
    }
  }
  return true;
}

// Fixed-width little-endian stores and loads through memcpy: records in LMDB's map are
// only 2-byte aligned, and x86-64 is little-endian, so these compile to plain moves.
template <class T>
void store(char* out, size_t off, T value) noexcept {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "record codec assumes little-endian");
  std::memcpy(out + off, &value, sizeof(T));
}

template <class T>
T load(const char* in, size_t off) noexcept {
  T value;
  std::memcpy(&value, in + off, sizeof(T));
  return value;
}

constexpr uint8_t k_has_all = k_has_size | k_has_ctime | k_has_ino | k_has_hash | k_has_ext |
                              k_has_target | k_has_parent;

bool zero_digest(const ::vrift::hash::Digest& d) noexcept {
  uint64_t acc = 0;
  for (size_t i = 0; i < d.bytes.size(); i += 8) {
    acc |= load<uint64_t>(reinterpret_cast<const char*>(d.bytes.data()), i);
  }
  return acc == 0;
}

uint8_t present_of(const Entry& e, std::string_view parent) noexcept {
  unsigned m = 0;
  m |= e.size != 0 ? k_has_size : 0u;
  m |= e.ctime_ns != 0 ? k_has_ctime : 0u;
  m |= e.ino != 0 ? k_has_ino : 0u;
  m |= !zero_digest(e.hash) ? k_has_hash : 0u;
  m |= !e.ext.empty() ? k_has_ext : 0u;
  m |= !e.target.empty() ? k_has_target : 0u;
  m |= !parent.empty() ? k_has_parent : 0u;
  return static_cast<uint8_t>(m);
}

char* put_varint(char* p, uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

char* put_bytes(char* p, std::string_view s) noexcept {
  if (!s.empty()) {
    std::memcpy(p, s.data(), s.size());
  }
  return p + s.size();
}

// Reads a varint from [p, end), advancing `p`. False when it runs past `end`, is not
// minimal (ends in a zero byte after the first) or holds more than 64 bits: one encoding
// per value.
bool read_varint(const char*& p, const char* end, uint64_t& out) noexcept {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (p == end) {
      return false;
    }
    auto b = static_cast<uint8_t>(*p++);
    uint64_t bits = b & 0x7fu;
    if (shift == 63 && bits > 1) {
      return false;
    }
    v |= bits << shift;
    if ((b & 0x80u) == 0) {
      if (b == 0 && shift != 0) {
        return false;
      }
      out = v;
      return true;
    }
  }
  return false;
}

// Reads a length varint in 1..max and that many bytes at `p`.
bool read_part(const char*& p, const char* end, size_t max, std::string_view& out) noexcept {
  uint64_t n;
  if (!read_varint(p, end, n) || n == 0 || n > max || n > static_cast<size_t>(end - p)) {
    return false;
  }
  out = std::string_view(p, n);
  p += n;
  return true;
}

// The shared tail of both layouts' checks: ext alphanumeric, a target exactly on symlinks.
bool valid_tail(const Entry& e) noexcept {
  return valid_ext(e.ext) && (e.kind == EntryKind::symlink) != e.target.empty();
}

Status decode_v1(std::string_view record, Entry& out, std::string_view& parent) noexcept {
  const char* in = record.data();
  if (record.size() < k_record_v1_header) {
    return fail(Errc::corrupt, "manifest record (bad header)");
  }
  size_t ext_len = static_cast<uint8_t>(in[72]);
  size_t target_len = load<uint16_t>(in, 74);
  size_t parent_len = load<uint16_t>(in, 76);
  if (ext_len > k_max_ext || target_len > k_max_target || parent_len > k_max_path ||
      record.size() != k_record_v1_header + ext_len + target_len + parent_len) {
    return fail(Errc::corrupt, "manifest record (bad length)");
  }
  out.mode = load<uint32_t>(in, 4);
  out.size = load<uint64_t>(in, 8);
  out.mtime_ns = load<int64_t>(in, 16);
  out.ctime_ns = load<int64_t>(in, 24);
  out.ino = load<uint64_t>(in, 32);
  std::memcpy(out.hash.bytes.data(), in + 40, out.hash.bytes.size());
  out.ext = record.substr(k_record_v1_header, ext_len);
  out.target = record.substr(k_record_v1_header + ext_len, target_len);
  parent = record.substr(k_record_v1_header + ext_len + target_len, parent_len);
  return {};
}

Status decode_v2(std::string_view record, Entry& out, std::string_view& parent) noexcept {
  auto bad = [] { return fail(Errc::corrupt, "manifest record (bad length or field)"); };
  const char* p = record.data();
  const char* end = p + record.size();
  if (record.size() < 5) {
    return bad();
  }
  auto present = static_cast<uint8_t>(p[4]);
  p += 5;
  uint64_t mode;
  if ((present & ~k_has_all) != 0 || !read_varint(p, end, mode) || mode > UINT32_MAX ||
      end - p < 8) {
    return bad();
  }
  out.mode = static_cast<uint32_t>(mode);
  out.mtime_ns = load<int64_t>(p, 0);
  p += 8;
  out.size = 0;
  if ((present & k_has_size) != 0 && (!read_varint(p, end, out.size) || out.size == 0)) {
    return bad();
  }
  out.ctime_ns = 0;
  if ((present & k_has_ctime) != 0) {
    if (end - p < 8) {
      return bad();
    }
    out.ctime_ns = load<int64_t>(p, 0);
    p += 8;
    if (out.ctime_ns == 0) {
      return bad();
    }
  }
  out.ino = 0;
  if ((present & k_has_ino) != 0 && (!read_varint(p, end, out.ino) || out.ino == 0)) {
    return bad();
  }
  if ((present & k_has_hash) != 0) {
    if (end - p < static_cast<ptrdiff_t>(out.hash.bytes.size())) {
      return bad();
    }
    std::memcpy(out.hash.bytes.data(), p, out.hash.bytes.size());
    p += out.hash.bytes.size();
    if (zero_digest(out.hash)) {
      return bad();
    }
  } else {
    out.hash = {};
  }
  out.ext = {};
  if ((present & k_has_ext) != 0) {
    size_t n = p == end ? 0 : static_cast<uint8_t>(*p++);
    if (n == 0 || n > k_max_ext || n > static_cast<size_t>(end - p)) {
      return bad();
    }
    out.ext = std::string_view(p, n);
    p += n;
  }
  out.target = {};
  if ((present & k_has_target) != 0 && !read_part(p, end, k_max_target, out.target)) {
    return bad();
  }
  parent = {};
  if ((present & k_has_parent) != 0 && !read_part(p, end, k_max_path, parent)) {
    return bad();
  }
  if (p != end) {
    return bad();
  }
  return {};
}

}  // namespace

Status check_entry(const Entry& e) noexcept {
  if (!valid_kind(static_cast<uint8_t>(e.kind)) || !valid_tier(static_cast<uint8_t>(e.tier))) {
    return fail(Errc::invalid, "manifest entry (unknown kind or tier)");
  }
  if (!valid_ext(e.ext)) {
    return fail(Errc::invalid, "manifest entry (bad extension)");
  }
  if (e.kind == EntryKind::symlink) {
    if (e.target.empty() || e.target.size() > k_max_target) {
      return fail(Errc::invalid, "manifest entry (symlink target empty or too long)");
    }
  } else if (!e.target.empty()) {
    return fail(Errc::invalid, "manifest entry (target on a non-symlink)");
  }
  return {};
}

size_t record_size(const Entry& e, std::string_view parent) noexcept {
  size_t n = 5 + varint_size(e.mode) + 8;
  n += e.size != 0 ? varint_size(e.size) : 0;
  n += e.ctime_ns != 0 ? 8 : 0;
  n += e.ino != 0 ? varint_size(e.ino) : 0;
  n += !zero_digest(e.hash) ? e.hash.bytes.size() : 0;
  n += !e.ext.empty() ? 1 + e.ext.size() : 0;
  n += !e.target.empty() ? varint_size(e.target.size()) + e.target.size() : 0;
  n += !parent.empty() ? varint_size(parent.size()) + parent.size() : 0;
  return n;
}

Result<size_t> encode_record(const Entry& e, std::string_view parent, char* out,
                             size_t cap) noexcept {
  VRIFT_CHECK(check_entry(e));
  if (parent.size() > k_max_path) {
    return fail(Errc::invalid, "manifest entry (parent path too long)");
  }
  size_t total = record_size(e, parent);
  if (cap < total) {
    return fail(Errc::invalid, "manifest entry (buffer too small)");
  }
  uint8_t present = present_of(e, parent);
  out[0] = static_cast<char>(k_record_layout);
  out[1] = static_cast<char>(e.kind);
  out[2] = static_cast<char>(e.tier);
  out[3] = static_cast<char>(e.flags);
  out[4] = static_cast<char>(present);
  char* p = put_varint(out + 5, e.mode);
  store<int64_t>(p, 0, e.mtime_ns);
  p += 8;
  if ((present & k_has_size) != 0) {
    p = put_varint(p, e.size);
  }
  if ((present & k_has_ctime) != 0) {
    store<int64_t>(p, 0, e.ctime_ns);
    p += 8;
  }
  if ((present & k_has_ino) != 0) {
    p = put_varint(p, e.ino);
  }
  if ((present & k_has_hash) != 0) {
    std::memcpy(p, e.hash.bytes.data(), e.hash.bytes.size());
    p += e.hash.bytes.size();
  }
  if ((present & k_has_ext) != 0) {
    *p++ = static_cast<char>(e.ext.size());
    p = put_bytes(p, e.ext);
  }
  if ((present & k_has_target) != 0) {
    p = put_bytes(put_varint(p, e.target.size()), e.target);
  }
  if ((present & k_has_parent) != 0) {
    p = put_bytes(put_varint(p, parent.size()), parent);
  }
  return static_cast<size_t>(p - out);
}

Status decode_record(std::string_view record, Entry& out, std::string_view* parent) noexcept {
  if (record.empty()) {
    return fail(Errc::corrupt, "manifest record (empty)");
  }
  const char* in = record.data();
  auto version = static_cast<uint8_t>(in[0]);
  if (version > k_record_layout) {
    return fail(Errc::too_new, "manifest record (newer layout)");
  }
  if (version == 0 || record.size() < 5) {
    return fail(Errc::corrupt, "manifest record (bad header)");
  }
  auto kind = static_cast<uint8_t>(in[1]);
  auto tier = static_cast<uint8_t>(in[2]);
  if (!valid_kind(kind) || !valid_tier(tier)) {
    return fail(Errc::corrupt, "manifest record (unknown kind or tier)");
  }
  out.kind = static_cast<EntryKind>(kind);
  out.tier = static_cast<Tier>(tier);
  out.flags = static_cast<uint8_t>(in[3]);
  std::string_view par;
  VRIFT_CHECK(version == 1 ? decode_v1(record, out, par) : decode_v2(record, out, par));
  if (!valid_tail(out)) {
    return fail(Errc::corrupt, "manifest record (bad extension or target)");
  }
  if (parent != nullptr) {
    *parent = par;
  }
  return {};
}

}  // namespace vrift::manifest
