// The validate pass: checks each workload against the declaration language (ids, ranges, image
// references, hosts, enum-like values) and ids across the module. It reads the module only.
//
// Every diagnostic points at the offending value through the module's JSON-pointer location table,
// so it must run before normalize reorders anything.

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ir/debian_packages.h"
#include "ir/file_pattern.h"
#include "ir/options.h"
#include "ir/support/check.h"
#include "ir/support/suggest.h"
#include "passes/host.h"
#include "passes/image_ref.h"
#include "passes/pass.h"

namespace mvm::passes {
namespace {

using ir::OptionContext;
using ir::v1::Workload;

constexpr size_t kMaxIdLength = 63;
constexpr std::string_view kIdRule =
    "ids are lowercase letters, digits and `-`, starting with a letter or digit, at most 63 "
    "characters";
constexpr std::string_view kNameRule =
    "names are letters, digits, `_`, `.` and `-`, starting with a letter, digit or `_`, at most 63 "
    "characters";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || IsDigit(c); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

std::string Pointer(std::string_view base, int index) {
  return std::string(base) + "/" + std::to_string(index);
}

// [A-Za-z0-9_][A-Za-z0-9_.-]{0,62}
bool IsMemberName(std::string_view name) {
  if (name.empty() || name.size() > kMaxIdLength ||
      !(IsAlnum(name.front()) || name.front() == '_')) {
    return false;
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

// [A-Za-z_][A-Za-z0-9_]*
bool IsEnvName(std::string_view name) {
  if (name.empty() || IsDigit(name.front())) {
    return false;
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '_') {
      return false;
    }
  }
  return true;
}

std::string IdReason(std::string_view id) {
  if (id.empty()) {
    return "an id must not be empty";
  }
  if (id.size() > kMaxIdLength) {
    return "ids are at most 63 characters, this one has " + std::to_string(id.size());
  }
  return std::string(kIdRule);
}

// A valid id close to `id` (`Agent_Tool` -> `agent-tool`), or "" when there is no obvious one.
std::string IdSuggestion(std::string_view id) {
  std::string out;
  for (char c : id) {
    if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else if (c == '_' || c == '.' || c == ' ') {
      out += '-';
    } else {
      out += c;
    }
  }
  return out != id && ir::IsWorkloadId(out) ? out : "";
}

std::string Expected(std::span<const std::string_view> allowed) {
  std::string out = "expected ";
  for (size_t i = 0; i < allowed.size(); ++i) {
    if (i != 0) {
      out += i + 1 == allowed.size() ? " or " : ", ";
    }
    out += "`" + std::string(allowed[i]) + "`";
  }
  return out;
}

// Whether `target` is a usable guest mount point; the reason when not.
std::string TargetReason(std::string_view target) {
  if (!target.starts_with('/')) {
    return "a guest path is absolute, like `/data`";
  }
  size_t start = 1;
  while (start <= target.size()) {
    size_t slash = target.find('/', start);
    std::string_view component =
        target.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (component == "..") {
      return "a guest path has no `..` components";
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  if (std::filesystem::path(target).lexically_normal() == "/") {
    return "a volume cannot be mounted over the guest's root `/`";
  }
  return "";
}

// So `/data`, `/data/` and `/./data` are recognised as one mount point.
std::string MountKey(std::string_view target) {
  std::string key = std::filesystem::path(target).lexically_normal().string();
  while (key.size() > 1 && key.back() == '/') {
    key.pop_back();
  }
  return key;
}

// Whether `name` can name an encrypted store or a secret; the reason when not. The rule is the
// host secret store's (runtime/secrets/memory.cc NameProblem), kept short enough that the store's
// key secret `volume-NAME` is a secret name too.
std::string StoreNameReason(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return "a name is 1 to 64 characters";
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return "a name is made of letters, digits, `.`, `_` and `-`";
    }
  }
  if (!std::isalnum(static_cast<unsigned char>(name.front()))) {
    return "a name starts with a letter or a digit";
  }
  return "";
}

// Whether `url` is `s3://BUCKET/PREFIX` as the object backend reads it (runtime/volumes/object.cc);
// the reason when not. The bucket follows S3's naming rules; the prefix, a volume path's
// (runtime/volumes/volume.h PathProblem), less what a pass cannot see (UTF-8 is the IR's).
std::string S3UrlReason(std::string_view url) {
  constexpr std::string_view kForm = "write `s3://BUCKET/PREFIX`";
  if (!url.starts_with("s3://")) {
    return "an object volume's URL starts with `s3://`; " + std::string(kForm);
  }
  url.remove_prefix(5);
  size_t slash = url.find('/');
  std::string_view bucket = url.substr(0, slash);
  bool bucket_chars = std::all_of(bucket.begin(), bucket.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
  if (bucket.size() < 3 || bucket.size() > 63 || !bucket_chars ||
      !std::isalnum(static_cast<unsigned char>(bucket.front())) ||
      !std::isalnum(static_cast<unsigned char>(bucket.back())) ||
      bucket.find("..") != std::string_view::npos) {
    return "the bucket `" + std::string(bucket) +
           "` is not an S3 bucket name: 3 to 63 lowercase letters, digits, `.` and `-`, starting "
           "and ending with a letter or digit";
  }
  std::string_view prefix = slash == std::string_view::npos ? "" : url.substr(slash + 1);
  if (prefix.ends_with('/')) {
    prefix.remove_suffix(1);
  }
  if (prefix.empty()) {
    return "";
  }
  if (prefix.size() > 1024) {
    return "the prefix is longer than 1024 bytes, S3's bound on a key";
  }
  for (char c : prefix) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return "the prefix holds a control character";
    }
  }
  size_t start = 0;
  while (true) {
    size_t end = prefix.find('/', start);
    std::string_view component =
        prefix.substr(start, end == std::string_view::npos ? end : end - start);
    if (component.empty() || component == "." || component == "..") {
      return "the prefix has an empty, `.` or `..` component";
    }
    if (end == std::string_view::npos) {
      return "";
    }
    start = end + 1;
  }
}

// Whether `endpoint` is an S3 endpoint the declaration may name; the reason when not. Requests
// carry signatures of the credentials, so plain HTTP is only for a server on the loopback host
// (tests).
std::string EndpointReason(std::string_view endpoint) {
  bool https = endpoint.starts_with("https://");
  bool http = endpoint.starts_with("http://");
  if (!https && !http) {
    return "an endpoint is `https://HOST[:PORT]`";
  }
  std::string_view authority = endpoint.substr(https ? 8 : 7);
  if (authority.ends_with('/')) {
    authority.remove_suffix(1);
  }
  if (authority.find_first_of("/?#@ ") != std::string_view::npos) {
    return "an endpoint is `https://HOST[:PORT]`, without user, path or query";
  }
  std::string_view host = authority;
  std::string_view port;
  if (host.starts_with('[')) {
    size_t close = host.find(']');
    if (close == std::string_view::npos) {
      return "an IPv6 host is written `[ADDRESS]`";
    }
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty() && !port.starts_with(':')) {
      return "an endpoint is `https://HOST[:PORT]`";
    }
  } else if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    port = host.substr(colon);
    host = host.substr(0, colon);
  }
  if (!port.empty()) {
    port.remove_prefix(1);
    int value = 0;
    bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) {
      value = std::stoi(std::string(port));
    }
    if (!digits || value < 1 || value > 65535) {
      return "the port is a number from 1 to 65535";
    }
  }
  bool host_chars = std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
           c == '[' || c == ']';
  });
  if (host.empty() || !host_chars) {
    return "the endpoint's host is a DNS name or an IP address";
  }
  if (http && host != "127.0.0.1" && host != "localhost" && host != "[::1]") {
    return "requests carry credentials' signatures, so plain `http://` is allowed only to "
           "`127.0.0.1`, `[::1]` or `localhost`; use `https://`";
  }
  return "";
}

