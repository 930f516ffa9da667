// `mvmctl snapshot`: capture a running sandbox's writable state into a digested, audited tar, and
// list, verify and remove such snapshots. The work is in runtime/launcher/snapshot.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runtime_session.h"
#include "ir/support/terminal_text.h"
#include "runtime/agent/request.h"
#include "runtime/launcher/full_snapshot.h"
#include "runtime/launcher/snapshot.h"

namespace mvm::cli {
namespace {

nlohmann::json ToJson(const runtime::SnapshotInfo& s) {
  nlohmann::json j = {{"name", s.sandbox},
                      {"label", s.label},
                      {"snapshot", s.file.string()},
                      {"sha256", s.sha256},
                      {"bytes", s.bytes},
                      {"files", s.files},
                      {"directories", s.directories},
                      {"symlinks", s.symlinks},
                      {"paths", s.paths},
                      {"skipped", s.skipped},
                      {"too_deep", s.too_deep},
                      {"unsafe_links", s.unsafe_links},
                      {"bad_names", s.bad_names},
                      {"workload", s.workload_id},
                      {"created_at", s.created_at}};
  if (!s.audit_id.empty()) {
    j["audit_id"] = s.audit_id;
  }
  return j;
}

// Sandbox paths need not be UTF-8; JSON output is, with U+FFFD for what is not.
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json ToJson(const runtime::FullSnapshotInfo& s) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& f : s.files) {
    files[f.name] = {{"sha256", f.sha256}, {"bytes", f.bytes}};
  }
  nlohmann::json j = {{"name", s.sandbox},
                      {"label", s.label},
                      {"kind", "full"},
                      {"snapshot", s.dir.string()},
                      {"epoch", s.epoch},
                      {"workload", s.workload_id},
                      {"payload_digest", s.payload_digest},
                      {"rootfs", s.rootfs},
                      {"backend", s.backend},
                      {"qemu_version", s.qemu_version},
                      {"acceleration", s.acceleration},
                      {"ram_bytes", s.ram_bytes},
                      {"pause_ms", s.pause_ms},
                      {"encrypted", s.encrypted},
                      {"files", files},
                      {"created_at", s.created_at}};
  if (!s.audit_id.empty()) {
    j["audit_id"] = s.audit_id;
  }
  return j;
}

uint64_t TotalBytes(const runtime::FullSnapshotInfo& s) {
  uint64_t total = 0;
  for (const auto& f : s.files) {
    total += f.bytes;
  }
  return total;
}

int TakeFull(const Args& args, const std::string& name, bool json) {
  if (args.Has("path")) {
    return Fail("snapshot", MakeError(ErrorKind::kUsage,
                                      "--path is for file snapshots; a full snapshot holds all "
                                      "of the VM's memory, every path included"));
  }
  auto session = OpenRuntime(args, /*with_trust=*/false, "snapshot");
  if (!session) {
    return Fail("snapshot", session.error());
  }
  auto info = runtime::TakeFullSnapshot(session->options, name, args.Get("label"),
                                        args.Has("encrypt"), session->log());
  if (!info) {
    return Fail("snapshot", WithDefaultKind(info.error(), ErrorKind::kSnapshotFailed));
  }
  if (json) {
    std::printf("%s\n", Dump(ToJson(*info)).c_str());
  } else {
    std::printf(
        "full snapshot %s of %s: %s\n  epoch %llu, %llu bytes%s (guest RAM %llu MiB), the VM "
        "stood still %.0f ms\n",
        info->label.c_str(), info->sandbox.c_str(), info->dir.c_str(),
        static_cast<unsigned long long>(info->epoch),
        static_cast<unsigned long long>(TotalBytes(*info)),
        info->encrypted ? " encrypted at rest" : "",
        static_cast<unsigned long long>(info->ram_bytes >> 20), info->pause_ms);
  }
  return kExitOk;
}

