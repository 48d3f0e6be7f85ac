#pragma once
// The projects that use The Source: <root>/projects/<id> is a symlink to a project's root
// directory, <id> the first 32 hex digits of the BLAKE3 of that path. `vrift gc` reads
// the manifest of every project listed here and keeps each blob one of them names, so
// a project must be listed (durably) before its manifest names a blob: every vrift
// command run in a project lists it, and ingest refuses to run unlisted. A project that
// moved is listed again, under its new path, by the next vrift command run in it; the
// old entry then names a path with no project, which gc reports rather than guess.

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "cas/the_source.hpp"

namespace vrift::cas {

struct RegisteredProject {
  std::string id;    // the entry's name under projects/
  std::string root;  // the project root it names
};

// Lists `project_root` (an absolute path) unless it already is; a new entry is durable
// on return. One readlink when it is listed. Errors: Errc::system.
Status register_project(const TheSource& source, std::string_view project_root);

// Every listed project, in no particular order. Errors: Errc::system.
Result<std::vector<RegisteredProject>> registered_projects(const TheSource& source);

// Removes one entry (gc --forget-missing). Errors: Errc::system.
Status forget_project(const TheSource& source, std::string_view id);

}  // namespace vrift::cas
