#pragma once
// Everything vrift prints for people: error lines, warnings and path display.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace vrift::cli {

// Prints "vrift: error: <what> (<path>): <why>" on stderr, with <why> from `e`.
void print_error(std::string_view what, std::string_view path, const Error& e);
// Prints "vrift: error: <what> (<path>): <why>" with a reason given as text.
void print_error(std::string_view what, std::string_view path, std::string_view why);
void print_warning(std::string_view what, std::string_view path, std::string_view why);

// Whether `vrift <command>`'s stdout goes somewhere its shell code can be evaluated.
// On a terminal it would only be shown, so this says how to run it (on stderr) and
// returns false: the caller changes nothing and exits 2.
bool prints_for_eval(std::string_view command);

// A path as b3sum displays it: invalid UTF-8 replaced by U+FFFD (maximal subparts, as
// Rust's from_utf8_lossy does); a path containing '\' or '\n' gets those escaped and
// `needs_escape_prefix` is set so the caller prefixes the line with '\'.
std::string b3sum_display_path(std::string_view raw, bool& needs_escape_prefix);

// A size for people: "512 B", "4.2 MiB".
std::string human_bytes(uint64_t bytes);

// A path made safe for a one-line message: control characters shown as \n, \t, \xNN.
std::string printable_path(std::string_view raw);

}  // namespace vrift::cli