int Take(const Args& args, const std::string& name, bool json) {
  if (args.Has("full")) {
    return TakeFull(args, name, json);
  }
  if (args.Has("encrypt")) {
    return Fail("snapshot", MakeError(ErrorKind::kUsage,
                                      "--encrypt is for full snapshots (--full); a file snapshot "
                                      "is a tar of what the workload wrote"));
  }
  auto session = OpenRuntime(args, /*with_trust=*/false, "snapshot");
  if (!session) {
    return Fail("snapshot", session.error());
  }
  auto sandbox = runtime::Attach(session->options, name);
  if (!sandbox) {
    return Fail("snapshot", sandbox.error());
  }
  runtime::SnapshotRequest request;
  request.label = args.Get("label");
  if (auto f = args.flags.find("path"); f != args.flags.end()) {
    request.extra_paths = f->second;
  }
  auto info = runtime::TakeSnapshot(session->options.state, *sandbox, request, session->log());
  if (!info) {
    return Fail("snapshot", WithKind(info.error(), ErrorKind::kSnapshotFailed));
  }
  if (json) {
    std::printf("%s\n", Dump(ToJson(*info)).c_str());
  } else {
    std::printf(
        "snapshot %s of %s: %s\n  sha256 %s, %llu bytes: %llu files, %llu directories, "
        "%llu symlinks\n",
        info->label.c_str(), info->sandbox.c_str(), info->file.c_str(), info->sha256.c_str(),
        static_cast<unsigned long long>(info->bytes), static_cast<unsigned long long>(info->files),
        static_cast<unsigned long long>(info->directories),
        static_cast<unsigned long long>(info->symlinks));
    // Names from the sandbox: escaped on a terminal (terminal_text.h).
    auto shown = [escape = IsTerminal(STDOUT_FILENO)](const std::string& text) {
      return escape ? EscapeForTerminal(text, TerminalEscaper::Kind::kName) : text;
    };
    for (const std::string& p : info->paths) {
      std::printf("  captured %s\n", shown(p).c_str());
    }
    for (const std::string& p : info->skipped) {
      std::printf("  skipped %s (not a file, directory or symlink)\n", shown(p).c_str());
    }
    for (const std::string& p : info->too_deep) {
      std::printf("  left out entries below %s (their paths are longer than %zu bytes)\n",
                  shown(p).c_str(), runtime::agent::kMaxPathBytes);
    }
    for (const std::string& p : info->unsafe_links) {
      std::printf("  left out symlink %s (its target climbs out of the sandbox's tree)\n",
                  shown(p).c_str());
    }
    for (const std::string& p : info->bad_names) {
      std::printf("  left out entries of %s (their names hold control characters)\n",
                  shown(p).c_str());
    }
  }
  return kExitOk;
}

}  // namespace

