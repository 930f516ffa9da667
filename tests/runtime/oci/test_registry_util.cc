#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/process.h"
#include "ir/support/os/unique_fd.h"
#include "nlohmann/json.hpp"
#include "tests/runtime/oci/test_registry.h"
#include "tests/support/files.h"

namespace mvm::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kServerScript[] = MVM_SOURCE_DIR "/tests/runtime/oci/test_registry_server.py";

// A port that was free a moment ago on 127.0.0.1 (the registry binds it itself; Start() retries
// when another process took it in between).
int FreePort() {
  os::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (!fd.valid() || bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return 0;
  }
  return ntohs(address.sin_port);
}

bool Accepts(int port) {
  os::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return fd.valid() &&
         connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

ErrorOr<Ok> Tool(const std::vector<std::string>& argv, std::string* out = nullptr) {
  os::RunOptions run;
  run.spawn.argv = argv;
  run.merge_stderr = out == nullptr;
  auto ran = os::RunProcess(run);
  if (!ran) {
    return Error{"cannot run " + argv[0] + ": " + ran.error().message};
  }
  if (!ran->success()) {
    return Error{"`" + argv[0] + " " + (argv.size() > 1 ? argv[1] : "") + " ...` failed (" +
                 ran->Describe() + "): " + ran->Tail(10)};
  }
  if (out != nullptr) {
    *out = ran->out;
  }
  return Ok{};
}

// Waits for `pid` to write `dir`/port; its content.
ErrorOr<int> WaitForPortFile(pid_t pid, const std::filesystem::path& dir,
                             const std::filesystem::path& log) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::exists(dir / "port")) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return Error{"the helper server exited (" +
                   os::ExitStatus::FromWaitStatus(status).Describe() +
                   "): " + os::LastLines(ReadFile(log), 20)};
    }
    if (Clock::now() >= deadline) {
      return Error{"the helper server did not listen within 10 s: " +
                   os::LastLines(ReadFile(log), 20)};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::stoi(ReadFile(dir / "port"));
}

std::optional<std::string> Missing(const char* tool, const char* package) {
  if (!os::FindProgram(tool)) {
    return std::string("the test registry needs `") + tool + "` (Debian package " + package +
           ", installed by scripts/bootstrap.sh)";
  }
  return std::nullopt;
}

}  // namespace

