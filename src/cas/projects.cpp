#include "cas/projects.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/io.hpp"
#include "hash/hasher.hpp"

namespace vrift::cas {

namespace {

constexpr const char* k_dir = "projects";
constexpr size_t k_id_len = 32;

std::string entry_of(std::string_view project_root) {
  hash::Digest d = hash::hash_bytes(project_root.data(), project_root.size());
  char hex[hash::k_hex_len + 1];
  hash::to_hex(d, hex);
  return std::string(k_dir) + "/" + std::string(hex, k_id_len);
}

}  // namespace

Status register_project(const TheSource& source, std::string_view project_root) {
  std::string rel = entry_of(project_root);
  if (read_symlink(source.root_fd(), rel) == project_root) {
    return {};
  }
  VRIFT_CHECK(make_dir(source.root_fd(), k_dir, 0755));
  VRIFT_CHECK(replace_symlink(source.root_fd(), rel, std::string(project_root), "register the project with The Source"));
  VRIFT_CHECK(sync_dir(source.root_fd(), k_dir, "register the project with The Source"));
  return sync_dir(source.root_fd(), ".", "register the project with The Source");  // a new projects/
}

Result<std::vector<RegisteredProject>> registered_projects(const TheSource& source) {
  std::vector<RegisteredProject> out;
  auto names = list_dir(source.root_fd(), k_dir);
  if (!names) {
    if (names.error().sys == ENOENT) {
      return out;  // no project ever registered
    }
    return fail(names.error());
  }
  for (const std::string& name : *names) {
    if (name.size() != k_id_len) {
      continue;  // a temp of an interrupted registration
    }
    std::string root = read_symlink(source.root_fd(), std::string(k_dir) + "/" + name);
    if (!root.empty()) {
      out.push_back({name, std::move(root)});
    }
  }
  return out;
}

Status forget_project(const TheSource& source, std::string_view id) {
  std::string rel = std::string(k_dir) + "/" + std::string(id);
  if (::unlinkat(source.root_fd(), rel.c_str(), 0) != 0 && errno != ENOENT) {
    return fail_sys("forget the project");
  }
  return {};
}

}  // namespace vrift::cas