int RunSnapshot(Args& args) {
  std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("snapshot", MakeError(ErrorKind::kUsage,
                                      "unknown format `" + format + "`; use `human` or `json`"));
  }
  bool json = format == "json";
  const std::vector<std::string>& pos = args.positional;
  if (pos.empty()) {
    return Fail("snapshot",
                MakeError(ErrorKind::kUsage, "give the name of a sandbox (or ls, verify, rm)"));
  }
  const std::string& verb = pos[0];
  bool take_only = args.Has("label") || args.Has("path") || args.Has("full") || args.Has("encrypt");
  if (verb == "ls" || verb == "verify" || verb == "rm") {
    if (take_only) {
      return Fail("snapshot",
                  MakeError(ErrorKind::kUsage,
                            "--label, --path, --full and --encrypt are for taking a snapshot"));
    }
  }
  if (verb == "take") {
    if (pos.size() != 2) {
      return Fail("snapshot", MakeError(ErrorKind::kUsage, "expected `snapshot take NAME`"));
    }
    return Take(args, pos[1], json);
  }
  runtime::StateDir state = runtime::ResolveStateDir(args.Get("state-dir"));
  if (verb == "ls") {
    if (pos.size() > 2) {
      return Fail("snapshot", MakeError(ErrorKind::kUsage, "expected `snapshot ls [NAME]`"));
    }
    std::vector<std::string> problems;
    const std::string of = pos.size() == 2 ? pos[1] : "";
    auto list = runtime::ListSnapshots(state, of, problems);
    auto full = runtime::ListFullSnapshots(state, of, problems);
    for (const std::string& p : problems) {
      std::fprintf(stderr, "mvmctl snapshot: warning: %s\n", p.c_str());
    }
    if (json) {
      nlohmann::json out = nlohmann::json::array();
      for (const runtime::SnapshotInfo& s : list) {
        out.push_back(ToJson(s));
        out.back()["kind"] = "files";
      }
      for (const runtime::FullSnapshotInfo& s : full) {
        out.push_back(ToJson(s));
      }
      std::printf("%s\n", Dump(nlohmann::json{{"snapshots", out}}).c_str());
      return kExitOk;
    }
    std::printf("%-24s %-20s %-6s %12s %-24s %s\n", "SANDBOX", "LABEL", "KIND", "BYTES", "CREATED",
                "SHA256 / EPOCH");
    for (const runtime::SnapshotInfo& s : list) {
      std::printf("%-24s %-20s %-6s %12llu %-24s %s\n", s.sandbox.c_str(), s.label.c_str(), "files",
                  static_cast<unsigned long long>(s.bytes), s.created_at.c_str(), s.sha256.c_str());
    }
    for (const runtime::FullSnapshotInfo& s : full) {
      std::printf("%-24s %-20s %-6s %12llu %-24s epoch %llu%s\n", s.sandbox.c_str(),
                  s.label.c_str(), "full", static_cast<unsigned long long>(TotalBytes(s)),
                  s.created_at.c_str(), static_cast<unsigned long long>(s.epoch),
                  s.encrypted ? ", encrypted" : "");
    }
    return kExitOk;
  }
  if (verb == "verify" || verb == "rm") {
    if (pos.size() != 3) {
      return Fail("snapshot",
                  MakeError(ErrorKind::kUsage, "expected `snapshot " + verb + " NAME LABEL`"));
    }
    if (!runtime::IsSandboxName(pos[1])) {
      return Fail("snapshot",
                  MakeError(ErrorKind::kUsage, "`" + pos[1] + "` is not a sandbox name"));
    }
    if (auto ok = runtime::CheckSnapshotLabel(pos[2]); !ok) {
      return Fail("snapshot", WithKind(ok.error(), ErrorKind::kUsage));
    }
    const bool full =
        std::filesystem::is_directory(state.root / "snapshots" / pos[1] / (pos[2] + ".full"));
    if (full && verb == "verify") {
      auto info = runtime::VerifyFullSnapshot(state, pos[1], pos[2]);
      if (!info) {
        return Fail("snapshot", info.error());
      }
      if (json) {
        std::printf("%s\n", Dump(ToJson(*info)).c_str());
      } else {
        std::printf("full snapshot %s of %s: ok (epoch %llu, sealed by %s)\n", info->label.c_str(),
                    info->sandbox.c_str(), static_cast<unsigned long long>(info->epoch),
                    info->key_id.c_str());
      }
      return kExitOk;
    }
    if (verb == "verify") {
      // Exit 4 is for a tar that changed; a snapshot that is not there is an input error.
      std::vector<std::string> problems;
      auto list = runtime::ListSnapshots(state, pos[1], problems);
      if (std::none_of(list.begin(), list.end(),
                       [&](const runtime::SnapshotInfo& s) { return s.label == pos[2]; })) {
        return Fail("snapshot", MakeError(ErrorKind::kNoSuchSnapshot,
                                          "no snapshot `" + pos[2] + "` of `" + pos[1] +
                                              "`; `mvmctl snapshot ls` lists them"));
      }
      auto info = runtime::VerifySnapshot(state, pos[1], pos[2]);
      if (!info) {
        return Fail("snapshot", WithKind(info.error(), ErrorKind::kVerificationFailed));
      }
      if (json) {
        std::printf("%s\n", Dump(ToJson(*info)).c_str());
      } else {
        std::printf("snapshot %s of %s: ok (sha256 %s)\n", info->label.c_str(),
                    info->sandbox.c_str(), info->sha256.c_str());
      }
      return kExitOk;
    }
    auto session = OpenRuntime(args, /*with_trust=*/false, "snapshot");
    if (!session) {
      return Fail("snapshot", session.error());
    }
    auto removed = full ? runtime::RemoveFullSnapshot(state, pos[1], pos[2], session->log())
                        : runtime::RemoveSnapshot(state, pos[1], pos[2], session->log());
    if (!removed) {
      return Fail("snapshot", WithDefaultKind(removed.error(), ErrorKind::kSnapshotFailed));
    }
    return kExitOk;
  }
  if (pos.size() != 1) {
    return Fail("snapshot",
                MakeError(ErrorKind::kUsage, "expected `snapshot NAME`; one sandbox at a time"));
  }
  return Take(args, verb, json);
}

}  // namespace mvm::cli
