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
// Under `vrift run` (VRIFT_REINGEST=exit) the re-ingest waits for the command's end:
// the path is appended to .vrift/pending instead, and `vrift run` ingests every
// pending and dirty path in one batch, with one round of syncs for all of them rather
// than a data sync, two directory syncs and a manifest commit per file (a build writes
// hundreds of files). The file stays a private file at its path meanwhile, which every
// process reads as it is (the entry is dirty, or new).
//
// Descriptors that survive exec are handed to the new program image through the
// environment (VRIFT_WRITING), so `cmd > managed-file` re-ingests when cmd exits.
// Whatever is still dirty when a process dies without closing (kill -9) is picked up
// by `vrift run` when the command ends, or by `vrift doctor --repair`.

#include <sys/types.h>

#include <climits>
#include <cstddef>

#include "manifest/entry.hpp"

namespace vrift::shim {

// Starts tracking `fd` (just opened for writing on the private file at project path
// `rel`, whose fstat is (dev, ino)). Files written by this process share one slot per
// inode. Returns false when the table is full: under `vrift run` the file is then
// listed for its end at once; elsewhere it is left dirty for the end-of-session sweep.
bool track_write(int fd, dev_t dev, ino_t ino, const char* rel, size_t rel_len, manifest::Tier tier) noexcept;

// True when fd is tracked (one relaxed load; the common close() pays only this).
bool is_tracked_fd(int fd) noexcept;

// True while this process tracks any file being written.
bool writes_in_progress() noexcept;

// fd `to` now refers to what `from` does (dup family). `to` was closed first if it was
// open: call fd_closed(to) before this when that applies.
void tracked_dup(int from, int to) noexcept;

// A file whose last reference is gone, waiting for its re-ingest.
struct Finished {
  bool due = false;
  dev_t dev = 0;
  ino_t ino = 0;
  manifest::Tier tier = manifest::Tier::tier2;
  size_t rel_len = 0;
  char rel[PATH_MAX];
};

// fd is about to be closed: drops its reference while the number is still ours (once
// closed, another thread may get the same number and track it). Returns what to
// re-ingest after the close (finish()).
void release_fd(int fd, Finished& out) noexcept;
// Re-ingests what release_fd() returned, if anything.
void finish(const Finished& f) noexcept;

// release_fd() then finish(), for a descriptor already replaced (dup2 onto it).
void fd_closed(int fd) noexcept;

// Releases every tracked fd in [first, last], before they are closed; re-ingests the
// files whose last reference went after `close_all` ran.
// A directory arrived at project path `rel` (renamed within the project, or moved in).
// It is listed in .vrift/pending, and the end of `vrift run` (in a shell session: the
// last `vrift wake`) ingests everything below it: files written there under `vrift run`
// were listed at their old paths, and what was moved in not at all.
void directory_arrived(const char* rel, size_t rel_len) noexcept;

// A directory or symlink made at project path `rel` whose directory the manifest does not
// record (yet: programs make directories on many threads, a child before its parent's
// record is committed), below a projected directory. Listed like an arrived directory:
// the end of `vrift run`, or of the shell session, records it and all below it.
void unrecorded_parent(const char* rel, size_t rel_len) noexcept;

template <class CloseAll>
int release_range(unsigned first, unsigned last, CloseAll&& close_all) noexcept;

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

template <class CloseAll>
int release_range(unsigned first, unsigned last, CloseAll&& close_all) noexcept {
  constexpr int k_batch = 8;
  Finished due[k_batch];
  int n = 0;
  for (unsigned fd = first; fd <= last && fd < 65536; ++fd) {
    if (!is_tracked_fd(static_cast<int>(fd))) {
      continue;
    }
    Finished f;
    release_fd(static_cast<int>(fd), f);
    if (f.due) {
      if (n == k_batch) {
        break;  // more files than the batch holds: the rest are settled at the session's end
      }
      due[n++] = f;
    }
  }
  int rc = close_all();
  for (int i = 0; i < n; ++i) {
    finish(due[i]);
  }
  return rc;
}

}  // namespace vrift::shim
