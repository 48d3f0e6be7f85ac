#pragma once
// Files this process writes inside the session, and their re-ingest.
//
// A managed file opened for writing was first broken away from its blob (bbw.hpp): the
// path holds a private inode, and the manifest marks the entry dirty. The table here
// remembers that inode (device, inode, project path) and which descriptors and writable
// shared mappings of this process refer to it. When the last of them goes (close,
// fclose, close_range, dup2 over it, syscall(SYS_close), munmap, exit), the file is
// re-ingested: its bytes are copied into The Source (never linked: another process may
// still hold a writable descriptor on the private inode, and a blob must never change),
// then the entry is committed to the delta layer, then the path becomes the projection
// again (Solid: a link to the blob; Phantom: nothing at the path).
//
// Descriptors that survive exec are handed to the new program image through the
// environment (VRIFT_WRITING), so `cmd > managed-file` re-ingests when cmd exits.
// Whatever is still dirty when a process dies without closing (kill -9) is picked up
// by `vrift run` when the command ends, or by `vrift doctor --repair`.

#include <sys/types.h>

#include <cstddef>

#include "manifest/entry.hpp"

namespace vrift::shim {

// Starts tracking `fd` (just opened for writing on the private file at project path
// `rel`, whose fstat is (dev, ino)). Files written by this process share one slot per
// inode. Returns false when the table is full (the file is then left dirty for the
// end-of-session sweep).
bool track_write(int fd, dev_t dev, ino_t ino, const char* rel, size_t rel_len, manifest::Tier tier) noexcept;

// True when fd is tracked (one relaxed load; the common close() pays only this).
bool is_tracked_fd(int fd) noexcept;

// fd `to` now refers to what `from` does (dup family). `to` was closed first if it was
// open: call fd_closed(to) before this when that applies.
void tracked_dup(int from, int to) noexcept;

// fd was closed (or is about to be): drops it, and re-ingests its file when it was the
// last reference. Call after the real close.
void fd_closed(int fd) noexcept;

// Every fd in [first, last] was closed.
void fd_range_closed(unsigned first, unsigned last) noexcept;

// A writable shared mapping of fd's file was made / a range was unmapped.
void tracked_map(int fd, void* addr, size_t len) noexcept;
void tracked_unmap(void* addr, size_t len) noexcept;

// The project path of a tracked file moved (rename by this process).
void tracked_rename(const char* from_rel, size_t from_len, const char* to_rel, size_t to_len) noexcept;

// Re-ingests every tracked file (process exit).
void flush_all_writes() noexcept;

// Writes "VRIFT_WRITING=fd:dev:ino:tier:rel;..." for the tracked fds that stay open
// across exec (no FD_CLOEXEC) into `out`. Returns false when there are none or it does
// not fit.
bool writing_env(char* out, size_t cap) noexcept;

// Adopts what a previous program image handed over in VRIFT_WRITING (at load).
void adopt_writing_env() noexcept;

// Re-ingests the private file at project path `rel` now (see the header essay): the
// file must still be the inode (dev, ino). Leaves the entry dirty when anything fails.
void reingest(const char* rel, size_t rel_len, dev_t dev, ino_t ino, manifest::Tier tier) noexcept;

}  // namespace vrift::shim