/// The checks of one workload; lives for one call of RunValidate.
class WorkloadChecker {
 public:
  WorkloadChecker(const ir::Module& module, int index, DiagnosticSink& sink)
      : module_(module), index_(index), w_(module.proto.workloads(index)), sink_(sink) {}

  void Run() {
    CheckId();
    CheckImage();
    CheckResources();
    if (w_.has_timeout_seconds()) {
      CheckRange(OptionContext::kWorkload, "timeout_seconds", w_.timeout_seconds(),
                 "/timeout_seconds");
    }
    if (!w_.isolation().empty()) {
      CheckEnum("isolation", w_.isolation(), {"microvm", "container"}, "/isolation");
    }
    CheckNetwork();
    CheckSecretsAndEnv();
    CheckVolumes();
    for (int i = 0; i < w_.ports_size(); ++i) {
      CheckRange(OptionContext::kWorkload, "ports", w_.ports(i), Pointer("/ports", i));
    }
    CheckFilePatterns();
    CheckMembers();
  }

 private:
  SourceLoc At(std::string_view pointer) const { return module_.Loc(index_, pointer); }

  void CheckFilePatterns() {
    for (int i = 0; i < w_.file_set().patterns_size(); ++i) {
      const std::string& text = w_.file_set().patterns(i);
      if (auto pattern = ir::FilePattern::Parse(text); !pattern) {
        sink_.Emit<DiagnosticKind::kInvalidFilePattern>(At(Pointer("/file_set/patterns", i)), text,
                                                        pattern.error().message);
      }
    }
  }

