#pragma once
// Failure: what the project layer reports when an operation cannot go on. It carries
// the three parts of the one line people see, "vrift: error: <what> (<path>): <why>",
// already worded; the CLI only prints it.

#include <string>

#include <tl/expected.hpp>

#include "base/error.hpp"

namespace vrift::project {

struct Failure {
  std::string what;  // "cannot read config"
  std::string path;  // the file or directory concerned; may be empty
  std::string why;   // the reason, and what to do about it when there is something to do
};

template <class T>
using Outcome = tl::expected<T, Failure>;

inline tl::unexpected<Failure> failure(std::string what, std::string path, std::string why) {
  return tl::unexpected<Failure>(Failure{std::move(what), std::move(path), std::move(why)});
}
inline tl::unexpected<Failure> failure(std::string what, std::string path, const Error& e) {
  return failure(std::move(what), std::move(path), std::string(error_reason(e)));
}

}  // namespace vrift::project
