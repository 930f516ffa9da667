#include "runtime/launcher/state.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "ir/support/check.h"
#include "ir/support/os/atomic_file.h"
#include "runtime/secrets/secrets.h"

namespace mvm::runtime {

namespace fs = std::filesystem;

StateDir ResolveStateDir(const std::string& flag) {
  if (!flag.empty()) {
    std::error_code ec;
    fs::path absolute = fs::absolute(flag, ec);
    return StateDir{ec ? fs::path(flag) : absolute.lexically_normal()};
  }
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && xdg[0] == '/') {
    return StateDir{fs::path(xdg) / "mvm"};
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
    return StateDir{fs::path(home) / ".local" / "state" / "mvm"};
  }
  // Services and `env -i` run without HOME; the account's home directory is the same place a login
  // would have had.
  const passwd* pw = getpwuid(getuid());
  fs::path home = pw != nullptr && pw->pw_dir != nullptr && pw->pw_dir[0] == '/' ? pw->pw_dir : "/";
  return StateDir{home / ".local" / "state" / "mvm"};
}

bool IsSandboxName(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
    if (!ok) {
      return false;
    }
  }
  return true;
}

ErrorOr<Ok> CheckSandboxName(std::string_view name) {
  if (IsSandboxName(name)) {
    return Ok{};
  }
  return Error{"`" + std::string(name) +
               "` is not a valid sandbox name: use 1 to 63 lowercase letters, digits and '-', "
               "starting with a letter or digit (`mvmctl ps` lists the sandboxes)"};
}

fs::path StateDir::Sandbox(std::string_view name) const {
  MVM_CHECK(IsSandboxName(name));
  return Sandboxes() / name;
}

namespace {

nlohmann::json ToJson(const SandboxRecord& r) {
  nlohmann::json j = {{"name", r.name},
                      {"workload_id", r.workload_id},
                      {"payload_digest", r.payload_digest},
                      {"backend", r.backend},
                      {"pid", r.pid},
                      {"pid_start_time", r.pid_start_time},
                      {"detached", r.detached},
                      {"owner_pid", r.owner_pid},
                      {"owner_uid", r.owner_uid},
                      {"created_at", r.created_at},
                      {"memory_mb", r.memory_mb},
                      {"rootfs", r.root_fs}};
  if (!r.instance.empty() && r.instance != r.name) {
    j["instance"] = r.instance;
  }
  if (!r.pool.empty()) {
    j["pool"] = r.pool;
  }
  if (!r.acceleration.empty()) {
    j["acceleration"] = r.acceleration;
  }
  if (r.paused) {
    j["paused"] = true;
  }
  for (const backends::HelperRecord& h : r.helpers) {
    j["helpers"].push_back({{"role", h.role}, {"pid", h.pid}, {"start_time", h.start_time}});
  }
  if (!r.egress_policy.empty()) {
    j["egress"] = {{"policy", r.egress_policy}, {"proxy", r.egress_proxy}};
  }
  for (const SandboxRecord::SecretToken& t : r.secret_tokens) {
    j["secrets"].push_back({{"env", t.env}, {"name", t.name}, {"token", t.token}});
  }
  for (const SandboxRecord::PublishedPort& p : r.ports) {
    j["ports"].push_back(
        {{"guest", p.guest_port}, {"host", p.host_port}, {"address", p.host_address}});
  }
  for (const SandboxRecord::ServiceEntry& s : r.services) {
    j["services"].push_back({{"name", s.name}, {"restart", s.restart}});
  }
  if (r.image) {
    j["image"] = {{"digest", r.image->digest},           {"env", r.image->env},
                  {"working_dir", r.image->working_dir}, {"user", r.image->user},
                  {"entrypoint", r.image->entrypoint},   {"cmd", r.image->cmd}};
    if (r.image->uid && r.image->gid) {
      j["image"]["uid"] = *r.image->uid;
      j["image"]["gid"] = *r.image->gid;
    }
  }
  return j;
}

}  // namespace

