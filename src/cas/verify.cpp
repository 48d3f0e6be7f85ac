#include "cas/verify.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.hpp"
#include "base/io.hpp"
#include "hash/hasher.hpp"

namespace vrift::cas {

const char* describe(BlobProblem problem) noexcept {
  switch (problem) {
    case BlobProblem::not_a_blob: return "not a blob name";
    case BlobProblem::misplaced: return "in the wrong shard directory";
    case BlobProblem::wrong_size: return "wrong size";
    case BlobProblem::wrong_mode: return "wrong mode (writable or exec bit mismatch)";
    case BlobProblem::wrong_content: return "wrong content (does not hash to its name)";
    case BlobProblem::unreadable: return "unreadable";
    case BlobProblem::stray_temp: return "stray temp file (an interrupted store)";
  }
  return "unknown problem";
}

namespace {

constexpr time_t k_stray_age_seconds = 3600;

struct Walker {
  const TheSource& source;
  const ProblemSink& sink;
  std::mutex sink_mutex;
  std::atomic<uint64_t> problems{0};
  std::vector<std::pair<std::string, BlobKey>> to_hash;
  VerifyReport report;

  void problem(const std::string& rel, BlobProblem p) {
    problems.fetch_add(1);
    std::lock_guard lock(sink_mutex);
    sink(rel.c_str(), p);
  }

  // Lists the entries of a directory relative to the root, skipping "." and "..".
  bool list(const std::string& rel, std::vector<std::string>& names) {
    auto listed = list_dir(source.root_fd(), rel.c_str());
    if (!listed) {
      return false;
    }
    names = std::move(*listed);
    return true;
  }

  static bool is_shard_name(const std::string& name) {
    if (name.size() != 2) {
      return false;
    }
    for (char c : name) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }

  void check_blob(const std::string& shard, const std::string& name, bool deep) {
    std::string rel = shard + "/" + name;
    BlobKey key;
    if (!parse_blob_name(name, key)) {
      problem(rel, BlobProblem::not_a_blob);
      return;
    }
    char hex[hash::k_hex_len + 1];
    hash::to_hex(key.digest, hex);
    // shard is "blake3/ab"
    if (shard.compare(7, 2, hex, 2) != 0) {
      problem(rel, BlobProblem::misplaced);
    }
    struct stat st;
    if (::fstatat(source.root_fd(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      problem(rel, BlobProblem::unreadable);
      return;
    }
    ++report.blobs;
    report.bytes += static_cast<uint64_t>(st.st_size);
    if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != blob_mode(key)) {
      problem(rel, BlobProblem::wrong_mode);
    }
    if (static_cast<uint64_t>(st.st_size) != key.size) {
      problem(rel, BlobProblem::wrong_size);
      return;  // its content cannot match either; one line is enough
    }
    if (deep && S_ISREG(st.st_mode)) {
      to_hash.emplace_back(std::move(rel), key);
    }
  }

  void hash_all(unsigned threads) {
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i = next.fetch_add(1); i < to_hash.size(); i = next.fetch_add(1)) {
        const auto& [rel, key] = to_hash[i];
        UniqueFd fd(::openat(source.root_fd(), rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        auto digest = fd ? hash::hash_fd(fd.get()) : fail_sys("open");
        if (!digest) {
          problem(rel, BlobProblem::unreadable);
        } else if (digest->digest != key.digest || digest->size != key.size) {
          problem(rel, BlobProblem::wrong_content);
        }
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) {
      pool.emplace_back(work);
    }
    work();
    for (auto& t : pool) {
      t.join();
    }
  }

  void check_temps() {
    std::vector<std::string> names;
    if (!list("tmp", names)) {
      return;
    }
    time_t now = ::time(nullptr);
    for (const auto& name : names) {
      std::string rel = "tmp/" + name;
      struct stat st;
      if (::fstatat(source.root_fd(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          now - st.st_mtim.tv_sec > k_stray_age_seconds) {
        problem(rel, BlobProblem::stray_temp);
      }
    }
  }
};

}  // namespace

Result<VerifyReport> verify(const TheSource& source, bool deep, const ProblemSink& sink, unsigned threads) {
  Walker walker{source, sink, {}, {}, {}, {}};
  std::vector<std::string> shards;
  std::vector<std::string> blobs;
  if (!walker.list("blake3", shards)) {
    return fail_sys("list The Source");
  }
  for (const auto& a : shards) {
    std::string shard = "blake3/" + a;
    if (!Walker::is_shard_name(a) || !walker.list(shard, blobs)) {
      walker.problem(shard, BlobProblem::not_a_blob);
      continue;
    }
    for (const auto& name : blobs) {
      walker.check_blob(shard, name, deep);
    }
  }
  walker.check_temps();
  if (deep) {
    if (threads == 0) {
      threads = std::max(1u, std::thread::hardware_concurrency());
    }
    walker.hash_all(threads);
  }
  walker.report.problems = walker.problems.load();
  return walker.report;
}

}  // namespace vrift::cas
