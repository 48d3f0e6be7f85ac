#include "cas/layout.hpp"

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
  size_t ext_len = std::strlen(key.ext);
  if (ext_len > 0) {
    out[n++] = '.';
    std::memcpy(out + n, key.ext, ext_len);
    n += ext_len;
  }
  out[n] = '\0';
  return n;
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
