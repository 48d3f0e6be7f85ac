#include "project/leaving_dirs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "base/fd.hpp"
#include "project/projection.hpp"
#include "project/trash.hpp"

namespace vrift::project {

void LeavingDirs::add(const std::string& rel, const struct stat& st, bool duplicate) {
  size_t slash = rel.rfind('/');
  std::string dir = slash == std::string::npos ? std::string() : rel.substr(0, slash);
  std::lock_guard lock(m_mutex);
  m_files[dir].push_back(File{rel.substr(slash + 1), st, duplicate});
}

std::vector<LeavingDirs::File> LeavingDirs::take(const std::string& dir) {
  std::lock_guard lock(m_mutex);
  auto it = m_files.find(dir);
  if (it == m_files.end()) {
    return {};
  }
  std::vector<File> files = std::move(it->second);
  m_files.erase(it);
  return files;
}

bool LeavingDirs::remove(const std::string& dir, std::vector<std::string>& kept) {
  std::vector<File> files = take(dir);
  if (files.empty()) {
    return ::unlinkat(m_root_fd, dir.c_str(), AT_REMOVEDIR) == 0;
  }
  std::string aside = aside_name_for(dir);
  if (aside.empty() || ::renameat(m_root_fd, dir.c_str(), m_root_fd, aside.c_str()) != 0) {
    remove_one_by_one(dir, files, kept);
    return ::unlinkat(m_root_fd, dir.c_str(), AT_REMOVEDIR) == 0;
  }
  std::string path;
  for (const File& f : files) {
    path.assign(aside).append("/").append(f.name);
    struct stat st;
    if (::fstatat(m_root_fd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;  // removed meanwhile
    }
    if (!f.is(st)) {
      kept.push_back(dir + "/" + f.name);  // put there since it was read: it goes back
      continue;
    }
    if (!f.duplicate || m_trash == nullptr || !m_trash->take(m_root_fd, path.c_str())) {
      ::unlinkat(m_root_fd, path.c_str(), 0);
    }
  }
  if (::unlinkat(m_root_fd, aside.c_str(), AT_REMOVEDIR) == 0) {
    return true;
  }
  put_back(aside, dir);  // it holds more than its recorded files
  return false;
}

void LeavingDirs::put_back(const std::string& aside, const std::string& dir) {
  if (put_back_aside(m_root_fd, aside)) {
    return;
  }
  // The name was made again meanwhile (a session needed the directory): what is aside
  // joins it, entry by entry; an entry whose name is taken there stays aside, under a
  // temp name that says where it belongs (doctor names it).
  UniqueFd to(::openat(m_root_fd, dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  int from = ::openat(m_root_fd, aside.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR* listing = from >= 0 ? ::fdopendir(from) : nullptr;
  if (listing == nullptr) {
    if (from >= 0) {
      ::close(from);
    }
    return;
  }
  while (dirent* ent = ::readdir(listing)) {
    if (to && std::strcmp(ent->d_name, ".") != 0 && std::strcmp(ent->d_name, "..") != 0) {
      ::syscall(SYS_renameat2, ::dirfd(listing), ent->d_name, to.get(), ent->d_name, RENAME_NOREPLACE);
    }
  }
  ::closedir(listing);
  ::unlinkat(m_root_fd, aside.c_str(), AT_REMOVEDIR);
}

void LeavingDirs::remove_one_by_one(const std::string& dir, const std::vector<File>& files,
                                    std::vector<std::string>& kept) {
  for (const File& f : files) {
    std::string rel = dir + "/" + f.name;
    Status removed = remove_checked(m_root_fd, rel, Expected{.file = &f.st, .trash = f.duplicate ? m_trash : nullptr});
    if (!removed && removed.error().code == Errc::changed) {
      kept.push_back(rel);
    }
  }
}

void LeavingDirs::remove_rest(std::vector<std::string>& kept) {
  std::unordered_map<std::string, std::vector<File>> rest;
  {
    std::lock_guard lock(m_mutex);
    rest.swap(m_files);
  }
  for (const auto& [dir, files] : rest) {
    remove_one_by_one(dir, files, kept);
  }
}

}  // namespace vrift::project
