#include "cas/projects.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

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

// What the symlink `rel` names; empty when it is missing or not a symlink.
std::string read_entry(int root, const std::string& rel) {
  char buf[PATH_MAX];
  ssize_t n = ::readlinkat(root, rel.c_str(), buf, sizeof buf);
  return n > 0 && static_cast<size_t>(n) < sizeof buf ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

Status register_project(const TheSource& source, std::string_view project_root) {
  std::string rel = entry_of(project_root);
  if (read_entry(source.root_fd(), rel) == project_root) {
    return {};
  }
  VRIFT_CHECK(make_dir(source.root_fd(), k_dir, 0755));
  // Made beside its name and renamed over it, so the entry is never half there.
  std::string tmp = rel + ".tmp." + std::to_string(::getpid());
  std::string target(project_root);
  ::unlinkat(source.root_fd(), tmp.c_str(), 0);
  if (::symlinkat(target.c_str(), source.root_fd(), tmp.c_str()) != 0) {
    return fail_sys("register the project with The Source");
  }
  if (::renameat(source.root_fd(), tmp.c_str(), source.root_fd(), rel.c_str()) != 0) {
    Error e = sys_error("register the project with The Source");
    ::unlinkat(source.root_fd(), tmp.c_str(), 0);
    return fail(e);
  }
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
    std::string root = read_entry(source.root_fd(), std::string(k_dir) + "/" + name);
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