ErrorOr<pid_t> SpawnTiedToTest(const std::vector<std::string>& argv,
                               const std::filesystem::path& log) {
  os::UniqueFd out(open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  os::UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!out.valid() || !null.valid()) {
    return Error{"cannot open " + log.string() + " or /dev/null: " + os::ErrnoText(errno)};
  }
  std::vector<char*> args = os::CStrings(argv);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    return Error{"fork: " + os::ErrnoText(errno)};
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(null.get(), 0);
    dup2(out.get(), 1);
    dup2(out.get(), 2);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

void KillAndReap(pid_t* pid) {
  if (*pid > 0) {
    kill(*pid, SIGKILL);
    int status = 0;
    while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  *pid = 0;
}

TestRegistry::TestRegistry(TestRegistryOptions options) : options_(std::move(options)) {}
TestRegistry::~TestRegistry() { Stop(); }

std::optional<std::string> TestRegistry::MissingPrerequisite(const TestRegistryOptions& options) {
  if (auto missing = Missing("docker-registry", "docker-registry")) {
    return missing;
  }
  if (auto missing = Missing("skopeo", "skopeo")) {
    return missing;
  }
  if (options.auth == TestRegistryAuth::kBasic) {
    if (auto missing = Missing("htpasswd", "apache2-utils")) {
      return missing;
    }
  }
  if (options.tls || options.auth == TestRegistryAuth::kToken) {
    if (auto missing = Missing("openssl", "openssl")) {
      return missing;
    }
  }
  if (options.auth == TestRegistryAuth::kToken) {
    if (auto missing = Missing("python3", "python3")) {
      return missing;
    }
  }
  return std::nullopt;
}

std::filesystem::path TestRegistry::dir() const { return dir_ ? dir_->path() : ""; }
std::filesystem::path TestRegistry::storage() const { return dir() / "storage"; }
std::filesystem::path TestRegistry::ca_cert() const { return dir() / "ca.pem"; }

std::filesystem::path TestRegistry::BlobDataPath(std::string_view digest) const {
  std::string hex(digest.substr(digest.find(':') + 1));
  return storage() / "docker/registry/v2/blobs/sha256" / hex.substr(0, 2) / hex / "data";
}

std::filesystem::path TestRegistry::WriteAuthFile(std::string_view user, std::string_view password,
                                                  std::string_view name) const {
  nlohmann::json config;
  config["auths"][host()] = {{"username", std::string(user)}, {"password", std::string(password)}};
  std::filesystem::path path = dir() / std::string(name);
  WriteFile(path, config.dump(2));
  return path;
}

std::vector<std::string> TestRegistry::TokenRequests() const {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(dir() / "token" / "requests.log"));
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

ErrorOr<Ok> TestRegistry::Start() {
  if (registry_pid_ > 0) {
    return Error{"test registry: already started"};
  }
  if (auto missing = MissingPrerequisite(options_)) {
    return Error{"test registry: " + *missing};
  }
  dir_ = std::make_unique<TempDir>("mvm-test-registry");
  std::filesystem::create_directories(storage());
  const std::string openssl = os::FindProgram("openssl").value_or("openssl").string();
  std::string auth_yaml;
  if (options_.auth == TestRegistryAuth::kBasic) {
    std::string htpasswd;
    if (auto done =
            Tool({os::FindProgram("htpasswd")->string(), "-Bbn", options_.user, options_.password},
                 &htpasswd);
        !done) {
      return done.error();
    }
    WriteFile(dir() / "htpasswd", htpasswd);
    auth_yaml =
        "auth:\n  htpasswd:\n    realm: mvm-test\n    path: " + (dir() / "htpasswd").string() +
        "\n";
  }
  if (options_.auth == TestRegistryAuth::kToken) {
    const std::filesystem::path token_dir = dir() / "token";
    std::filesystem::create_directories(token_dir);
    if (auto done =
            Tool({openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                  (token_dir / "key.pem").string(), "-out", (token_dir / "cert.pem").string(),
                  "-subj", "/CN=mvm-test-token", "-days", "2"});
        !done) {
      return done.error();
    }
    auto pid = SpawnTiedToTest(
        {os::FindProgram("python3")->string(), kServerScript, "token", "--dir", token_dir.string(),
         "--parent", std::to_string(getpid()), "--key", (token_dir / "key.pem").string(), "--cert",
         (token_dir / "cert.pem").string(), "--user", options_.user, "--password",
         options_.password},
        token_dir / "server.log");
    if (!pid) {
      return pid.error();
    }
    token_pid_ = *pid;
    auto port = WaitForPortFile(token_pid_, token_dir, token_dir / "server.log");
    if (!port) {
      return Error{"test registry: token service: " + port.error().message};
    }
    auth_yaml = "auth:\n  token:\n    realm: http://127.0.0.1:" + std::to_string(*port) +
                "/token\n    service: mvm-test-registry\n    issuer: mvm-test-issuer\n"
                "    rootcertbundle: " +
                (token_dir / "cert.pem").string() + "\n";
  }
  std::string tls_yaml;
  if (options_.tls) {
    const std::string d = dir().string();
    WriteFile(dir() / "server.ext",
              "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n");
    for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
             {openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-subj", "/CN=mvm-test-ca",
              "-days", "2"},
             {openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=127.0.0.1"},
             {openssl, "x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.pem", "-CAkey",
              d + "/ca.key", "-CAcreateserial", "-out", d + "/server.pem", "-days", "2", "-extfile",
              d + "/server.ext"}}) {
      if (auto done = Tool(argv); !done) {
        return done.error();
      }
    }
    tls_yaml = "  tls:\n    certificate: " + d + "/server.pem\n    key: " + d + "/server.key\n";
  }
  for (int attempt = 0;; ++attempt) {
    port_ = FreePort();
    std::string config =
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
        "storage:\n  filesystem:\n    rootdirectory: " +
        storage().string() +
        "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port_) +
        "\n  secret: mvm-test-secret\n" + tls_yaml + auth_yaml;
    WriteFile(dir() / "config.yml", config);
    auto started = StartOnce();
    if (started || attempt == 2) {
      return started;
    }
  }
}

ErrorOr<Ok> TestRegistry::StartOnce() {
  const std::filesystem::path log = dir() / "registry.log";
  auto pid = SpawnTiedToTest(
      {os::FindProgram("docker-registry")->string(), "serve", (dir() / "config.yml").string()},
      log);
  if (!pid) {
    return pid.error();
  }
  registry_pid_ = *pid;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!Accepts(port_)) {
    int status = 0;
    if (waitpid(registry_pid_, &status, WNOHANG) == registry_pid_) {
      registry_pid_ = 0;
      return Error{"test registry: docker-registry exited (" +
                   os::ExitStatus::FromWaitStatus(status).Describe() +
                   "): " + os::LastLines(ReadFile(log), 20)};
    }
    if (Clock::now() >= deadline) {
      KillAndReap(&registry_pid_);
      return Error{"test registry: docker-registry did not listen within 10 s: " +
                   os::LastLines(ReadFile(log), 20)};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Ok{};
}

void TestRegistry::Stop() {
  KillAndReap(&registry_pid_);
  KillAndReap(&token_pid_);
  dir_.reset();
}

TestBlobServer::TestBlobServer(std::string blob, TestBlobServerOptions options)
    : blob_(std::move(blob)), options_(std::move(options)) {}

TestBlobServer::~TestBlobServer() { KillAndReap(&pid_); }

ErrorOr<Ok> TestBlobServer::Start() {
  auto python = os::FindProgram("python3");
  if (!python) {
    return Error{"the test blob server needs python3"};
  }
  dir_ = std::make_unique<TempDir>("mvm-test-blob-server");
  WriteFile(dir_->path() / "blob", blob_);
  std::vector<std::string> argv = {python->string(),
                                   kServerScript,
                                   "blob",
                                   "--dir",
                                   dir_->path().string(),
                                   "--parent",
                                   std::to_string(getpid()),
                                   "--blob",
                                   (dir_->path() / "blob").string(),
                                   "--drop-after",
                                   std::to_string(options_.drop_after),
                                   "--stall-after",
                                   std::to_string(options_.stall_after),
                                   "--fail-first",
                                   std::to_string(options_.fail_first),
                                   "--fail-status",
                                   std::to_string(options_.fail_status)};
  if (!options_.honour_range) {
    argv.push_back("--no-range");
  }
  for (const auto& [flag, value] :
       {std::pair<const char*, const std::string&>{"--retry-after", options_.retry_after},
        {"--require-basic", options_.require_basic},
        {"--redirect-to", options_.redirect_to}}) {
    if (!value.empty()) {
      argv.push_back(flag);
      argv.push_back(value);
    }
  }
  auto pid = SpawnTiedToTest(argv, dir_->path() / "server.log");
  if (!pid) {
    return pid.error();
  }
  pid_ = *pid;
  auto port = WaitForPortFile(pid_, dir_->path(), dir_->path() / "server.log");
  if (!port) {
    return port.error();
  }
  port_ = *port;
  return Ok{};
}

std::vector<TestBlobRequest> TestBlobServer::Requests() const {
  std::vector<TestBlobRequest> out;
  std::istringstream in(ReadFile(dir_->path() / "requests.log"));
  for (std::string line; std::getline(in, line);) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object() && json.value("path", "").find("/blobs/") != std::string::npos) {
      out.push_back(
          {json.value("path", ""), json.value("range", ""), json.value("authorization", false)});
    }
  }
  return out;
}

}  // namespace mvm::testing
