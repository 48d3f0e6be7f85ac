#include "cas/layout.hpp"

#include <algorithm>
#include <cstring>

namespace vrift::cas {

namespace {

bool is_alnum(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool valid_ext(std::string_view ext) noexcept {
  if (ext.empty() || ext.size() > k_max_ext) {
    return false;
  }
  for (char c : ext) {
    if (!is_alnum(c)) {
      return false;
    }
  }
  return true;
}

size_t put_decimal(uint64_t v, char* out) noexcept {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (size_t i = 0; i < n; ++i) {
    out[i] = tmp[n - 1 - i];
  }
  return n;
}

// Appends ".<ext>" (when the key has one) and the NUL at out[n]; returns the length.
size_t end_with_ext(const BlobKey& key, char* out, size_t n) noexcept {
  size_t ext_len = std::strlen(key.ext);
  if (ext_len > 0) {
    out[n++] = '.';
    std::memcpy(out + n, key.ext, ext_len);
    n += ext_len;
  }
  out[n] = '\0';
  return n;
}

}  // namespace

bool set_ext(BlobKey& key, std::string_view ext) noexcept {
  key.ext[0] = '\0';
  if (ext.empty()) {
    return true;
  }
  if (!valid_ext(ext)) {
    return false;
  }
  std::memcpy(key.ext, ext.data(), ext.size());
  key.ext[ext.size()] = '\0';
  return true;
}

void set_ext_from_name(BlobKey& key, std::string_view file_name) noexcept {
  key.ext[0] = '\0';
  size_t slash = file_name.rfind('/');
  if (slash != std::string_view::npos) {
    file_name.remove_prefix(slash + 1);
  }
  size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) {
    return;
  }
  std::string_view ext = file_name.substr(dot + 1);
  if (valid_ext(ext)) {
    set_ext(key, ext);
  }
}

size_t blob_file_name(const BlobKey& key, char* out) noexcept {
  hash::to_hex(key.digest, out);
  size_t n = hash::k_hex_len;
  out[n++] = '_';
  n += put_decimal(key.size, out + n);
  if (key.executable) {
    out[n++] = '_';
    out[n++] = 'x';
  }
  return end_with_ext(key, out, n);
}

size_t blob_rel_path(const BlobKey& key, char* out) noexcept {
  char hex[hash::k_hex_len + 1];
  hash::to_hex(key.digest, hex);
  std::memcpy(out, "blake3/", 7);
  out[7] = hex[0];
  out[8] = hex[1];
  out[9] = '/';
  return 10 + blob_file_name(key, out + 10);
}

size_t short_rel_path(const BlobKey& key, size_t root_len, char* out) noexcept {
  size_t ext_len = std::strlen(key.ext);
  size_t suffix = ext_len > 0 ? 1 + ext_len : 0;
  // "<root>/s/" + id + suffix <= k_fast_symlink_max
  size_t fixed = root_len + 3 + suffix;
  if (fixed + k_min_short_id > k_fast_symlink_max) {
    return 0;
  }
  size_t id_len = std::min(k_fast_symlink_max - fixed, k_max_short_id);
  out[0] = key.executable ? 'x' : 's';
  out[1] = '/';
  size_t n = 2;
  // the digest in base64 with '_' and '+' (no name starts with '-' or contains '/'),
  // 6 bits per character, most significant bits first
  static constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+_";
  const auto& bytes = key.digest.bytes;
  for (size_t i = 0; i < id_len; ++i) {
    size_t bit = i * 6;
    size_t byte = bit / 8;
    unsigned window = static_cast<unsigned>(bytes[byte]) << 8;
    if (byte + 1 < bytes.size()) {
      window |= bytes[byte + 1];
    }
    out[n++] = k_alphabet[(window >> (10 - bit % 8)) & 0x3f];
  }
  return end_with_ext(key, out, n);
}

bool names_blob(std::string_view root, const BlobKey& key, std::string_view target) noexcept {
  if (target.size() <= root.size() + 1 || !target.starts_with(root) || target[root.size()] != '/') {
    return false;
  }
  std::string_view rel = target.substr(root.size() + 1);
  char name[k_max_blob_rel_path + 1];
  static_assert(k_max_short_rel_path <= k_max_blob_rel_path);
  size_t len = short_rel_path(key, root.size(), name);
  if (len != 0 && rel == std::string_view(name, len)) {
    return true;
  }
  len = blob_rel_path(key, name);
  return rel == std::string_view(name, len);
}

bool names_blob_at_any_root(const BlobKey& key, std::string_view target) noexcept {
  for (std::string_view mark : {"/blake3/", "/s/", "/x/"}) {
    size_t at = target.rfind(mark);
    if (at != std::string_view::npos && at > 0 && names_blob(target.substr(0, at), key, target)) {
      return true;
    }
  }
  return false;
}

bool parse_blob_name(std::string_view name, BlobKey& out) noexcept {
  if (name.size() < hash::k_hex_len + 2 || name[hash::k_hex_len] != '_') {
    return false;
  }
  if (!hash::from_lower_hex(name.substr(0, hash::k_hex_len), out.digest)) {  // blob names are lowercase
    return false;
  }
  std::string_view rest = name.substr(hash::k_hex_len + 1);
  uint64_t size = 0;
  size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
    uint64_t d = static_cast<uint64_t>(rest[digits] - '0');
    if (size > (UINT64_MAX - d) / 10) {
      return false;
    }
    size = size * 10 + d;
    ++digits;
  }
  if (digits == 0 || (digits > 1 && rest[0] == '0')) {
    return false;
  }
  out.size = size;
  rest.remove_prefix(digits);
  out.executable = false;
  if (rest.substr(0, 2) == "_x") {
    out.executable = true;
    rest.remove_prefix(2);
  }
  if (rest.empty()) {
    out.ext[0] = '\0';
    return true;
  }
  if (rest[0] != '.') {
    return false;
  }
  rest.remove_prefix(1);
  return !rest.empty() && set_ext(out, rest);
}

}  // namespace vrift::cas
