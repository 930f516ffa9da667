#include "runtime/launcher/snapshot_guest.h"

#include <algorithm>
#include <sstream>

#include "runtime/agent/request.h"

namespace mvm::runtime {
namespace {

// mountinfo escapes space, tab, newline and backslash in paths as \ooo.
std::string UnescapeMountPath(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      auto octal = [](char c) { return c >= '0' && c <= '7'; };
      if (octal(field[i + 1]) && octal(field[i + 2]) && octal(field[i + 3])) {
        out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                 (field[i + 3] - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

bool HasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b < 0x20 || b == 0x7f;
  });
}

// Why `name` cannot be one entry of a directory, or empty when it can.
std::string ImpossibleName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") {
    return "an empty, `.` or `..` name";
  }
  if (name.find('/') != std::string_view::npos) {
    return "a name with `/`";
  }
  if (name.find('\0') != std::string_view::npos) {
    return "a name with a NUL byte";
  }
  if (name.size() > kMaxSnapshotNameBytes) {
    return "a name of " + std::to_string(name.size()) + " bytes (at most " +
           std::to_string(kMaxSnapshotNameBytes) + ")";
  }
  return {};
}

// The components of `path`, empty ones and `.` dropped.
std::vector<std::string_view> Components(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = std::min(path.find('/', begin), path.size());
    std::string_view part = path.substr(begin, end - begin);
    if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    begin = end + 1;
  }
  return parts;
}

}  // namespace

std::vector<std::string> WritableMemoryMounts(std::string_view mountinfo) {
  std::vector<std::string> mounts;
  std::istringstream lines{std::string(mountinfo)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string field; fields >> field;) {
      f.push_back(field);
    }
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 6 || dash == f.end() || dash + 1 == f.end()) {
      continue;
    }
    const std::string& options = f[5];
    bool read_write = options == "rw" || options.starts_with("rw,");
    if (*(dash + 1) != "tmpfs" || !read_write) {
      continue;
    }
    std::string target = UnescapeMountPath(f[4]);
    if (target == "/dev") {
      continue;
    }
    mounts.push_back(std::move(target));
  }
  return mounts;
}

ErrorOr<Ok> CheckSnapshotPath(std::string_view path) {
  if (path.empty() || path[0] != '/') {
    return Error{agent::Quote(path) + ": give an absolute path inside the sandbox"};
  }
  if (path.size() > agent::kMaxPathBytes) {
    return Error{agent::Quote(path) + ": longer than " + std::to_string(agent::kMaxPathBytes) +
                 " bytes"};
  }
  if (path == "/") {
    return Ok{};
  }
  size_t begin = 1;
  while (begin <= path.size()) {
    size_t end = std::min(path.find('/', begin), path.size());
    std::string_view part = path.substr(begin, end - begin);
    if (std::string why = ImpossibleName(part); !why.empty()) {
      return Error{agent::Quote(path) +
                   ": give a normalised absolute path (no empty, `.` or `..` parts); it has " +
                   why};
    }
    if (HasControl(part)) {
      return Error{agent::Quote(path) + ": a snapshot stores no names with control characters"};
    }
    begin = end + 1;
  }
  return Ok{};
}

std::optional<std::string> SafeLinkTarget(std::string_view dir, std::string_view target) {
  if (target.empty() || target.size() > agent::kMaxPathBytes ||
      target.find('\0') != std::string_view::npos || HasControl(target)) {
    return std::nullopt;
  }
  const size_t depth = Components(dir).size();
  const std::vector<std::string_view> parts = Components(target);
  if (target.front() == '/') {
    // The same file of the sandbox's tree, named from `dir`. A `..` could follow a symlink in the
    // sandbox that is not the link a lexical reading assumes, so such targets are not rewritten.
    if (std::find(parts.begin(), parts.end(), "..") != parts.end()) {
      return std::nullopt;
    }
    std::string relative;
    for (size_t i = 0; i < depth; ++i) {
      relative += relative.empty() ? ".." : "/..";
    }
    for (std::string_view part : parts) {
      if (!relative.empty()) {
        relative += '/';
      }
      relative += part;
    }
    return relative.empty() ? std::string(".") : relative;
  }
  // `..` only as a prefix, so every step it takes is up a real directory of the tree (a `..`
  // after a name would climb from wherever that name, perhaps a symlink, leads), and no further
  // up than the root.
  size_t climbs = 0;
  while (climbs < parts.size() && parts[climbs] == "..") {
    ++climbs;
  }
  if (climbs > depth || std::find(parts.begin() + static_cast<std::ptrdiff_t>(climbs), parts.end(),
                                  "..") != parts.end()) {
    return std::nullopt;
  }
  return std::string(target);
}

ErrorOr<CheckedListing> CheckListing(std::string_view dir, std::vector<agent::FileEntry> entries) {
  CheckedListing out;
  out.entries.reserve(entries.size());
  for (agent::FileEntry& e : entries) {
    if (std::string why = ImpossibleName(e.name); !why.empty()) {
      return Error{"the agent listed " + agent::Quote(dir) + " with " + why + ", " +
                   agent::Quote(e.name) +
                   ", which no Linux directory holds; refusing the listing (the sandbox's agent "
                   "may be compromised)"};
    }
    if (HasControl(e.name)) {
      ++out.bad_names;
      continue;
    }
    SnapshotEntry& s = out.entries.emplace_back();
    s.name = std::move(e.name);
    s.size = e.size;
    switch (e.type) {
      case agent::FileEntry::Type::kDir:
        s.kind = SnapshotEntryKind::kDirectory;
        s.mode = e.mode & 01777;
        break;
      case agent::FileEntry::Type::kFile:
        s.kind = SnapshotEntryKind::kFile;
        s.mode = e.mode & 0777;
        break;
      case agent::FileEntry::Type::kSymlink:
        s.mode = 0777;
        if (auto target = SafeLinkTarget(dir, e.link_target)) {
          s.kind = SnapshotEntryKind::kSymlink;
          s.link_target = std::move(*target);
        } else {
          s.kind = SnapshotEntryKind::kUnsafeLink;
        }
        break;
      case agent::FileEntry::Type::kOther:
        s.kind = SnapshotEntryKind::kOther;
        s.mode = 0;
        break;
    }
  }
  std::sort(out.entries.begin(), out.entries.end(),
            [](const SnapshotEntry& a, const SnapshotEntry& b) { return a.name < b.name; });
  auto twice = std::adjacent_find(
      out.entries.begin(), out.entries.end(),
      [](const SnapshotEntry& a, const SnapshotEntry& b) { return a.name == b.name; });
  if (twice != out.entries.end()) {
    return Error{"the agent listed " + agent::Quote(dir) + " with " + agent::Quote(twice->name) +
                 " twice, which no Linux directory holds; refusing the listing (the sandbox's "
                 "agent may be compromised)"};
  }
  return out;
}

}  // namespace mvm::runtime
