#pragma once
// Deterministic file paths shaped like a node_modules tree, for the manifest benchmarks:
// node_modules/[@scopeK/]package-N/<dirs>/fileI.<ext>, 3 to 8 components, at most 40
// files per directory, popular packages larger than others; and entries for them.

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "hash/hasher.hpp"
#include "manifest/entry.hpp"

namespace vrift::bench {

// The entry of file number `i` (a quarter Tier-1; size, times and hash vary with i).
inline manifest::Entry sample_file_entry(uint64_t i) {
  manifest::Entry e;
  e.kind = manifest::EntryKind::file;
  e.tier = i % 4 == 0 ? manifest::Tier::tier1 : manifest::Tier::tier2;
  e.mode = 0100644;
  e.size = 100 + i % 9000;
  e.mtime_ns = 1700000000000000000 + static_cast<int64_t>(i);
  e.ino = i;
  e.hash = hash::hash_bytes(&i, sizeof(i));
  e.ext = "js";
  return e;
}

struct TreePaths {
  std::vector<std::string> files;   // existing files, in generation order
  std::vector<std::string> misses;  // absent files in existing directories, one per file
};

inline TreePaths node_modules_paths(uint64_t n, std::mt19937_64& rng) {
  static const char* const words[] = {"lib",   "dist",     "src",     "esm",     "cjs",
                                      "utils", "internal", "types",   "helpers", "core",
                                      "build", "modules",  "runtime", "compat",  "es",
                                      "node",  "browser",  "plugins", "parser",  "generated"};
  static const char* const exts[] = {"js", "js", "js", "mjs", "cjs", "json", "d.ts", "map", "md", "ts"};
  TreePaths out;
  uint64_t packages = n / 60 + 10;
  std::map<std::string, uint64_t> dir_files;  // per directory: files made so far
  while (out.files.size() < n) {
    uint64_t pkg = static_cast<uint64_t>(std::pow(static_cast<double>(rng() % 1000000) / 1e6, 2.0) *
                                         static_cast<double>(packages));
    std::string path = "node_modules/";
    if (pkg % 7 == 0) {
      path += "@scope" + std::to_string(pkg % 13) + "/";
    }
    path += "package-" + std::to_string(pkg);
    int depth = 3 + static_cast<int>(rng() % 6);  // components, file included
    int dirs = depth - 3 + (pkg % 7 == 0 ? 0 : 1);
    for (int d = 0; d < dirs; ++d) {
      path += "/";
      path += words[rng() % (sizeof(words) / sizeof(words[0]))];
    }
    uint64_t& count = dir_files[path];
    if (count >= 40) {
      continue;  // keep directories at a realistic size
    }
    out.files.push_back(path + "/file" + std::to_string(count++) + "." + exts[rng() % (sizeof(exts) / sizeof(exts[0]))]);
    out.misses.push_back(path + "/missing" + std::to_string(count) + ".js");
  }
  return out;
}

}  // namespace vrift::bench
