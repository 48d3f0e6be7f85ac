// `vrift ls [PATH...]`: the manifest's entries (the layered view), one per line:
//   <kind> <tier> <mode> <size> <hash|-> <path>[ -> <target>]
// kind: file, phantom (a file kept in The Source only), dirty (being written in a
// session: the path has the current bytes), dir, symlink. Paths are
// project-relative; '\' and newline in them are escaped as b3sum does.

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"

namespace vrift::cli {

namespace {

const char* kind_name(const manifest::Entry& e) {
  switch (e.kind) {
    case manifest::EntryKind::file: return e.dirty() ? "dirty" : e.phantom() ? "phantom" : "file";
    case manifest::EntryKind::symlink: return "symlink";
    case manifest::EntryKind::dir: return "dir";
    case manifest::EntryKind::whiteout: return "whiteout";
  }
  return "?";
}

// Whether `path` is one of `prefixes` or below one; marks which in `matched`.
bool selected(std::string_view path, const std::vector<std::string>& prefixes, std::vector<bool>& matched) {
  if (prefixes.empty()) {
    return true;
  }
  bool any = false;
  for (size_t i = 0; i < prefixes.size(); ++i) {
    const std::string& p = prefixes[i];
    if (path == p || (path.size() > p.size() && path.starts_with(p) && path[p.size()] == '/')) {
      matched[i] = true;
      any = true;
    }
  }
  return any;
}

int run_ls(const Globals& g, const std::vector<std::string>& args) {
  auto ctx = open_project(g, false);
  if (!ctx) {
    return 1;
  }
  std::vector<std::string> prefixes;
  for (const auto& arg : args) {
    std::string abs = project::real_path(arg);
    if (abs == ctx->paths.root) {
      prefixes.clear();
      break;
    }
    if (!abs.starts_with(ctx->paths.root + "/")) {
      print_error("cannot list", abs, "it is outside the project at " + ctx->paths.root);
      return 1;
    }
    prefixes.push_back(abs.substr(ctx->paths.root.size() + 1));
  }
  auto txn = ctx->manifest->read();
  if (!txn) {
    print_error("cannot read manifest", ctx->paths.manifest_dir(), txn.error());
    return 1;
  }
  std::string line;
  nlohmann::json all = nlohmann::json::array();
  std::vector<bool> matched(prefixes.size(), false);
  auto visited = ctx->manifest->for_each(*txn, [&](std::string_view path, const manifest::Entry& e) {
    if (!selected(path, prefixes, matched)) {
      return true;
    }
    char hex[hash::k_hex_len + 1] = "-";
    if (e.kind == manifest::EntryKind::file) {
      hash::to_hex(e.hash, hex);
    }
    if (g.json) {
      nlohmann::json item = {{"path", std::string(path)}, {"kind", kind_name(e)},
                             {"tier", e.tier == manifest::Tier::tier1 ? 1 : 2}, {"mode", e.mode & 07777},
                             {"size", e.size}, {"mtime_ns", e.mtime_ns}};
      if (e.kind == manifest::EntryKind::file) {
        item["hash"] = hex;
        item["ext"] = std::string(e.ext);
      }
      if (e.kind == manifest::EntryKind::symlink) {
        item["target"] = std::string(e.target);
      }
      all.push_back(std::move(item));
      return true;
    }
    bool escaped = false;
    std::string shown = b3sum_display_path(path, escaped);
    line = fmt::format("{}{} {} {:04o} {} {} {}", escaped ? "\\" : "", kind_name(e),
                       e.tier == manifest::Tier::tier1 ? 1 : 2, e.mode & 07777, e.size, hex, shown);
    if (e.kind == manifest::EntryKind::symlink) {
      line += " -> " + b3sum_display_path(e.target, escaped);
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    return true;
  });
  if (!visited) {
    print_error("cannot read manifest", ctx->paths.manifest_dir(), visited.error());
    return 1;
  }
  if (g.json) {
    fmt::print("{}\n", all.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  int rc = 0;
  for (size_t i = 0; i < prefixes.size(); ++i) {
    if (!matched[i]) {
      print_error("not in the manifest", ctx->paths.root + "/" + prefixes[i],
                  "nothing is recorded at or below this path (`vrift ingest` records a projected path)");
      rc = 1;
    }
  }
  return rc;
}

}  // namespace

void add_ls_command(CLI::App& app, Globals& g, int& exit_code) {
  auto* cmd = app.add_subcommand("ls", "List the manifest's entries under PATHs (default: all)");
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("PATH", *args, "Paths inside the project");
  cmd->callback([&g, args, &exit_code] { exit_code = run_ls(g, *args); });
}

}  // namespace vrift::cli
