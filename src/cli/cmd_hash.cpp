// `vrift hash FILE...`: prints what `b3sum FILE...` prints, byte for byte.

#include <fcntl.h>
#include <fmt/core.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cstdio>

#include "base/fd.hpp"
#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "hash/hasher.hpp"

namespace vrift::cli {

namespace {

// Files from this size on are hashed from a read-only mapping of the page cache, as
// b3sum does, rather than read into a buffer (a copy that costs about as much as the
// hashing on some machines).
constexpr off_t k_map_from = 1 << 20;

sigjmp_buf* g_bus_jump = nullptr;
void on_bus_error(int) { siglongjmp(*g_bus_jump, 1); }

// A file truncated while mapped raises SIGBUS on the next page read: caught, and told as
// a file that changed while it was read.
Result<hash::FileDigest> hash_path(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0) {
    return fail_sys(fd ? "fstat" : "open");
  }
  void* map = S_ISREG(st.st_mode) && st.st_size >= k_map_from
                  ? ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd.get(), 0)
                  : MAP_FAILED;
  if (map == MAP_FAILED) {
    return hash::hash_fd(fd.get());
  }
  size_t size = static_cast<size_t>(st.st_size);
  ::madvise(map, size, MADV_SEQUENTIAL);
  sigjmp_buf jump;
  g_bus_jump = &jump;
  struct sigaction on_bus {};
  struct sigaction before {};
  on_bus.sa_handler = on_bus_error;
  ::sigaction(SIGBUS, &on_bus, &before);
  hash::Digest digest;
  volatile bool whole = false;
  if (sigsetjmp(jump, 1) == 0) {
    digest = hash::hash_bytes(map, size);
    whole = true;
  }
  ::sigaction(SIGBUS, &before, nullptr);
  ::munmap(map, size);
  if (!whole) {
    return fail(Errc::changed, "read");
  }
  return hash::FileDigest{digest, size};
}

int run_hash(const std::vector<std::string>& files) {
  int rc = 0;
  std::string out;
  for (const auto& file : files) {
    auto result = hash_path(file.c_str());
    if (!result) {
      std::fflush(stdout);
      print_error("cannot hash file", file, result.error());
      rc = 1;
      continue;
    }
    char hex[hash::k_hex_len + 1];
    hash::to_hex(result->digest, hex);
    bool escaped = false;
    std::string shown = b3sum_display_path(file, escaped);
    out.clear();
    if (escaped) {
      out += '\\';
    }
    out += hex;
    out += "  ";
    out += shown;
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return rc;
}

}  // namespace

void add_hash_command(CLI::App& app, Globals& /*g*/, int& exit_code) {
  auto* cmd = app.add_subcommand("hash", "Print the BLAKE3 hash of each FILE, as b3sum does");
  auto files = std::make_shared<std::vector<std::string>>();
  cmd->add_option("FILE", *files, "Files to hash")->required();
  cmd->callback([files, &exit_code] { exit_code = run_hash(*files); });
}

}  // namespace vrift::cli
