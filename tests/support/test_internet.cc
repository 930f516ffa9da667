#include "tests/support/test_internet.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/process.h"
#include "ir/support/os/unique_fd.h"
#include "nlohmann/json.hpp"

namespace mvm::testing {

namespace {

using Clock = std::chrono::steady_clock;

// Set by tests/support/CMakeLists.txt.
constexpr const char* kServerScript = MVM_TEST_INTERNET_SERVER;

// Every address the internet namespace's loopback holds (the Python server binds them).
constexpr std::string_view kInternetAddresses[] = {
    TestInternet::kDnsAddress,    TestInternet::kAllowedAddress,   TestInternet::kOtherAddress,
    TestInternet::kRebindAddress, TestInternet::kWrongCertAddress, TestInternet::kMetadataAddress,
    TestInternet::kApiAddress,
};

std::optional<std::string> ProgramPath(std::string_view name) {
  // Debian's python3, not a pyenv shim ahead of it on PATH: the server needs the standard library
  // only, and a shim adds a shell script's start-up to every Start().
  if (name == "python3" && access("/usr/bin/python3", X_OK) == 0) {
    return "/usr/bin/python3";
  }
  auto found = os::FindProgram(name);
  if (!found) {
    return std::nullopt;
  }
  return found->string();
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The JSON objects of a JSON-lines log; a torn or broken line is skipped.
std::vector<nlohmann::json> ReadJsonLines(const std::filesystem::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto value = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (value.is_object()) {
      out.push_back(std::move(value));
    }
  }
  return out;
}

std::string StringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string Lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Whether `pid` exists and is not a zombie (a killed child of the caller's that it has not reaped
// yet is gone for our purposes).
bool IsAlive(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// Whether `pid` is gone (reaped, or not ours and ended), polling until `limit`.
bool WaitGone(pid_t pid, bool child, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (true) {
    if (child) {
      pid_t got = waitpid(pid, nullptr, WNOHANG);
      if (got == pid || (got < 0 && errno == ECHILD)) {
        return true;
      }
    } else if (!IsAlive(pid)) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

TestInternet::TestInternet() {
  const std::string pid = std::to_string(getpid());
  // At most 4 + 7 + 1 characters: also a valid interface name (15 at most).
  client_ = "mvmt" + pid + "c";
  internet_ = "mvmt" + pid + "i";
}

TestInternet::~TestInternet() { Stop(); }

std::optional<std::string> TestInternet::MissingPrerequisite() {
  if (geteuid() != 0) {
    return "the test internet needs root (network namespaces, veth pairs, mounts)";
  }
  const std::pair<const char*, const char*> tools[] = {
      {"ip", "iproute2"},     {"unshare", "util-linux"}, {"nsenter", "util-linux"},
      {"mount", "mount"},     {"timeout", "coreutils"},  {"sh", "dash"},
      {"python3", "python3"}, {"openssl", "openssl"},
  };
  for (const auto& [tool, package] : tools) {
    if (!ProgramPath(tool)) {
      return std::string("the test internet needs `") + tool + "` (Debian package " + package +
             ", installed by scripts/bootstrap.sh)";
    }
  }
  if (access(kServerScript, R_OK) != 0) {
    return std::string("the test internet's server script is missing: ") + kServerScript;
  }
  return std::nullopt;
}

std::filesystem::path TestInternet::dir() const { return dir_ ? dir_->path() : ""; }
std::filesystem::path TestInternet::ca_cert() const { return dir() / "ca.pem"; }
std::filesystem::path TestInternet::resolv_conf() const { return dir() / "resolv.conf"; }

ErrorOr<Ok> TestInternet::Tool(const std::vector<std::string>& argv,
                               const std::optional<std::string>& stdin_data) const {
  os::RunOptions run;
  run.spawn.argv = argv;
  run.stdin_data = stdin_data;
  run.merge_stderr = true;
  auto ran = os::RunProcess(run);
  if (!ran) {
    return Error{"test internet: cannot run " + argv[0] + ": " + ran.error().message};
  }
  if (!ran->success()) {
    std::string command;
    for (const std::string& arg : argv) {
      command += (command.empty() ? "" : " ") + arg;
    }
    return Error{"test internet: `" + command + "` failed (" + ran->Describe() +
                 "): " + os::LastLines(ran->out, 10) +
                 (stdin_data ? "\nits input was:\n" + *stdin_data : "")};
  }
  return Ok{};
}

void TestInternet::RemoveNamespace(const std::string& netns) const {
  if (ip_.empty() || !std::filesystem::exists("/run/netns/" + netns)) {
    return;
  }
  // Whatever still runs there: a test's long-lived process, or (after a crash) the servers.
  os::RunOptions run;
  run.spawn.argv = {ip_, "netns", "pids", netns};
  auto pids = os::RunProcess(run);
  std::vector<pid_t> killed;
  if (pids && pids->success()) {
    std::istringstream in(pids->out);
    for (long pid = 0; in >> pid;) {
      if (pid > 1 && kill(static_cast<pid_t>(pid), SIGKILL) == 0) {
        killed.push_back(static_cast<pid_t>(pid));
      }
    }
  }
  for (pid_t pid : killed) {
    WaitGone(pid, /*child=*/false, std::chrono::seconds(2));
  }
  (void)Tool({ip_, "netns", "delete", netns});
}

ErrorOr<Ok> TestInternet::Start() {
  if (running()) {
    return Error{"test internet: already started"};
  }
  if (auto missing = MissingPrerequisite()) {
    return Error{"test internet: " + *missing};
  }
  auto started = StartSteps();
  if (!started) {
    Stop();
  }
  return started;
}

ErrorOr<Ok> TestInternet::StartSteps() {
  ip_ = *ProgramPath("ip");
  unshare_ = *ProgramPath("unshare");
  nsenter_ = *ProgramPath("nsenter");
  timeout_ = *ProgramPath("timeout");
  sh_ = *ProgramPath("sh");
  python_ = *ProgramPath("python3");

  // Leftovers of a crashed run of a process with our id.
  RemoveNamespace(client_);
  RemoveNamespace(internet_);

  // The scratch directory is named after the process id too, so that a crashed run's is found.
  const std::string dir_prefix = "mvm-test-internet-" + std::to_string(getpid());
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), ec)) {
    if (entry.path().filename().string().starts_with(dir_prefix + "-")) {
      std::filesystem::remove_all(entry.path(), ec);
    }
  }
  dir_ = std::make_unique<TempDir>(dir_prefix);
  {
    std::ofstream resolv(resolv_conf());
    resolv << "nameserver " << kDnsAddress << "\noptions timeout:2 attempts:2\n";
    if (!resolv) {
      return Error{"test internet: cannot write " + resolv_conf().string()};
    }
  }

  // The veth pair is made in the two namespaces directly: it never exists in the host's.
  std::string host_batch = "netns add " + client_ + "\nnetns add " + internet_ + "\nlink add " +
                           client_ + " netns " + client_ + " type veth peer name " + internet_ +
                           " netns " + internet_ + "\n";
  if (auto done = Tool({ip_, "-batch", "-"}, host_batch); !done) {
    return done.error();
  }
  std::string internet_batch = "link set lo up\n";
  for (std::string_view address : kInternetAddresses) {
    internet_batch += "address add " + std::string(address) + "/32 dev lo\n";
  }
  internet_batch += "address add " + std::string(kGatewayAddress) + "/24 dev " + internet_ +
                    "\nlink set " + internet_ + " up\n";
  if (auto done = Tool({ip_, "-netns", internet_, "-batch", "-"}, internet_batch); !done) {
    return done.error();
  }
  // Every server address is local to the internet namespace: it needs no forwarding, and the
  // client's default route reaches them all.
  std::string client_batch = "link set lo up\naddress add " + std::string(kClientAddress) +
                             "/24 dev " + client_ + "\nlink set " + client_ +
                             " up\nroute add default via " + std::string(kGatewayAddress) + "\n";
  if (auto done = Tool({ip_, "-netns", client_, "-batch", "-"}, client_batch); !done) {
    return done.error();
  }

  // The servers: nsenter execs python3, so the pid is the server's, and it is our child.
  const std::filesystem::path err_path = dir() / "server.err";
  os::UniqueFd err(open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!err.valid()) {
    return Error{"test internet: cannot create " + err_path.string() + ": " + os::ErrnoText(errno)};
  }
  os::SpawnOptions spawn;
  spawn.argv = {nsenter_,        "--net=/run/netns/" + internet_,
                python_,         kServerScript,
                "--dir",         dir().string(),
                "--parent",      std::to_string(getpid()),
                "--max-seconds", "7200"};
  spawn.fds = {{1, err.get()}, {2, err.get()}};
  auto pid = os::Spawn(spawn);
  if (!pid) {
    return Error{"test internet: cannot start the servers: " + pid.error().message};
  }
  server_pid_ = *pid;

  // Bounded: the CA, five certificates and every listener take well under a second.
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!std::filesystem::exists(dir() / "ready")) {
    int status = 0;
    if (waitpid(server_pid_, &status, WNOHANG) == server_pid_) {
      server_pid_ = 0;
      return Error{"test internet: the servers exited (" +
                   os::ExitStatus::FromWaitStatus(status).Describe() +
                   ") before listening: " + os::LastLines(ReadFile(err_path), 20)};
    }
    if (Clock::now() >= deadline) {
      return Error{"test internet: the servers did not listen within 20 s: " +
                   os::LastLines(ReadFile(err_path), 20)};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Ok{};
}

void TestInternet::StopServer() {
  if (server_pid_ <= 0) {
    return;
  }
  kill(server_pid_, SIGTERM);
  if (!WaitGone(server_pid_, /*child=*/true, std::chrono::seconds(2))) {
    kill(server_pid_, SIGKILL);
    WaitGone(server_pid_, /*child=*/true, std::chrono::seconds(5));
  }
  server_pid_ = 0;
}

void TestInternet::Stop() {
  StopServer();
  RemoveNamespace(client_);
  RemoveNamespace(internet_);
  dir_.reset();
}

std::vector<std::string> TestInternet::Prefix() const {
  // $1: the resolv.conf, $2: the namespace; then the program. unshare's new mount namespace has
  // private propagation (its default, spelled out), so the bind mount stays in it.
  static constexpr char kScript[] =
      "resolv=$1; netns=$2; shift 2; "
      "mount --bind \"$resolv\" /etc/resolv.conf && exec nsenter --net=\"$netns\" -- \"$@\"";
  return {unshare_,
          "--mount",
          "--propagation",
          "private",
          "--",
          sh_,
          "-c",
          kScript,
          "mvm-test-internet",
          resolv_conf().string(),
          client_netns_path().string()};
}

std::vector<std::string> TestInternet::Wrap(const std::vector<std::string>& argv) const {
  std::vector<std::string> out = Prefix();
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

CommandResult TestInternet::Run(const std::vector<std::string>& argv,
                                const std::optional<std::string>& stdin_data,
                                std::chrono::seconds timeout) const {
  if (!running()) {
    CommandResult result;
    result.err = "test internet: Run() before Start()";
    return result;
  }
  // timeout puts itself and the command in a process group of their own and signals the group.
  std::vector<std::string> command = {timeout_, "--kill-after=2",
                                      std::to_string(timeout.count()) + "s"};
  for (std::string& arg : Wrap(argv)) {
    command.push_back(std::move(arg));
  }
  CommandOptions options;
  options.stdin_data = stdin_data;
  return RunCommand(command, options);
}

std::vector<DnsQuery> TestInternet::DnsLog() const {
  std::vector<DnsQuery> out;
  if (!dir_) {
    return out;
  }
  for (const nlohmann::json& line : ReadJsonLines(dir() / "dns.log")) {
    DnsQuery query;
    query.proto = StringField(line, "proto");
    query.name = StringField(line, "name");
    query.type = StringField(line, "type");
    query.rcode = line.value("rcode", -1);
    if (auto it = line.find("answers"); it != line.end() && it->is_array()) {
      for (const auto& answer : *it) {
        if (answer.is_string()) {
          query.answers.push_back(answer.get<std::string>());
        }
      }
    }
    out.push_back(std::move(query));
  }
  return out;
}

int TestInternet::DnsQueries(std::string_view name, std::string_view type) const {
  std::string key = Lowercase(name);
  while (!key.empty() && key.back() == '.') {
    key.pop_back();
  }
  int count = 0;
  for (const DnsQuery& query : DnsLog()) {
    if (query.name == key && (type.empty() || query.type == type)) {
      ++count;
    }
  }
  return count;
}

std::vector<ServerEvent> TestInternet::ServerLog(std::string_view address) const {
  std::vector<ServerEvent> out;
  if (!dir_ || address.find('/') != std::string_view::npos) {
    return out;
  }
  for (const nlohmann::json& line :
       ReadJsonLines(dir() / "servers" / (std::string(address) + ".log"))) {
    ServerEvent event;
    event.event = StringField(line, "event");
    event.server = StringField(line, "server");
    event.port = line.value("port", 0);
    event.peer = StringField(line, "peer");
    event.tls = line.value("tls", false);
    event.sni = StringField(line, "sni");
    event.host = StringField(line, "host");
    event.method = StringField(line, "method");
    event.path = StringField(line, "path");
    event.body_bytes = line.value("body_bytes", line.value("bytes", int64_t{0}));
    event.authorization = StringField(line, "authorization");
    event.body = StringField(line, "body");
    out.push_back(std::move(event));
  }
  return out;
}

ErrorOr<Ok> TestInternet::SetApiKey(std::string_view key) const {
  if (!dir_) {
    return Error{"the test internet is not started"};
  }
  std::ofstream out(dir() / "api-key", std::ios::trunc);
  out << key << "\n";
  out.close();
  if (!out) {
    return Error{"cannot write " + (dir() / "api-key").string()};
  }
  return Ok{};
}

void TestInternet::ClearLogs() const {
  if (!dir_) {
    return;
  }
  // The server appends (O_APPEND), so truncating under it is safe.
  std::error_code ec;
  std::filesystem::resize_file(dir() / "dns.log", 0, ec);
  for (const auto& entry : std::filesystem::directory_iterator(dir() / "servers", ec)) {
    std::filesystem::resize_file(entry.path(), 0, ec);
  }
}

}  // namespace mvm::testing