  void CheckId() {
    if (ir::IsWorkloadId(w_.id())) {
      return;
    }
    Diagnostic& d = sink_.Emit<DiagnosticKind::kInvalidId>(At("/id"), "workload id", w_.id(),
                                                           IdReason(w_.id()));
    if (std::string guess = IdSuggestion(w_.id()); !guess.empty()) {
      d.hint = "try `" + guess + "`";
    }
  }

  void CheckImage() {
    // A workload without an image never got one from the frontend, which already reported the
    // missing option; reporting it again here would only repeat that.
    if (!w_.has_image()) {
      return;
    }
    const ir::v1::Image& image = w_.image();
    if (image.kind() == "debian") {
      CheckDebianImage(image);
      return;
    }
    std::string shown = image.kind().empty() ? image.ref() : image.kind() + ":" + image.ref();
    ImageRefResult parsed = ParseImageRef(image.kind(), image.ref());
    std::string reason = parsed.error;
    if (reason.empty() && image.packages_size() > 0) {
      reason = "only `Image.debian` images list packages";
    }
    if (reason.empty() && image.digest() != parsed.ref.digest) {
      // The frontend derives `digest` from the reference, but IR read from JSON may disagree with
      // itself, and the plan would then pin something other than what the reference says.
      if (image.kind() != "oci") {
        reason = "only `oci:` images are pinned by digest, but the `digest` field is `" +
                 image.digest() + "`";
      } else if (parsed.ref.digest.empty()) {
        reason = "the `digest` field `" + image.digest() + "` is not part of the reference";
      } else {
        reason = "the reference is pinned to `" + parsed.ref.digest +
                 "`, but the `digest` field is `" + image.digest() + "`";
      }
    }
    if (reason.empty()) {
      return;
    }
    Diagnostic& d = sink_.Emit<DiagnosticKind::kInvalidImageRef>(At("/image"), shown, reason);
    bool known_kind = image.kind() == "oci" || image.kind() == "nix" || image.kind() == "template";
    // `ubuntu:22.04` reads as kind `ubuntu`; say how to write the OCI image the user most likely
    // meant.
    if (!known_kind && ParseImageRef("oci", shown).ok()) {
      d.hint = "for an OCI image, write `oci:" + shown + "`";
    }
  }

