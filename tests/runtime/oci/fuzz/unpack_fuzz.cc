// libFuzzer target for OCI layer unpacking: layer bytes are untrusted input. The input is one
// uncompressed layer tar after a first byte; when that byte is odd, the rest is two layers, the
// first of them 512 * (byte >> 1) bytes long, applied in order. Properties checked besides "no
// crash, no sanitizer report": nothing is created, changed or removed outside the tree being built
// (the tree's parent holds the tree on success and nothing on failure, the directories above it
// and a sentinel beside it are unchanged, and so is the host's `/`), and a failure leaves no tree.
//
// Every run unpacks into a fresh directory under $TMPDIR (or /tmp), removed afterwards.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "runtime/oci/unpack.h"

namespace {

namespace fs = std::filesystem;
namespace oci = ::mvm::runtime::oci;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what.c_str());
  std::abort();
}

/// Every entry below `dir` but those in `skip` (relative): type, mode, size, content or target, so
/// that any change shows.
std::map<std::string, std::string> Snapshot(const fs::path& dir,
                                            const std::vector<fs::path>& skip) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    fs::path rel = it->path().lexically_relative(dir);
    if (std::find(skip.begin(), skip.end(), rel) != skip.end()) {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st {};
    lstat(it->path().c_str(), &st);
    // A directory's size changes with its entries on some file systems: not recorded.
    std::string line = std::to_string(st.st_mode) + " " +
                       (S_ISDIR(st.st_mode) ? std::string() : std::to_string(st.st_size)) + " ";
    if (S_ISREG(st.st_mode)) {
      std::ifstream in(it->path(), std::ios::binary);
      std::ostringstream content;
      content << in.rdbuf();
      line += content.str();
    } else if (S_ISLNK(st.st_mode)) {
      line += fs::read_symlink(it->path(), ec).string();
    }
    out[rel.string()] = line;
  }
  if (ec) {
    Fail("cannot list " + dir.string() + ": " + ec.message());
  }
  return out;
}

/// The names in `/`: an absolute symlink followed outside the tree would land there.
std::vector<std::string> HostRoot() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator("/")) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

struct World {
  fs::path base;  // base/a/b/work/tree is the tree; base/a/sentinel and base/blobs beside it
  fs::path work;
  fs::path tree;
  std::map<std::string, std::string> before;
  std::vector<std::string> host_root;
};

World& TheWorld() {
  static World* world = [] {
    auto* w = new World;
    const char* tmp = std::getenv("TMPDIR");
    w->base = fs::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
              ("mvm-unpack-fuzz-" + std::to_string(getpid()));
    // A crashed run (a finding) leaves its directory: remove those whose process is gone.
    for (const auto& e : fs::directory_iterator(w->base.parent_path())) {
      std::string name = e.path().filename().string();
      if (name.starts_with("mvm-unpack-fuzz-") && kill(std::atoi(name.c_str() + 16), 0) != 0 &&
          errno == ESRCH) {
        std::error_code ec;
        fs::remove_all(e.path(), ec);
      }
    }
    fs::remove_all(w->base);
    w->work = w->base / "a" / "b" / "work";
    w->tree = w->work / "tree";
    fs::create_directories(w->work);
    fs::create_directories(w->base / "blobs");
    fs::create_directories(w->base / "a" / "sentinel" / "etc");
    std::ofstream(w->base / "a" / "sentinel" / "etc" / "passwd") << "root:x:0:0::/root:/bin/sh\n";
    std::ofstream(w->base / "a" / "b" / "secret") << "do not touch\n";
    w->before = Snapshot(w->base, {"blobs", "a/b/work/tree"});
    w->host_root = HostRoot();
    std::atexit([] { fs::remove_all(TheWorld().base); });
    return w;
  }();
  return *world;
}

oci::LayerFile WriteLayer(const World& w, int index, std::string_view bytes) {
  fs::path blob = w.base / "blobs" / ("layer" + std::to_string(index));
  std::ofstream(blob, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return oci::LayerFile{blob, std::string(oci::kMediaOciLayer),
                        "sha256:" + std::string(63, '0') + std::to_string(index)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  World& w = TheWorld();
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<oci::LayerFile> layers;
  if (data[0] & 1) {
    size_t split = std::min(rest.size(), size_t{512} * (data[0] >> 1));
    layers.push_back(WriteLayer(w, 1, rest.substr(0, split)));
    layers.push_back(WriteLayer(w, 2, rest.substr(split)));
  } else {
    layers.push_back(WriteLayer(w, 1, rest));
  }
  oci::Limits limits;
  limits.max_tree_bytes = 1 << 20;
  limits.max_tree_entries = 2000;
  auto report = oci::UnpackLayers(layers, w.tree, limits);

  std::error_code ec;
  std::vector<std::string> in_work;
  for (const auto& e : fs::directory_iterator(w.work)) {
    in_work.push_back(e.path().filename().string());
  }
  if (report.ok() ? in_work != std::vector<std::string>{"tree"} : !in_work.empty()) {
    std::string names;
    for (const auto& n : in_work) {
      names += " " + n;
    }
    Fail(std::string(report.ok() ? "after a success" : "after a failure") +
         ", the tree's parent holds:" + names);
  }
  if (Snapshot(w.base, {"blobs", "a/b/work/tree"}) != w.before) {
    Fail("something outside the tree changed");
  }
  if (HostRoot() != w.host_root) {
    Fail("the host's / changed");
  }
  fs::remove_all(w.tree, ec);
  if (ec) {
    Fail("cannot remove the tree: " + ec.message());
  }
  return 0;
}
