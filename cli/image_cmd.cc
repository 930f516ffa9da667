// `mvmctl image pull|load|ls|inspect|verify|rm|prune`: the OCI image cache (runtime/oci/store.h).

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "passes/image_ref.h"
#include "runtime/launcher/launcher.h"
#include "runtime/launcher/state.h"
#include "runtime/oci/pull.h"
#include "runtime/oci/store.h"

namespace mvm::cli {
namespace fs = std::filesystem;
namespace oci = runtime::oci;

namespace {

constexpr std::string_view kCommand = "image";
constexpr std::string_view kActions[] = {"pull", "load", "ls", "inspect", "verify", "rm", "prune"};

int Usage(std::string message) {
  return Fail(kCommand, MakeError(ErrorKind::kUsage, std::move(message)));
}

// An image named on the command line: `oci:` optional, checked by the compiler's grammar, so the
// CLI accepts exactly what a declaration may name.
ErrorOr<oci::Reference> ParseReference(std::string_view text) {
  if (text.rfind("oci:", 0) == 0) {
    text.remove_prefix(4);
  }
  passes::ImageRefResult parsed = passes::ParseImageRef("oci", text);
  if (!parsed.ok()) {
    return MakeError(ErrorKind::kUsage,
                     "`" + std::string(text) + "` is not an image reference: " + parsed.error);
  }
  return oci::SplitReference(text);
}

// An image the cache holds, named by digest (manifest or index, `sha256:` optional when the 64
// hex digits are given), by reference, or by a unique prefix of at least 12 hex digits.
ErrorOr<oci::StoredImage> FindStored(const oci::ImageStore& store, std::string_view text) {
  std::string s(text);
  if (s.rfind("oci:", 0) == 0) {
    s.erase(0, 4);
  }
  bool hex = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (hex && s.size() == 64) {
    s = "sha256:" + s;
  }
  if (oci::IsSha256Digest(s)) {
    auto found = store.Find(s);
    if (!found) {
      return found.error();
    }
    if (*found) {
      return **found;
    }
  } else if ((hex && s.size() >= 12) || (s.rfind("sha256:", 0) == 0 && s.size() >= 19)) {
    std::string prefix = s.rfind("sha256:", 0) == 0 ? s : "sha256:" + s;
    auto all = store.List();
    if (!all) {
      return all.error();
    }
    std::vector<oci::StoredImage> matches;
    for (const oci::StoredImage& i : *all) {
      if (i.manifest_digest.rfind(prefix, 0) == 0) {
        matches.push_back(i);
      }
    }
    if (matches.size() == 1) {
      return matches.front();
    }
    if (matches.size() > 1) {
      return MakeError(ErrorKind::kUsage, "`" + std::string(text) + "` matches " +
                                              std::to_string(matches.size()) +
                                              " images; give more of the digest");
    }
  } else if (auto ref = ParseReference(s); ref) {
    auto found =
        ref->digest.empty() ? store.FindByName(oci::CanonicalName(*ref)) : store.Find(ref->digest);
    if (!found) {
      return found.error();
    }
    if (*found) {
      return **found;
    }
  }
  return MakeError(ErrorKind::kEnvironment, "no image `" + std::string(text) +
                                                "` in the cache; `mvmctl image ls` lists them");
}

// Progress lines on stderr, unless --quiet.
oci::ProgressFn ProgressFor(const Args& args) {
  if (args.Has("quiet")) {
    return nullptr;
  }
  return [](std::string_view line) {
    std::fprintf(stderr, "mvmctl image: %.*s\n", static_cast<int>(line.size()), line.data());
  };
}

nlohmann::json ImageJson(const oci::StoredImage& i) {
  return {{"manifest", i.manifest_digest},
          {"index", i.index_digest},
          {"config", i.config_digest},
          {"tree", i.tree_digest},
          {"names", i.names},
          {"source", i.source},
          {"stored_at", i.stored_at},
          {"layer_bytes", i.layer_bytes},
          {"tree_bytes", i.tree_bytes},
          {"rootfs", i.rootfs.string()},
          {"platform", i.config.os + "/" + i.config.architecture},
          {"entrypoint", i.config.entrypoint},
          {"cmd", i.config.cmd},
          {"env", i.config.env},
          {"working_dir", i.config.working_dir},
          {"user", i.config.user}};
}

std::string Megabytes(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

void PrintPulled(const oci::Pulled& p, std::string_view shown) {
  const oci::StoredImage& i = p.image;
  std::string name = i.names.empty() ? std::string(shown) : i.names.front();
  // The line a user copies into a declaration: the reference pinned to what was stored.
  std::string base = name;
  if (auto at = base.find('@'); at != std::string::npos) {
    base.erase(at);
  }
  if (auto slash = base.rfind('/'), colon = base.rfind(':');
      colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    base.erase(colon);
  }
  std::printf("%s %s\n", p.cache_hit ? "cached" : "stored", i.manifest_digest.c_str());
  const std::string& pin = !p.resolved_digest.empty() ? p.resolved_digest : i.manifest_digest;
  std::printf("  image=\"oci:%s@%s\"\n", base.c_str(), pin.c_str());
}

int Pull(const Args& args, const runtime::StateDir& state) {
  if (args.positional.size() != 2) {
    return Usage("`image pull` takes one reference: `mvmctl image pull REGISTRY/REPO:TAG`");
  }
  auto ref = ParseReference(args.positional[1]);
  if (!ref) {
    return Fail(kCommand, ref.error());
  }
  auto audit = runtime::OpenAudit(state);
  if (!audit) {
    return Fail(kCommand, audit.error());
  }
  oci::RegistryOptions registry_options;
  if (args.Has("auth-file")) {
    registry_options.auth_file = args.Get("auth-file");
  }
  if (args.Has("ca-file")) {
    registry_options.ca_file = args.Get("ca-file");
  }
  auto pulled =
      runtime::PullImage(state, *ref, *(*audit)->log, ProgressFor(args), registry_options);
  if (!pulled) {
    return Fail(kCommand, pulled.error());
  }
  PrintPulled(*pulled, oci::CanonicalName(*ref));
  return kExitOk;
}

int Load(const Args& args, const runtime::StateDir& state) {
  if (args.positional.size() != 2) {
    return Usage(
        "`image load` takes one file: an OCI layout (directory or tar) or a `docker "
        "save` archive");
  }
  std::string name;
  if (args.Has("name")) {
    auto ref = ParseReference(args.Get("name"));
    if (!ref) {
      return Fail(kCommand, ref.error());
    }
    name = oci::CanonicalName(*ref);
  }
  auto audit = runtime::OpenAudit(state);
  if (!audit) {
    return Fail(kCommand, audit.error());
  }
  oci::ImageStore store(state.Images());
  oci::PullOptions options;
  options.progress = ProgressFor(args);
  options.events = runtime::ImageAuditEvents(*(*audit)->log);
  auto loaded = oci::Load(store, args.positional[1], name, options);
  if (!loaded) {
    return Fail(kCommand, loaded.error());
  }
  for (const oci::Pulled& p : *loaded) {
    PrintPulled(p, name.empty() ? "IMAGE" : name);
  }
  return kExitOk;
}

int List(const Args& args, const runtime::StateDir& state) {
  if (args.positional.size() != 1) {
    return Usage("`image ls` takes no arguments");
  }
  std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Usage("unknown format `" + format + "`; use `human` or `json`");
  }
  oci::ImageStore store(state.Images());
  auto all = store.List();
  if (!all) {
    return Fail(kCommand, all.error());
  }
  if (format == "json") {
    nlohmann::json out = {{"images", nlohmann::json::array()}};
    for (const oci::StoredImage& i : *all) {
      out["images"].push_back(ImageJson(i));
    }
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  if (all->empty()) {
    std::printf("no images (`mvmctl image pull REF` or `mvmctl image load FILE` adds one)\n");
    return kExitOk;
  }
  std::printf("%-19s  %-10s  %-20s  %s\n", "MANIFEST", "SIZE", "STORED", "NAMES");
  for (const oci::StoredImage& i : *all) {
    std::string names;
    for (const std::string& n : i.names) {
      names += (names.empty() ? "" : ", ") + n;
    }
    std::printf("%-19s  %-10s  %-20s  %s\n", i.manifest_digest.substr(0, 19).c_str(),
                Megabytes(i.tree_bytes).c_str(), i.stored_at.c_str(),
                names.empty() ? "(no name)" : names.c_str());
  }
  return kExitOk;
}

int Inspect(const Args& args, const runtime::StateDir& state) {
  if (args.positional.size() != 2) {
    return Usage("`image inspect` takes one image: a digest, a reference or a digest prefix");
  }
  oci::ImageStore store(state.Images());
  auto image = FindStored(store, args.positional[1]);
  if (!image) {
    return Fail(kCommand, image.error());
  }
  std::printf("%s\n", ImageJson(*image).dump(2).c_str());
  return kExitOk;
}

int Verify(const Args& args, const runtime::StateDir& state) {
  if (args.positional.size() > 2) {
    return Usage("`image verify` takes at most one image; without one it verifies them all");
  }
  oci::ImageStore store(state.Images());
  std::vector<oci::StoredImage> images;
  if (args.positional.size() == 2) {
    auto image = FindStored(store, args.positional[1]);
    if (!image) {
      return Fail(kCommand, image.error());
    }
    images.push_back(*image);
  } else {
    auto all = store.List();
    if (!all) {
      return Fail(kCommand, all.error());
    }
    images = std::move(*all);
  }
  auto audit = runtime::OpenAudit(state);
  if (!audit) {
    return Fail(kCommand, audit.error());
  }
  int bad = 0;
  for (const oci::StoredImage& i : images) {
    auto report = store.Verify(i);
    if (!report) {
      return Fail(kCommand, report.error());
    }
    nlohmann::json fields = {{"manifest", i.manifest_digest}, {"ok", report->ok()}};
    if (!report->ok()) {
      fields["problem"] = report->problems.front();
    }
    (void)(*audit)->log->Append("image-verify", fields);
    if (report->ok()) {
      std::printf("ok       %s\n", i.manifest_digest.c_str());
    } else {
      ++bad;
      std::printf("CHANGED  %s\n", i.manifest_digest.c_str());
      for (const std::string& p : report->problems) {
        std::printf("  %s\n", p.c_str());
      }
    }
  }
  if (bad > 0) {
    return Fail(kCommand, MakeError(ErrorKind::kVerificationFailed,
                                    std::to_string(bad) + " image" + (bad == 1 ? "" : "s") +
                                        " changed since unpacking; `mvmctl image rm` them and "
                                        "pull or load them again"));
  }
  return kExitOk;
}

// The sandboxes whose root filesystem is this image's tree: removing it under them would take
// their files away.
std::vector<std::string> UsersOf(const runtime::StateDir& state, const oci::StoredImage& image) {
  std::vector<std::string> users;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(state.Sandboxes(), ec)) {
    auto record = runtime::ReadRecord(state, e.path().filename().string());
    if (record && record->image && record->image->digest == image.manifest_digest &&
        runtime::IsRunning(*record)) {
      users.push_back(record->name);
    }
  }
  return users;
}

int Remove(const Args& args, const runtime::StateDir& state) {
  if (args.positional.size() < 2) {
    return Usage("`image rm` takes the images to remove: digests, references or digest prefixes");
  }
  oci::ImageStore store(state.Images());
  auto audit = runtime::OpenAudit(state);
  if (!audit) {
    return Fail(kCommand, audit.error());
  }
  for (size_t n = 1; n < args.positional.size(); ++n) {
    auto image = FindStored(store, args.positional[n]);
    if (!image) {
      return Fail(kCommand, image.error());
    }
    if (auto users = UsersOf(state, *image); !users.empty()) {
      return Fail(kCommand, Error{"image " + image->manifest_digest + " is in use by sandbox `" +
                                  users.front() + "`; stop it first (`mvmctl destroy " +
                                  users.front() + "`)"});
    }
    if (auto ok = store.Remove(*image); !ok) {
      return Fail(kCommand, ok.error());
    }
    (void)(*audit)->log->Append("image-delete",
                                {{"manifest", image->manifest_digest}, {"names", image->names}});
    std::printf("removed %s\n", image->manifest_digest.c_str());
  }
  return kExitOk;
}

int Prune(const Args& args, const runtime::StateDir& state) {
  if (args.positional.size() != 1) {
    return Usage("`image prune` takes no arguments");
  }
  oci::ImageStore store(state.Images());
  auto audit = runtime::OpenAudit(state);
  if (!audit) {
    return Fail(kCommand, audit.error());
  }
  auto removed = store.Prune();
  if (!removed) {
    return Fail(kCommand, removed.error());
  }
  for (const oci::StoredImage& i : *removed) {
    (void)(*audit)->log->Append("image-delete",
                                {{"manifest", i.manifest_digest}, {"reason", "prune"}});
    std::printf("removed %s\n", i.manifest_digest.c_str());
  }
  std::printf("%zu image%s removed\n", removed->size(), removed->size() == 1 ? "" : "s");
  return kExitOk;
}

}  // namespace

int RunImage(Args& args) {
  auto chosen = ActionOf(args, kActions);
  if (!chosen) {
    return Fail(kCommand, chosen.error());
  }
  const std::string& action = *chosen;
  if ((args.Has("auth-file") || args.Has("ca-file")) && action != "pull") {
    return Usage("`--auth-file` and `--ca-file` apply to `image pull` only");
  }
  if (args.Has("name") && action != "load") {
    return Usage("`--name` applies to `image load` only");
  }
  if (args.Has("format") && action != "ls") {
    return Usage("`--format` applies to `image ls` only");
  }
  runtime::StateDir state = runtime::ResolveStateDir(args.Get("state-dir"));
  if (action == "pull") {
    return Pull(args, state);
  }
  if (action == "load") {
    return Load(args, state);
  }
  if (action == "ls") {
    return List(args, state);
  }
  if (action == "inspect") {
    return Inspect(args, state);
  }
  if (action == "verify") {
    return Verify(args, state);
  }
  if (action == "rm") {
    return Remove(args, state);
  }
  return Prune(args, state);
}

}  // namespace mvm::cli
