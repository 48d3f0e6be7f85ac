#include "project/project.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <vector>

#include "base/fd.hpp"
#include "base/io.hpp"
#include "manifest/lmdb_manifest.hpp"

namespace vrift::project {

std::string absolute_path(const std::string& path) {
  std::string joined;
  if (!path.empty() && path[0] == '/') {
    joined = path;
  } else {
    char cwd[PATH_MAX];
    joined = ::getcwd(cwd, sizeof cwd) ? cwd : ".";
    if (!path.empty()) {
      joined += "/" + path;
    }
  }
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < joined.size()) {
    size_t j = joined.find('/', i);
    if (j == std::string::npos) {
      j = joined.size();
    }
    std::string part = joined.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
    } else if (!part.empty() && part != ".") {
      parts.push_back(std::move(part));
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& part : parts) {
    out += "/" + part;
  }
  return out.empty() ? "/" : out;
}

std::string real_path(const std::string& path) {
  std::string abs = absolute_path(path);
  size_t last = abs.rfind('/');  // the last component stays as it is (it may be a symlink)
  for (size_t end = last; end > 0; end = abs.rfind('/', end - 1)) {
    std::string head = abs.substr(0, end);
    if (char real[PATH_MAX]; ::realpath(head.c_str(), real) != nullptr) {
      std::string out = real;
      return out == "/" ? abs.substr(end) : out + abs.substr(end);
    }
  }
  return abs;
}

namespace {

// A directory's real path: the shim sees the kernel's paths (getcwd, /proc/self/fd);
// the path a shell shows through a symlink is passed as the project's alias
// (session.hpp).
std::string real_dir(const std::string& path) {
  std::string abs = absolute_path(path);
  char real[PATH_MAX];
  return ::realpath(abs.c_str(), real) != nullptr ? std::string(real) : abs;
}

bool is_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

}  // namespace

Outcome<ProjectPaths> find_project(const std::string& start) {
  std::string dir = real_dir(start);
  for (;;) {
    ProjectPaths paths{dir};
    if (is_file(paths.config_file())) {
      return paths;
    }
    if (dir == "/") {
      break;
    }
    dir = parent_of(dir);
  }
  return failure("not in a vrift project", absolute_path(start),
                 "no .vrift/config.toml here or above; run `vrift init` in the project root");
}

Outcome<void> write_file_atomic(const std::string& path, const std::string& content, unsigned mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) {
    return failure("cannot write file", tmp, sys_error("create"));
  }
  auto fail_with = [&](const Error& e) {
    ::unlink(tmp.c_str());
    return failure("cannot write file", path, e);
  };
  if (auto w = write_all(fd.get(), content.data(), content.size()); !w) {
    return fail_with(w.error());
  }
  if (::fsync(fd.get()) != 0) {
    return fail_with(sys_error("fsync"));
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail_with(sys_error("rename"));
  }
  UniqueFd dir(::open(parent_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) {
    ::fsync(dir.get());
  }
  return {};
}

Outcome<bool> ensure_vrift_user(const std::string& name) {
  if (::getpwnam(name.c_str()) != nullptr) {
    return true;
  }
  if (::geteuid() != 0) {
    return failure("cannot create user", name, "creating a system user needs root");
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    const char* argv[] = {"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                          "--comment", "vrift blob owner", name.c_str(), nullptr};
    ::execvp("useradd", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return failure("cannot create user", name, "useradd failed; create it by hand or drop --create-user");
  }
  return ::getpwnam(name.c_str()) != nullptr;
}

Outcome<ProjectPaths> init_project(const std::string& root_arg, const InitOptions& options) {
  ProjectPaths paths{real_dir(root_arg)};
  if (!options.force) {
    if (auto existing = find_project(paths.root)) {
      std::string why = existing->root == paths.root
                            ? "this directory is already a vrift project; use --force to reinitialize its config"
                            : "it is inside the project at " + existing->root + "; use --force to nest one anyway";
      return failure("cannot initialize project", paths.root, why);
    }
  }
  if (options.create_user) {
    auto user = ensure_vrift_user("vrift");
    if (!user) {
      return tl::unexpected(user.error());
    }
  }
  if (::mkdir(paths.state_dir().c_str(), 0755) != 0 && errno != EEXIST) {
    return failure("cannot initialize project", paths.state_dir(), sys_error("mkdir"));
  }
  Config config;
  config.projected = default_projected(paths.root);
  config.tier_rules = default_tier_rules();
  config.tier1_link = options.tier1_link;
  if (auto w = write_file_atomic(paths.config_file(), render_config(config)); !w) {
    return tl::unexpected(w.error());
  }
  manifest::OpenOptions open_options;
  open_options.create = true;
  auto manifest = manifest::LmdbManifest::open(paths.manifest_dir().c_str(), open_options);
  if (!manifest) {
    return failure("cannot create manifest", paths.manifest_dir(), manifest.error());
  }
  // Sessions record the projected directories a program makes from the start.
  std::string projected = projected_record(config);
  auto recorded =
      manifest->write([&](manifest::WriteTxn& txn) { return txn.put_meta(manifest::k_meta_projected_key, projected); });
  if (!recorded) {
    return failure("cannot write manifest", paths.manifest_dir(), recorded.error());
  }
  return paths;
}

SourceCheck check_source(const ProjectPaths& project, const cas::TheSource& source) {
  SourceCheck check;
  check.recorded = read_symlink(AT_FDCWD, project.source_link());
  if (check.recorded.empty()) {
    return check;
  }
  struct stat recorded;
  struct stat current;
  if (::stat(check.recorded.c_str(), &recorded) == 0 && ::fstat(source.root_fd(), &current) == 0 &&
      recorded.st_dev == current.st_dev && recorded.st_ino == current.st_ino) {
    check.binding = SourceBinding::same;
  } else {
    struct stat blobs;
    std::string blob_dir = check.recorded + "/blake3";
    check.binding = ::stat(blob_dir.c_str(), &blobs) == 0 && S_ISDIR(blobs.st_mode) ? SourceBinding::other
                                                                                     : SourceBinding::gone;
  }
  return check;
}

Status record_source(const ProjectPaths& project, const cas::TheSource& source) {
  return replace_symlink(AT_FDCWD, project.source_link(), source.root(), "record the project's Source");
}

Outcome<UniqueFd> lock_exclusively(const std::string& path, const char* what) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) {
    return failure(what, path, sys_error("open"));
  }
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return failure(what, path, sys_error("flock"));
    }
  }
  return fd;
}

}  // namespace vrift::project
