#include "project/restored.hpp"

#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>

namespace vrift::project {

namespace {

std::string restored_file(const ProjectPaths& project) { return project.state_dir() + "/restored"; }

}  // namespace

Outcome<std::vector<std::string>> load_restored(const ProjectPaths& project) {
  std::vector<std::string> out;
  std::string path = restored_file(project);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
      return out;
    }
    return failure("cannot read", path, sys_error("open"));
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t begin = 0;
  for (size_t end = data.find('\0'); end != std::string::npos; end = data.find('\0', begin)) {
    out.emplace_back(data, begin, end - begin);
    begin = end + 1;
  }
  return out;
}

Outcome<void> save_restored(const ProjectPaths& project, const std::vector<std::string>& paths) {
  std::string path = restored_file(project);
  if (paths.empty()) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return failure("cannot remove", path, sys_error("unlink"));
    }
    return {};
  }
  std::string data;
  for (const auto& p : paths) {
    data += p;
    data += '\0';
  }
  return write_file_atomic(path, data);
}

bool under_any(std::string_view path, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes) {
    if (p.empty() || path == p || (path.size() > p.size() && path.starts_with(p) && path[p.size()] == '/')) {
      return true;
    }
  }
  return false;
}

}  // namespace vrift::project
