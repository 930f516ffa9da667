// `mvmctl run FILE|PLAN`: compile (a source file), sign with the local dev key, verify, launch, run
// the entrypoint, stream its output, clean up, exit with its status. The work is the launcher's.

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runtime_session.h"

namespace mvm::cli {

int RunRun(Args& args) {
  if (args.positional.size() != 1) {
    return Fail("run", MakeError(ErrorKind::kUsage, "give one source file or plan to run"));
  }
  auto session = OpenRuntime(args, /*with_trust=*/true, "run");
  if (!session) {
    return FailRun("run", session.error());
  }
  int exit_code = 0;
  auto input = ReadPlanInput(args, *session, "run", exit_code);
  if (!input) {
    return exit_code;
  }
  runtime::PhaseTimings timings;
  auto admitted = runtime::Admit(session->options, input->bytes, session->log(), &timings);
  if (!admitted) {
    return FailRun("run", admitted.error());
  }
  runtime::RunOptions run;
  run.entrypoint = args.Get("entrypoint");
  run.args = args.after_dashdash;
  run.start.name = args.Get("name");
  run.start.app_files = input->app_files;
  run.start.project_root = input->project_root;
  run.start.use_pool = !args.Has("no-pool");
  run.raw_output = args.Has("raw");
  auto status =
      runtime::RunToCompletion(session->options, *admitted, run, session->log(), &timings);
  if (!status) {
    return FailRun("run", status.error());
  }
  if (session->options.verbose) {
    std::fprintf(
        stderr,
        "mvmctl run: phases (ms): verify %.2f, materialize %.2f, namespaces %.2f, agent ready "
        "%.2f, exec %.2f, teardown %.2f\n",
        timings.verify_ms, timings.materialize_ms, timings.namespaces_ms, timings.agent_ready_ms,
        timings.exec_ms, timings.teardown_ms);
    // The same, whole and machine-readable, for bench/coldstart.
    nlohmann::json j = {
        {"backend", session->options.backend},      {"verify_ms", timings.verify_ms},
        {"materialize_ms", timings.materialize_ms}, {"namespaces_ms", timings.namespaces_ms},
        {"agent_ready_ms", timings.agent_ready_ms}, {"exec_ms", timings.exec_ms},
        {"teardown_ms", timings.teardown_ms}};
    if (!timings.pool.empty()) {
      j["pool"] = timings.pool;
      j["claim_ms"] = timings.claim_ms;
      j["first_exec_result_ms"] = timings.first_exec_result_ms;
      if (!timings.acceleration.empty()) {
        j["acceleration"] = timings.acceleration;
      }
    } else if (!timings.acceleration.empty()) {
      j["acceleration"] = timings.acceleration;
      j["boot_attempts"] = timings.boot_attempts;
      j["process_spawned_ms"] = timings.process_spawned_ms;
      j["kernel_entered_ms"] = timings.kernel_entered_ms;
      j["first_exec_result_ms"] = timings.first_exec_result_ms;
    }
    std::fprintf(stderr, "mvmctl run: timings %s\n", j.dump().c_str());
  }
  return *status;
}

}  // namespace mvm::cli
