// `mvmctl audit verify`: check the launcher's audit log. The checks live in runtime/audit, beside
// the writer.

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "backend-emit/plan/keys.h"
#include "backend-emit/plan/trust_store.h"
#include "cli/commands.h"
#include "cli/state_dir.h"
#include "runtime/audit/audit.h"

namespace mvm::cli {
namespace fs = std::filesystem;

namespace {

// The keys the log's signatures must verify under: the --trust files, else the launcher's own key
// in the state directory when there is one, else none (any key the log names, reported).
ErrorOr<std::vector<plan::PublicKey>> TrustedKeys(const Args& args, const fs::path& state_dir) {
  std::vector<plan::PublicKey> keys;
  if (args.Has("trust")) {
    auto named = plan::LoadKeyFiles(args.Paths("trust"));
    if (!named) {
      return named.error();
    }
    for (const plan::TrustedKey& k : *named) {
      keys.push_back(k.key);
    }
    return keys;
  }
  fs::path launcher_key = state_dir / "keys" / "launcher.pub";
  std::error_code ec;
  if (fs::symlink_status(launcher_key, ec).type() != fs::file_type::not_found) {
    auto key = plan::LoadPublicKey(launcher_key);
    if (!key) {
      return key.error();
    }
    keys.push_back(*key);
  }
  return keys;
}

std::string Count(uint64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

int Verify(const Args& args) {
  if (args.positional.size() > 2) {
    return Fail("audit",
                MakeError(ErrorKind::kUsage,
                          "`audit verify` takes at most one log file: `audit verify [LOG]`"));
  }
  fs::path state_dir = StateDirFrom(args);
  bool default_log = args.positional.size() == 1;
  fs::path log = default_log ? state_dir / "audit.jsonl" : fs::path(args.positional[1]);
  auto keys = TrustedKeys(args, state_dir);
  if (!keys) {
    return Fail("audit", keys.error());
  }
  runtime::audit::VerifyReport report = runtime::audit::Verify(log, *keys);
  if (report.unreadable) {
    return Fail(
        "audit",
        MakeError(ErrorKind::kEnvironment,
                  report.reason + (default_log ? "; name the log file, or the launcher's state "
                                                 "directory with `--state-dir DIR`"
                                               : "")));
  }
  if (!report.ok) {
    if (report.first_bad_line == 0) {
      std::fprintf(stderr, "audit log BROKEN: %s\n", report.reason.c_str());
    } else {
      std::fprintf(stderr, "audit log BROKEN at line %llu: %s\n",
                   static_cast<unsigned long long>(report.first_bad_line), report.reason.c_str());
    }
    return ExitCodeOf(ErrorKind::kVerificationFailed);
  }
  std::string signers;
  for (const std::string& id : report.key_ids) {
    signers += (signers.empty() ? "signed by " : ", ") + id;
  }
  if (signers.empty()) {
    signers =
        "unsigned (written without a checkpoint key: records cut from its end would not show)";
  }
  std::printf("audit log OK: %s, %s, %s\n", Count(report.records, "record").c_str(),
              Count(report.checkpoints, "checkpoint").c_str(), signers.c_str());
  if (keys->empty() && !report.key_ids.empty()) {
    std::fprintf(stderr,
                 "note: no trusted key was given (`--trust PUB`, or keys/launcher.pub in the state "
                 "directory), so the signatures were checked against the keys the log itself "
                 "names, which whoever rewrote a log could replace with their own: check that the "
                 "key ids above are the launcher's\n");
  }
  return kExitOk;
}

}  // namespace

int RunAudit(Args& args) {
  if (args.positional.empty()) {
    return Fail("audit", MakeError(ErrorKind::kUsage, "expected an action: `verify`"));
  }
  if (args.positional[0] != "verify") {
    return Fail("audit", MakeError(ErrorKind::kUsage,
                                   "unknown action `" + args.positional[0] + "`; use `verify`"));
  }
  return Verify(args);
}

}  // namespace mvm::cli
