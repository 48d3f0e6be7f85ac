#include "project/glob.hpp"

namespace vrift::project {

namespace {

// Matches one bracket expression at pattern[pi] ('[') against c. Sets `next` past ']'.
// Returns false with next == npos when the bracket is not closed (then '[' is literal).
bool match_class(std::string_view pattern, size_t pi, char c, size_t& next) noexcept {
  size_t i = pi + 1;
  bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
  if (negate) {
    ++i;
  }
  bool matched = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char lo = pattern[i];
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      i += 2;
    }
    if (c >= lo && c <= hi) {
      matched = true;
    }
    ++i;
  }
  if (i >= pattern.size()) {
    next = std::string_view::npos;
    return false;
  }
  next = i + 1;
  return matched != negate;
}

// Matches one path component against one pattern component (no '/' in either).
bool match_component(std::string_view pat, std::string_view name) noexcept {
  size_t p = 0;
  size_t n = 0;
  size_t star_p = std::string_view::npos;
  size_t star_n = 0;
  while (n < name.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star_p = ++p;
      star_n = n;
      continue;
    }
    if (p < pat.size()) {
      if (pat[p] == '?') {
        ++p;
        ++n;
        continue;
      }
      if (pat[p] == '[') {
        size_t next = 0;
        bool ok = match_class(pat, p, name[n], next);
        if (next != std::string_view::npos) {
          if (ok) {
            p = next;
            ++n;
            continue;
          }
        } else if (name[n] == '[') {
          ++p;
          ++n;
          continue;
        }
      } else if (pat[p] == name[n]) {
        ++p;
        ++n;
        continue;
      }
    }
    if (star_p == std::string_view::npos) {
      return false;
    }
    p = star_p;
    n = ++star_n;
  }
  while (p < pat.size() && pat[p] == '*') {
    ++p;
  }
  return p == pat.size();
}

std::string_view first_component(std::string_view s, std::string_view& rest) noexcept {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) {
    rest = {};
    return s;
  }
  rest = s.substr(slash + 1);
  return s.substr(0, slash);
}

bool match_from(std::string_view pattern, std::string_view path, bool path_done) noexcept {
  for (;;) {
    if (pattern.empty()) {
      return path_done;
    }
    std::string_view pat_rest;
    std::string_view pat_comp = first_component(pattern, pat_rest);
    bool pat_last = pat_rest.empty() && pattern.find('/') == std::string_view::npos;
    if (pat_comp == "**") {
      // Zero components, then one more at a time.
      if (pat_last) {
        return true;
      }
      if (match_from(pat_rest, path, path_done)) {
        return true;
      }
      while (!path_done) {
        std::string_view path_rest;
        first_component(path, path_rest);
        bool done = path.find('/') == std::string_view::npos;
        path = path_rest;
        path_done = done;
        if (match_from(pat_rest, path, path_done)) {
          return true;
        }
      }
      return false;
    }
    if (path_done) {
      return false;
    }
    std::string_view path_rest;
    std::string_view path_comp = first_component(path, path_rest);
    if (!match_component(pat_comp, path_comp)) {
      return false;
    }
    bool done = path.find('/') == std::string_view::npos;
    pattern = pat_last ? std::string_view() : pat_rest;
    path = path_rest;
    path_done = done;
  }
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) noexcept {
  return match_from(pattern, path, false);
}

}  // namespace vrift::project
