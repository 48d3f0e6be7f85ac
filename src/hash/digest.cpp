#include "hash/digest.hpp"

namespace vrift::hash {

void to_hex(const Digest& digest, char* out) noexcept {
  static constexpr char k_digits[] = "0123456789abcdef";
  for (size_t i = 0; i < k_digest_len; ++i) {
    out[2 * i] = k_digits[digest.bytes[i] >> 4];
    out[2 * i + 1] = k_digits[digest.bytes[i] & 0xf];
  }
  out[k_hex_len] = '\0';
}

namespace {
int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}
}  // namespace

bool from_hex(std::string_view text, Digest& out) noexcept {
  if (text.size() != k_hex_len) {
    return false;
  }
  for (size_t i = 0; i < k_digest_len; ++i) {
    int hi = hex_value(text[2 * i]);
    int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace vrift::hash
