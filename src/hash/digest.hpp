#pragma once
// Digest: a 32-byte BLAKE3 hash, and its 64-character lowercase hex form.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace vrift::hash {

inline constexpr size_t k_digest_len = 32;
inline constexpr size_t k_hex_len = 64;

struct Digest {
  std::array<uint8_t, k_digest_len> bytes{};

  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;
};

// Writes 64 hex digits and a terminating NUL into `out` (65 bytes).
void to_hex(const Digest& digest, char* out) noexcept;

// Parses exactly 64 hex digits (either case). Returns false on any other input and
// leaves `out` unspecified.
bool from_hex(std::string_view text, Digest& out) noexcept;

// from_hex for lowercase digits only (blob names); false for anything else.
bool from_lower_hex(std::string_view text, Digest& out) noexcept;

}  // namespace vrift::hash
