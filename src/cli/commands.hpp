#pragma once
// The subcommands of `vrift`. Each add_*_command registers one subcommand on `app`;
// when it is chosen, its callback runs it and stores the process exit code in
// `exit_code` (0 success, 1 failure; usage errors are CLI11's and exit 2).

#include <CLI/CLI.hpp>

#include <string>

namespace vrift::cli {

struct Globals {
  std::string project_dir;  // where to look for the project; empty: the cwd (-C changes it)
  std::string cas_root;     // --cas-root
  bool json = false;
  bool quiet = false;
  int verbose = 0;
};

// The Source's root: --cas-root, else $VRIFT_CAS_ROOT, else ~/.vrift/the_source.
std::string resolve_cas_root(const Globals& g);

void add_hash_command(CLI::App& app, Globals& g, int& exit_code);
void add_cas_command(CLI::App& app, Globals& g, int& exit_code);
void add_gc_command(CLI::App& app, Globals& g, int& exit_code);
void add_init_command(CLI::App& app, Globals& g, int& exit_code);
void add_ingest_command(CLI::App& app, Globals& g, int& exit_code);
void add_status_command(CLI::App& app, Globals& g, int& exit_code);
void add_ls_command(CLI::App& app, Globals& g, int& exit_code);
void add_run_command(CLI::App& app, Globals& g, int& exit_code);
void add_doctor_command(CLI::App& app, Globals& g, int& exit_code);
void add_restore_command(CLI::App& app, Globals& g, int& exit_code);
void add_inception_command(CLI::App& app, Globals& g, int& exit_code);
void add_wake_command(CLI::App& app, Globals& g, int& exit_code);
void add_hook_command(CLI::App& app, Globals& g, int& exit_code);

}  // namespace vrift::cli
