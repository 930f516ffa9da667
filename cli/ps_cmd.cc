// `mvmctl ps [--format json]`: the sandboxes in the state directory, whether they run (or are
// paused), and the ports `up` published for them.

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runtime_session.h"

namespace mvm::cli {

namespace {

/// The record's services, and for a running sandbox what its agent says of each now (phase,
/// restarts, guest pid, last exit): guest-reported, shown for people and the SDKs, never acted on.
/// A sandbox whose agent cannot be asked (paused, gone) gets `"phase":"unknown"`.
void AddServices(const runtime::StateDir& state, const runtime::SandboxRecord& r,
                 nlohmann::json& out) {
  if (r.services.empty()) {
    return;
  }
  std::vector<runtime::agent::ServiceStatus> reported;
  if (runtime::IsRunning(r) && !r.paused) {
    // Attach reads only the state directory of its options: nothing is opened for writing here.
    runtime::LauncherOptions options;
    options.state = state;
    if (auto sandbox = runtime::Attach(options, r.name)) {
      if (auto list = sandbox->agent.ListServices()) {
        reported = std::move(*list);
      }
    }
  }
  for (const auto& service : r.services) {
    nlohmann::json entry = {{"name", service.name}, {"restart", service.restart}};
    auto it = std::find_if(reported.begin(), reported.end(),
                           [&](const auto& s) { return s.name == service.name; });
    if (it == reported.end()) {
      entry["phase"] = "unknown";
    } else {
      entry["phase"] = it->phase;
      entry["restarts"] = it->restarts;
      entry["pid"] = it->pid;
      if (it->exited) {
        entry["exit_code"] = it->exit_code;
        entry["signal"] = it->signal;
      }
    }
    out["services"].push_back(std::move(entry));
  }
}

}  // namespace

int RunPs(Args& args) {
  std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("ps", MakeError(ErrorKind::kUsage,
                                "unknown format `" + format + "`; use `human` or `json`"));
  }
  runtime::StateDir state = runtime::ResolveStateDir(args.Get("state-dir"));
  std::vector<std::string> problems;
  auto records = runtime::ListRecords(state, problems);
  for (const std::string& p : problems) {
    std::fprintf(stderr, "mvmctl ps: warning: %s\n", p.c_str());
  }
  if (format == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const runtime::SandboxRecord& r : records) {
      list.push_back({{"name", r.name},
                      {"workload", r.workload_id},
                      {"status", runtime::StatusOf(r)},
                      {"pid", r.pid},
                      {"backend", r.backend},
                      {"detached", r.detached},
                      {"created_at", r.created_at}});
      if (!r.pool.empty()) {
        list.back()["pool"] = r.pool;
      }
      if (r.InstanceName() != r.name) {
        list.back()["instance"] = r.instance;
      }
      list.back()["network"] = r.egress_policy.empty() ? "none" : r.egress_policy;
      if (!r.egress_proxy.empty()) {
        list.back()["proxy"] = r.egress_proxy;
      }
      for (const auto& t : r.secret_tokens) {
        list.back()["secrets"].push_back({{"env", t.env}, {"name", t.name}});
      }
      list.back()["rootfs"] = r.root_fs;
      list.back()["ports"] = PortsJson(r);
      AddServices(state, r, list.back());
      if (r.image) {
        list.back()["image"] = r.image->digest;
      }
    }
    std::printf("%s\n", nlohmann::json{{"sandboxes", list}}.dump().c_str());
    return kExitOk;
  }
  std::printf("%-24s %-24s %-8s %-8s %-10s %-20s %s\n", "NAME", "WORKLOAD", "STATUS", "PID",
              "BACKEND", "CREATED", "PORTS");
  for (const runtime::SandboxRecord& r : records) {
    bool running = runtime::IsRunning(r);
    std::printf("%-24s %-24s %-8s %-8s %-10s %-20s %s%s\n", r.name.c_str(), r.workload_id.c_str(),
                std::string(runtime::StatusOf(r)).c_str(),
                running ? std::to_string(r.pid).c_str() : "-", r.backend.c_str(),
                r.created_at.c_str(), DescribePorts(r).c_str(),
                r.detached        ? " (detached)"
                : !r.pool.empty() ? (" (ready in pool " + r.pool + ")").c_str()
                                  : "");
    if (args.Has("v")) {
      std::printf("    rootfs: %s%s\n", r.root_fs.c_str(),
                  r.image ? (" (OCI image " + r.image->digest + ")").c_str() : "");
      std::printf(
          "    network: %s%s\n",
          r.egress_policy.empty() ? "none (its own loopback only)" : r.egress_policy.c_str(),
          r.egress_proxy.empty() ? "" : (", through " + r.egress_proxy).c_str());
      for (const auto& t : r.secret_tokens) {
        // Names only: the token is the sandbox's (and `logs` redacts it), the value the proxy's.
        std::printf("    secret: %s as %s (a token; the proxy substitutes the value)\n",
                    t.name.c_str(), t.env.c_str());
      }
      for (const auto& service : r.services) {
        std::printf("    service: %s (restart=%s; `mvmctl logs %s --service %s`)\n",
                    service.name.c_str(), service.restart.c_str(), r.name.c_str(),
                    service.name.c_str());
      }
      for (const auto& helper : r.helpers) {
        std::printf("    helper: %s (pid %d)\n", helper.role.c_str(), helper.pid);
      }
    }
  }
  return kExitOk;
}

}  // namespace mvm::cli
