// A sandbox's egress helper (runtime/egress/egress.h), the launcher's side: started once the
// backend has opened the sandbox's way out, as `mvm-egress` (egress_main.cc, a binary of its own so
// that the launcher does not load OpenSSL and ldns); it gets the two sockets and its settings (the
// verified plan's policy) and writes its decisions to the audit log.

#include <fcntl.h>
#include <linux/mount.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/process.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"
#include "runtime/egress/settings.h"
#include "runtime/launcher/internal.h"
#include "runtime/launcher/pool_wire.h"
#include "runtime/secrets/secrets.h"
#include "runtime/secrets/stream.h"

namespace mvm::runtime {

namespace fs = std::filesystem;

namespace internal {

namespace {

// The helper parses what the sandbox sends (DNS, HTTP, TLS) and needs little else: to connect out,
// to read the host's resolv.conf and to append to the audit log. So it gets a pid namespace of its
// own (no host process to see, signal or trace), every mount read-only but the state directory, and
// no capabilities, as uid 0 only because the audit log is root's.
enum ConfineStep { kPrivate, kBindState, kReadOnly, kStateWritable, kBounding, kCaps, kNoNewPrivs };

void MountReadOnlyButState(const backends::HelperChild& child, const char* state) {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    child.Fail(kPrivate);
  }
  if (::mount(state, state, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    child.Fail(kBindState);
  }
  mount_attr read_only{};
  read_only.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (::syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &read_only, sizeof read_only) !=
      0) {
    child.Fail(kReadOnly);
  }
  mount_attr writable{};
  writable.attr_clr = MOUNT_ATTR_RDONLY;
  if (::syscall(SYS_mount_setattr, AT_FDCWD, state, AT_RECURSIVE, &writable, sizeof writable) !=
      0) {
    child.Fail(kStateWritable);
  }
}

void DropCapabilities(const backends::HelperChild& child) {
  if (!backends::EmptyCapabilityBoundingSet()) {
    child.Fail(kBounding);
  }
  if (!backends::ClearCapabilities()) {
    child.Fail(kCaps);
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    child.Fail(kNoNewPrivs);
  }
}

}  // namespace

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

ErrorOr<backends::HelperRecord> StartEgressHelper(
    const LauncherOptions& options, const std::string& name, const plan::v1::Network& network,
    const EgressSecrets& secrets, backends::EgressEndpoints& endpoints,
    const std::map<std::string, std::vector<std::string>>& fixed_hosts, bool dies_with_caller) {
  egress::Settings settings;
  settings.sandbox = name;
  for (const plan::v1::EgressRule& r : network.rules()) {
    // The verifier admitted only `http` and `https` rules with normalised hosts.
    settings.policy.rules.push_back(
        {r.host(), r.protocol() == "http" ? egress::Protocol::kHttp : egress::Protocol::kHttps});
  }
  settings.policy.dns = network.dns();
  settings.fixed_hosts = fixed_hosts;
  settings.secrets = secrets.secrets;
  if (!secrets.secrets.empty()) {
    settings.ca_key_pem = secrets.ca.key_pem;
    settings.ca_cert_pem = secrets.ca.cert_pem;
  }
  // The settings go as one JSON line on a socket, as a pool daemon's do (pool_wire.h).
  int wire[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, wire) != 0) {
    return Error{std::string("cannot create the egress helper's socket: ") + std::strerror(errno)};
  }
  if (options.egress_binary.empty()) {
    return Error{"no egress helper `mvm-egress` was located (LocateRuntimeFiles)"};
  }
  const StateDir& state = options.state;
  backends::HelperSpec spec;
  spec.role = "egress";
  spec.program = options.egress_binary;
  spec.argv = {"mvm-egress", std::string(kHelperFlag), "egress", state.root.string(), name};
  spec.fds = {endpoints.proxy.get(), endpoints.dns.get(), wire[0]};
  spec.dies_with_parent = dies_with_caller;
  spec.own_session = true;
  spec.namespaces = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC;
  const std::string state_root = fs::absolute(state.root).lexically_normal().string();
  const char* state_path = state_root.c_str();  // the hooks may not allocate
  spec.setup = [state_path](const backends::HelperChild& child) {
    MountReadOnlyButState(child, state_path);
  };
  spec.confine = [](const backends::HelperChild& child) { DropCapabilities(child); };
  spec.steps = {"make its mounts private",
                "bind the state directory",
                "make every mount read-only",
                "keep the state directory writable",
                "empty its capability bounding set",
                "drop its capabilities",
                "set no_new_privs"};
  auto helper = backends::StartHelper(spec);
  ::close(wire[0]);
  const os::UniqueFd settings_out(wire[1]);
  endpoints.proxy.Reset();
  endpoints.dns.Reset();
  if (!helper) {
    return helper.error();
  }
  backends::HelperRecord record = helper->record;
  (void)helper->process.Release();  // ended by pid and start time, like every recorded helper
  nlohmann::json json = egress::SettingsToJson(settings);
  // The helper verifies upstream servers against the host's trust store, and runs with a fixed
  // environment: the two variables by which OpenSSL's default paths are moved go along.
  for (const char* variable : kEgressTrustVariables) {
    if (const char* value = std::getenv(variable); value != nullptr) {
      json["trust_environment"][variable] = value;
    }
  }
  std::string line = json.dump() + "\n";
  auto sent = WriteAll(settings_out.get(), line);
  sodium_memzero(line.data(), line.size());  // it holds the CA's key
  sodium_memzero(settings.ca_key_pem.data(), settings.ca_key_pem.size());
  if (!sent) {
    backends::SignalHelper(record, SIGKILL);
    return Error{"cannot hand the egress helper its settings: " + sent.error().message};
  }
  if (!secrets.secrets.empty()) {
    // The values are read by the helper, which says whether it has them all: a sandbox must not
    // start with a secret its proxy cannot hand on.
    auto answer = ReadJsonLine(settings_out.get());
    if (!answer || !answer->is_object() || !answer->value("ok", false)) {
      backends::SignalHelper(record, SIGKILL);
      return Error{!answer ? "the egress helper did not say it is ready: " + answer.error().message
                   : answer->is_object() && answer->contains("error")
                       ? (*answer)["error"].get<std::string>()
                       : std::string("the egress helper's answer is not understood")};
    }
  }
  return record;
}

}  // namespace internal

