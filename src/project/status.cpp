#include "project/status.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <unordered_set>

#include "base/fd.hpp"

namespace vrift::project {

namespace {

int64_t to_ns(const timespec& ts) { return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec; }

}  // namespace

Outcome<StatusReport> project_status(const ProjectPaths& project, const Config& config, const cas::TheSource& source,
                                     manifest::LmdbManifest& manifest) {
  StatusReport report;
  if (auto session = read_session(project); !session) {
    report.session_error = session.error().why;
  } else if (*session) {
    report.session = std::move(*session);
    report.session_shells = other_live_shells(*report.session, ShellRef{});
  }
  UniqueFd root(::open(project.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    return failure("cannot open project", project.root, sys_error("open"));
  }
  uid_t owner = static_cast<uid_t>(-1);
  if (const passwd* pw = ::getpwnam(config.tier1_owner.c_str())) {
    owner = pw->pw_uid;
  }
  auto txn = manifest.read();
  if (!txn) {
    return failure("cannot read manifest", project.manifest_dir(), txn.error());
  }
  auto census = manifest.census(*txn);
  if (!census) {
    return failure("cannot read manifest", project.manifest_dir(), census.error());
  }
  report.census = *census;
  report.mode = census->phantom > 0 && census->phantom * 2 >= census->files ? Mode::Phantom : Mode::Solid;

  std::unordered_set<std::string> seen_blobs;
  auto visited = manifest.for_each(*txn, [&](std::string_view path, const manifest::Entry& e) {
    if (e.kind != manifest::EntryKind::file) {
      return true;
    }
    (e.tier == manifest::Tier::tier1 ? report.tier1_files : report.tier2_files) += 1;
    cas::BlobKey key = manifest::blob_key(e);
    char rel[cas::k_max_blob_rel_path + 1];
    cas::blob_rel_path(key, rel);
    struct stat blob;
    bool have_blob = ::fstatat(source.root_fd(), rel, &blob, AT_SYMLINK_NOFOLLOW) == 0;
    if (!have_blob) {
      ++report.missing_blobs;
    } else if (seen_blobs.insert(rel).second) {
      ++report.unique_blobs;
      report.stored_bytes += static_cast<uint64_t>(blob.st_size);
      if ((blob.st_mode & 0222) == 0) {
        ++report.read_only_blobs;
      }
      if (e.tier == manifest::Tier::tier1) {
        ++report.tier1_blobs;
        if (blob.st_uid == owner) {
          ++report.tier1_owned_by_user;
        }
        UniqueFd fd(::openat(source.root_fd(), rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
        int flags = 0;
        if (fd && ::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL) != 0) {
          ++report.tier1_immutable;
        }
      }
    }
    std::string p(path);
    struct stat st;
    bool present = ::fstatat(root.get(), p.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (e.phantom()) {
      report.phantom_occupied += present ? 1 : 0;
      return true;
    }
    if ((e.flags & manifest::k_flag_projected) == 0) {  // not a link vrift made: a private read-only copy
      ++report.private_copies;
      return true;
    }
    if (present && S_ISLNK(st.st_mode)) {
      // A Tier-1 symlink: it must still point at this entry's blob.
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(root.get(), p.c_str(), target, sizeof target - 1);
      if (n < 0 || !source.is_link_to(key, std::string_view(target, static_cast<size_t>(n)))) {
        ++report.broken_projections;
      }
      return true;
    }
    if (!present || static_cast<uint64_t>(st.st_ino) != e.ino) {
      ++report.broken_projections;
      return true;
    }
    if (S_ISREG(st.st_mode)) {
      ++report.tier2_links;
      if (!have_blob || st.st_ino != blob.st_ino) {
        ++report.broken_projections;
      } else if (to_ns(st.st_mtim) != e.mtime_ns) {
        ++report.borrowed_mtimes;
      }
    }
    return true;
  });
  if (!visited) {
    return failure("cannot read manifest", project.manifest_dir(), visited.error());
  }
  return report;
}

}  // namespace vrift::project
