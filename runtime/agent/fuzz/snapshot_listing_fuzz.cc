// libFuzzer target for what `mvmctl snapshot` accepts of a guest's answers before any of it names a
// tar member (runtime/launcher/snapshot_guest.cc). A microVM guest's root can answer for the agent,
// so every byte is hostile. The first input byte picks the input: even, the rest is a FileListing
// message (what the agent answers to FileList) for a directory whose depth the byte also picks,
// turned into entries as agent::Client does and checked by CheckListing; odd, the rest is a
// /proc/self/mountinfo whose mount points go through CheckSnapshotPath. Properties checked besides
// "no crash, no sanitizer report": every name kept is one safe path component, sorted and unique;
// no mode kept is set-uid or set-gid, nor sticky outside directories; every symlink target kept is
// relative and, resolved from its directory, stays inside the sandbox's tree; every path accepted
// is absolute, normalised and free of control bytes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/agent/agent.pb.h"
#include "runtime/agent/client.h"
#include "runtime/agent/request.h"
#include "runtime/launcher/snapshot_guest.h"

namespace {

namespace agent = ::mvm::runtime::agent;
namespace runtime = ::mvm::runtime;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

bool SafeComponent(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.size() <= runtime::kMaxSnapshotNameBytes &&
         std::none_of(name.begin(), name.end(), [](char c) {
           const auto b = static_cast<unsigned char>(c);
           return c == '/' || b < 0x20 || b == 0x7f;
         });
}

// Resolves `target` lexically from a directory `depth` levels below the root; false when it climbs
// above the root at any step.
bool StaysInside(size_t depth, std::string_view target) {
  size_t level = depth;
  size_t begin = 0;
  while (begin <= target.size()) {
    size_t end = std::min(target.find('/', begin), target.size());
    std::string_view part = target.substr(begin, end - begin);
    if (part == "..") {
      if (level == 0) {
        return false;
      }
      --level;
    } else if (!part.empty() && part != ".") {
      ++level;
    }
    begin = end + 1;
  }
  return true;
}

void CheckPathProperties(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > agent::kMaxPathBytes) {
    Fail("CheckSnapshotPath accepted a relative or overlong path");
  }
  if (path == "/") {
    return;
  }
  size_t begin = 1;
  while (begin <= path.size()) {
    size_t end = std::min(path.find('/', begin), path.size());
    if (!SafeComponent(path.substr(begin, end - begin))) {
      Fail("CheckSnapshotPath accepted an unsafe component");
    }
    begin = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 1) {
    for (const std::string& mount : runtime::WritableMemoryMounts(rest)) {
      if (runtime::CheckSnapshotPath(mount)) {
        CheckPathProperties(mount);
      }
    }
    return 0;
  }
  // The listed directory: "/" or "/d/d/..." up to 7 levels deep.
  const size_t depth = (data[0] >> 1) % 8;
  std::string dir;
  for (size_t i = 0; i < depth; ++i) {
    dir += "/d";
  }
  if (dir.empty()) {
    dir = "/";
  }
  ::mvm::agent::v1::FileListing listing;
  if (!listing.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) {
    return 0;
  }
  auto checked = runtime::CheckListing(dir, agent::ToFileEntries(listing));
  if (!checked) {
    return 0;
  }
  const std::vector<runtime::SnapshotEntry>& entries = checked->entries;
  for (size_t i = 0; i < entries.size(); ++i) {
    const runtime::SnapshotEntry& e = entries[i];
    if (!SafeComponent(e.name)) {
      Fail("CheckListing kept an unsafe name");
    }
    if (i > 0 && !(entries[i - 1].name < e.name)) {
      Fail("CheckListing's entries are not sorted and unique");
    }
    if ((e.mode & 06000) != 0 ||
        (e.kind != runtime::SnapshotEntryKind::kDirectory && (e.mode & 01000) != 0)) {
      Fail("CheckListing kept a set-uid, set-gid or sticky-file mode");
    }
    if (e.kind == runtime::SnapshotEntryKind::kSymlink) {
      const std::string& t = e.link_target;
      if (t.empty() || t.front() == '/' || t.find('\0') != std::string::npos ||
          std::any_of(t.begin(), t.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
        Fail("CheckListing kept an absolute or unprintable symlink target");
      }
      if (!StaysInside(depth, t)) {
        Fail("CheckListing kept a symlink target that climbs out of the tree");
      }
    }
  }
  return 0;
}