ErrorOr<Ok> SandboxAccess::RetokenForClaim(Sandbox& sandbox, const LauncherOptions& options,
                                           const std::string& name, SandboxRecord& record) {
  std::shared_ptr<PooledEgress> pooled = std::move(sandbox.pooled_egress_);
  if (!pooled) {
    return Ok{};
  }
  // The helper that served the sandbox while it waited knows tokens minted at fill time. SIGKILL,
  // not EndHelpers' SIGTERM: on SIGTERM it shuts its sockets down, and they are the sockets the
  // next helper serves. No workload has run yet, so it holds no audit counts worth the wait.
  std::vector<backends::HelperRecord> kept;
  for (const backends::HelperRecord& helper : record.helpers) {
    if (helper.role != "egress") {
      kept.push_back(helper);
      continue;
    }
    if (!backends::SignalHelper(helper, SIGKILL)) {
      continue;
    }
    // The pool process started it, so it is this process's child: reaped here, not left a zombie
    // (whose start time would still read as the helper's).
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(helper.pid, nullptr, WNOHANG) == helper.pid ||
          backends::ProcessStartTime(helper.pid) != helper.start_time) {
        break;
      }
      ::usleep(10000);
    }
  }
  internal::EgressSecrets fresh = pooled->secrets;
  for (egress::SecretSetting& s : fresh.secrets) {
    s.token = secrets::MintToken();
  }
  auto endpoints = internal::DuplicateEndpoints(pooled->endpoints);
  if (!endpoints) {
    return endpoints.error();
  }
  // Not tied to the pool process: the sandbox is the claimer's now, and ends with its record.
  auto helper = internal::StartEgressHelper(options, name, pooled->network, fresh, *endpoints, {},
                                            /*dies_with_caller=*/false);
  if (!helper) {
    return helper.error();
  }
  kept.push_back(*helper);
  record.helpers = std::move(kept);
  for (SandboxRecord::SecretToken& t : record.secret_tokens) {
    for (const egress::SecretSetting& s : fresh.secrets) {
      if (s.name == t.name) {
        t.token = s.token;
      }
    }
  }
  sodium_memzero(fresh.ca.key_pem.data(), fresh.ca.key_pem.size());
  return Ok{};
}

