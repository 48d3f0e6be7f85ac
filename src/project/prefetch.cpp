#include "project/prefetch.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <climits>

namespace vrift::project {

Prefetch::Prefetch(const cas::TheSource& source, manifest::LmdbManifest& manifest, uint64_t budget_bytes)
    : m_thread([this, &source, &manifest, budget_bytes] { run(source, manifest, budget_bytes); }) {}

Prefetch::~Prefetch() {
  m_stop.store(true, std::memory_order_relaxed);
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void Prefetch::finish() noexcept {
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void Prefetch::run(const cas::TheSource& source, manifest::LmdbManifest& manifest, uint64_t budget) noexcept {
  auto txn = manifest.read();
  if (!txn) {
    return;  // an optimization only: the session works without it
  }
  uint64_t advised = 0;
  (void)manifest.for_each(*txn, [&](std::string_view, const manifest::Entry& e) {
    if (m_stop.load(std::memory_order_relaxed) || advised >= budget) {
      return false;
    }
    if (e.kind != manifest::EntryKind::file || e.tier != manifest::Tier::tier2 || e.size == 0 || e.dirty()) {
      return true;
    }
    char path[PATH_MAX];
    if (source.path_of(manifest::blob_key(e), path, sizeof path) == 0) {
      return true;
    }
    int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
    if (fd < 0) {
      fd = ::open(path, O_RDONLY | O_CLOEXEC);  // O_NOATIME needs ownership
    }
    if (fd >= 0) {
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
      ::close(fd);
      advised += e.size;
      m_advised.store(advised, std::memory_order_relaxed);
    }
    return true;
  });
}

}  // namespace vrift::project
