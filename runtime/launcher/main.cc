// mvm-launcher: runs one signed ExecutionPlan and exits with the workload's status. The same
// launcher library as `mvmctl run PLAN`, without the compiler, for hosts that only run plans built
// elsewhere.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/launcher/launcher.h"

namespace {

std::string UsageText() {
  return R"(usage: mvm-launcher PLAN [--backend )" + mvm::runtime::backends::NameList() +
         R"(] [--entrypoint NAME] [--name NAME]
                    [--state-dir DIR] [--trust-dir DIR] [--trust PUB]... [--project-root DIR] [-v]
                    [-- ARGS...]

Verifies PLAN (a signed DSSE ExecutionPlan) against the trust store, admits it against replay,
runs its entrypoint in a sandbox and exits with the entrypoint's status (124 timeout, 125 refused
or failed, 126/127 command not executable/found, 128+N killed by signal N).

backends (--backend; the first is the default):
)" + mvm::runtime::backends::HelpList(2);
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "mvm-launcher: error: %s\n%s", message.c_str(), UsageText().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // A sandbox's helper processes are this executable again (runtime/launcher/launcher.h).
  if (auto helper = mvm::runtime::RunHelperIfAsked(argc, argv)) {
    return *helper;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string plan_path, state_flag, trust_dir;
  std::string backend(mvm::runtime::backends::All().front()->name());
  std::vector<std::filesystem::path> extra;
  mvm::runtime::RunOptions run;
  bool verbose = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) {
        return false;
      }
      out = args[++i];
      return true;
    };
    std::string v;
    if (a == "--") {
      run.args.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a == "-h" || a == "--help") {
      const std::string usage = UsageText();
      std::fwrite(usage.data(), 1, usage.size(), stdout);
      return 0;
    }
    if (a == "-v") {
      verbose = true;
    } else if (a == "--entrypoint" || a == "--name" || a == "--state-dir" || a == "--trust-dir" ||
               a == "--trust" || a == "--project-root" || a == "--backend") {
      if (!value(v)) {
        return Usage("`" + a + "` needs a value");
      }
      if (a == "--entrypoint") {
        run.entrypoint = v;
      } else if (a == "--name") {
        run.start.name = v;
      } else if (a == "--state-dir") {
        state_flag = v;
      } else if (a == "--trust-dir") {
        trust_dir = v;
      } else if (a == "--trust") {
        extra.emplace_back(v);
      } else if (a == "--backend") {
        backend = v;
      } else {
        run.start.project_root = v;
      }
    } else if (!a.empty() && a[0] == '-') {
      return Usage("unknown option `" + a + "`");
    } else if (plan_path.empty()) {
      plan_path = a;
    } else {
      return Usage("one plan at a time (got `" + plan_path + "` and `" + a + "`)");
    }
  }
  if (plan_path.empty()) {
    return Usage("no plan given");
  }
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "mvm-launcher: error: %s\n", message.c_str());
    return mvm::runtime::kExitLauncherFailed;
  };
  if (auto found = mvm::runtime::backends::Find(backend); !found) {
    return Usage(found.error().message);
  }
  mvm::runtime::LauncherOptions options;
  options.backend = backend;
  options.state = mvm::runtime::ResolveStateDir(state_flag);
  options.verbose = verbose;
  options.note = [](std::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  };
  if (auto ok = mvm::runtime::LocateRuntimeFiles(options); !ok) {
    return fail(ok.error().message);
  }
  if (auto ok = mvm::runtime::LoadTrust(options, trust_dir, extra); !ok) {
    return fail(ok.error().message);
  }
  std::FILE* f = std::fopen(plan_path.c_str(), "rb");
  if (f == nullptr) {
    return fail("cannot read `" + plan_path + "`");
  }
  std::string bytes;
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) {
    bytes.append(buf, n);
  }
  std::fclose(f);
  if (run.start.project_root.empty()) {
    run.start.project_root = std::filesystem::current_path();
  }
  auto session = mvm::runtime::OpenAudit(options.state);
  if (!session) {
    return fail(session.error().message);
  }
  auto admitted = mvm::runtime::Admit(options, bytes, *(*session)->log, nullptr);
  if (!admitted) {
    return fail(admitted.error().message);
  }
  auto status = mvm::runtime::RunToCompletion(options, *admitted, run, *(*session)->log, nullptr);
  if (!status) {
    return fail(status.error().message);
  }
  return *status;
}
