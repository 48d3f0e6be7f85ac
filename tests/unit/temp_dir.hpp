#pragma once
// TempDir: a fresh directory under $TMPDIR (or /tmp) for one test, removed afterwards.

#include <cstdlib>
#include <filesystem>
#include <string>

namespace vrift::test {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/vrift-test-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) {
      std::abort();
    }
    m_path = made;
  }
  ~TempDir() {
    std::error_code ec;
    // Blobs may be read-only: make everything writable first so removal succeeds.
    for (auto it = std::filesystem::recursive_directory_iterator(m_path, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::add, ec);
    }
    std::filesystem::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  std::string str() const { return m_path.string(); }
  std::string operator/(const std::string& rel) const { return (m_path / rel).string(); }

 private:
  std::filesystem::path m_path;
};

}  // namespace vrift::test
