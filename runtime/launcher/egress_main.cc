// mvm-egress: a sandbox's egress helper (runtime/egress/egress.h), started by the launcher
// (StartEgressHelper in egress_helper.cc) once the backend has opened the sandbox's way out. A
// binary of its own, beside mvmctl and mvm-agent, so that only a sandbox with a network loads
// OpenSSL, ldns and http-parser: `mvmctl run` of a `network: none` plan maps none of them
// (lit-tests/cli/startup_libraries.test).
//
//   mvm-egress --mvm-helper egress STATE NAME   serve sandbox NAME (fds 3, 4: its sockets; 5: the
//                                               settings, one JSON line)
//   mvm-egress --mvm-helper make-ca NAME        print a fresh CA for NAME as one JSON line

#include <pthread.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "ir/support/os/write_all.h"
#include "runtime/egress/egress.h"
#include "runtime/egress/intercept.h"
#include "runtime/launcher/internal.h"
#include "runtime/launcher/pool_wire.h"
#include "runtime/secrets/secrets.h"

namespace mvm::runtime::internal {

namespace {

/// The values of the settings' secrets, read from the store into locked memory of this process,
/// which no other process may read or dump from now on.
ErrorOr<egress::SecretTable> LoadSecrets(const StateDir& state, const egress::Settings& settings) {
  if (settings.secrets.empty()) {
    return egress::SecretTable();
  }
  if (auto held = secrets::HoldSecrets(); !held) {
    return held.error();
  }
  auto store = secrets::Store::Open(state.Secrets());
  if (!store) {
    return store.error();
  }
  std::vector<egress::SandboxSecret> loaded;
  for (const egress::SecretSetting& s : settings.secrets) {
    auto value = store->Get(s.name);
    if (!value) {
      return Error{"cannot read secret `" + s.name + "`: " + value.error().message};
    }
    loaded.push_back({s.name, s.token, s.hosts,
                      std::make_shared<const secrets::SecretBytes>(std::move(*value))});
  }
  return egress::SecretTable(std::move(loaded));
}

int RunEgressHelper(const StateDir& state, const std::string& name) {
  // fd 3: the proxy's listener, 4: the resolver's socket, 5: the settings, one JSON line.
  auto text = ReadJsonLine(5);
  if (!text) {
    std::fprintf(stderr, "mvm egress helper: %s\n", text.error().message.c_str());
    return 2;
  }
  for (const char* variable : kEgressTrustVariables) {
    const nlohmann::json& trust = text->value("trust_environment", nlohmann::json::object());
    if (trust.contains(variable) && trust[variable].is_string()) {
      ::setenv(variable, trust[variable].get<std::string>().c_str(), 1);
    }
  }
  auto settings = egress::SettingsFromJson(*text);
  if (!settings) {
    std::fprintf(stderr, "mvm egress helper: %s\n", settings.error().message.c_str());
    return 2;
  }
  auto table = LoadSecrets(state, *settings);
  if (!settings->secrets.empty()) {
    const nlohmann::json answer =
        table ? nlohmann::json{{"ok", true}} : nlohmann::json{{"error", table.error().message}};
    (void)WriteAll(5, answer.dump() + "\n");
  }
  ::close(5);
  if (!table) {
    std::fprintf(stderr, "mvm egress helper: %s\n", table.error().message.c_str());
    return 2;
  }
  if (settings->sandbox != name) {
    std::fprintf(stderr, "mvm egress helper: settings for `%s`, started for `%s`\n",
                 settings->sandbox.c_str(), name.c_str());
    return 2;
  }
  auto session = OpenAudit(state);
  if (!session) {
    std::fprintf(stderr, "mvm egress helper: %s\n", session.error().message.c_str());
    return 2;
  }
  audit::Log* log = &*(*session)->log;
  // SIGTERM (EndHelpers) shuts the sockets, so that the servers return and the audit aggregation
  // writes what it holds.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);
  std::thread([term] {
    int sig = 0;
    sigwait(&term, &sig);
    ::shutdown(3, SHUT_RDWR);
    ::shutdown(4, SHUT_RDWR);
  }).detach();
  egress::RunEgress(
      *settings, std::move(*table), 3, 4,
      [log](const std::string& event, const nlohmann::json& f) { (void)log->Append(event, f); });
  return 0;
}

/// Writes a fresh CA for sandbox `name` to stdout, where the launcher (MakeSandboxCa) reads it.
int RunMakeCa(const std::string& name) {
  auto ca = egress::MakeSandboxCa(name);
  if (!ca) {
    std::fprintf(stderr, "mvm-egress: cannot make the sandbox's egress CA: %s\n",
                 ca.error().message.c_str());
    return 1;
  }
  std::string line =
      nlohmann::json{{"key_pem", ca->key_pem}, {"cert_pem", ca->cert_pem}}.dump() + "\n";
  // os::WriteAll, not pool_wire's: stdout is the launcher's pipe, not a socket.
  const int error = os::WriteAll(STDOUT_FILENO, line);
  sodium_memzero(line.data(), line.size());
  sodium_memzero(ca->key_pem.data(), ca->key_pem.size());
  if (error != 0) {
    std::fprintf(stderr, "mvm-egress: cannot hand over the sandbox's egress CA: %s\n",
                 std::strerror(error));
    return 1;
  }
  return 0;
}

}  // namespace

}  // namespace mvm::runtime::internal

int main(int argc, char** argv) {
  using namespace mvm::runtime;
  const bool helper = argc >= 2 && std::string_view(argv[1]) == kHelperFlag;
  if (helper && argc == 5 && std::string_view(argv[2]) == "egress") {
    StateDir state;
    state.root = argv[3];
    return internal::RunEgressHelper(state, argv[4]);
  }
  if (helper && argc == 4 && std::string_view(argv[2]) == "make-ca") {
    return internal::RunMakeCa(argv[3]);
  }
  std::fprintf(stderr,
               "mvm-egress: the egress helper of mvm's launcher, not a command of its own; "
               "`mvmctl run` starts it for a plan that allows network access\n");
  return 2;
}
