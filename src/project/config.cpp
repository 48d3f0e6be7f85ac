#include "project/config.hpp"

#include <sys/stat.h>

#include <fmt/core.h>
#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "project/glob.hpp"
#include "project/project.hpp"

namespace vrift::project {

const char* mode_name(Mode mode) noexcept { return mode == Mode::Phantom ? "phantom" : "solid"; }

manifest::Tier Config::tier_of(std::string_view rel_path) const noexcept {
  for (const auto& rule : tier_rules) {
    if (glob_match(rule.pattern, rel_path)) {
      return rule.tier;
    }
  }
  return manifest::Tier::tier2;
}

std::vector<std::string> default_projected(const std::string& root) {
  auto exists = [&](const char* name, bool dir) {
    struct stat st;
    return ::lstat((root + "/" + name).c_str(), &st) == 0 && (dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
  };
  // A directory the project's own tools will make (npm ci, cargo build, python -m
  // venv) is projected from the start when the file that asks for it is there.
  struct Known {
    const char* dir;
    std::vector<const char*> made_for;
  };
  const Known known[] = {{"node_modules", {"package.json"}},
                         {"target", {"Cargo.toml"}},
                         {".venv", {"pyproject.toml", "requirements.txt", "setup.py"}},
                         {"dist", {}},
                         {"build", {}}};
  std::vector<std::string> found;
  for (const Known& k : known) {
    bool wanted = exists(k.dir, true);
    for (const char* file : k.made_for) {
      wanted = wanted || exists(file, false);
    }
    if (wanted) {
      found.emplace_back(k.dir);
    }
  }
  return found;
}

std::string projected_record(const Config& config) {
  std::string out;
  for (const auto& dir : config.projected) {
    out += static_cast<char>('0' + static_cast<int>(config.tier_of(dir)));
    out += dir;
    out += '\n';
  }
  return out;
}

std::vector<TierRule> default_tier_rules() {
  using manifest::Tier;
  return {
      {"**/node_modules/**", Tier::tier1},
      {"**/site-packages/**", Tier::tier1},
      {".cargo/registry/**", Tier::tier1},
      {"**/toolchains/**", Tier::tier1},
      {"target/**", Tier::tier2},
      {"dist/**", Tier::tier2},
      {"build/**", Tier::tier2},
  };
}

namespace {

std::string where(const toml::node& node) {
  const auto& src = node.source();
  return fmt::format("line {}", src.begin.line);
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

const char* phantom_dirs_name(PhantomDirs dirs) {
  switch (dirs) {
    case PhantomDirs::physical:
      return "physical";
    case PhantomDirs::all:
      return "virtual";
    case PhantomDirs::tier1:
      break;
  }
  return "tier1";
}

}  // namespace

Outcome<Config> load_config(const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return failure("cannot read config", path,
                   fmt::format("line {}: {}", e.source().begin.line, e.description()));
  }
  Config config;
  config.tier_rules.clear();
  auto bad = [&](const toml::node& node, std::string_view msg) {
    return failure("invalid config", path, fmt::format("{}: {}", where(node), msg));
  };

  if (auto* v = table.get("version")) {
    auto n = v->value<int64_t>();
    if (!n) {
      return bad(*v, "version must be a number");
    }
    if (*n > Config::k_version) {
      return failure("invalid config", path,
                     fmt::format("config version {} is newer than this vrift understands ({}); upgrade vrift",
                                 *n, Config::k_version));
    }
  }
  if (auto* v = table.get("mode")) {
    auto s = v->value<std::string>();
    if (s == "solid") {
      config.mode = Mode::Solid;
    } else if (s == "phantom") {
      config.mode = Mode::Phantom;
    } else {
      return bad(*v, "mode must be \"solid\" or \"phantom\"");
    }
  }
  if (auto* v = table.get("projected")) {
    auto* arr = v->as_array();
    if (!arr) {
      return bad(*v, "projected must be a list of directories");
    }
    for (const auto& item : *arr) {
      auto s = item.value<std::string>();
      if (!s || s->empty() || s->front() == '/' || s->find("..") != std::string::npos) {
        return bad(item, "each projected entry must be a directory relative to the project root");
      }
      while (s->size() > 1 && s->back() == '/') {
        s->pop_back();
      }
      config.projected.push_back(*s);
    }
  }
  if (auto* t1 = table.get("tier1")) {
    auto* tt = t1->as_table();
    if (!tt) {
      return bad(*t1, "[tier1] must be a table");
    }
    if (auto* v = tt->get("link")) {
      auto s = v->value<std::string>();
      if (s == "symlink") {
        config.tier1_link = Tier1Link::symlink;
      } else if (s == "hardlink") {
        config.tier1_link = Tier1Link::hardlink;
      } else {
        return bad(*v, "tier1.link must be \"symlink\" or \"hardlink\"");
      }
    }
    if (auto* v = tt->get("immutable")) {
      auto b = v->value<bool>();
      if (!b) {
        return bad(*v, "tier1.immutable must be true or false");
      }
      config.tier1_immutable = *b;
    }
    if (auto* v = tt->get("owner")) {
      auto s = v->value<std::string>();
      if (!s) {
        return bad(*v, "tier1.owner must be a user name");
      }
      config.tier1_owner = *s;
    }
  }
  if (auto* p = table.get("phantom")) {
    auto* pt = p->as_table();
    if (!pt) {
      return bad(*p, "[phantom] must be a table");
    }
    if (auto* v = pt->get("directories")) {
      auto s = v->value<std::string>();
      if (s == "virtual") {
        config.phantom_dirs = PhantomDirs::all;
      } else if (s == "tier1") {
        config.phantom_dirs = PhantomDirs::tier1;
      } else if (s == "physical") {
        config.phantom_dirs = PhantomDirs::physical;
      } else {
        return bad(*v, "phantom.directories must be \"tier1\", \"virtual\" or \"physical\"");
      }
    }
  }
  if (auto* m = table.get("manifest")) {
    auto* mt = m->as_table();
    if (!mt) {
      return bad(*m, "[manifest] must be a table");
    }
    if (auto* v = mt->get("index_min_entries")) {
      auto n = v->value<int64_t>();
      if (!n || *n < 0) {
        return bad(*v, "manifest.index_min_entries must be a number of entries (0 or more)");
      }
      config.index_min_entries = static_cast<uint64_t>(*n);
    }
  }
  if (auto* v = table.get("rule")) {
    auto* arr = v->as_array();
    if (!arr) {
      return bad(*v, "rule must be an array of tables ([[rule]])");
    }
    for (const auto& item : *arr) {
      auto* rule = item.as_table();
      if (!rule) {
        return bad(item, "each [[rule]] must be a table");
      }
      auto pattern = (*rule)["pattern"].value<std::string>();
      auto tier = (*rule)["tier"].value<int64_t>();
      if (!pattern || pattern->empty()) {
        return bad(item, "a [[rule]] needs pattern = \"glob\"");
      }
      if (!tier || (*tier != 1 && *tier != 2)) {
        return bad(item, "a [[rule]] needs tier = 1 or tier = 2");
      }
      config.tier_rules.push_back({*pattern, *tier == 1 ? manifest::Tier::tier1 : manifest::Tier::tier2});
    }
  } else {
    config.tier_rules = default_tier_rules();
  }
  return config;
}

std::string render_config(const Config& config) {
  std::string out;
  out += "# vrift project configuration\n";
  out += fmt::format("version = {}\n\n", Config::k_version);
  out += "# How files are projected: \"solid\" (links you can see) or \"phantom\" (in The Source only).\n";
  out += fmt::format("mode = \"{}\"\n\n", mode_name(config.mode));
  out += "# Directories, relative to the project root, that vrift manages.\n";
  out += "projected = [";
  for (size_t i = 0; i < config.projected.size(); ++i) {
    out += (i ? ", " : "") + quote(config.projected[i]);
  }
  out += "]\n\n";
  out += "[tier1]\n";
  out += "# Tier-1 files (immutable dependencies) appear as \"symlink\"s to their blob, or \"hardlink\"s.\n";
  out += "# init picks symlinks where it can lock blobs (the immutable flag), hardlinks elsewhere.\n";
  out += fmt::format("link = \"{}\"\n", config.tier1_link == Tier1Link::symlink ? "symlink" : "hardlink");
  out += "# Set the immutable flag on Tier-1 blobs where the filesystem and privileges allow.\n";
  out += fmt::format("immutable = {}\n", config.tier1_immutable ? "true" : "false");
  out += "# When run as root, Tier-1 blobs are given to this user if it exists.\n";
  out += fmt::format("owner = {}\n\n", quote(config.tier1_owner));
  out += "[phantom]\n";
  out += "# Directories below the projected ones: \"virtual\" ones are made when a program or the shell\n";
  out += "# of a session needs them (~14 MB less per node_modules); \"physical\" ones stay on disk, where\n";
  out += "# shells outside any session can cd into them. \"tier1\": virtual where the path is Tier-1\n";
  out += "# (dependencies), physical elsewhere (build outputs).\n";
  out += fmt::format("directories = \"{}\"\n\n", phantom_dirs_name(config.phantom_dirs));
  out += "[manifest]\n";
  out += "# Keep a hash index of the ingested entries for fast lookups once there are this many.\n";
  out += fmt::format("index_min_entries = {}\n\n", config.index_min_entries);
  out += "# Tier rules: the first pattern that matches a path decides its tier; no match: Tier-2.\n";
  out += "# Tier 1 = immutable (registry dependencies, toolchains); Tier 2 = mutable (build outputs).\n";
  for (const auto& rule : config.tier_rules) {
    out += fmt::format("[[rule]]\npattern = {}\ntier = {}\n\n", quote(rule.pattern),
                       rule.tier == manifest::Tier::tier1 ? 1 : 2);
  }
  return out;
}

Outcome<void> set_config_mode(const std::string& path, Mode mode) {
  std::ifstream in(path);
  if (!in) {
    return failure("cannot read config", path, sys_error("open"));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  std::string line_out = fmt::format("mode = \"{}\"", mode_name(mode));

  // Only top-level keys count: stop at the first [table] or [[array]] header.
  size_t insert_at = text.size();
  size_t replace_begin = std::string::npos;
  size_t replace_end = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    size_t end = eol == std::string::npos ? text.size() : eol;
    std::string_view line(text.data() + pos, end - pos);
    size_t first = line.find_first_not_of(" \t");
    std::string_view body = first == std::string_view::npos ? std::string_view() : line.substr(first);
    if (body.starts_with('[')) {
      insert_at = pos;
      break;
    }
    if (body.starts_with("mode")) {
      std::string_view rest = body.substr(4);
      rest.remove_prefix(std::min(rest.find_first_not_of(" \t"), rest.size()));
      if (rest.starts_with('=')) {
        replace_begin = pos;
        replace_end = end;
        break;
      }
    }
    pos = end + 1;
  }
  if (replace_begin != std::string::npos) {
    text.replace(replace_begin, replace_end - replace_begin, line_out);
  } else {
    if (insert_at > 0 && text[insert_at - 1] != '\n') {
      text.insert(insert_at++, "\n");
    }
    text.insert(insert_at, line_out + "\n\n");
  }
  try {
    auto table = toml::parse(text, path);
    if (table["mode"].value<std::string>() != std::string(mode_name(mode))) {
      return failure("cannot record the mode", path, "the config's mode line could not be rewritten; edit it by hand");
    }
  } catch (const toml::parse_error& e) {
    return failure("cannot record the mode", path,
                   fmt::format("line {}: {}", e.source().begin.line, e.description()));
  }
  return write_file_atomic(path, text);
}

}  // namespace vrift::project
