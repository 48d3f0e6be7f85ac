#pragma once
// Doctor: startup recovery. Compares the manifest (the layered view: delta over base)
// with the project's paths and with The Source, reports every difference, and with
// `repair` puts back what can be put back.
//
// What is checked, per manifest entry, with one lstat per path and per blob (no reads
// unless `deep`):
//   - Solid files: the path is the link the entry says (a Tier-1 symlink naming its blob,
//     or a hardlink sharing the blob's inode, which must not be immutable: "frozen");
//     a private read-only copy is still the file ingest left;
//   - Phantom files: nothing at the path, the blob present;
//   - directories and symlinks: present, symlinks with their recorded target;
//   - each blob once: present, regular, the size its name says, mode 0444/0555; `deep`
//     rehashes it;
//   - `deep` or `repair`: the manifest's base index, when one is in use, answers for every base
//     entry what the manifest holds (repair rebuilds it under a new stamp);
//   - leftovers: `.vrift-tmp-*` temps of dead processes in the projected directories and
//     in The Source's tmp/ (a live process may be using the others: they are left
//     alone), and files in projected directories that the manifest does not know
//     (subtrees given back by `vrift restore PATH` excepted).
//
// Repair never destroys content that still exists anywhere, and keeps the Iron Law
// (a blob's bytes are never written; a path is replaced only by a temp renamed over
// it, so it is never missing). In order:
//   1. stale temps are removed; missing directories are made again;
//   2. blobs: a blob with a wrong mode is rehashed and, when its content is right,
//      chmod-ed back; a damaged blob (size or hash) is moved out of its name to
//      <The Source>/damaged/; a missing (or just moved) blob is stored again from any
//      project path that still holds the content (hashed first);
//   3. paths, after a fresh check: missing or wrong links are made again from The
//      Source; frozen links lose the immutable flag; a path holding other content
//      (changed outside a session, a Phantom path written to, an unrecorded file) is
//      the user's latest content: it is kept and recorded by ingest, which re-links a
//      copy of the same content; an entry whose content is gone everywhere is dropped,
//      after the report says so (its dangling link with it). Directory mtimes are put
//      back;
//   4. a last check: what it still finds could not be repaired.
// A repair interrupted at any point leaves a state the next doctor handles.

#include <cstdint>
#include <string>
#include <vector>

#include "cas/the_source.hpp"
#include "manifest/lmdb_manifest.hpp"
#include "project/config.hpp"
#include "project/failure.hpp"
#include "project/project.hpp"

namespace vrift::project {

enum class DoctorProblemKind : uint8_t {
  missing_link,     // a Solid projection is gone from its path
  wrong_link,       // a link at the path, but not to the entry's blob (or of the other kind)
  replaced,         // the path holds something else: a copy, or content written outside a session
  phantom_present,  // something exists at the path of a Phantom file
  missing_copy,     // a private read-only copy (no link was possible) is gone
  missing_dir,      // a recorded directory is gone
  missing_symlink,  // a recorded symlink is gone
  frozen_link,      // a Tier-2 hardlink whose inode is immutable: it cannot be replaced or removed
  missing_blob,     // the blob an entry names is not in The Source
  damaged_blob,     // a blob whose size (or, deep, content) does not match its name
  blob_mode,        // a blob that is writable, or whose exec bit disagrees with its name
  content_lost,     // (repair) neither the blob nor any copy of the content is left
  stale_temp,       // a temp of a dead process beside project files
  stale_source_temp,  // a temp of a dead process in The Source's tmp/
  unrecorded,       // a file or directory in a projected directory that the manifest does not know
  unreadable,       // could not be examined
  damaged_index,    // (deep, repair) the manifest's base index answers differently from the manifest
};

// A short name for people ("missing link", ...). Static storage.
const char* describe(DoctorProblemKind kind) noexcept;

struct DoctorProblem {
  DoctorProblemKind kind = DoctorProblemKind::unreadable;
  std::string path;    // absolute: a project path, or a blob or temp in The Source
  std::string why;     // what is wrong, for people
  std::string action;  // what to do about it (without repair), or what repair did
  bool fixed = false;  // (repair) gone from the last check
};

struct DoctorOptions {
  bool repair = false;
  bool deep = false;  // rehash every blob the manifest uses
  unsigned jobs = 0;  // threads; 0: four per core
};

struct DoctorReport {
  uint64_t entries = 0;  // manifest entries checked (layered view)
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t blobs = 0;           // distinct blobs checked
  uint64_t hashed_bytes = 0;    // bytes rehashed (deep, and blobs repair had to check)
  uint64_t scanned_dirs = 0;    // projected directories listed for leftovers
  bool deep = false;
  bool repaired = false;        // options.repair was set
  // What the (first) check found, in path order; with repair each says what was done
  // and whether the last check still found it, followed by anything the last check
  // found that the first did not.
  std::vector<DoctorProblem> problems;
  uint64_t remaining = 0;       // problems the last check still found (0: all clean)
  uint64_t reingested = 0;      // (repair) paths recorded again by ingest
  uint64_t dropped = 0;         // (repair) entries dropped because their content is gone
  std::vector<Failure> notes;   // (repair) warnings of steps that could not be done
  double seconds = 0;

  bool clean() const { return remaining == 0; }
  // One line: "doctor: 30123 entries, 25000 blobs: no problems (0.21 s)", or with the
  // counts of problems found, repaired and remaining.
  std::string summary() const;
};

// One line for a problem: "<what> (<path>): <why>; <action>".
std::string problem_line(const DoctorProblem& problem);

// Checks (and with options.repair, repairs) the project. Never prints. Fails only when
// the project, the manifest or The Source cannot be read at all; everything else is a
// problem in the report.
Outcome<DoctorReport> doctor(const ProjectPaths& project, const Config& config, cas::TheSource& source,
                             manifest::LmdbManifest& manifest, const DoctorOptions& options);

}  // namespace vrift::project
