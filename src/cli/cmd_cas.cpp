// `vrift cas put FILE...` and `vrift cas verify [--deep]`: direct access to The Source.

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <climits>
#include <cstdio>

#include "cas/the_source.hpp"
#include "cas/verify.hpp"
#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace vrift::cli {

namespace {

struct PutOptions {
  std::vector<std::string> files;
  bool link = false;
};

int run_put(const Globals& g, const PutOptions& opt) {
  std::string root = resolve_cas_root(g);
  auto source = cas::TheSource::open(root, true);
  if (!source) {
    print_error("cannot open The Source", root, source.error());
    return 1;
  }
  int rc = 0;
  for (const auto& file : opt.files) {
    struct stat st;
    if (::stat(file.c_str(), &st) != 0) {
      print_error("cannot store file", file, sys_error("stat"));
      rc = 1;
      continue;
    }
    cas::StoreRequest request;
    request.path = file.c_str();
    request.executable = (st.st_mode & 0111) != 0;
    request.allow_link = opt.link;
    auto stored = source->store_file(request);
    if (!stored) {
      print_error("cannot store file", file, stored.error());
      rc = 1;
      continue;
    }
    char hex[hash::k_hex_len + 1];
    hash::to_hex(stored->key.digest, hex);
    char blob[PATH_MAX];
    source->path_of(stored->key, blob, sizeof blob);
    fmt::print("{}  {}\n", hex, blob);
  }
  return rc;
}

int run_verify(const Globals& g, bool deep) {
  std::string root = resolve_cas_root(g);
  auto source = cas::TheSource::open(root, false);
  if (!source) {
    print_error("cannot open The Source", root, source.error());
    return 1;
  }
  nlohmann::json bad = nlohmann::json::array();
  auto report = cas::verify(*source, deep, [&](const char* rel, cas::BlobProblem problem) {
    std::string path = root + "/" + rel;
    if (g.json) {
      bad.push_back({{"path", path}, {"problem", cas::describe(problem)}});
    } else {
      print_error("bad blob", path, cas::describe(problem));
    }
  });
  if (!report) {
    print_error("cannot verify The Source", root, report.error());
    return 1;
  }
  if (g.json) {
    nlohmann::json out = {{"blobs", report->blobs}, {"bytes", report->bytes}, {"deep", deep},
                          {"problems", report->problems}, {"bad", bad}};
    fmt::print("{}\n", out.dump(2));
  } else if (!g.quiet) {
    fmt::print("checked {} blobs ({} bytes{}): {} problem{}\n", report->blobs, report->bytes,
               deep ? ", rehashed" : "", report->problems, report->problems == 1 ? "" : "s");
  }
  return report->problems == 0 ? 0 : 1;
}

}  // namespace

void add_cas_command(CLI::App& app, Globals& g, int& exit_code) {
  auto* cas = app.add_subcommand("cas", "Work with The Source directly");
  cas->require_subcommand(1);
  cas->fallthrough();

  auto put = std::make_shared<PutOptions>();
  auto* put_cmd = cas->add_subcommand("put", "Store FILEs; print each one's hash and blob path");
  put_cmd->add_option("FILE", put->files, "Files to store")->required();
  put_cmd->add_flag("--link", put->link,
                    "Let each file's own inode become the blob (it turns read-only) instead of copying");
  put_cmd->callback([&g, put, &exit_code] { exit_code = run_put(g, *put); });

  auto deep = std::make_shared<bool>(false);
  auto* verify_cmd = cas->add_subcommand("verify", "Check every blob; exit 1 naming each bad one");
  verify_cmd->add_flag("--deep", *deep, "Also rehash every blob");
  verify_cmd->callback([&g, deep, &exit_code] { exit_code = run_verify(g, *deep); });
}

}  // namespace vrift::cli
