// Remote builders for Nix build requests: checking a machines list and putting it into a request.

#include "backend-emit/nix/builders.h"

#include <algorithm>
#include <vector>

#include "backend-emit/nix/artifacts.h"
#include "backend-emit/plan/base64.h"
#include "ir/support/os/process.h"

namespace mvm::nix {

namespace {

constexpr std::string_view kExample =
    "`ssh-ng://root@builder1 x86_64-linux /root/.ssh/id_builder 4 1 - - <base64 host key>`";

std::vector<std::string_view> Split(std::string_view text, std::string_view separators) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t end = text.find_first_of(separators);
    std::string_view item = text.substr(0, end);
    if (!item.empty()) {
      out.push_back(item);
    }
    if (end == std::string_view::npos) {
      break;
    }
    text.remove_prefix(end + 1);
  }
  return out;
}

bool IsSet(std::string_view field) { return !field.empty() && field != "-"; }

bool IsCount(std::string_view field) {
  return !field.empty() && field.size() <= 9 &&
         std::all_of(field.begin(), field.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The reason `machine` (its fields) cannot be used, or "".
std::string MachineProblem(const std::vector<std::string_view>& fields) {
  std::string_view uri = fields[0];
  std::string_view rest;
  bool ssh = false;
  for (std::string_view scheme : {"ssh://", "ssh-ng://"}) {
    if (uri.starts_with(scheme)) {
      rest = uri.substr(scheme.size());
      ssh = true;
    }
  }
  if (!ssh) {
    return "`" + std::string(uri) +
           "` is not an `ssh://` or `ssh-ng://` URI; mvm sends builds only to machines it reaches "
           "over SSH";
  }
  std::string_view host = rest.substr(0, rest.find('?'));
  host = host.substr(host.find('@') == std::string_view::npos ? 0 : host.find('@') + 1);
  if (host.empty() || host.find('/') != std::string_view::npos) {
    return "`" + std::string(uri) + "` names no host (`ssh-ng://[user@]host[?options]`)";
  }
  if (fields.size() > 8) {
    return "it has " + std::to_string(fields.size()) +
           " fields; a machine has at most 8 (URI, systems, ssh key, max jobs, speed factor, "
           "supported features, mandatory features, base64 host key)";
  }
  if (fields.size() > 2 && IsSet(fields[2]) && !fields[2].starts_with('/')) {
    return "its ssh key `" + std::string(fields[2]) + "` is not an absolute path";
  }
  for (size_t i : {3u, 4u}) {
    if (fields.size() > i && IsSet(fields[i]) && !IsCount(fields[i])) {
      return std::string(i == 3 ? "its max jobs" : "its speed factor") + " `" +
             std::string(fields[i]) + "` is not a whole number";
    }
  }
  if (fields.size() > 7 && IsSet(fields[7])) {
    auto decoded = plan::Base64Decode(fields[7]);
    if (!decoded || !(decoded->starts_with("ssh-") || decoded->starts_with("ecdsa-")) ||
        decoded->find(' ') == std::string::npos) {
      return "its host key is not the base64 of an OpenSSH public key line (write `base64 -w0 "
             "/etc/ssh/ssh_host_ed25519_key.pub` of the builder)";
    }
  }
  return "";
}

}  // namespace

ErrorOr<std::string> CheckBuilders(std::string_view spec) {
  std::string out;
  int number = 0;
  for (std::string_view entry : Split(spec, "\n;")) {
    entry = entry.substr(0, entry.find('#'));
    std::vector<std::string_view> fields = Split(entry, " \t\r");
    if (fields.empty()) {
      continue;
    }
    ++number;
    std::string problem = fields[0].starts_with('@')
                              ? "`" + std::string(fields[0]) +
                                    "` names a machines file; mvm reads only `--builders @FILE` as "
                                    "a whole, not a file inside a list"
                              : MachineProblem(fields);
    if (!problem.empty()) {
      return MakeError(ErrorKind::kUsage, "`--builders`: machine " + std::to_string(number) + ": " +
                                              problem + "; write each machine as " +
                                              std::string(kExample));
    }
    std::string machine;
    for (std::string_view field : fields) {
      machine += (machine.empty() ? "" : " ") + std::string(field);
    }
    out += (out.empty() ? "" : ";") + machine;
  }
  if (out.empty()) {
    return MakeError(ErrorKind::kUsage, "`--builders` names no machine; write each machine as " +
                                            std::string(kExample) +
                                            ", separated by `;` or newlines");
  }
  return out;
}

ErrorOr<Ok> UseRemoteBuilders(NixBuildRequest& request, std::string_view checked) {
  for (std::string_view flag : {"--builders", "--max-jobs", "-j"}) {
    if (std::find(request.argv.begin(), request.argv.end(), flag) != request.argv.end()) {
      return MakeError(ErrorKind::kInvalidInput,
                       "the request for `" + request.workload_id + "` already sets `" +
                           std::string(flag) +
                           "`; remove it from the request's argv, or drop `--builders`");
    }
  }
  // ParseRequestJson holds the flake output to be the last item; the flags go before it.
  request.argv.insert(request.argv.end() - 1,
                      {"--max-jobs", "0", "--builders", std::string(checked)});
  return Ok{};
}

ErrorOr<Ok> ImportDerivations(const std::filesystem::path& nix_path,
                              const std::filesystem::path& cache, std::string_view store,
                              std::string_view drv) {
  if (!IsStorePath(drv) || !drv.ends_with(".drv")) {
    return Error{"the builder named `" + std::string(drv) +
                 "` as the derivation, which is not a store path ending in `.drv`"};
  }
  os::RunOptions run;
  run.spawn.executable = nix_path;
  // `require-sigs` with no trusted key: Nix then takes a path only when its name follows from its
  // contents (the `.drv` files and sources), whatever this host's nix.conf says.
  run.spawn.argv = {"nix",
                    "--extra-experimental-features",
                    "nix-command",
                    "copy",
                    "--derivation",
                    "--from",
                    "file://" + cache.string(),
                    "--to",
                    std::string(store)};
  for (std::string& option : NixOptions({{"require-sigs", "true"}, {"trusted-public-keys", ""}})) {
    run.spawn.argv.push_back(std::move(option));
  }
  run.spawn.argv.push_back(std::string(drv));
  run.merge_stderr = true;
  auto ran = os::RunProcess(run);
  if (!ran) {
    return ran.error();
  }
  if (!ran->success()) {
    return Error{"cannot import the derivation `" + std::string(drv) +
                 "` the builder sandbox evaluated (`nix copy` " + ran->Describe() +
                 "): " + ran->Tail(10)};
  }
  return Ok{};
}

NixBuildRequest DerivationRequest(const NixBuildRequest& request, std::string_view drv) {
  NixBuildRequest out = request;
  out.argv.back() = std::string(drv);
  return out;
}

std::string RemoteBuildHint(std::string_view log) {
  if (log.find("Host key verification failed") != std::string_view::npos) {
    return "\nhint: the builder's SSH host key is not the one pinned for it (the machine's 8th "
           "field, or the known_hosts ssh reads when that field is `-`); check the builder's key "
           "with its administrator before you pin a new one";
  }
  if (log.find("Permission denied (publickey") != std::string_view::npos) {
    return "\nhint: the builder refused the ssh key (the machine's 3rd field); add its public key "
           "to the builder's authorized_keys";
  }
  if (log.find("Failed to find a machine for remote build") != std::string_view::npos ||
      log.find("unable to start any build") != std::string_view::npos) {
    return "\nhint: no builder took the build, and `--builders` keeps it off this host "
           "(`--max-jobs 0`); the lines above say why each builder failed (unreachable, a refused "
           "key, or no `x86_64-linux` in its systems)";
  }
  return "";
}

}  // namespace mvm::nix