  void CheckDebianImage(const ir::v1::Image& image) {
    std::span<const std::string_view> suites = ir::DebianSuites();
    if (std::find(suites.begin(), suites.end(), image.ref()) == suites.end()) {
      Diagnostic& d = sink_.Emit<DiagnosticKind::kInvalidValue>(At("/image/ref"), "suite",
                                                                image.ref(), Expected(suites));
      if (std::optional<std::string> guess = DidYouMean(image.ref(), suites)) {
        d.hint = "did you mean `" + *guess + "`?";
      }
    }
    if (image.packages_size() > ir::kMaxDebianPackages) {
      sink_.Emit<DiagnosticKind::kTooManyPackages>(At("/image/packages"), image.packages_size(),
                                                   ir::kMaxDebianPackages);
    }
    for (int i = 0; i < image.packages_size(); ++i) {
      const std::string& name = image.packages(i);
      if (std::string why = ir::DebianPackageNameError(name); !why.empty()) {
        sink_.Emit<DiagnosticKind::kInvalidPackageName>(At(Pointer("/image/packages", i)), name,
                                                        why);
        continue;
      }
      for (int j = 0; j < i; ++j) {
        if (image.packages(j) == name) {
          sink_.Emit<DiagnosticKind::kDuplicatePackage>(At(Pointer("/image/packages", i)), name);
          break;
        }
      }
    }
    // IR read from JSON may carry a digest; the package set a build resolved is recorded in the
    // plan's artifact instead, so one here would pin nothing.
    if (!image.digest().empty()) {
      sink_.Emit<DiagnosticKind::kInvalidImageRef>(
          At("/image"), "debian:" + image.ref(),
          "a Debian image's package-set digest is recorded in the plan by `mvmctl build`, not in "
          "the IR's `digest` field");
    }
  }

  void CheckRange(OptionContext context, std::string_view option, int32_t value,
                  std::string_view pointer) {
    const ir::OptionInfo* info = ir::FindOption(context, option);
    MVM_CHECK(info != nullptr && info->is_integer());
    if (value >= info->min && value <= info->max) {
      return;
    }
    SourceLoc loc = At(pointer);
    // Named as the declaration spells it (`memoryMb` in TypeScript); IR read from JSON, which has
    // no source language, keeps the IR's field name.
    std::string_view spelled = loc.file.ends_with(".ts") || loc.file.ends_with(".tsx")
                                   ? info->typescript
                               : loc.file.ends_with(".py") ? info->python
                                                           : info->canonical;
    sink_.Emit<DiagnosticKind::kOutOfRange>(
        std::move(loc), spelled, value,
        std::to_string(info->min) + ".." + std::to_string(info->max));
  }

  void CheckEnum(std::string_view option, std::string_view value,
                 std::initializer_list<std::string_view> allowed, std::string_view pointer) {
    for (std::string_view a : allowed) {
      if (value == a) {
        return;
      }
    }
    std::span<const std::string_view> candidates(allowed.begin(), allowed.size());
    Diagnostic& d =
        sink_.Emit<DiagnosticKind::kInvalidValue>(At(pointer), option, value, Expected(candidates));
    if (std::optional<std::string> guess = DidYouMean(value, candidates)) {
      d.hint = "did you mean `" + *guess + "`?";
    }
  }

  void CheckHost(std::string_view host, std::string_view pointer) {
    if (std::string reason = HostError(host); !reason.empty()) {
      sink_.Emit<DiagnosticKind::kInvalidHost>(At(pointer), host, reason);
    }
  }

  void CheckResources() {
    if (!w_.has_resources()) {
      return;
    }
    const ir::v1::Resources& r = w_.resources();
    if (r.has_cpu()) {
      CheckRange(OptionContext::kWorkload, "cpu", r.cpu(), "/resources/cpu");
    }
    if (r.has_memory_mb()) {
      CheckRange(OptionContext::kWorkload, "memory_mb", r.memory_mb(), "/resources/memory_mb");
    }
    if (r.has_disk_mb()) {
      CheckRange(OptionContext::kWorkload, "disk_mb", r.disk_mb(), "/resources/disk_mb");
    }
  }

  void CheckNetwork() {
    if (!w_.has_network()) {
      return;
    }
    const ir::v1::NetworkPolicy& network = w_.network();
    // "" is a policy read from JSON that left the (only possible) default out.
    if (!network.default_().empty() && network.default_() != "deny") {
      sink_.Emit<DiagnosticKind::kInvalidValue>(
          At("/network/default"), "default", network.default_(),
          "network policies are deny-by-default; the only default is `deny`");
    }
    for (int i = 0; i < network.rules_size(); ++i) {
      const ir::v1::NetworkRule& rule = network.rules(i);
      std::string base = Pointer("/network/rules", i);
      CheckEnum("protocol", rule.protocol(), {"https", "http"}, base + "/protocol");
      CheckHost(rule.host(), base + "/host");
    }
  }

