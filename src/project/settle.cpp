#include "project/settle.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <string>
#include <vector>

namespace vrift::project {

Outcome<uint64_t> settle_writes(const ProjectPaths& project, const Config& config, cas::TheSource& source,
                                manifest::LmdbManifest& manifest, Mode mode, const WarningSink& warn) {
  std::vector<std::string> dirty;
  {
    auto txn = manifest.read();
    if (!txn) {
      return failure("cannot read manifest", project.manifest_dir(), txn.error());
    }
    auto visited = manifest.for_each(*txn, manifest::Layer::delta, [&](std::string_view path, const manifest::Entry& e) {
      if (e.kind == manifest::EntryKind::file && e.dirty()) {
        dirty.emplace_back(path);
      }
      return true;
    });
    if (!visited) {
      return failure("cannot read manifest", project.manifest_dir(), visited.error());
    }
  }
  IngestOptions options;
  options.mode = mode;
  for (const std::string& path : dirty) {
    struct stat st;
    std::string abs = project.root + "/" + path;
    if (::fstatat(AT_FDCWD, abs.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
      options.paths.push_back(path);
    }
  }
  if (options.paths.empty()) {
    return uint64_t{0};
  }
  auto summary = ingest(project, config, source, manifest, options, warn);
  if (!summary) {
    return tl::unexpected(summary.error());
  }
  return static_cast<uint64_t>(options.paths.size());
}

}  // namespace vrift::project
