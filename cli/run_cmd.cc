// `mvmctl run FILE|PLAN`: compile (a source file), sign with the local dev key, verify, launch, run
// the entrypoint, stream its output, clean up, exit with its status. `mvmctl run -- CMD...` does
// the same with a workload written from the command line (oneshot.h). The work is the launcher's.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/host_terminal.h"
#include "cli/oneshot.h"
#include "cli/runtime_session.h"
#include "passes/pass.h"

namespace mvm::cli {

namespace {

// The options that only describe a one-shot command's workload; a source file or plan declares
// its own.
constexpr std::string_view kOneShotOptions[] = {"image", "e", "timeout", "network"};
// And those that choose from or compile a source file or plan, which a one-shot command has not.
constexpr std::string_view kFileOptions[] = {"entrypoint", "workload", "profile", "project-root"};

// The workload of a one-shot command, through the default pass pipeline as a source file's would
// go; diagnostics are printed. Needs no state, so usage errors come before anything is opened.
std::optional<ir::Module> CompileOneShot(const Args& args, int& exit_code) {
  OneShotRequest request;
  request.command = args.after_dashdash;
  request.image = args.Get("image", kOneShotImage);
  if (auto it = args.flags.find("e"); it != args.flags.end()) {
    request.env = it->second;
  }
  if (args.Has("timeout")) {
    request.timeout = args.Get("timeout");
  }
  request.network = args.Get("network", "none");
  // Isolation is what the chosen backend gives, so that the signed plan says what will hold (and
  // the container backend has no weaker isolation to warn about).
  const std::string backend =
      args.Get("backend", std::string(runtime::backends::All().front()->name()));
  request.isolation = backend == "container" ? "container" : "microvm";
  auto module = OneShotModule(request);
  if (!module) {
    exit_code = Fail("run", module.error());
    return std::nullopt;
  }
  auto pipeline = passes::ParsePipeline(passes::kDefaultPipeline);
  if (!pipeline) {
    exit_code = FailRun("run", pipeline.error());
    return std::nullopt;
  }
  Compilation compilation;
  DiagnosticSink sink;
  passes::PassOptions options;
  options.project_root = std::filesystem::current_path().string();
  passes::PassContext context{options, sink, nullptr};
  passes::RunPipeline(*pipeline, *module, context);
  compilation.diagnostics = sink.Take();
  PrintDiagnostics(compilation, DiagnosticFormat::kHuman);
  if (compilation.has_errors()) {
    exit_code = kExitInputErrors;
    return std::nullopt;
  }
  return std::move(*module);
}

// Its plan, signed with the dev key as `run FILE` signs a source file's.
std::optional<PlanInput> OneShotInput(ir::Module& module, RuntimeSession& session, int& exit_code) {
  auto signed_plan = SignWithDevKey(module, session, "run", "dev", 600);
  if (!signed_plan) {
    exit_code = FailRun("run", signed_plan.error());
    return std::nullopt;
  }
  PlanInput input;
  input.bytes = std::move(*signed_plan);
  input.project_root = std::filesystem::current_path();
  return input;
}

}  // namespace

int RunRun(Args& args) {
  const bool one_shot = args.positional.empty();
  if (args.positional.size() > 1) {
    return Fail("run", MakeError(ErrorKind::kUsage,
                                 "give one source file or plan to run, or a command after `--`"));
  }
  if (one_shot && args.after_dashdash.empty()) {
    return Fail("run", MakeError(ErrorKind::kUsage,
                                 "give a source file or plan to run, or a command after `--` "
                                 "(`mvmctl run -- CMD ARGS...`)"));
  }
  for (std::string_view option : kOneShotOptions) {
    if (!one_shot && args.Has(option)) {
      return Fail("run",
                  MakeError(ErrorKind::kUsage,
                            std::string(option.size() == 1 ? "-" : "--") + std::string(option) +
                                " describes a one-shot command (`mvmctl run [options] -- "
                                "CMD ARGS...`); a source file or plan declares its own"));
    }
  }
  for (std::string_view option : kFileOptions) {
    if (one_shot && args.Has(option)) {
      return Fail("run", MakeError(ErrorKind::kUsage,
                                   "--" + std::string(option) +
                                       " is for a source file or plan; a one-shot command "
                                       "(`mvmctl run [options] -- CMD ARGS...`) has one workload "
                                       "`oneshot` with one entrypoint `main`, in the dev profile"));
    }
  }
  const bool tty = args.Has("t");
  if (tty) {
    if (auto refused = CheckTerminalRequest(/*json=*/false)) {
      return Fail("run", *refused);
    }
  }
  int exit_code = 0;
  std::optional<ir::Module> one_shot_module;
  if (one_shot && !(one_shot_module = CompileOneShot(args, exit_code))) {
    return exit_code;
  }
  // -v accounts for the time outside the launcher's phases too: opening the state (trust store,
  // audit log and its signed head), and closing the audit log (its checkpoint).
  using Clock = std::chrono::steady_clock;
  const auto opening = Clock::now();
  auto since = [](Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  };
  auto session = OpenRuntime(args, /*with_trust=*/true, "run");
  if (!session) {
    return FailRun("run", session.error());
  }
  auto input = one_shot ? OneShotInput(*one_shot_module, *session, exit_code)
                        : ReadPlanInput(args, *session, "run", exit_code);
  if (!input) {
    return exit_code;
  }
  const double open_ms = since(opening);
  runtime::PhaseTimings timings;
  auto admitted = runtime::Admit(session->options, input->bytes, session->log(), &timings);
  if (!admitted) {
    return FailRun("run", admitted.error());
  }
  if (const auto& w = admitted->verified.plan.workload();
      w.services_size() > 0 || w.ports_size() > 0) {
    // `run` is one command to completion; what keeps running is `up`'s (docs/services.md).
    std::fprintf(stderr,
                 "mvmctl run: note: workload `%s` declares services or ports, which `run` neither "
                 "starts nor publishes; `mvmctl up` does\n",
                 w.id().c_str());
  }
  runtime::RunOptions run;
  run.entrypoint = args.Get("entrypoint");
  if (!one_shot) {
    run.args = args.after_dashdash;
  }
  run.start.name = args.Get("name");
  run.start.app_files = input->app_files;
  run.start.project_root = input->project_root;
  run.start.blobs = input->blobs;
  run.start.use_pool = !args.Has("no-pool");
  run.start.launch_record_with_first_exec = true;
  run.raw_output = args.Has("raw");
  if (args.Has("i")) {
    run.stdin_fd = STDIN_FILENO;
  }
  // Raw only while the entrypoint runs, so that the launcher's own lines print as usual.
  std::optional<HostTerminal> terminal;
  if (tty) {
    run.terminal = &terminal.emplace();
  }
  const auto running = Clock::now();
  auto status =
      runtime::RunToCompletion(session->options, *admitted, run, session->log(), &timings);
  if (!status) {
    return FailRun("run", status.error());
  }
  // What RunToCompletion spent beside its phases: the sandbox's directories, watchdog, record
  // files and `launch` audit record (timings.start_steps).
  const double start_other_ms = since(running) - timings.materialize_ms - timings.namespaces_ms -
                                timings.agent_ready_ms - timings.exec_ms - timings.teardown_ms;
  if (!args.Has("i")) {
    NoteUnreadStdin("run");
  }
  if (session->options.verbose) {
    const auto closing = Clock::now();
    // Closed here rather than at exit so that its checkpoint is timed; errors as at exit.
    (void)session->log().Close();
    const double close_ms = since(closing);
    std::fprintf(
        stderr,
        "mvmctl run: phases (ms): open %.2f, verify %.2f, materialize %.2f, namespaces %.2f, "
        "agent ready %.2f, exec %.2f, teardown %.2f, start other %.2f, audit close %.2f\n",
        open_ms, timings.verify_ms, timings.materialize_ms, timings.namespaces_ms,
        timings.agent_ready_ms, timings.exec_ms, timings.teardown_ms, start_other_ms, close_ms);
    // "start other" in its steps (runtime::StepClock); "rest" is what no step holds: building the
    // exec request, the launcher's bookkeeping between the phases.
    std::string steps;
    double stepped_ms = 0;
    char part[96];
    for (const auto& [step, ms] : timings.start_steps) {
      std::snprintf(part, sizeof part, "%s %.2f, ", step.c_str(), ms);
      steps += part;
      stepped_ms += ms;
    }
    std::fprintf(stderr, "mvmctl run: start other (ms): %srest %.2f\n", steps.c_str(),
                 start_other_ms - stepped_ms);
    // The same, whole and machine-readable, for bench/coldstart.
    nlohmann::json j = {
        {"backend", session->options.backend},      {"verify_ms", timings.verify_ms},
        {"materialize_ms", timings.materialize_ms}, {"namespaces_ms", timings.namespaces_ms},
        {"agent_ready_ms", timings.agent_ready_ms}, {"exec_ms", timings.exec_ms},
        {"teardown_ms", timings.teardown_ms},       {"teardown", timings.teardown}};
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
