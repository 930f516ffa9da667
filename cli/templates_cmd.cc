// `mvmctl templates [--format json]`: the root filesystems the cache holds (built-in templates and
// Debian package images), their sizes, and what refers to each Debian image.

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "runtime/launcher/rootfs_cache.h"
#include "runtime/rootfs/debian_image.h"
#include "runtime/rootfs/rootfs.h"

namespace mvm::cli {
namespace {

std::string Size(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

// A recipe revision for people: "(none)" for a tree from before revisions were recorded.
std::string Revision(const std::string& revision) { return revision.empty() ? "(none)" : revision; }

bool IsStaleDebian(const runtime::rootfs::CachedDebianImage& image) {
  return !image.current.empty() && image.revision != runtime::rootfs::kDebianImageRevision;
}

}  // namespace

int RunTemplates(Args& args) {
  const std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("templates", MakeError(ErrorKind::kUsage,
                                       "unknown format `" + format + "`; use `human` or `json`"));
  }
  if (!args.positional.empty()) {
    return Fail("templates", MakeError(ErrorKind::kUsage, "`templates` takes no arguments"));
  }
  const runtime::StateDir state = runtime::ResolveStateDir(args.Get("state-dir"));
  std::vector<std::string> problems;
  const auto templates = runtime::rootfs::ListTemplates(state.RootfsCache());
  const auto debian = runtime::ListDebianImageUses(state, problems);
  for (const std::string& p : problems) {
    std::fprintf(stderr, "mvmctl templates: warning: %s\n", p.c_str());
  }
  if (format == "json") {
    nlohmann::json out = {{"templates", nlohmann::json::array()},
                          {"debian", nlohmann::json::array()}};
    for (const auto& t : templates) {
      nlohmann::json entry = {
          {"name", t.name}, {"built", t.built}, {"wanted_revision", t.wanted_revision}};
      if (t.built) {
        entry["digest"] = t.digest;
        entry["bytes"] = runtime::rootfs::TreeBytes(t.dir);
        entry["revision"] = t.revision;
        entry["stale"] = t.stale();
      }
      out["templates"].push_back(std::move(entry));
    }
    for (const auto& use : debian) {
      out["debian"].push_back({{"pin", use.image.pin},
                               {"tree", use.image.current},
                               {"revision", use.image.revision},
                               {"stale", IsStaleDebian(use.image)},
                               {"trees", use.image.trees},
                               {"packages", use.image.packages},
                               {"bytes", use.image.bytes},
                               {"used_by", use.users}});
    }
    std::printf("%s\n", out.dump().c_str());
    return kExitOk;
  }
  std::printf("%-13s %-73s %-4s %s\n", "TEMPLATE", "TREE", "REV", "SIZE");
  std::vector<std::string> stale;
  for (const auto& t : templates) {
    std::printf("%-13s %-73s %-4s %s\n", t.name.c_str(), t.built ? t.digest.c_str() : "(not built)",
                t.built ? Revision(t.revision).c_str() : "-",
                t.built ? Size(runtime::rootfs::TreeBytes(t.dir)).c_str() : "-");
    if (t.stale()) {
      stale.push_back("template " + t.name + " was built by recipe revision " +
                      Revision(t.revision) + "; this mvm builds revision " + t.wanted_revision);
    }
  }
  std::printf("\n%-73s %-8s %-11s %s\n", "DEBIAN IMAGE (PIN)", "PACKAGES", "SIZE", "USED BY");
  if (debian.empty()) {
    std::printf("(none; `Image.debian(packages=[...])` images appear here once built)\n");
  }
  for (const auto& use : debian) {
    std::string users;
    for (const std::string& u : use.users) {
      users += (users.empty() ? "" : ", ") + u;
    }
    std::printf("%-73s %-8zu %-11s %s\n", use.image.pin.c_str(), use.image.packages,
                Size(use.image.bytes).c_str(),
                users.empty() ? "- (`mvmctl gc --debian-images` removes it)" : users.c_str());
    if (IsStaleDebian(use.image)) {
      stale.push_back("Debian image " + use.image.pin + " was built by recipe revision " +
                      Revision(use.image.revision) + "; this mvm builds revision " +
                      std::string(runtime::rootfs::kDebianImageRevision));
    }
  }
  if (!stale.empty()) {
    std::printf("\nstale (built again on next use; the old tree stays while a sandbox uses it):\n");
    for (const std::string& line : stale) {
      std::printf("  %s\n", line.c_str());
    }
  }
  return kExitOk;
}

}  // namespace mvm::cli
