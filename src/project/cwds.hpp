#pragma once
// The directories processes work in. A shell or program whose working directory is
// removed is left in a directory that no longer exists (`getcwd` fails, relative paths
// resolve to nothing), so ingest keeps these even when they are empty.

#include <string>
#include <unordered_set>

namespace vrift::project {

// The working directories of the processes this user may inspect (/proc/<pid>/cwd)
// that lie below `root` (a real path, as real_path() gives), relative to it, with
// every directory above them up to `root`. Empty when /proc cannot be read.
std::unordered_set<std::string> working_dirs_below(const std::string& root);

}  // namespace vrift::project
