#pragma once
// Prefetch at session start: asks the kernel to read Tier-2 blobs ahead
// (posix_fadvise(POSIX_FADV_WILLNEED)), so a build's first reads of its projected outputs
// and dependencies find them in the page cache. Bounded in bytes, run on a background
// thread, and stopped as soon as the session's command ends. Tier-1 (registry
// dependencies, toolchains) is left to the kernel: it is read through symlinks, often
// only in part.

#include <atomic>
#include <cstdint>
#include <thread>

#include "cas/the_source.hpp"
#include "manifest/lmdb_manifest.hpp"

namespace vrift::project {

// Tier-2 blobs read ahead at a session's start: enough for a build's outputs and
// sources to be warm, small enough not to push out what the session itself reads.
inline constexpr uint64_t k_prefetch_budget = uint64_t{256} << 20;

class Prefetch {
 public:
  // Starts advising up to `budget_bytes` of Tier-2 blobs (in manifest order) on a thread.
  // `source` and `manifest` must outlive this object.
  Prefetch(const cas::TheSource& source, manifest::LmdbManifest& manifest, uint64_t budget_bytes);
  // Stops the thread (at its next file) and waits for it.
  ~Prefetch();
  // Waits until the whole budget (or every Tier-2 blob) has been advised.
  void finish() noexcept;
  Prefetch(const Prefetch&) = delete;
  Prefetch& operator=(const Prefetch&) = delete;

  // Bytes advised so far.
  uint64_t advised() const noexcept { return m_advised.load(std::memory_order_relaxed); }

 private:
  void run(const cas::TheSource& source, manifest::LmdbManifest& manifest, uint64_t budget) noexcept;

  std::atomic<bool> m_stop{false};
  std::atomic<uint64_t> m_advised{0};
  std::thread m_thread;
};

}  // namespace vrift::project
