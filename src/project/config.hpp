#pragma once
// A project's configuration: .vrift/config.toml.

#include <string>
#include <string_view>
#include <vector>

#include "manifest/entry.hpp"
#include "project/failure.hpp"

namespace vrift::project {

enum class Mode : uint8_t { Solid, Phantom };
enum class Tier1Link : uint8_t { symlink, hardlink };
// Which Phantom directories may be virtual: none, those whose path is Tier-1 (the
// dependency trees nobody works in), or all below the projected ones.
enum class PhantomDirs : uint8_t { physical, tier1, all };

const char* mode_name(Mode mode) noexcept;  // "solid" / "phantom"

struct TierRule {
  std::string pattern;  // glob over project-relative paths (project/glob.hpp)
  manifest::Tier tier = manifest::Tier::tier2;
};

struct Config {
  static constexpr int k_version = 1;

  Mode mode = Mode::Solid;
  std::vector<std::string> projected;  // project-relative directories ingest walks
  std::vector<TierRule> tier_rules;    // first match wins; no match: Tier-2
  Tier1Link tier1_link = Tier1Link::symlink;
  bool tier1_immutable = true;         // set the immutable flag on Tier-1 blobs when allowed
  std::string tier1_owner = "vrift";   // owner of Tier-1 blobs when run as root, if that user exists
  // Phantom: directories below the projected ones may be virtual (removed once ingest
  // has emptied them, made again when a program in a session needs one: shim/vfs.hpp,
  // and by a session shell's `cd`: shell_code.hpp), for the least disk; the others stay
  // on disk, where a shell outside any session can `cd` into them. By default those of
  // dependencies (Tier-1) are virtual and those of build outputs are not.
  PhantomDirs phantom_dirs = PhantomDirs::tier1;
  // Ingest keeps a hash index of the manifest's base layer for point lookups once it has
  // this many entries (0: always); smaller bases are looked up in LMDB alone.
  uint64_t index_min_entries = 100000;

  // The tier of a project-relative path.
  manifest::Tier tier_of(std::string_view rel_path) const noexcept;
};

// The directories projected by default: those of node_modules, target, .venv, dist and
// build that exist under `root`, and node_modules, target and .venv where package.json,
// Cargo.toml or a Python project file says the project's tools will make them.
std::vector<std::string> default_projected(const std::string& root);

// The manifest's record of the projected directories (manifest::k_meta_projected_key):
// one line per directory, its tier's digit first.
std::string projected_record(const Config& config);

// The default tier rules: registry dependencies and toolchains Tier-1, build outputs and
// everything else Tier-2.
std::vector<TierRule> default_tier_rules();

// Reads and checks a config file. Failures name the line and what is wrong.
Outcome<Config> load_config(const std::string& path);

// The config as TOML text, with comments, as `vrift init` writes it.
std::string render_config(const Config& config);

// Records `mode` in the config file at `path`, changing only its top-level `mode = ...`
// line (or adding one before the first table), so the rest of the file and its comments
// stay as the user left them. Written atomically; the result is checked to load back.
Outcome<void> set_config_mode(const std::string& path, Mode mode);

}  // namespace vrift::project
