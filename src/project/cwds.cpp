#include "project/cwds.hpp"

#include <dirent.h>
#include <limits.h>
#include <unistd.h>

#include <cctype>
#include <string_view>

namespace vrift::project {

std::unordered_set<std::string> working_dirs_below(const std::string& root) {
  std::unordered_set<std::string> dirs;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return dirs;
  }
  while (dirent* ent = ::readdir(proc)) {
    if (!std::isdigit(static_cast<unsigned char>(ent->d_name[0]))) {
      continue;
    }
    std::string link = std::string("/proc/") + ent->d_name + "/cwd";
    char target[PATH_MAX];
    ssize_t n = ::readlink(link.c_str(), target, sizeof target);  // fails for other users' processes
    if (n <= 0 || static_cast<size_t>(n) >= sizeof target) {
      continue;
    }
    std::string_view cwd(target, static_cast<size_t>(n));
    if (cwd.size() <= root.size() + 1 || !cwd.starts_with(root) || cwd[root.size()] != '/') {
      continue;
    }
    for (std::string_view rel = cwd.substr(root.size() + 1); !rel.empty();) {
      if (!dirs.emplace(rel).second) {
        break;  // its parents are in already
      }
      size_t slash = rel.rfind('/');
      rel = slash == std::string_view::npos ? std::string_view() : rel.substr(0, slash);
    }
  }
  ::closedir(proc);
  return dirs;
}

}  // namespace vrift::project
