#pragma once
// Phantom files that leave with their directory. Taking a file off its path safely
// costs a rename (a look at what was taken, then its unlink or the rename back: see
// remove_checked()), the dearest step of a Phantom ingest. Where the directory is to
// be virtual as well, it is taken off its path instead, once for all its files: renamed
// aside (nothing reaches it by its path any more), each recorded file there unlinked if
// it is still the file read, and the directory removed, which succeeds only if it is
// empty, so that anything else put there meanwhile goes back with it.
//
// A crash leaves the directory aside under a temp name (`.vrift-tmp-<pid>-<n>`) holding
// recorded files only: each is content The Source has; the next ingest removes it as
// it removes other stale temps.

#include <sys/stat.h>

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace vrift::project {

class Trash;

class LeavingDirs {
 public:
  // Directories under the project root `root_fd`; duplicates go to `trash` (may be null).
  LeavingDirs(int root_fd, Trash* trash) noexcept : m_root_fd(root_fd), m_trash(trash) {}

  // Records that the file at `rel` (as `st` names it) leaves with its directory; a
  // duplicate (a copy of a blob, not the blob's own inode) goes to the trash. Workers
  // may call this at once.
  void add(const std::string& rel, const struct stat& st, bool duplicate);

  // Takes directory `dir` off its path with its recorded files. True when it is gone;
  // false when it stays (it was not there, or holds more than them), its recorded
  // files removed all the same. `kept` gets the recorded files that had changed (they
  // stay). Different directories may be removed at once.
  bool remove(const std::string& dir, std::vector<std::string>& kept);

  // Removes the recorded files of the directories remove() was not asked about, one at a
  // time (remove_checked()), and lists in `kept` those that changed.
  void remove_rest(std::vector<std::string>& kept);

 private:
  // The file read, as its inode and times tell it: its descriptor is closed by the time
  // it leaves, so another file may have its inode number by then.
  struct File {
    std::string name;
    struct stat st;
    bool duplicate;
    bool is(const struct stat& now) const {
      return now.st_ino == st.st_ino && now.st_dev == st.st_dev && now.st_size == st.st_size &&
             now.st_mtim.tv_sec == st.st_mtim.tv_sec && now.st_mtim.tv_nsec == st.st_mtim.tv_nsec;
    }
  };
  std::vector<File> take(const std::string& dir);
  void remove_one_by_one(const std::string& dir, const std::vector<File>& files, std::vector<std::string>& kept);
  void put_back(const std::string& aside, const std::string& dir);

  int m_root_fd;
  Trash* m_trash;
  std::mutex m_mutex;  // guards m_files
  std::unordered_map<std::string, std::vector<File>> m_files;  // by directory
};

}  // namespace vrift::project
