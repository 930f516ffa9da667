// A sandbox's egress helper (runtime/egress/egress.h): started by the launcher, once the backend
// has opened the sandbox's way out, as this executable again with kHelperFlag; it gets the two
// sockets and its settings (the verified plan's policy) and writes its decisions to the audit log.

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "runtime/egress/egress.h"
#include "runtime/launcher/internal.h"

namespace mvm::runtime {

namespace fs = std::filesystem;

namespace internal {

bool AllowsEgress(const plan::v1::ExecutionPlan& p) {
  return p.network().rules_size() > 0 || p.network().dns();
}

std::string DescribeNetwork(const plan::v1::Network& network) {
  std::string out;
  for (const plan::v1::EgressRule& r : network.rules()) {
    out += (out.empty() ? "" : ", ") + r.protocol() + " " + r.host();
  }
  if (network.dns()) {
    out += std::string(out.empty() ? "" : ", ") + "dns";
  }
  return out.empty() ? "none" : out;
}

ErrorOr<backends::HelperRecord> StartEgressHelper(const StateDir& state, const std::string& name,
                                                  const plan::v1::Network& network,
                                                  backends::EgressEndpoints& endpoints,
                                                  bool dies_with_caller) {
  egress::Settings settings;
  settings.sandbox = name;
  for (const plan::v1::EgressRule& r : network.rules()) {
    // The verifier admitted only `http` and `https` rules with normalised hosts.
    settings.policy.rules.push_back(
        {r.host(), r.protocol() == "http" ? egress::Protocol::kHttp : egress::Protocol::kHttps});
  }
  settings.policy.dns = network.dns();
  int pipe[2];
  if (::pipe2(pipe, O_CLOEXEC) != 0) {
    return Error{std::string("cannot create the egress helper's pipe: ") + std::strerror(errno)};
  }
  backends::HelperSpec spec;
  spec.role = "egress";
  spec.program = "/proc/self/exe";
  spec.argv = {"mvm-egress", std::string(kHelperFlag), "egress", state.root.string(), name};
  spec.fds = {endpoints.proxy.get(), endpoints.dns.get(), pipe[0]};
  spec.dies_with_parent = dies_with_caller;
  spec.own_session = true;
  auto helper = backends::StartHelper(spec);
  ::close(pipe[0]);
  endpoints.proxy.Reset();
  endpoints.dns.Reset();
  if (!helper) {
    ::close(pipe[1]);
    return helper.error();
  }
  const std::string bytes = egress::SettingsToJson(settings).dump();
  std::string_view rest = bytes;
  while (!rest.empty()) {
    ssize_t n = ::write(pipe[1], rest.data(), rest.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  ::close(pipe[1]);
  backends::HelperRecord record = helper->record;
  (void)helper->process.Release();  // ended by pid and start time, like every recorded helper
  if (!rest.empty()) {
    backends::SignalHelper(record, SIGKILL);
    return Error{"cannot hand the egress helper its settings"};
  }
  return record;
}

void EndHelpers(const SandboxRecord& record) {
  // The egress helper gets a moment to write the counts its audit aggregation holds.
  std::vector<backends::HelperRecord> terminated;
  for (const backends::HelperRecord& helper : record.helpers) {
    if (helper.role == "egress" && backends::SignalHelper(helper, SIGTERM)) {
      terminated.push_back(helper);
    }
  }
  for (const backends::HelperRecord& helper : terminated) {
    for (int i = 0; i < 100 && backends::ProcessStartTime(helper.pid) == helper.start_time; ++i) {
      ::usleep(10000);
    }
  }
  for (const backends::HelperRecord& helper : record.helpers) {
    if (helper.role != "watchdog") {
      backends::SignalHelper(helper, SIGKILL);
    }
  }
}

int RunEgressHelper(const StateDir& state, const std::string& name) {
  // fd 3: the proxy's listener, 4: the resolver's socket, 5: the settings, to EOF.
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(5, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(5);
  auto settings = egress::SettingsFromJson(nlohmann::json::parse(text, nullptr, false));
  if (!settings) {
    std::fprintf(stderr, "mvm egress helper: %s\n", settings.error().message.c_str());
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
  egress::RunEgress(*settings, 3, 4, [log](const std::string& event, const nlohmann::json& f) {
    (void)log->Append(event, f);
  });
  return 0;
}

}  // namespace internal

}  // namespace mvm::runtime
