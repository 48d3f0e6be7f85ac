#pragma once
// Work that nobody waits for: done by a detached grandchild at idle CPU and I/O
// priority (emptying the trash, rebuilding the base index), so the command that needs
// it done returns at once.

#include <functional>

namespace vrift::project {

// Forks a grandchild that keeps only descriptor `keep_fd` (-1: none) and standard
// streams on /dev/null, leaves the caller's session, runs `work` and exits; the caller
// waits only for the short-lived child between them. `work` runs in a copy of the
// caller after fork(): it must open afresh what it needs (an LMDB environment among
// them, lmdb_manifest.hpp).
void run_detached(int keep_fd, const std::function<void()>& work) noexcept;

}  // namespace vrift::project
