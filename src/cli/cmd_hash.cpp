// `vrift hash FILE...`: prints what `b3sum FILE...` prints, byte for byte.

#include <fmt/core.h>

#include <cstdio>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "hash/hasher.hpp"

namespace vrift::cli {

namespace {

int run_hash(const std::vector<std::string>& files) {
  int rc = 0;
  std::string out;
  for (const auto& file : files) {
    auto result = hash::hash_file(file.c_str());
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
