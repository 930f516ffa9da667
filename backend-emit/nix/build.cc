// Running a Nix build request with the real `nix`: one child process at a time, its stderr streamed
// line by line and its stdout (the `--json` result) collected.

#include "backend-emit/nix/build.h"

#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <system_error>

#include "backend-emit/nix/nar.h"
#include "ir/support/os/process.h"

namespace mvm::nix {
namespace fs = std::filesystem;

namespace {

using Json = nlohmann::json;

// Nix's `--json` answer is a line per installable; anything near this size is not one.
constexpr size_t kMaxStdoutBytes = size_t{16} << 20;
// Enough of Nix's log to show why a build failed without burying the message.
constexpr size_t kTailLines = 25;

// Runs `exe` with `argv` (argv[0] as given), stdin from /dev/null. Every stderr line goes to
// `progress.on_log`; silence of `progress.heartbeat` calls `progress.on_heartbeat`.
ErrorOr<os::ProcessResult> RunNix(const fs::path& exe, const std::vector<std::string>& argv,
                                  const BuildProgress& progress) {
  os::RunOptions options;
  options.spawn.executable = exe;
  options.spawn.argv = argv;
  options.on_line = progress.on_log;
  options.on_silence = progress.on_heartbeat;
  options.silence = progress.heartbeat;
  options.max_captured = kMaxStdoutBytes;
  auto ran = os::RunProcess(options);
  if (ran && ran->out_truncated) {
    return Error{"`nix` wrote more than " + std::to_string(kMaxStdoutBytes) +
                 " bytes to stdout; that is not the `--json` answer mvm expects"};
  }
  return ran;
}

// Causes of failure a user cannot guess from Nix's own words.
std::string HintFor(const std::vector<std::string>& tail) {
  for (const std::string& l : tail) {
    if (l.find("path mismatch in (possibly filtered) path added from '/usr/bin'") !=
        std::string::npos) {
      return "\nhint: the host's /usr/bin/busybox is not the busybox-static binary the template "
             "flake pins; install Debian 12's busybox-static, or update the pin in "
             "templates/flake.nix as docs/nix.md describes";
    }
    if (l.starts_with("error:") && l.find("sandboxing") != std::string::npos) {
      return "\nhint: mvm builds only in Nix's sandbox; this host cannot create it (it needs user "
             "and mount namespaces)";
    }
  }
  return "";
}

// The last kTailLines lines of what `nix` wrote to stderr.
std::vector<std::string> TailLines(const os::ProcessResult& result) {
  std::vector<std::string> lines;
  const std::string text = os::LastLines(result.err, kTailLines);
  std::string_view tail = text;
  while (!tail.empty()) {
    size_t nl = tail.find('\n');
    lines.emplace_back(tail.substr(0, nl));
    tail.remove_prefix(nl == std::string_view::npos ? tail.size() : nl + 1);
  }
  return lines;
}

std::string Tail(const std::vector<std::string>& tail) {
  std::string out;
  for (const std::string& l : tail) {
    out += "\n  " + l;
  }
  return out;
}

}  // namespace

ErrorOr<fs::path> FindNix() {
  if (auto nix = os::FindProgram("nix")) {
    return *nix;
  }
  return Error{"nix not found on PATH; install Debian's nix-bin (apt-get install nix-bin)"};
}

ErrorOr<BuildResult> RunNixBuild(const fs::path& nix_path, const NixBuildRequest& request,
                                 const BuildProgress& progress) {
  const std::string installable = request.flake_ref + "#" + request.attr;
  auto built = RunNix(nix_path, request.argv, progress);
  if (!built) {
    return built.error();
  }
  if (!built->success()) {
    std::vector<std::string> tail = TailLines(*built);
    return Error{"`nix build` of `" + installable + "` failed (" + built->Describe() +
                 "); the last lines of its log:" + Tail(tail) + HintFor(tail)};
  }
  // `--json`: [{"drvPath": ..., "outputs": {"out": "/nix/store/..."}}], one entry per installable.
  Json answer = Json::parse(built->out, /*cb=*/nullptr, /*allow_exceptions=*/false);
  const Json* outputs = nullptr;
  if (answer.is_array() && answer.size() == 1 && answer[0].is_object()) {
    auto it = answer[0].find("outputs");
    if (it != answer[0].end() && it->is_object()) {
      outputs = &*it;
    }
  }
  if (outputs == nullptr) {
    return Error{"`nix build --json` of `" + installable +
                 "` printed something other than one result: " + built->out};
  }
  for (const std::string& name : request.outputs) {
    if (!outputs->contains(name) || !(*outputs)[name].is_string()) {
      return Error{"`" + installable + "` has no output `" + name +
                   "`; a rootfs is the derivation's `out`"};
    }
  }
  BuildResult result;
  result.store_path = (*outputs)[request.outputs.front()].get<std::string>();

  std::vector<std::string> info_argv = {
      "nix",        "--extra-experimental-features", "nix-command flakes", "path-info", "--store",
      request.store};
  for (std::string& option : NixOptions()) {
    info_argv.push_back(std::move(option));
  }
  info_argv.insert(info_argv.end(), {"--json", result.store_path});
  auto info = RunNix(nix_path, info_argv, BuildProgress{});
  if (!info) {
    return info.error();
  }
  if (!info->success()) {
    return Error{"`nix path-info` of `" + result.store_path + "` failed (" + info->Describe() +
                 "):" + Tail(TailLines(*info))};
  }
  Json paths = Json::parse(info->out, /*cb=*/nullptr, /*allow_exceptions=*/false);
  const Json* entry = paths.is_array() && paths.size() == 1 ? &paths[0] : nullptr;
  if (entry == nullptr || !entry->is_object() || !entry->contains("narHash") ||
      !(*entry)["narHash"].is_string()) {
    return Error{"`nix path-info --json` printed no narHash for `" + result.store_path +
                 "`: " + info->out};
  }
  auto nar_hash = SriToDigest((*entry)["narHash"].get<std::string>());
  if (!nar_hash) {
    return Error{"`nix path-info` of `" + result.store_path + "`: " + nar_hash.error().message};
  }
  result.nar_hash = *nar_hash;
  if (auto refs = entry->find("references"); refs != entry->end() && refs->is_array()) {
    for (const Json& r : *refs) {
      if (r.is_string() && r.get<std::string>() != result.store_path) {
        result.references.push_back(r.get<std::string>());
      }
    }
  }

  // A local store at a directory keeps `/nix/store/x` at `<store>/nix/store/x`. Hash what is there:
  // the digest recorded in the plan must be the files the launcher will find.
  result.tree = fs::path(request.store) / fs::path(result.store_path).relative_path();
  auto on_disk = NarHash(result.tree);
  if (!on_disk) {
    return on_disk.error();
  }
  if (*on_disk != result.nar_hash) {
    return Error{"the tree at `" + result.tree.string() + "` hashes to " + *on_disk +
                 ", but Nix records " + result.nar_hash + " for `" + result.store_path +
                 "`; the store is damaged (`nix store verify --store " + request.store +
                 "` tells more)"};
  }
  return result;
}

}  // namespace mvm::nix
