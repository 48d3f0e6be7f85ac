#include "project/session_record.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace vrift::project {

Outcome<SessionLock> SessionLock::acquire(const ProjectPaths& project) {
  auto fd = lock_exclusively(project.state_dir() + "/session.lock", "cannot lock the session");
  if (!fd) {
    return tl::unexpected(fd.error());
  }
  return SessionLock(std::move(*fd));
}

std::string session_json(const SessionRecord& r) {
  nlohmann::json shells = nlohmann::json::array();
  for (const auto& s : r.shells) {
    shells.push_back({{"pid", s.pid}, {"start", s.start}});
  }
  nlohmann::json out = {
      {"version", SessionRecord::k_version},
      {"mode", mode_name(r.mode)},
      {"project", r.project},
      {"cas_root", r.cas_root},
      {"shim", r.shim},
      {"started_at", r.started_at},
      {"abi_context", r.abi_context.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.abi_context)},
      {"shells", shells},
  };
  // Paths need not be UTF-8: invalid bytes are replaced rather than refused.
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Outcome<std::optional<SessionRecord>> read_session(const ProjectPaths& project) {
  std::string path = project.session_file();
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    return failure("cannot read the session", path, sys_error("open"));
  }
  auto damaged = [&](const std::string& why) {
    return failure("cannot read the session", path, why + "; `vrift wake --end` removes it");
  };
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return damaged("it is not JSON");
  }
  SessionRecord r;
  try {
    if (j.value("version", 0) > SessionRecord::k_version) {
      return failure("cannot read the session", path, "it was written by a newer vrift; upgrade vrift");
    }
    std::string mode = j.at("mode").get<std::string>();
    if (mode != "solid" && mode != "phantom") {
      return damaged("its mode is neither solid nor phantom");
    }
    r.mode = mode == "phantom" ? Mode::Phantom : Mode::Solid;
    r.project = j.at("project").get<std::string>();
    r.cas_root = j.at("cas_root").get<std::string>();
    r.shim = j.value("shim", "");
    r.started_at = j.value("started_at", "");
    if (auto it = j.find("abi_context"); it != j.end() && it->is_string()) {
      r.abi_context = it->get<std::string>();
    }
    if (auto it = j.find("shells"); it != j.end()) {
      for (const auto& s : *it) {
        r.shells.push_back({s.at("pid").get<int>(), s.at("start").get<uint64_t>()});
      }
    }
  } catch (const nlohmann::json::exception&) {
    return damaged("a field is missing or has the wrong type");
  }
  return r;
}

Outcome<void> write_session(const ProjectPaths& project, const SessionRecord& record) {
  return write_file_atomic(project.session_file(), session_json(record));
}

Outcome<void> remove_session(const ProjectPaths& project) {
  if (::unlink(project.session_file().c_str()) != 0 && errno != ENOENT) {
    return failure("cannot end the session", project.session_file(), sys_error("unlink"));
  }
  return {};
}

namespace {

struct ProcInfo {
  int ppid = 0;
  int pgrp = 0;
  uint64_t start = 0;
};

// Fields 4, 5 and 22 of /proc/PID/stat; the command name (field 2) may hold spaces and
// parentheses, so parsing starts after its last ')'.
std::optional<ProcInfo> proc_info(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(text.substr(close + 1));
  std::string state;
  ProcInfo info;
  fields >> state >> info.ppid >> info.pgrp;
  std::string skip;
  for (int field = 6; field < 22 && fields; ++field) {
    fields >> skip;
  }
  fields >> info.start;
  if (!fields) {
    return std::nullopt;
  }
  return info;
}

std::string proc_file(int pid, const char* name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + name);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string proc_exe(int pid) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

ShellRef current_shell() {
  int pid = ::getppid();
  auto info = proc_info(pid);
  // bash forks a subshell for $(...) when the command has redirections (2>/dev/null);
  // that copy dies at once, so the shell is the one it was forked from. A shell the
  // user started from a shell differs in process group (job control) or command line.
  for (int depth = 0; info && depth < 4; ++depth) {
    auto parent = proc_info(info->ppid);
    if (!parent || info->ppid <= 1 || parent->pgrp != info->pgrp || proc_exe(pid) != proc_exe(info->ppid) ||
        proc_file(pid, "cmdline") != proc_file(info->ppid, "cmdline")) {
      break;
    }
    pid = info->ppid;
    info = parent;
  }
  return ShellRef{pid, info ? info->start : 0};
}

bool shell_alive(const ShellRef& shell) {
  auto info = proc_info(shell.pid);
  return info && info->start == shell.start;
}

void join_session(SessionRecord& record, const ShellRef& self) {
  leave_session(record, self);
  record.shells.push_back(self);
}

size_t leave_session(SessionRecord& record, const ShellRef& self) {
  std::erase_if(record.shells, [&](const ShellRef& s) { return s == self || !shell_alive(s); });
  return record.shells.size();
}

size_t other_live_shells(const SessionRecord& record, const ShellRef& self) {
  return static_cast<size_t>(std::count_if(record.shells.begin(), record.shells.end(),
                                           [&](const ShellRef& s) { return !(s == self) && shell_alive(s); }));
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace vrift::project
