#include "shim/delta.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/lmdb_manifest.hpp"
#include "shim/state.hpp"

namespace vrift::shim {

using manifest::Entry;
using manifest::EntryKind;
using manifest::Layer;

namespace {

// Runs fn in one write transaction; false (and a debug line) when it fails.
template <class Fn>
bool write_delta(const char* what, std::string_view path, Fn&& fn) noexcept {
  manifest::LmdbManifest* m = g_session.writable ? session_manifest() : nullptr;
  if (m == nullptr) {
    return false;
  }
  int saved = errno;
  Status done = m->write([&](manifest::WriteTxn& txn) -> Status { return fn(txn); });
  errno = saved;
  if (!done) {
    debug_log("vrift shim: cannot record %s of %.*s in the manifest (%s)", what, static_cast<int>(path.size()),
              path.data(), error_reason(done.error()));
    return false;
  }
  return true;
}

// An entry copied out of LMDB memory, which the next write in the transaction may move.
struct HeldEntry {
  Entry entry;
  std::string ext;
  std::string target;

  void hold(const Entry& e) {
    entry = e;
    ext.assign(e.ext);
    target.assign(e.target);
    entry.ext = ext;
    entry.target = target;
  }
};

}  // namespace

bool commit_entry(const char* rel, size_t len, const Entry& entry) noexcept {
  std::string_view path(rel, len);
  return write_delta("a written file", path, [&](manifest::WriteTxn& txn) { return txn.put(Layer::delta, path, entry); });
}

bool commit_erase(const char* rel, size_t len) noexcept {
  std::string_view path(rel, len);
  return write_delta("a removal", path, [&](manifest::WriteTxn& txn) -> Status {
    (void)VRIFT_TRY(txn.erase(path));
    return {};
  });
}

bool commit_dirty(const char* rel, size_t len, const Entry& before) noexcept {
  Entry e = before;
  e.flags = manifest::k_flag_dirty;
  return commit_entry(rel, len, e);
}

bool commit_dir(const char* rel, size_t len, uint32_t mode, int64_t mtime_ns, manifest::Tier tier) noexcept {
  Entry e;
  e.kind = EntryKind::dir;
  e.tier = tier;
  e.mode = mode;
  e.mtime_ns = mtime_ns;
  return commit_entry(rel, len, e);
}

bool commit_move(const char* from, size_t from_len, const char* to, size_t to_len) noexcept {
  manifest::LmdbManifest* m = g_session.writable ? session_manifest() : nullptr;
  if (m == nullptr) {
    return false;
  }
  std::string_view src(from, from_len);
  std::string_view dst(to, to_len);
  // The subtree below `from`, listed from a snapshot (a write transaction cannot scan),
  // parents before children.
  std::vector<std::string> below;
  {
    int saved = errno;
    auto txn = m->read();
    std::vector<std::string> dirs{std::string(src)};
    for (size_t i = 0; txn && i < dirs.size(); ++i) {
      std::string dir = dirs[i];
      (void)m->list_children(*txn, dir, [&](std::string_view name, const Entry& e) {
        std::string path = dir + "/" + std::string(name);
        if (e.kind == EntryKind::dir) {
          dirs.push_back(path);
        }
        below.push_back(std::move(path));
        return true;
      });
    }
    errno = saved;
  }
  return write_delta("a rename", src, [&](manifest::WriteTxn& txn) -> Status {
    auto move_one = [&](std::string_view old_path, const std::string& new_path) -> Status {
      Entry e;
      bool found = VRIFT_TRY(txn.get(old_path, e));
      if (!found) {
        return {};
      }
      HeldEntry held;
      held.hold(e);
      VRIFT_CHECK(txn.put(Layer::delta, new_path, held.entry));
      (void)VRIFT_TRY(txn.erase(old_path));
      return {};
    };
    // What `to` held before is replaced (rename semantics): drop its record first.
    (void)VRIFT_TRY(txn.erase(dst));
    VRIFT_CHECK(move_one(src, std::string(dst)));
    for (const std::string& path : below) {
      std::string moved = std::string(dst) + path.substr(src.size());
      VRIFT_CHECK(move_one(path, moved));
    }
    return {};
  });
}

}  // namespace vrift::shim
