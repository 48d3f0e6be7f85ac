#pragma once
// Glob patterns over project-relative paths, as tier rules use them:
//   *   any run of characters within one path component
//   **  any number of whole components (also none), when it is a component by itself
//   ?   one character other than '/'
//   [abc], [a-z], [!x]  one character from (or not from) a set
// Everything else matches itself. A pattern matches the whole path.

#include <string_view>

namespace vrift::project {

bool glob_match(std::string_view pattern, std::string_view path) noexcept;

}  // namespace vrift::project
