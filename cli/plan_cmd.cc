// `mvmctl plan verify|inspect|diff`: look at ExecutionPlans. The checks and the renderings live in
// backend-emit/plan, where the launcher shares them.

#include <cstdio>
#include <filesystem>

#include "backend-emit/plan/describe.h"
#include "backend-emit/plan/diff.h"
#include "backend-emit/plan/trust_store.h"
#include "backend-emit/plan/verify.h"
#include "cli/commands.h"
#include "cli/output_files.h"

namespace mvm::cli {
namespace fs = std::filesystem;

namespace {

void Print(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

// Prints why `path` was refused: `mvmctl plan <action>: <path>: refused [reason]: message`.
int Refused(std::string_view action, const std::string& path, const plan::Refusal& refusal,
            ErrorKind kind) {
  std::string_view name = plan::RefusalName(refusal.reason);
  std::fprintf(stderr, "mvmctl plan %.*s: %s: refused [%.*s]: %s\n",
               static_cast<int>(action.size()), action.data(), path.c_str(),
               static_cast<int>(name.size()), name.data(), refusal.message.c_str());
  return ExitCodeOf(kind);
}

ErrorOr<std::vector<plan::TrustedKey>> TrustedKeys(const Args& args) {
  auto named = plan::LoadKeyFiles(args.Paths("trust"));
  if (!named) {
    return named.error();
  }
  std::vector<plan::TrustedKey> keys = std::move(*named);
  // The trust store counts only when asked for, or when no key was named at all: `--trust PUB`
  // alone must mean exactly that key.
  if (args.Has("trust-dir") || !args.Has("trust")) {
    auto dir = args.Has("trust-dir") ? ErrorOr<fs::path>(fs::path(args.Get("trust-dir")))
                                     : plan::DefaultTrustDir();
    if (!dir) {
      return dir.error();
    }
    auto stored = plan::LoadTrustDir(*dir);
    if (!stored) {
      return stored.error();
    }
    keys.insert(keys.end(), stored->begin(), stored->end());
  }
  return keys;
}

int Verify(const Args& args) {
  if (args.positional.size() != 2) {
    return Fail("plan",
                MakeError(ErrorKind::kUsage,
                          "`plan verify` takes one plan file: `plan verify PLAN --trust PUB`"));
  }
  const std::string& path = args.positional[1];
  auto keys = TrustedKeys(args);
  if (!keys) {
    return Fail("plan", keys.error());
  }
  auto bytes = ReadWholeFile(path);
  if (!bytes) {
    return Fail("plan", bytes.error());
  }
  plan::SystemClock clock;
  auto verified = plan::VerifyPlan(*bytes, *keys, clock);
  if (!verified) {
    return Refused("verify", path, verified.error(), ErrorKind::kVerificationFailed);
  }
  const plan::v1::ExecutionPlan& p = verified->plan;
  std::printf("%s: ok: workload %s, epoch %u, signed by key %s, valid until %s\n", path.c_str(),
              p.workload().id().c_str(), p.epoch(), verified->key_id.c_str(),
              p.expires_at().c_str());
  return kExitOk;
}

// Reads a plan for display; prints the problem and sets `exit_code` when it cannot.
std::optional<plan::DecodedPlan> ReadForDisplay(std::string_view action, const std::string& path,
                                                int& exit_code) {
  auto bytes = ReadWholeFile(path);
  if (!bytes) {
    exit_code = Fail("plan", bytes.error());
    return std::nullopt;
  }
  auto decoded = plan::DecodePlanFile(*bytes);
  if (!decoded) {
    exit_code = Refused(action, path, decoded.error(), ErrorKind::kInvalidInput);
    return std::nullopt;
  }
  return std::move(*decoded);
}

bool JsonFormat(const Args& args, std::string& error) {
  std::string f = args.Get("format", "human");
  if (f != "human" && f != "json") {
    error = "unknown format `" + f + "`; use `human` or `json`";
  }
  return f == "json";
}

int Inspect(const Args& args) {
  if (args.positional.size() != 2) {
    return Fail("plan", MakeError(ErrorKind::kUsage, "`plan inspect` takes one plan file"));
  }
  std::string error;
  bool json = JsonFormat(args, error);
  if (!error.empty()) {
    return Fail("plan", MakeError(ErrorKind::kUsage, error));
  }
  int exit_code = kExitOk;
  auto decoded = ReadForDisplay("inspect", args.positional[1], exit_code);
  if (!decoded) {
    return exit_code;
  }
  Print(json ? plan::DescribePlanJson(*decoded) : plan::DescribePlanHuman(*decoded));
  return kExitOk;
}

int Diff(const Args& args) {
  if (args.positional.size() != 3) {
    return Fail("plan", MakeError(ErrorKind::kUsage,
                                  "`plan diff` takes two plan files: `plan diff OLD NEW`"));
  }
  std::string error;
  bool json = JsonFormat(args, error);
  if (!error.empty()) {
    return Fail("plan", MakeError(ErrorKind::kUsage, error));
  }
  int exit_code = kExitOk;
  auto old_plan = ReadForDisplay("diff", args.positional[1], exit_code);
  if (!old_plan) {
    return exit_code;
  }
  auto new_plan = ReadForDisplay("diff", args.positional[2], exit_code);
  if (!new_plan) {
    return exit_code;
  }
  plan::PlanDiff diff = plan::DiffPlans(old_plan->plan, new_plan->plan);
  Print(json ? plan::RenderDiffJson(diff) : plan::RenderDiffHuman(diff));
  bool fail = (args.Has("fail-on-widen") && diff.widened()) ||
              (args.Has("fail-on-change") && diff.changed());
  return fail ? kExitInputErrors : kExitOk;
}

}  // namespace

int RunPlan(Args& args) {
  if (args.positional.empty()) {
    return Fail("plan",
                MakeError(ErrorKind::kUsage, "expected an action: `verify`, `inspect` or `diff`"));
  }
  const std::string& action = args.positional[0];
  if (action != "verify" && (args.Has("trust") || args.Has("trust-dir"))) {
    return Fail("plan", MakeError(ErrorKind::kUsage,
                                  "`--trust` and `--trust-dir` apply to `plan verify` only"));
  }
  for (std::string_view flag : {"fail-on-widen", "fail-on-change"}) {
    if (action != "diff" && args.Has(flag)) {
      return Fail("plan", MakeError(ErrorKind::kUsage,
                                    "`--" + std::string(flag) + "` applies to `plan diff` only"));
    }
  }
  if (action == "verify") {
    if (args.Has("format")) {
      return Fail("plan", MakeError(ErrorKind::kUsage,
                                    "`--format` applies to `plan inspect` and `plan diff`"));
    }
    return Verify(args);
  }
  if (action == "inspect") {
    return Inspect(args);
  }
  if (action == "diff") {
    return Diff(args);
  }
  return Fail("plan", MakeError(ErrorKind::kUsage, "unknown action `" + action +
                                                       "`; use `verify`, `inspect` or `diff`"));
}

}  // namespace mvm::cli
