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
  out[0] = static_cast<char>(k_record_layout);
  out[1] = static_cast<char>(e.kind);
  out[2] = static_cast<char>(e.tier);
  out[3] = static_cast<char>(e.flags);
  store<uint32_t>(out, 4, e.mode);
  store<uint64_t>(out, 8, e.size);
  store<int64_t>(out, 16, e.mtime_ns);
  store<int64_t>(out, 24, e.ctime_ns);
  store<uint64_t>(out, 32, e.ino);
  std::memcpy(out + 40, e.hash.bytes.data(), e.hash.bytes.size());
  out[72] = static_cast<char>(e.ext.size());
  out[73] = 0;
  store<uint16_t>(out, 74, static_cast<uint16_t>(e.target.size()));
  store<uint16_t>(out, 76, static_cast<uint16_t>(parent.size()));
  store<uint16_t>(out, 78, 0);
  size_t off = k_record_header;
  for (std::string_view part : {e.ext, e.target, parent}) {
    if (!part.empty()) {
      std::memcpy(out + off, part.data(), part.size());
    }
    off += part.size();
  }
  return total;
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
  if (version == 0 || record.size() < k_record_header) {
    return fail(Errc::corrupt, "manifest record (bad header)");
  }
  auto kind = static_cast<uint8_t>(in[1]);
  auto tier = static_cast<uint8_t>(in[2]);
  if (!valid_kind(kind) || !valid_tier(tier)) {
    return fail(Errc::corrupt, "manifest record (unknown kind or tier)");
  }
  size_t ext_len = static_cast<uint8_t>(in[72]);
  size_t target_len = load<uint16_t>(in, 74);
  size_t parent_len = load<uint16_t>(in, 76);
  if (ext_len > k_max_ext || target_len > k_max_target || parent_len > k_max_path ||
      record.size() != k_record_header + ext_len + target_len + parent_len) {
    return fail(Errc::corrupt, "manifest record (bad length)");
  }
  out.kind = static_cast<EntryKind>(kind);
  out.tier = static_cast<Tier>(tier);
  out.flags = static_cast<uint8_t>(in[3]);
  out.mode = load<uint32_t>(in, 4);
  out.size = load<uint64_t>(in, 8);
  out.mtime_ns = load<int64_t>(in, 16);
  out.ctime_ns = load<int64_t>(in, 24);
  out.ino = load<uint64_t>(in, 32);
  std::memcpy(out.hash.bytes.data(), in + 40, out.hash.bytes.size());
  out.ext = record.substr(k_record_header, ext_len);
  out.target = record.substr(k_record_header + ext_len, target_len);
  if (!valid_ext(out.ext) || ((out.kind == EntryKind::symlink) == out.target.empty())) {
    return fail(Errc::corrupt, "manifest record (bad extension or target)");
  }
  if (parent != nullptr) {
    *parent = record.substr(k_record_header + ext_len + target_len, parent_len);
  }
  return {};
}

}  // namespace vrift::manifest