  void CheckSecretsAndEnv() {
    std::map<std::string, int, std::less<>> secret_envs;
    for (int i = 0; i < w_.secrets_size(); ++i) {
      const ir::v1::Secret& secret = w_.secrets(i);
      std::string base = Pointer("/secrets", i);
      if (!IsEnvName(secret.env())) {
        sink_.Emit<DiagnosticKind::kInvalidValue>(
            At(base + "/env"), "secrets", secret.env(),
            "environment variable names are letters, digits and `_`, not starting with a digit");
      } else if (!secret_envs.emplace(secret.env(), i).second) {
        sink_.Emit<DiagnosticKind::kInvalidValue>(At(base + "/env"), "secrets", secret.env(),
                                                  "the variable is given more than one secret");
      }
      for (int h = 0; h < secret.hosts_size(); ++h) {
        CheckHost(secret.hosts(h), Pointer(base + "/hosts", h));
      }
    }
    // Protobuf maps have no stable order; diagnostics must.
    std::map<std::string_view, std::string_view> env(w_.env().begin(), w_.env().end());
    for (const auto& [name, value] : env) {
      std::string pointer = "/env/" + ir::EscapePointerToken(name);
      if (!IsEnvName(name)) {
        sink_.Emit<DiagnosticKind::kInvalidValue>(
            At(pointer), "env", name,
            "environment variable names are letters, digits and `_`, not starting with a digit");
      } else if (secret_envs.contains(name)) {
        sink_.Emit<DiagnosticKind::kInvalidValue>(
            At(pointer), "env", name,
            "the variable is also a secret; declare it in `env` or in `secrets`, not both");
      }
    }
  }

  void CheckVolumes() {
    std::map<std::string, int> targets;
    for (int i = 0; i < w_.volumes_size(); ++i) {
      const ir::v1::Volume& volume = w_.volumes(i);
      std::string base = Pointer("/volumes", i);
      CheckEnum("kind", volume.kind(), {"local", "memory", "encrypted", "object"}, base + "/kind");
      if ((volume.kind() == "local" || volume.kind() == "object") && !volume.mode().empty()) {
        CheckEnum("mode", volume.mode(), {"ro", "rw"}, base + "/mode");
      }
      if (volume.kind() == "memory" && volume.has_size_mb()) {
        CheckRange(OptionContext::kVolumeMemory, "size_mb", volume.size_mb(), base + "/size_mb");
      }
      if (volume.kind() == "encrypted") {
        CheckEncrypted(volume, base);
      }
      if (volume.kind() == "object") {
        CheckObject(volume, base);
      }
      if (std::string reason = TargetReason(volume.target()); !reason.empty()) {
        sink_.Emit<DiagnosticKind::kInvalidValue>(At(base + "/target"), "target", volume.target(),
                                                  reason);
      } else if (!targets.emplace(MountKey(volume.target()), i).second) {
        sink_.Emit<DiagnosticKind::kInvalidValue>(At(base + "/target"), "target", volume.target(),
                                                  "another volume is already mounted there");
      }
    }
  }

  void CheckEncrypted(const ir::v1::Volume& volume, const std::string& base) {
    if (std::string reason = StoreNameReason(volume.source()); !reason.empty()) {
      sink_.Emit<DiagnosticKind::kInvalidValue>(At(base + "/source"), "name", volume.source(),
                                                reason);
    }
    if (!volume.has_size_mb()) {
      sink_.Emit<DiagnosticKind::kMissingOption>(At(base), "Volume.encrypted", "size_mb");
    } else {
      CheckRange(OptionContext::kVolumeEncrypted, "size_mb", volume.size_mb(), base + "/size_mb");
    }
  }

