#pragma once
// Checking The Source: every blob has a blob name, sits in its shard, has the size and
// mode its name says and (deep) hashes to its name; temps older than an hour are strays
// of an interrupted store.

#include <cstdint>
#include <functional>

#include "base/result.hpp"
#include "cas/the_source.hpp"

namespace vrift::cas {

enum class BlobProblem : uint8_t {
  not_a_blob,     // a file or directory in blake3/ whose name is not a blob name
  misplaced,      // a blob name in the wrong shard directory
  wrong_size,     // st_size differs from the size in the name
  wrong_mode,     // writable, or the exec bits disagree with the name, or not a regular file
  wrong_content,  // (deep) the content does not hash to the name
  unreadable,     // could not be read or stat-ed
  stray_temp,     // a temp file in tmp/ older than an hour
};

// A short phrase for people ("wrong size", ...). Static storage.
const char* describe(BlobProblem problem) noexcept;

struct VerifyReport {
  uint64_t blobs = 0;     // blob files checked
  uint64_t bytes = 0;     // their total size
  uint64_t problems = 0;  // problems reported
};

// Called once per problem with the path relative to The Source's root. May be called
// from several threads, one call at a time.
using ProblemSink = std::function<void(const char* rel_path, BlobProblem problem)>;

// Checks every blob (deep: also rehashes, `threads` at once; 0 = one per core).
// Errors: Errc::system when The Source itself cannot be listed.
Result<VerifyReport> verify(const TheSource& source, bool deep, const ProblemSink& sink, unsigned threads = 0);

}  // namespace vrift::cas