ErrorOr<Ok> WriteRecord(const StateDir& state, const SandboxRecord& record) {
  std::error_code ec;
  fs::create_directories(state.Sandbox(record.name), ec);
  if (ec) {
    return Error{"cannot create `" + state.Sandbox(record.name).string() + "`: " + ec.message()};
  }
  // A running sandbox's record goes with the processes it names when the host crashes; a stopped
  // one's (pid 0) is all that is left of the sandbox and must survive.
  return os::WriteFileAtomically(
      state.Sandbox(record.name) / "sandbox.json", ToJson(record).dump(2) + "\n", os::kPrivateFile,
      record.pid == 0 ? os::Durability::kSurvivesCrash : os::Durability::kThisBootOnly);
}

ErrorOr<SandboxRecord> ReadRecord(const StateDir& state, std::string_view name) {
  if (auto valid = CheckSandboxName(name); !valid) {
    return valid.error();
  }
  fs::path path = state.Sandbox(name) / "sandbox.json";
  std::ifstream in(path);
  if (!in) {
    return MakeError(ErrorKind::kNoSuchSandbox, "no sandbox named `" + std::string(name) +
                                                    "` (state dir `" + state.root.string() +
                                                    "`); `mvmctl ps` lists them");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    nlohmann::json j = nlohmann::json::parse(buffer.str());
    SandboxRecord r;
    r.name = j.at("name").get<std::string>();
    r.workload_id = j.at("workload_id").get<std::string>();
    r.payload_digest = j.at("payload_digest").get<std::string>();
    r.backend = j.at("backend").get<std::string>();
    r.pid = j.at("pid").get<pid_t>();
    r.pid_start_time = j.at("pid_start_time").get<uint64_t>();
    r.detached = j.at("detached").get<bool>();
    r.owner_pid = j.at("owner_pid").get<pid_t>();
    r.owner_uid = j.at("owner_uid").get<uid_t>();
    r.created_at = j.at("created_at").get<std::string>();
    r.memory_mb = j.at("memory_mb").get<uint32_t>();
    r.root_fs = j.at("rootfs").get<std::string>();
    r.instance = j.value("instance", std::string());
    r.pool = j.value("pool", std::string());
    r.acceleration = j.value("acceleration", std::string());
    r.paused = j.value("paused", false);
    for (const nlohmann::json& h : j.value("helpers", nlohmann::json::array())) {
      r.helpers.push_back({h.at("role").get<std::string>(), h.at("pid").get<pid_t>(),
                           h.at("start_time").get<uint64_t>()});
    }
    if (j.contains("egress")) {
      r.egress_policy = j["egress"].at("policy").get<std::string>();
      r.egress_proxy = j["egress"].at("proxy").get<std::string>();
    }
    for (const nlohmann::json& t : j.value("secrets", nlohmann::json::array())) {
      r.secret_tokens.push_back({t.at("env").get<std::string>(), t.at("name").get<std::string>(),
                                 t.at("token").get<std::string>()});
    }
    for (const nlohmann::json& p : j.value("ports", nlohmann::json::array())) {
      r.ports.push_back(
          {p.at("guest").get<int>(), p.at("host").get<int>(), p.at("address").get<std::string>()});
    }
    for (const nlohmann::json& s : j.value("services", nlohmann::json::array())) {
      r.services.push_back({s.at("name").get<std::string>(), s.at("restart").get<std::string>()});
    }
    if (j.contains("image")) {
      const nlohmann::json& i = j["image"];
      r.image = SandboxRecord::Image{
          i.at("digest").get<std::string>(),
          i.at("env").get<std::vector<std::string>>(),
          i.at("working_dir").get<std::string>(),
          i.at("user").get<std::string>(),
          i.at("entrypoint").get<std::vector<std::string>>(),
          i.at("cmd").get<std::vector<std::string>>(),
          std::nullopt,
          std::nullopt,
      };
      if (i.contains("uid") && i.contains("gid")) {
        r.image->uid = i["uid"].get<uint32_t>();
        r.image->gid = i["gid"].get<uint32_t>();
      }
    }
    if (!r.instance.empty() && !IsSandboxName(r.instance)) {
      return Error{"`" + path.string() + "` names an invalid instance `" + r.instance + "`"};
    }
    if (r.name != name) {
      return Error{"`" + path.string() + "` names sandbox `" + r.name + "`, not `" +
                   std::string(name) + "`"};
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return Error{"`" + path.string() + "` is damaged (" + e.what() + "); `mvmctl destroy " +
                 std::string(name) + "` removes it"};
  }
}

std::vector<std::string> EgressRefusals(const StateDir& state, std::string_view name,
                                        uint64_t* from) {
  std::vector<std::string> out;
  std::ifstream in(state.AuditLog());
  in.seekg(static_cast<std::streamoff>(*from));
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) {
      break;  // a line still being written: read again next time
    }
    *from += line.size() + 1;
    if (line.find(name) == std::string::npos) {
      continue;  // most records are about other sandboxes: skip them before parsing
    }
    nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
    if (!r.is_object() || r.value("sandbox", "") != name) {
      continue;
    }
    const std::string event = r.value("event", "");
    if (event != "deny" && event != "dns-reject" && event != "proxy-fail") {
      continue;
    }
    std::string what = event == "deny"         ? "denied"
                       : event == "dns-reject" ? "did not resolve"
                                               : "could not reach";
    std::string target = r.value("name", r.value("address", std::string()));
    std::string text = "egress: " + r.value("time", std::string()) + " " + what;
    if (!target.empty()) {
      text += " `" + target + "`";
    }
    if (r.contains("port")) {
      text += " port " + r["port"].dump();
    }
    text += ": " + r.value("reason", std::string());
    if (r.contains("repeats")) {
      text += " (" + r["repeats"].dump() + " more times)";
    }
    out.push_back(std::move(text));
  }
  return out;
}

