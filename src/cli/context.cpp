#include "cli/context.hpp"

#include "cas/projects.hpp"
#include "cli/output.hpp"

namespace vrift::cli {

void print_failure(const project::Failure& f) { print_error(f.what, f.path, f.why); }
void print_warning(const project::Failure& f) { cli::print_warning(f.what, f.path, f.why); }

namespace {

// Refuses a Source other than the project's own (project.hpp); records it when the
// project has none yet and the command may store into it, or when the recorded one is
// gone.
bool bind_source(const ProjectContext& ctx, bool may_store) {
  const std::string& root = ctx.source->root();
  auto check = project::check_source(ctx.paths, *ctx.source);
  switch (check.binding) {
    case project::SourceBinding::same:
      return true;
    case project::SourceBinding::other:
      print_error("project's files are in another Source", ctx.paths.root,
                  "they are in " + check.recorded + ", and this command uses " + root + "; run it with --cas-root " +
                      check.recorded + " (or VRIFT_CAS_ROOT=" + check.recorded + ")");
      return false;
    case project::SourceBinding::gone:
      print_warning("the project's Source is gone", check.recorded,
                    "it uses " + root + " from now on; `vrift doctor` shows what the project lacks there");
      break;
    case project::SourceBinding::unrecorded:
      if (!may_store) {
        return true;
      }
      break;
  }
  if (auto recorded = project::record_source(ctx.paths, *ctx.source); !recorded) {
    print_warning("cannot record the project's Source", ctx.paths.source_link(), error_reason(recorded.error()));
  }
  return true;
}

}  // namespace

std::optional<ProjectContext> open_project(const Globals& g, bool create_source) {
  auto paths = project::find_project(g.project_dir);
  if (!paths) {
    print_failure(paths.error());
    return std::nullopt;
  }
  ProjectContext ctx;
  ctx.paths = *paths;
  auto config = project::load_config(ctx.paths.config_file());
  if (!config) {
    print_failure(config.error());
    return std::nullopt;
  }
  ctx.config = std::move(*config);
  manifest::OpenOptions options;
  auto manifest = manifest::LmdbManifest::open(ctx.paths.manifest_dir().c_str(), options);
  if (!manifest) {
    std::string why = error_reason(manifest.error());
    if (manifest.error().code == Errc::corrupt) {
      why = "it is damaged or not a vrift manifest; run `vrift doctor`, or move it away and ingest again";
    }
    print_error("cannot open manifest", ctx.paths.manifest_dir(), why);
    return std::nullopt;
  }
  ctx.manifest.emplace(std::move(*manifest));
  std::string root = resolve_cas_root(g);
  auto source = cas::TheSource::open(root, create_source);
  if (!source) {
    print_error("cannot open The Source", root, source.error());
    return std::nullopt;
  }
  ctx.source.emplace(std::move(*source));
  if (!bind_source(ctx, create_source)) {
    return std::nullopt;
  }
  // Every command run in a project keeps it listed where it is now (a moved project is
  // listed again), so that `vrift gc` reads its manifest. Ingest insists on it.
  if (auto listed = cas::register_project(*ctx.source, ctx.paths.root); !listed) {
    print_warning("cannot register the project with The Source", root + "/projects",
                  std::string(error_reason(listed.error())) + "; `vrift gc` would stop at it");
  }
  return ctx;
}

// Turns PATH arguments (relative to the cwd, or absolute) into project-relative paths.
bool to_project_relative(const project::ProjectPaths& paths, const std::vector<std::string>& args, const char* what,
                         std::vector<std::string>& out) {
  for (const auto& arg : args) {
    std::string abs = project::real_path(arg);
    if (abs == paths.root) {
      print_error(what, abs, "name directories inside the project, not its root");
      return false;
    }
    if (!abs.starts_with(paths.root + "/")) {
      print_error(what, abs, "it is outside the project at " + paths.root);
      return false;
    }
    std::string rel = abs.substr(paths.root.size() + 1);
    if (rel == ".vrift" || rel.starts_with(".vrift/")) {
      print_error(what, abs, "that is vrift's own state");
      return false;
    }
    out.push_back(rel);
  }
  return true;
}

}  // namespace vrift::cli
