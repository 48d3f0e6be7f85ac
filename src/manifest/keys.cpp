#include "manifest/keys.hpp"

#include <cstring>

#include "hash/hasher.hpp"

namespace vrift::manifest {

void split_path(std::string_view path, std::string_view& parent, std::string_view& name) noexcept {
  // memrchr is vectorized; string_view::rfind walks byte by byte (it showed in profiles).
  const void* slash = path.empty() ? nullptr : ::memrchr(path.data(), '/', path.size());
  if (slash == nullptr) {
    parent = std::string_view();
    name = path;
    return;
  }
  size_t at = static_cast<size_t>(static_cast<const char*>(slash) - path.data());
  parent = path.substr(0, at);
  name = path.substr(at + 1);
}

Status validate_path(std::string_view path) noexcept {
  if (path.size() > k_max_path) {
    return fail(Errc::invalid, "manifest path (longer than PATH_MAX)");
  }
  if (path.empty()) {
    return {};
  }
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    size_t end = slash == std::string_view::npos ? path.size() : slash;
    std::string_view name = path.substr(start, end - start);
    if (name.empty() || name.size() > k_max_name || name == "." || name == ".." ||
        name.find('\0') != std::string_view::npos) {
      return fail(Errc::invalid, "manifest path (not normalized)");
    }
    if (slash == std::string_view::npos) {
      return {};
    }
    start = slash + 1;
  }
}

bool key_parent_hashed(std::string_view path) noexcept {
  std::string_view parent;
  std::string_view name;
  split_path(path, parent, name);
  return parent.size() > k_max_inline_parent;
}

namespace {

// The prefix for children of `dir`; returns its length (0 when dir is too long).
size_t write_prefix(std::string_view dir, char* out) noexcept {
  if (dir.size() > k_max_path) {
    return 0;
  }
  if (dir.size() <= k_max_inline_parent) {
    out[0] = k_key_inline;
    if (!dir.empty()) {
      std::memcpy(out + 1, dir.data(), dir.size());
    }
    out[1 + dir.size()] = '\0';
    return dir.size() + 2;
  }
  hash::Digest digest = hash::hash_bytes(dir.data(), dir.size());
  out[0] = k_key_hashed;
  std::memcpy(out + 1, digest.bytes.data(), k_parent_digest_len);
  out[1 + k_parent_digest_len] = '\0';
  return k_parent_digest_len + 2;
}

}  // namespace

bool encode_key(std::string_view path, KeyBuf& out) noexcept {
  if (path.empty()) {
    out.bytes[0] = k_key_root;
    out.len = 1;
    return true;
  }
  if (path.size() > k_max_path) {
    return false;
  }
  std::string_view parent;
  std::string_view name;
  split_path(path, parent, name);
  if (name.empty() || name.size() > k_max_name) {
    return false;
  }
  size_t n = write_prefix(parent, out.bytes);
  std::memcpy(out.bytes + n, name.data(), name.size());
  out.len = n + name.size();
  return true;
}

bool encode_children_prefix(std::string_view dir, KeyBuf& out) noexcept {
  size_t n = write_prefix(dir, out.bytes);
  out.len = n;
  return n != 0;
}

bool decode_key(std::string_view key, KeyParts& out) noexcept {
  if (key.empty()) {
    return false;
  }
  out = KeyParts{};
  out.tag = key[0];
  switch (key[0]) {
    case k_key_root:
      return key.size() == 1;
    case k_key_inline: {
      size_t nul = key.find('\0', 1);
      if (nul == std::string_view::npos || nul - 1 > k_max_inline_parent) {
        return false;
      }
      out.parent = key.substr(1, nul - 1);
      out.name = key.substr(nul + 1);
      break;
    }
    case k_key_hashed:
      if (key.size() < k_parent_digest_len + 2 || key[1 + k_parent_digest_len] != '\0') {
        return false;
      }
      out.digest = key.substr(1, k_parent_digest_len);
      out.name = key.substr(k_parent_digest_len + 2);
      break;
    default:
      return false;
  }
  return !out.name.empty() && out.name.size() <= k_max_name &&
         out.name.find('\0') == std::string_view::npos &&
         out.name.find('/') == std::string_view::npos;
}

size_t join_path(std::string_view parent, std::string_view name, char* out, size_t cap) noexcept {
  size_t len = parent.empty() ? name.size() : parent.size() + 1 + name.size();
  if (len > cap) {
    return SIZE_MAX;
  }
  if (parent.empty()) {
    if (!name.empty()) {
      std::memcpy(out, name.data(), name.size());
    }
    return len;
  }
  std::memcpy(out, parent.data(), parent.size());
  out[parent.size()] = '/';
  if (!name.empty()) {
    std::memcpy(out + parent.size() + 1, name.data(), name.size());
  }
  return len;
}

int compare_keys(std::string_view a, std::string_view b) noexcept {
  size_t common = a.size() < b.size() ? a.size() : b.size();
  int c = common == 0 ? 0 : std::memcmp(a.data(), b.data(), common);
  if (c != 0) {
    return c;
  }
  if (a.size() == b.size()) {
    return 0;
  }
  return a.size() < b.size() ? -1 : 1;
}

}  // namespace vrift::manifest
