#include "manifest/base_index.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/fd.hpp"
#include "base/io.hpp"

namespace vrift::manifest {

namespace {

constexpr char k_magic[8] = {'V', 'R', 'I', 'F', 'T', 'B', 'X', '1'};
constexpr size_t k_header_bytes = 40;  // magic, stamp, slot count, entries, arena bytes
constexpr size_t k_item_header = 4;    // u16 path length, u16 record length

uint64_t load64(const unsigned char* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint16_t load16(const unsigned char* p) noexcept {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint64_t rotl(uint64_t x, int r) noexcept { return (x << r) | (x >> (64 - r)); }

// The usual 64-bit finalizer: every input bit reaches every output bit.
uint64_t avalanche(uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

uint32_t tag_of(uint64_t hash) noexcept {
  auto tag = static_cast<uint32_t>(hash >> 32);
  return tag == 0 ? 1 : tag;  // 0 marks an empty slot
}

bool index_path(const char* env_dir, std::string_view name, char (&out)[PATH_MAX]) noexcept {
  int n = std::snprintf(out, sizeof(out), "%s/%.*s", env_dir, static_cast<int>(name.size()),
                        name.data());
  return n > 0 && static_cast<size_t>(n) < sizeof(out);
}

struct Header {
  uint64_t stamp = 0;
  uint64_t slots = 0;
  uint64_t entries = 0;
  uint64_t arena_bytes = 0;
};

// Reads and checks the header against the file's size. False: not an index.
bool read_header(int fd, uint64_t file_bytes, Header& h) noexcept {
  unsigned char raw[k_header_bytes];
  if (file_bytes < k_header_bytes || ::pread(fd, raw, sizeof(raw), 0) != static_cast<ssize_t>(sizeof(raw)) ||
      std::memcmp(raw, k_magic, sizeof(k_magic)) != 0) {
    return false;
  }
  h.stamp = load64(raw + 8);
  h.slots = load64(raw + 16);
  h.entries = load64(raw + 24);
  h.arena_bytes = load64(raw + 32);
  bool power_of_two = h.slots != 0 && (h.slots & (h.slots - 1)) == 0;
  return power_of_two && h.slots <= (uint64_t{1} << 40) && h.entries < h.slots &&
         h.arena_bytes <= UINT32_MAX &&
         file_bytes == k_header_bytes + h.slots * sizeof(uint64_t) + h.arena_bytes;
}

// Removes the temps ("base.index.<pid>.tmp") of builders that died before renaming
// them; a live builder's stays (two may run at once: each renames a whole file).
void remove_dead_temps(const char* env_dir) noexcept {
  DIR* dir = ::opendir(env_dir);
  if (dir == nullptr) {
    return;
  }
  std::string_view prefix = "base.index.";
  while (dirent* ent = ::readdir(dir)) {
    std::string_view name = ent->d_name;
    if (!name.starts_with(prefix) || !name.ends_with(".tmp")) {
      continue;
    }
    long pid = std::strtol(name.substr(prefix.size()).data(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      ::unlinkat(::dirfd(dir), ent->d_name, 0);
    }
  }
  ::closedir(dir);
}

}  // namespace

uint64_t index_hash(std::string_view path) noexcept {
  constexpr uint64_t k1 = 0x9e3779b97f4a7c15ULL;
  constexpr uint64_t k2 = 0xbf58476d1ce4e5b9ULL;
  uint64_t h = k1 ^ (path.size() * k2);
  size_t i = 0;
  for (; i + 8 <= path.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, path.data() + i, sizeof(word));
    h = rotl(h ^ (word * k2), 29) * k1;
  }
  uint64_t tail = 0;
  if (i < path.size()) {
    std::memcpy(&tail, path.data() + i, path.size() - i);
  }
  h = rotl(h ^ (tail * k2), 29) * k1;
  return avalanche(h);
}

void BaseIndexBuilder::add(std::string_view path, std::string_view record) {
  auto offset = static_cast<uint32_t>(m_arena.size());
  auto lengths = static_cast<uint32_t>(path.size()) | (static_cast<uint32_t>(record.size()) << 16);
  m_arena.append(reinterpret_cast<const char*>(&lengths), sizeof(lengths));
  m_arena.append(path);
  m_arena.append(record);
  m_items.push_back(Item{index_hash(path), offset});
}

Status BaseIndexBuilder::write(const char* env_dir, uint64_t stamp) const {
  if (m_arena.size() > UINT32_MAX) {
    return fail(Errc::invalid, "write base index (over 4 GiB)");
  }
  uint64_t slots = 16;
  while (slots < m_items.size() * 2) {
    slots *= 2;
  }
  std::vector<uint64_t> table(slots, 0);
  for (const Item& item : m_items) {
    uint64_t i = item.hash & (slots - 1);
    while (table[i] != 0) {
      i = (i + 1) & (slots - 1);
    }
    table[i] = (static_cast<uint64_t>(tag_of(item.hash)) << 32) | item.offset;
  }
  unsigned char header[k_header_bytes];
  std::memcpy(header, k_magic, sizeof(k_magic));
  uint64_t fields[4] = {stamp, slots, m_items.size(), m_arena.size()};
  std::memcpy(header + 8, fields, sizeof(fields));

  remove_dead_temps(env_dir);
  char final_path[PATH_MAX];
  char temp_path[PATH_MAX];
  std::string temp_name = std::string(k_base_index_name) + "." + std::to_string(::getpid()) + ".tmp";
  if (!index_path(env_dir, k_base_index_name, final_path) || !index_path(env_dir, temp_name, temp_path)) {
    return fail(Error{Errc::system, ENAMETOOLONG, "write base index"});
  }
  UniqueFd fd(::open(temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) {
    return fail_sys("write base index");
  }
  Status st = write_all(fd.get(), header, sizeof(header));
  if (st) {
    st = write_all(fd.get(), table.data(), table.size() * sizeof(uint64_t));
  }
  if (st) {
    st = write_all(fd.get(), m_arena.data(), m_arena.size());
  }
  // Synced before the rename: on a filesystem without a journal the name could
  // otherwise reach the disk before the contents, and a half-written table would answer
  // "absent" for paths the base has.
  if (st && ::fsync(fd.get()) != 0) {
    st = fail_sys("write base index");
  }
  fd.reset();
  if (st && ::rename(temp_path, final_path) != 0) {
    st = fail_sys("write base index");
  }
  if (!st) {
    ::unlink(temp_path);
  }
  return st;
}

Result<bool> BaseIndexMap::open(const char* env_dir, uint64_t stamp, BaseIndexMap& out) noexcept {
  char path[PATH_MAX];
  if (!index_path(env_dir, k_base_index_name, path)) {
    return false;
  }
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) {
      return false;
    }
    return fail_sys("open base index");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return fail_sys("open base index");
  }
  Header h;
  if (!read_header(fd.get(), static_cast<uint64_t>(st.st_size), h)) {
    return fail(Errc::corrupt, "open base index (not an index, or truncated)");
  }
  if (h.stamp != stamp) {
    return false;
  }
  void* map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED) {
    return fail_sys("map base index");
  }
  out.m_base = static_cast<const unsigned char*>(map);
  out.m_bytes = static_cast<size_t>(st.st_size);
  out.m_stamp = h.stamp;
  out.m_mask = h.slots - 1;
  out.m_entries = h.entries;
  out.m_slots = out.m_base + k_header_bytes;
  out.m_arena = out.m_slots + h.slots * sizeof(uint64_t);
  out.m_arena_bytes = h.arena_bytes;
  return true;
}

uint64_t BaseIndexMap::stamp_on_disk(const char* env_dir) noexcept {
  char path[PATH_MAX];
  if (!index_path(env_dir, k_base_index_name, path)) {
    return 0;
  }
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st;
  Header h;
  if (!fd || ::fstat(fd.get(), &st) != 0 || !read_header(fd.get(), static_cast<uint64_t>(st.st_size), h)) {
    return 0;
  }
  return h.stamp;
}

void BaseIndexMap::unmap() noexcept {
  if (m_base != nullptr) {
    ::munmap(const_cast<unsigned char*>(m_base), m_bytes);
  }
  *this = BaseIndexMap();
}

Result<bool> BaseIndexMap::find(std::string_view path, std::string_view& record) const noexcept {
  uint64_t hash = index_hash(path);
  uint32_t tag = tag_of(hash);
  uint64_t i = hash & m_mask;
  for (uint64_t probes = 0; probes <= m_mask; ++probes, i = (i + 1) & m_mask) {
    uint64_t slot = load64(m_slots + i * sizeof(uint64_t));
    if (slot == 0) {
      return false;
    }
    if (static_cast<uint32_t>(slot >> 32) != tag) {
      continue;
    }
    uint64_t offset = slot & UINT32_MAX;
    if (offset + k_item_header > m_arena_bytes) {
      return fail(Errc::corrupt, "base index (record out of bounds)");
    }
    const unsigned char* item = m_arena + offset;
    uint64_t path_len = load16(item);
    uint64_t record_len = load16(item + 2);
    if (offset + k_item_header + path_len + record_len > m_arena_bytes) {
      return fail(Errc::corrupt, "base index (record out of bounds)");
    }
    const auto* stored = reinterpret_cast<const char*>(item + k_item_header);
    if (path_len == path.size() && std::memcmp(stored, path.data(), path_len) == 0) {
      record = std::string_view(stored + path_len, record_len);
      return true;
    }
  }
  return false;
}

}  // namespace vrift::manifest
