// `mvmctl gc [--debian-images]`: remove what stopped sandboxes left behind (records, cgroups), and
// the cached Debian images nothing refers to any more.

#include <cstdio>

#include "cli/commands.h"
#include "cli/runtime_session.h"
#include "runtime/launcher/rootfs_cache.h"

namespace mvm::cli {

int RunGc(Args& args) {
  auto session = OpenRuntime(args, /*with_trust=*/false, "gc");
  if (!session) {
    return Fail("gc", session.error());
  }
  std::vector<std::string> problems;
  int removed = 0;
  for (const runtime::SandboxRecord& r : runtime::ListRecords(session->options.state, problems)) {
    if (runtime::IsRunning(r)) {
      continue;
    }
    auto done = runtime::StopByName(session->options, r.name, /*remove_state=*/true, session->log(),
                                    "mvmctl gc");
    if (!done) {
      std::fprintf(stderr, "mvmctl gc: %s\n", done.error().message.c_str());
      continue;
    }
    ++removed;
  }
  std::printf("removed %d stopped sandbox%s\n", removed, removed == 1 ? "" : "es");
  if (!args.Has("debian-images")) {
    return kExitOk;
  }
  // After the sandboxes: a stopped sandbox's record no longer keeps its image.
  std::vector<std::string> problems_now;
  int images = 0;
  uint64_t bytes = 0;
  for (const runtime::DebianImageUse& use :
       runtime::ListDebianImageUses(session->options.state, problems_now)) {
    if (!use.users.empty()) {
      continue;
    }
    if (auto gone = runtime::rootfs::RemoveDebianImage(use.image); !gone) {
      std::fprintf(stderr, "mvmctl gc: %s\n", gone.error().message.c_str());
      continue;
    }
    (void)session->log().Append("image-delete", {{"kind", "debian"},
                                                 {"pin", use.image.pin},
                                                 {"bytes", use.image.bytes},
                                                 {"reason", "gc: no sandbox or snapshot uses it"}});
    ++images;
    bytes += use.image.bytes;
  }
  for (const std::string& p : problems_now) {
    std::fprintf(stderr, "mvmctl gc: warning: %s\n", p.c_str());
  }
  std::printf("removed %d Debian image%s (%llu MiB)\n", images, images == 1 ? "" : "s",
              static_cast<unsigned long long>(bytes >> 20));
  return kExitOk;
}

}  // namespace mvm::cli