  void CheckObject(const ir::v1::Volume& volume, const std::string& base) {
    if (std::string reason = S3UrlReason(volume.source()); !reason.empty()) {
      sink_.Emit<DiagnosticKind::kInvalidValue>(At(base + "/source"), "url", volume.source(),
                                                reason);
    }
    if (volume.endpoint().empty()) {
      sink_.Emit<DiagnosticKind::kMissingOption>(At(base), "Volume.object", "endpoint");
    } else if (std::string reason = EndpointReason(volume.endpoint()); !reason.empty()) {
      sink_.Emit<DiagnosticKind::kInvalidValue>(At(base + "/endpoint"), "endpoint",
                                                volume.endpoint(), reason);
    }
    if (volume.credentials().empty()) {
      sink_.Emit<DiagnosticKind::kMissingOption>(At(base), "Volume.object", "credentials");
    } else if (std::string reason = StoreNameReason(volume.credentials()); !reason.empty()) {
      sink_.Emit<DiagnosticKind::kInvalidValue>(At(base + "/credentials"), "credentials",
                                                volume.credentials(), reason);
    }
  }

  // Entrypoints and services share one namespace: `--entrypoint NAME` selects either.
  void CheckMembers() {
    std::map<std::string, std::string, std::less<>> first_pointer;
    auto check = [&](std::string_view what, std::string_view name, const std::string& base) {
      std::string pointer = base + "/name";
      if (!IsMemberName(name)) {
        std::string reason = name.empty() ? "a name must not be empty" : std::string(kNameRule);
        sink_.Emit<DiagnosticKind::kInvalidId>(At(pointer), std::string(what) + " name", name,
                                               reason);
        return;
      }
      auto [it, inserted] = first_pointer.emplace(name, pointer);
      if (!inserted) {
        Diagnostic& d =
            sink_.Emit<DiagnosticKind::kDuplicateEntrypoint>(At(pointer), what, name, w_.id());
        d.notes.push_back({At(it->second), "first declared here"});
      }
    };
    for (int i = 0; i < w_.entrypoints_size(); ++i) {
      const ir::v1::Entrypoint& entrypoint = w_.entrypoints(i);
      std::string base = Pointer("/entrypoints", i);
      check("entrypoint", entrypoint.name(), base);
      if (entrypoint.has_timeout_seconds()) {
        CheckRange(OptionContext::kEntrypoint, "timeout_seconds", entrypoint.timeout_seconds(),
                   base + "/timeout_seconds");
      }
    }
    for (int i = 0; i < w_.services_size(); ++i) {
      const ir::v1::Service& service = w_.services(i);
      std::string base = Pointer("/services", i);
      check("service", service.name(), base);
      if (service.has_port()) {
        CheckRange(OptionContext::kService, "port", service.port(), base + "/port");
      }
      if (!service.restart().empty()) {
        CheckEnum("restart", service.restart(), {"never", "on-failure", "always"},
                  base + "/restart");
      }
      if (service.has_max_restarts()) {
        CheckRange(OptionContext::kService, "max_restarts", service.max_restarts(),
                   base + "/max_restarts");
      }
    }
    // An OCI image says what runs when the workload does not (its Entrypoint and Cmd).
    if (w_.entrypoints_size() == 0 && w_.services_size() == 0 && w_.image().kind() != "oci" &&
        !Incomplete()) {
      sink_.Emit<DiagnosticKind::kNoEntrypoint>(module_.Loc(index_, ""), w_.id());
    }
  }

  // The frontend already reported what it left out of this workload.
  bool Incomplete() const {
    return static_cast<size_t>(index_) < module_.locs.size() && module_.locs[index_].incomplete();
  }

  const ir::Module& module_;
  int index_;
  const Workload& w_;
  DiagnosticSink& sink_;
};

}  // namespace

void RunValidate(ir::Module& module, PassContext& context) {
  WorkloadIdIndex local;
  WorkloadIdIndex& seen = context.seen_ids != nullptr ? *context.seen_ids : local;
  for (int i = 0; i < module.proto.workloads_size(); ++i) {
    WorkloadChecker(module, i, context.sink).Run();
    const std::string& id = module.proto.workloads(i).id();
    if (id.empty()) {
      continue;
    }
    SourceLoc loc = module.Loc(i, "/id");
    auto [it, inserted] = seen.emplace(id, loc);
    if (!inserted) {
      Diagnostic& d = context.sink.Emit<DiagnosticKind::kDuplicateWorkloadId>(loc, id);
      d.notes.push_back({it->second, "first declared here"});
    }
  }
}

}  // namespace mvm::passes