namespace {

void AddEgressEnvironment(const SandboxRecord& record,
                          std::vector<std::pair<std::string, std::string>>& env) {
  if (record.egress_proxy.empty()) {
    return;
  }
  const std::string& url = record.egress_proxy;
  const std::string local = "localhost,127.0.0.1,::1";
  const std::pair<std::string, std::string> vars[] = {{"HTTPS_PROXY", url}, {"HTTP_PROXY", url},
                                                      {"NO_PROXY", local},  {"http_proxy", url},
                                                      {"https_proxy", url}, {"no_proxy", local}};
  auto add = [&env](const std::pair<std::string, std::string>& var) {
    if (std::none_of(env.begin(), env.end(),
                     [&](const auto& kv) { return kv.first == var.first; })) {
      env.push_back(var);
    }
  };
  for (const auto& var : vars) {
    add(var);
  }
  if (record.secret_tokens.empty()) {
    return;
  }
  for (const SandboxRecord::SecretToken& t : record.secret_tokens) {
    add({t.env, t.token});
  }
  // The proxy terminates TLS for the secrets' hosts with the sandbox's CA: clients that read a CA
  // file from the environment are pointed at the trust store that holds it.
  add({"SSL_CERT_FILE", std::string(kGuestCaBundle)});
  add({"REQUESTS_CA_BUNDLE", std::string(kGuestCaBundle)});
  add({"NODE_EXTRA_CA_CERTS", std::string(kGuestCa)});
}

}  // namespace

void AddSandboxEnvironment(const SandboxRecord& record,
                           std::vector<std::pair<std::string, std::string>>& env) {
  AddEgressEnvironment(record, env);
  if (!record.image) {
    return;
  }
  // The image's own environment (PATH, LANG, PYTHON_VERSION…), below the plan's, the caller's and
  // the sandbox's: an image cannot point its commands past the egress proxy.
  for (const std::string& kv : record.image->env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      continue;
    }
    std::string key = kv.substr(0, eq);
    if (std::none_of(env.begin(), env.end(), [&](const auto& e) { return e.first == key; })) {
      env.emplace_back(std::move(key), kv.substr(eq + 1));
    }
  }
}

