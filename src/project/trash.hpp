#pragma once
// Replace first, free later. A file that ingest replaces by a link to an identical blob
// (a second project with the same tree) is a duplicate whose blocks are freed when its
// last link goes, and freeing can cost more than everything else ingest does to it (a
// synchronous discard per extent on a filesystem mounted with `discard`). So the
// duplicate is moved, not unlinked: atomically swapped with the new link (the path is
// never missing), then renamed into .vrift/trash/. Once ingest is done, a detached
// background process at idle priority empties the trash. Nothing in the trash is the
// only copy of anything: its content is a blob.

#include <atomic>
#include <mutex>
#include <string>

#include "base/fd.hpp"
#include "base/result.hpp"

namespace vrift::project {

class Trash {
 public:
  // Trash under `<project root>/.vrift/trash/`, made on first use. `root_fd` is the
  // project root, open; it must outlive this object.
  Trash(int root_fd, std::string state_dir) noexcept;
  ~Trash();
  Trash(const Trash&) = delete;
  Trash& operator=(const Trash&) = delete;

  // Moves `name` (under `dir_fd`, on the project's filesystem) into the trash (its path
  // disappears). False when that cannot be done: the caller unlinks it instead.
  bool take(int dir_fd, const char* name) noexcept;

  // Starts the background process that empties the trash (this run's and any left by
  // runs that were killed). Called once ingest is done; the destructor calls it too.
  void empty_later() noexcept;

 private:
  bool ready() noexcept;

  int m_root_fd;
  std::string m_state_dir;
  UniqueFd m_dir_fd;  // this run's: .vrift/trash/<pid>; -1 when it could not be made
  std::once_flag m_made;
  std::atomic<uint64_t> m_next{0};
  bool m_emptied = false;
};

}  // namespace vrift::project