namespace internal {

namespace {

constexpr std::string_view kEgressCaPurpose = "egressca";
constexpr std::string_view kEgressCaContext = "mvm sandbox egress CA";

ErrorOr<secrets::SecretBytes> EgressCaKey(const StateDir& state) {
  auto store = secrets::Store::Open(state.Secrets());
  if (!store) {
    return store.error();
  }
  return store->DeriveKey(kEgressCaPurpose);
}

}  // namespace

ErrorOr<std::string> SealEgressCa(const StateDir& state, const egress::SandboxCa& ca) {
  auto key = EgressCaKey(state);
  if (!key) {
    return key.error();
  }
  std::string plain = nlohmann::json{{"cert_pem", ca.cert_pem}, {"key_pem", ca.key_pem}}.dump();
  auto sealed = secrets::SealString(plain, *key, kEgressCaContext);
  sodium_memzero(plain.data(), plain.size());
  return sealed;
}

ErrorOr<egress::SandboxCa> OpenEgressCa(const StateDir& state, std::string_view sealed) {
  auto key = EgressCaKey(state);
  if (!key) {
    return key.error();
  }
  auto opened = secrets::OpenString(sealed, *key, kEgressCaContext);
  if (!opened) {
    return Error{"the sandbox's egress CA: " + opened.error().message};
  }
  std::string plain = std::move(*opened);
  nlohmann::json fields = nlohmann::json::parse(plain, nullptr, false);
  sodium_memzero(plain.data(), plain.size());
  if (!fields.is_object() || !fields.contains("cert_pem") || !fields.contains("key_pem") ||
      !fields["cert_pem"].is_string() || !fields["key_pem"].is_string()) {
    return Error{"the sandbox's egress CA opened, but is not a CA"};
  }
  return egress::SandboxCa{fields["key_pem"].get<std::string>(),
                           fields["cert_pem"].get<std::string>()};
}

ErrorOr<backends::EgressEndpoints> DuplicateEndpoints(const backends::EgressEndpoints& endpoints) {
  backends::EgressEndpoints copy;
  copy.proxy.Reset(::fcntl(endpoints.proxy.get(), F_DUPFD_CLOEXEC, 3));
  copy.dns.Reset(::fcntl(endpoints.dns.get(), F_DUPFD_CLOEXEC, 3));
  if (!copy.proxy.valid() || !copy.dns.valid()) {
    return Error{"cannot duplicate the sandbox's egress sockets: " + os::ErrnoText(errno)};
  }
  copy.resolver_address = endpoints.resolver_address;
  copy.proxy_url = endpoints.proxy_url;
  return copy;
}

ErrorOr<egress::SandboxCa> MakeSandboxCa(const LauncherOptions& options, const std::string& name) {
  os::RunOptions run;
  run.spawn.executable = options.egress_binary;
  run.spawn.argv = {"mvm-egress", std::string(kHelperFlag), "make-ca", name};
  run.spawn.env = std::vector<std::string>{};
  auto made = os::RunProcess(run);
  if (!made) {
    return Error{"cannot run `" + options.egress_binary.string() + "`: " + made.error().message};
  }
  nlohmann::json fields = nlohmann::json::parse(made->out, nullptr, false);
  sodium_memzero(made->out.data(), made->out.size());
  if (!made->success() || !fields.is_object() || !fields.contains("cert_pem") ||
      !fields.contains("key_pem") || !fields["cert_pem"].is_string() ||
      !fields["key_pem"].is_string()) {
    return Error{"`" + options.egress_binary.string() + " " + std::string(kHelperFlag) +
                 " make-ca` " + made->Describe() + ": " + made->Tail(3)};
  }
  egress::SandboxCa ca{fields["key_pem"].get<std::string>(), fields["cert_pem"].get<std::string>()};
  std::string& key = fields["key_pem"].get_ref<std::string&>();
  sodium_memzero(key.data(), key.size());
  return ca;
}

namespace {

/// Waits until each of `helpers` has ended (a zombie has: ProcessStartTime), at most `tries` times
/// 10 ms each.
void WaitHelpersGone(const std::vector<backends::HelperRecord>& helpers, int tries) {
  for (const backends::HelperRecord& helper : helpers) {
    for (int i = 0; i < tries && backends::ProcessStartTime(helper.pid) == helper.start_time; ++i) {
      ::usleep(10000);
    }
  }
}

}  // namespace

void TerminateHelpers(const SandboxRecord& record, std::initializer_list<std::string_view> roles) {
  std::vector<backends::HelperRecord> terminated;
  for (const backends::HelperRecord& helper : record.helpers) {
    if (std::find(roles.begin(), roles.end(), helper.role) != roles.end() &&
        backends::SignalHelper(helper, SIGTERM)) {
      terminated.push_back(helper);
    }
  }
  WaitHelpersGone(terminated, 100);
}

void EndHelpers(const SandboxRecord& record) {
  // The egress and volume-audit helpers get a moment to write the counts their audit aggregation
  // holds.
  TerminateHelpers(record, {"egress", "volume-audit"});
  std::vector<backends::HelperRecord> killed;
  for (const backends::HelperRecord& helper : record.helpers) {
    if (helper.role != "watchdog" && backends::SignalHelper(helper, SIGKILL)) {
      killed.push_back(helper);
    }
  }
  // Gone, not only signalled: a helper still alive holds marks and open files on the sandbox's
  // volume views, which would make their unmount lazy and keep a store's image busy for the next
  // sandbox.
  WaitHelpersGone(killed, 200);
}

}  // namespace internal

}  // namespace mvm::runtime
