#pragma once
// The active session of a project: .vrift/session.json.
//
// `vrift inception` writes it and `vrift wake` ends it; a shell that enters the project
// later (`vrift inception` with no mode, or the cd hook) rejoins it with its mode and
// The Source. Several shells may share one session: the record lists them (pid and
// kernel start time, so a reused pid is not mistaken for a member), each `wake` takes
// its own shell off, and the file is removed when the last live shell wakes. A shell
// that exits without waking is dropped the next time the list is read, but the session
// stays: it ends only when someone wakes from it, so a new shell can still rejoin.
//
// {
//   "version": 1, "mode": "solid" | "phantom", "project": "/abs/root",
//   "cas_root": "/abs/the_source", "shim": "/abs/libvrift_shim.so",
//   "started_at": "2025-01-31T12:00:00Z", "abi_context": null | "...",
//   "shells": [{"pid": 123, "start": 456789}]
// }
//
// Readers and writers hold SessionLock (flock on .vrift/session.lock) around a
// read-modify-write; the file itself is replaced atomically (temp + rename).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.hpp"
#include "project/config.hpp"
#include "project/failure.hpp"
#include "project/project.hpp"

namespace vrift::project {

struct ShellRef {
  int pid = 0;
  uint64_t start = 0;  // start time in clock ticks since boot (/proc/PID/stat field 22)

  bool operator==(const ShellRef&) const = default;
};

struct SessionRecord {
  static constexpr int k_version = 1;

  Mode mode = Mode::Solid;
  std::string project;      // the project root
  std::string cas_root;     // The Source the session's files come from
  std::string shim;         // the shim the session preloads
  std::string started_at;   // UTC, ISO 8601
  std::string abi_context;  // $VRIFT_ABI_CONTEXT at the start; empty: none
  std::vector<ShellRef> shells;
};

// Serializes session.json updates between vrift processes while it lives.
class SessionLock {
 public:
  // Blocks until the lock is held. Fails when .vrift/session.lock cannot be opened.
  static Outcome<SessionLock> acquire(const ProjectPaths& project);

 private:
  explicit SessionLock(UniqueFd fd) : m_fd(std::move(fd)) {}
  UniqueFd m_fd;  // closing it releases the lock
};

// The project's session. Absent file: nullopt. A file that is not a session record (or
// a newer version) fails, naming it.
Outcome<std::optional<SessionRecord>> read_session(const ProjectPaths& project);

// Replaces session.json atomically.
Outcome<void> write_session(const ProjectPaths& project, const SessionRecord& record);

// Removes session.json; an absent file is not an error.
Outcome<void> remove_session(const ProjectPaths& project);

std::string session_json(const SessionRecord& record);

// The shell vrift runs under: the parent process, or, when the parent is a subshell
// the shell forked for $(...) (same program, same command line, same process group as
// its own parent), that subshell's parent.
ShellRef current_shell();

// Whether `shell` is still running (its pid exists with the same start time).
bool shell_alive(const ShellRef& shell);

// Adds `self` to the record's shells (once) after dropping the ones no longer running.
void join_session(SessionRecord& record, const ShellRef& self);

// Takes `self` off the record's shells and drops the ones no longer running. Returns how
// many live shells remain.
size_t leave_session(SessionRecord& record, const ShellRef& self);

// How many live shells other than `self` the record lists.
size_t other_live_shells(const SessionRecord& record, const ShellRef& self);

// The current time, UTC, as "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_now();

}  // namespace vrift::project
