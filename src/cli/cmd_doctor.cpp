// `vrift doctor [--repair] [--deep]`: startup recovery. One line per problem (what,
// path, why, what to do or what was done), then a summary; --json gives the same as data.
// Exit 0 when clean (or everything was repaired), 1 when problems remain.

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "project/doctor.hpp"

namespace vrift::cli {

namespace {

struct DoctorArgs {
  bool repair = false;
  bool deep = false;
  unsigned jobs = 0;
};

int run_doctor(const Globals& g, const DoctorArgs& args) {
  auto ctx = open_project(g, false);
  if (!ctx) {
    return 1;
  }
  project::DoctorOptions options;
  options.repair = args.repair;
  options.deep = args.deep;
  options.jobs = args.jobs;
  auto report = project::doctor(ctx->paths, ctx->config, *ctx->source, *ctx->manifest, options);
  if (!report) {
    print_failure(report.error());
    return 1;
  }
  const auto& r = *report;
  if (g.json) {
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& p : r.problems) {
      nlohmann::json item = {{"kind", project::describe(p.kind)}, {"path", p.path}, {"why", p.why},
                             {"action", p.action}};
      if (r.repaired) {
        item["fixed"] = p.fixed;
      }
      problems.push_back(std::move(item));
    }
    nlohmann::json notes = nlohmann::json::array();
    for (const auto& n : r.notes) {
      notes.push_back({{"what", n.what}, {"path", n.path}, {"why", n.why}});
    }
    nlohmann::json out = {{"entries", r.entries},     {"files", r.files},
                          {"dirs", r.dirs},           {"symlinks", r.symlinks},
                          {"blobs", r.blobs},         {"deep", r.deep},
                          {"hashed_bytes", r.hashed_bytes}, {"scanned_dirs", r.scanned_dirs},
                          {"repair", r.repaired},     {"problems", problems},
                          {"remaining", r.remaining}, {"reingested", r.reingested},
                          {"dropped", r.dropped},     {"notes", notes},
                          {"clean", r.clean()},       {"seconds", r.seconds}};
    fmt::print("{}\n", nlohmann::json(out).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return r.clean() ? 0 : 1;
  }
  for (const auto& n : r.notes) {
    print_warning(n.what, n.path, n.why);
  }
  for (const auto& p : r.problems) {
    std::string line = printable_path(project::problem_line(p));
    if (!r.repaired) {
      fmt::print("{}\n", line);
    } else if (!g.quiet || !p.fixed) {
      fmt::print("{}: {}\n", p.fixed ? "repaired" : "NOT repaired", line);
    }
  }
  if (!g.quiet || !r.clean()) {
    fmt::print("{}\n", r.summary());
  }
  return r.clean() ? 0 : 1;
}

}  // namespace

void add_doctor_command(CLI::App& app, Globals& g, int& exit_code) {
  auto* cmd = app.add_subcommand("doctor", "Check the manifest against links and blobs; --repair puts back what it can");
  auto args = std::make_shared<DoctorArgs>();
  cmd->add_flag("--repair", args->repair, "Repair what can be repaired; exit 1 only if something remains");
  cmd->add_flag("--deep", args->deep, "Also rehash every blob the project uses");
  cmd->add_option("-j,--jobs", args->jobs, "Threads (default: four per core)");
  cmd->callback([&g, args, &exit_code] { exit_code = run_doctor(g, *args); });
}

}  // namespace vrift::cli