std::string TokenRedactor::Feed(std::string_view piece) {
  const std::string_view prefix = secrets::kTokenPrefix;
  const size_t token_size = secrets::kTokenSize;
  auto token_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); };
  std::string text = std::move(held_);
  text.append(piece);
  held_.clear();
  std::string out;
  size_t at = 0;
  while (true) {
    const size_t found = text.find(prefix, at);
    if (found == std::string::npos) {
      break;
    }
    size_t end = found + prefix.size();
    while (end < text.size() && end - found < token_size && token_char(text[end])) {
      ++end;
    }
    if (end == text.size() && end - found < token_size) {
      out.append(text, at, found - at);
      held_ = text.substr(found);  // the rest of this token may come with the next piece
      return out;
    }
    out.append(text, at, found - at);
    out.append(prefix);
    out.append("\u2026");
    at = end;
  }
  // The end may be the first characters of a prefix.
  size_t keep = 0;
  for (size_t n = std::min(prefix.size() - 1, text.size() - at); n > 0; --n) {
    if (std::string_view(text).substr(text.size() - n) == prefix.substr(0, n)) {
      keep = n;
      break;
    }
  }
  out.append(text, at, text.size() - at - keep);
  held_ = text.substr(text.size() - keep);
  return out;
}

std::string TokenRedactor::Finish() {
  std::string rest;
  rest.swap(held_);
  if (rest.starts_with(secrets::kTokenPrefix)) {
    return std::string(secrets::kTokenPrefix) + "\u2026";
  }
  return rest;
}

std::vector<SandboxRecord> ListRecords(const StateDir& state, std::vector<std::string>& problems) {
  std::vector<SandboxRecord> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(state.Sandboxes(), ec)) {
    if (!e.is_directory()) {
      continue;
    }
    if (!IsSandboxName(e.path().filename().string())) {
      problems.push_back("`" + e.path().string() +
                         "` is not a sandbox directory (its name is not a sandbox name); remove "
                         "it by hand if it is yours");
      continue;
    }
    auto r = ReadRecord(state, e.path().filename().string());
    if (r) {
      out.push_back(std::move(*r));
    } else {
      problems.push_back(r.error().message);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const SandboxRecord& a, const SandboxRecord& b) { return a.name < b.name; });
  return out;
}

bool IsRunning(const SandboxRecord& record) {
  return record.pid > 0 && record.pid_start_time != 0 &&
         ProcessStartTime(record.pid) == record.pid_start_time;
}

std::string_view StatusOf(const SandboxRecord& record) {
  if (!IsRunning(record)) {
    return "stopped";
  }
  return record.paused ? "paused" : "running";
}

ErrorOr<SandboxLock> SandboxLock::Acquire(const StateDir& state, std::string_view name) {
  if (auto valid = CheckSandboxName(name); !valid) {
    return valid.error();
  }
  std::error_code ec;
  fs::create_directories(state.Sandboxes(), ec);
  if (ec) {
    return Error{"cannot create `" + state.Sandboxes().string() + "`: " + ec.message()};
  }
  fs::path path = state.Sandboxes() / (std::string(name) + ".lock");
  for (;;) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Error{"cannot open `" + path.string() + "`: " + std::strerror(errno)};
    }
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        int saved = errno;
        ::close(fd);
        return Error{"cannot lock `" + path.string() + "`: " + std::strerror(saved)};
      }
    }
    // The holder before us may have removed the file (RemoveFile): our lock is then on an inode
    // nobody else will ever open, and the next locker would create a new file beside it.
    struct stat held {};
    struct stat named {};
    if (::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
      return SandboxLock(fd, path);
    }
    ::close(fd);
  }
}

void SandboxLock::RemoveFile() {
  if (fd_ >= 0 && !path_.empty()) {
    ::unlink(path_.c_str());
    path_.clear();
  }
}

SandboxLock::SandboxLock(SandboxLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

SandboxLock& SandboxLock::operator=(SandboxLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

SandboxLock::~SandboxLock() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

}  // namespace mvm::runtime
