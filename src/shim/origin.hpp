#pragma once
// Phantom executables that find their libraries through $ORIGIN. A phantom ELF runs from
// its blob, so ld.so would resolve $ORIGIN to a shard directory of The Source, and ld.so
// opens libraries itself (no wrapper sees those opens), so phantom libraries beside it
// could not be found anyway. When the program's RUNPATH/RPATH uses $ORIGIN, it runs
// instead from a mirror of the project under <project>/.vrift/materialized/tree/: the
// program and every phantom library its $ORIGIN entries name (following those libraries'
// own $ORIGIN entries too) are copied there at their project-relative places, once, each
// atomically (temp + rename). $ORIGIN-relative lookups then land on the copies.

#include <cstddef>

#include "shim/path.hpp"

namespace vrift::shim {

// For the phantom ELF at `exe` (its blob at `blob`): when it needs $ORIGIN, makes the
// mirror and writes the copy's path into `out` (PATH_MAX) and returns true. False when
// the program does not use $ORIGIN or the mirror cannot be made (it then runs from its
// blob as before).
bool mirror_for_origin(const ManagedPath& exe, const char* blob, char* out) noexcept;

// The project path a path inside the mirror stands for (into out, cap); 0 when `path`
// (n bytes) is not in the mirror.
size_t project_of_mirror(const char* path, size_t n, char* out, size_t cap) noexcept;

}  // namespace vrift::shim
