#pragma once
// Subtrees given back to the user by a partial `vrift restore PATH...`.
//
// Restore drops a subtree's entries from the manifest; its files are then plain files in
// a projected directory, which `vrift ingest` would take back and `vrift doctor` would
// call unrecorded. `.vrift/restored` lists such subtrees (project-relative paths, each
// ended by a NUL byte, so any name fits) so that both leave them alone. Ingest of a
// PATH at or above a listed subtree manages it again and takes it off the list; a full
// restore empties the list (nothing is managed then).

#include <string>
#include <string_view>
#include <vector>

#include "project/failure.hpp"
#include "project/project.hpp"

namespace vrift::project {

// The listed subtrees; empty when the file does not exist.
Outcome<std::vector<std::string>> load_restored(const ProjectPaths& project);

// Replaces the list atomically (an empty list removes the file).
Outcome<void> save_restored(const ProjectPaths& project, const std::vector<std::string>& paths);

// Whether `path` is one of `prefixes` or lies below one ("" covers everything).
bool under_any(std::string_view path, const std::vector<std::string>& prefixes);

}  // namespace vrift::project
