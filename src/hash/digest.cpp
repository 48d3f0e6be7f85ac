#include "hash/digest.hpp"

#include <array>
#include <cstdint>

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

// Nibble value of each byte, or 0xff: one table lookup per digit (re-ingest decodes a
// digest per Tier-1 link).
constexpr auto make_table(bool upper) {
  std::array<uint8_t, 256> t{};
  t.fill(0xff);
  for (int i = 0; i < 10; ++i) {
    t[static_cast<size_t>('0' + i)] = static_cast<uint8_t>(i);
  }
  for (int i = 0; i < 6; ++i) {
    t[static_cast<size_t>('a' + i)] = static_cast<uint8_t>(10 + i);
    if (upper) {
      t[static_cast<size_t>('A' + i)] = static_cast<uint8_t>(10 + i);
    }
  }
  return t;
}
constexpr auto k_any_case = make_table(true);
constexpr auto k_lower_case = make_table(false);

bool decode(std::string_view text, Digest& out, const std::array<uint8_t, 256>& table) noexcept {
  if (text.size() != k_hex_len) {
    return false;
  }
  uint8_t bad = 0;
  for (size_t i = 0; i < k_digest_len; ++i) {
    uint8_t hi = table[static_cast<unsigned char>(text[2 * i])];
    uint8_t lo = table[static_cast<unsigned char>(text[2 * i + 1])];
    bad |= static_cast<uint8_t>(hi | lo);
    out.bytes[i] = static_cast<uint8_t>(hi << 4 | (lo & 0xf));
  }
  return (bad & 0xf0) == 0;
}

}  // namespace

bool from_hex(std::string_view text, Digest& out) noexcept { return decode(text, out, k_any_case); }

bool from_lower_hex(std::string_view text, Digest& out) noexcept { return decode(text, out, k_lower_case); }

}  // namespace vrift::hash
