#include "cli/output.hpp"

#include <fmt/core.h>

#include <unistd.h>

#include <cstdio>

namespace vrift::cli {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

void print_error(std::string_view what, std::string_view path, std::string_view why) {
  if (path.empty()) {
    fmt::print(stderr, "vrift: error: {}: {}\n", what, why);
  } else {
    fmt::print(stderr, "vrift: error: {} ({}): {}\n", what, printable_path(path), why);
  }
}

void print_error(std::string_view what, std::string_view path, const Error& e) {
  print_error(what, path, error_reason(e));
}

void print_warning(std::string_view what, std::string_view path, std::string_view why) {
  fmt::print(stderr, "vrift: warning: {} ({}): {}\n", what, printable_path(path), why);
}

bool prints_for_eval(std::string_view command) {
  if (::isatty(STDOUT_FILENO) == 0) {
    return true;
  }
  fmt::print(stderr, "vrift: {0} prints shell code for your shell to run; use: eval \"$(vrift {0})\"\n", command);
  return false;
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 with `bad_len` set to the
// number of bytes one U+FFFD replaces (the maximal subpart of an ill-formed sequence).
size_t utf8_sequence(std::string_view s, size_t i, size_t& bad_len) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    return 1;
  }
  size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
  } else if (b == 0xE0) {
    len = 3, lo = 0xA0;
  } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
    len = 3;
  } else if (b == 0xED) {
    len = 3, hi = 0x9F;
  } else if (b == 0xF0) {
    len = 4, lo = 0x90;
  } else if (b >= 0xF1 && b <= 0xF3) {
    len = 4;
  } else if (b == 0xF4) {
    len = 4, hi = 0x8F;
  } else {
    bad_len = 1;
    return 0;
  }
  size_t k = 1;
  for (; k < len && i + k < s.size(); ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    unsigned char min = k == 1 ? lo : 0x80;
    unsigned char max = k == 1 ? hi : 0xBF;
    if (c < min || c > max) {
      break;
    }
  }
  if (k == len) {
    return len;
  }
  bad_len = k;
  return 0;
}

}  // namespace

std::string b3sum_display_path(std::string_view raw, bool& needs_escape_prefix) {
  std::string out;
  out.reserve(raw.size());
  needs_escape_prefix = false;
  for (size_t i = 0; i < raw.size();) {
    size_t bad_len = 0;
    size_t n = utf8_sequence(raw, i, bad_len);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      i += bad_len;
      continue;
    }
    if (raw[i] == '\\') {
      out += "\\\\";
      needs_escape_prefix = true;
    } else if (raw[i] == '\n') {
      out += "\\n";
      needs_escape_prefix = true;
    } else {
      out.append(raw.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string printable_path(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char ch : raw) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace vrift::cli
