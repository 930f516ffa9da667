// OCI images end to end: images built by the test, pushed to a real registry on 127.0.0.1
// (tests/runtime/oci/test_registry.h), declared by tag, pulled and pinned by `mvmctl run`, and run
// on both backends.
//
// The tool image is the busybox template's tree plus a layer of its own, with an Entrypoint, Cmd,
// Env, WorkingDir and User the sandbox must honour. The Python image is the python-3.11 template's
// tree split into three layers (the standard library in a layer of its own, a last gzip layer
// with a whiteout), running a function-form workload; the microVM boots it once (seconds of TCG).

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/rootfs/rootfs.h"
#include "tests/runtime/oci/oci_layout_util.h"
#include "tests/runtime/oci/test_registry.h"
#include "tests/support/audit_records.h"
#include "tests/support/backend_state.h"
#include "tests/support/files.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::LayerEntry;
using mvm::testing::LayerSpec;
using mvm::testing::LayoutSpec;
using mvm::testing::Mvmctl;
using mvm::testing::Result;
using ::testing::HasSubstr;
using ::testing::Not;

using ::mvm::testing::ReadFile;

// The entries of `tree` below `prefix` (relative; "" for all), skipping `skip` subtrees, as tar
// entries in a stable order.
void AddTree(const fs::path& tree, const std::string& prefix, const std::vector<std::string>& skip,
             LayerSpec& layer) {
  std::vector<fs::path> paths;
  fs::path start = prefix.empty() ? tree : tree / prefix;
  if (!prefix.empty()) {
    paths.push_back(start);
  }
  for (auto it = fs::recursive_directory_iterator(start); it != fs::recursive_directory_iterator();
       ++it) {
    std::string rel = it->path().lexically_relative(tree).string();
    if (std::any_of(skip.begin(), skip.end(), [&](const std::string& s) { return rel == s; })) {
      it.disable_recursion_pending();
      continue;
    }
    paths.push_back(it->path());
  }
  std::sort(paths.begin(), paths.end());
  for (const fs::path& p : paths) {
    LayerEntry e;
    e.path = p.lexically_relative(tree).string();
    auto st = fs::symlink_status(p);
    e.mode = static_cast<int>(st.permissions() & fs::perms::mask);
    if (fs::is_symlink(st)) {
      e.type = LayerEntry::Type::kSymlink;
      e.content = fs::read_symlink(p).string();
    } else if (fs::is_directory(st)) {
      e.type = LayerEntry::Type::kDir;
    } else if (fs::is_regular_file(st)) {
      e.type = LayerEntry::Type::kFile;
      e.content = ReadFile(p);
      e.mode |= 0200;  // template trees are sealed read-only; an image's files are not
    } else {
      continue;
    }
    if (e.type == LayerEntry::Type::kDir) {
      e.mode |= 0200;
    }
    layer.entries.push_back(std::move(e));
  }
}

LayerEntry File(std::string path, std::string content, int mode = 0644, int uid = 0, int gid = 0) {
  LayerEntry e;
  e.path = std::move(path);
  e.content = std::move(content);
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  return e;
}

LayerEntry Dir(std::string path, int mode = 0755, int uid = 0, int gid = 0) {
  LayerEntry e = File(std::move(path), "", mode, uid, gid);
  e.type = LayerEntry::Type::kDir;
  return e;
}

// One registry and the images for a test process: the tool image always, the Python image (the
// template's 170 MB in three layers) for the tests that ask for it.
class OciImages {
 public:
  static OciImages& Get() {
    static OciImages* images = new OciImages();
    return *images;
  }
  std::string error;
  mvm::testing::TestRegistry registry;
  std::string tool_ref;    // "127.0.0.1:PORT/tool:1"
  std::string python_ref;  // "127.0.0.1:PORT/py:3.11"
  std::string tool_manifest;
  std::string python_manifest;

 private:
  OciImages() {
    if (auto missing = mvm::testing::TestRegistry::MissingPrerequisite()) {
      error = *missing;
      return;
    }
    if (auto started = registry.Start(); !started) {
      error = started.error().message;
      return;
    }
    auto busybox = mvm::runtime::rootfs::MaterializeTemplate(
        "busybox", mvm::testing::SharedRootfsCache(), nullptr);
    if (!busybox) {
      error = "cannot build the busybox template: " + busybox.error().message;
      return;
    }
    layouts_ = std::make_unique<mvm::testing::TempDir>("mvm-oci-e2e");

    LayoutSpec tool;
    LayerSpec base;
    base.gzip = false;
    AddTree(busybox->dir, "", {}, base);
    LayerSpec own;
    own.entries = {
        Dir("etc", 0755),
        File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/srv:/bin/sh\n"),
        File("etc/group", "root:x:0:\napp:x:1000:\n"), Dir("srv", 0755, 1000, 1000),
        File("srv/motd", "hello from the image\n", 0644, 1000, 1000)};
    tool.layers = {base, own};
    tool.config.entrypoint = {"/bin/sh", "-c"};
    tool.config.cmd = {"echo cmd-ran; id -u; id -g; pwd; echo \"greeting=$GREETING\"; cat motd"};
    tool.config.env = {"PATH=/bin:/sbin:/usr/bin", "GREETING=hi-from-env"};
    tool.config.working_dir = "/srv";
    tool.config.user = "app";
    tool.tag = "1";
    auto tool_layout = mvm::testing::WriteOciLayout(layouts_->path() / "tool", tool);
    if (!tool_layout) {
      error = tool_layout.error().message;
      return;
    }
    if (auto pushed = mvm::testing::PushLayout(*tool_layout, registry, "tool:1"); !pushed) {
      error = pushed.error().message;
      return;
    }
    tool_ref = registry.host() + "/tool:1";
    tool_manifest = tool_layout->manifest_digest;
  }

 public:
  // Pushes the Python image on first use; an error message, or empty. Its layout (seconds to write
  // from the template's tree) is kept in the build tree by the template's digest, so the test
  // processes after the first only push it.
  std::string PushPython() {
    if (!python_ref.empty()) {
      return "";
    }
    auto python = mvm::runtime::rootfs::MaterializeTemplate(
        "python-3.11", mvm::testing::SharedRootfsCache(), nullptr);
    if (!python) {
      return "cannot build the python-3.11 template: " + python.error().message;
    }
    // Kept beside the build by the template's digest, with the one digest the tests need.
    const fs::path kept =
        fs::path(MVM_BINARY_DIR) / "oci-e2e-layouts" / ("py-" + python->digest.substr(7, 16));
    mvm::testing::WrittenLayout layout;
    layout.dir = kept;
    layout.tag = "3.11";
    layout.manifest_digest = ReadFile(kept / "manifest-digest");
    if (layout.manifest_digest.empty()) {
      LayoutSpec py;
      LayerSpec os_layer, stdlib, top;
      os_layer.gzip = stdlib.gzip = false;
      AddTree(python->dir, "", {"usr/lib/python3.11"}, os_layer);
      AddTree(python->dir, "usr/lib/python3.11", {}, stdlib);
      top.entries = {File("etc/.wh.motd", ""), Dir("srv"), File("srv/data.txt", "layer three\n")};
      py.layers = {os_layer, stdlib, top};
      py.config.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"};
      py.config.user = "nobody";
      py.tag = layout.tag;
      const fs::path fresh = kept.string() + ".new-" + std::to_string(::getpid());
      auto written = mvm::testing::WriteOciLayout(fresh, py);
      if (!written) {
        return written.error().message;
      }
      std::ofstream(fresh / "manifest-digest") << written->manifest_digest;
      std::error_code ec;
      fs::rename(fresh, kept, ec);  // another test process may have won; either tree is the same
      fs::remove_all(fresh, ec);
      layout.manifest_digest = written->manifest_digest;
    }
    if (auto pushed = mvm::testing::PushLayout(layout, registry, "py:3.11"); !pushed) {
      return pushed.error().message;
    }
    python_ref = registry.host() + "/py:3.11";
    python_manifest = layout.manifest_digest;
    return "";
  }

 private:
  std::unique_ptr<mvm::testing::TempDir> layouts_;
};

// A state directory of its own (so pulls are not cache hits left by another test or run) whose
// guest cache is the backend's shared one (the microVM's kernel is built once).
struct FreshState {
  explicit FreshState(std::string_view backend) : dir("mvm-oci-state") {
    auto shared = mvm::testing::BackendTestState(backend);
    EXPECT_TRUE(shared.ok()) << (shared ? "" : shared.error().message);
    if (shared) {
      fs::create_directory_symlink(*shared / "guest", dir.path() / "guest");
      fs::create_directory_symlink(mvm::testing::SharedRootfsCache(), dir.path() / "rootfs");
    }
  }
  const fs::path& path() const { return dir.path(); }
  mvm::testing::TempDir dir;
};

// In a directory of its own: a source file's directory is its project, which ships to /app, and
// the state directory (its image cache, its changing audit log) must not be part of it.
std::string WriteSource(const fs::path& state, const std::string& name, const std::string& text) {
  const fs::path dir = state / "project";
  fs::create_directories(dir);
  fs::path p = dir / name;
  std::ofstream(p) << text;
  return p.string();
}

class OciE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      MVM_MISSING_PREREQUISITE() << "the container backend needs root";
    }
    if (!OciImages::Get().error.empty()) {
      MVM_MISSING_PREREQUISITE() << OciImages::Get().error;
    }
  }
  OciImages& images() { return OciImages::Get(); }
};

TEST_F(OciE2E, TheImagesEntrypointCmdEnvWorkingDirAndUserRunAndThePullIsAudited) {
  FreshState state("container");
  std::string source = WriteSource(state.path(), "tool.py",
                                   "from mvm import workload\n\n"
                                   "@workload(\"tool\", image=\"oci:" +
                                       images().tool_ref +
                                       "\", isolation=\"container\", timeout_seconds=30)\n"
                                       "class Tool:\n    pass\n");
  Result r = Mvmctl({"run", source}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_EQ(r.out, "cmd-ran\n1000\n1000\n/srv\ngreeting=hi-from-env\nhello from the image\n");
  EXPECT_THAT(r.err, HasSubstr("resolved to " + images().tool_manifest));

  // The pull, its verification and the launch are in the audit log, with the digests.
  auto resolved = mvm::testing::AuditRecords(state.path(), "", "image-resolve");
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0]["digest"], images().tool_manifest);
  EXPECT_EQ(mvm::testing::AuditRecords(state.path(), "", "image-fetch").size(), 1u);
  auto made = mvm::testing::AuditRecords(state.path(), "", "image-materialize");
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0]["manifest"], images().tool_manifest);
  std::ifstream log(state.path() / "audit.jsonl");
  std::string line, launch;
  while (std::getline(log, line)) {
    if (line.find("\"event\":\"launch\"") != std::string::npos) {
      launch = line;
    }
  }
  EXPECT_THAT(launch, HasSubstr("\"image\":\"" + images().tool_manifest + "\""));
  EXPECT_THAT(launch, HasSubstr("\"rootfs\":\"" + made[0]["tree"].get<std::string>() + "\""));

  // Arguments replace Cmd and keep Entrypoint; the second run is a cache hit.
  r = Mvmctl({"run", source, "--", "echo args-replace-cmd; whoami"}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_EQ(r.out, "args-replace-cmd\napp\n");
  // As the image's user the command holds no capability, and cannot become root again.
  r = Mvmctl({"run", source, "--", "grep CapEff /proc/self/status; su -c true root; echo su=$?"},
             "", state.path());
  EXPECT_THAT(r.out, HasSubstr("CapEff:\t0000000000000000\n"));
  EXPECT_THAT(r.out, HasSubstr("su=1"));
  EXPECT_EQ(mvm::testing::AuditRecords(state.path(), "", "image-fetch").size(), 1u);
  EXPECT_GE(mvm::testing::AuditRecords(state.path(), "", "image-cache-hit").size(), 1u);

  // `exec` in a sandbox of the image runs in its WorkingDir (unless --cwd) as its User.
  const std::string up = "oci-up-" + std::to_string(::getpid());
  r = Mvmctl({"up", source, "--name", up, "--detach"}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  r = Mvmctl({"exec", up, "--", "sh", "-c", "pwd; id -u; echo $GREETING"}, "", state.path());
  EXPECT_EQ(r.out, "/srv\n1000\nhi-from-env\n") << Describe(r);
  r = Mvmctl({"exec", up, "--cwd", "/", "--", "pwd"}, "", state.path());
  EXPECT_EQ(r.out, "/\n") << Describe(r);
  EXPECT_EQ(Mvmctl({"destroy", up}, "", state.path()).status, 0);

  // The cache lists it by its tag, and verify finds it intact.
  r = Mvmctl({"image", "ls"}, "", state.path());
  EXPECT_THAT(r.out, HasSubstr(images().tool_manifest.substr(0, 19)));
  EXPECT_THAT(r.out, HasSubstr(images().tool_ref));
  r = Mvmctl({"image", "verify"}, "", state.path());
  EXPECT_EQ(r.status, 0) << Describe(r);
}

TEST_F(OciE2E, AChangedTreeIsRefusedAtLaunchAndVerifySaysWhatChanged) {
  FreshState state("container");
  Result r = Mvmctl({"image", "pull", images().tool_ref}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("image=\"oci:" + images().registry.host() + "/tool@" +
                               images().tool_manifest + "\""));
  fs::path motd = state.path() / "images" / ("sha256-" + images().tool_manifest.substr(7)) /
                  "rootfs" / "srv" / "motd";
  ASSERT_TRUE(fs::exists(motd));
  std::ofstream(motd, std::ios::app) << "tampered\n";

  std::string source =
      WriteSource(state.path(), "tool.py",
                  "from mvm import workload\n\n"
                  "@workload(\"tool\", image=\"oci:" +
                      images().registry.host() + "/tool@" + images().tool_manifest +
                      "\", isolation=\"container\", timeout_seconds=30)\n"
                      "class Tool:\n    pass\n");
  r = Mvmctl({"run", source}, "", state.path());
  EXPECT_EQ(r.status, 125) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("something changed it"));
  EXPECT_THAT(r.out, Not(HasSubstr("cmd-ran")));
  auto verify_records = mvm::testing::AuditRecords(state.path(), "", "image-verify");
  ASSERT_FALSE(verify_records.empty());
  EXPECT_EQ(verify_records.back()["ok"], false);

  r = Mvmctl({"image", "verify", images().tool_manifest}, "", state.path());
  EXPECT_EQ(r.status, 4) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("the tree hashes to"));

  // Removed, it is pulled afresh by the pinned digest on the next run.
  r = Mvmctl({"image", "rm", images().tool_manifest.substr(7, 12)}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_EQ(mvm::testing::AuditRecords(state.path(), "", "image-delete").size(), 1u);
  r = Mvmctl({"run", source}, "", state.path());
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("cmd-ran"));
}

TEST_F(OciE2E, AFunctionWorkloadInAnImageWithoutPythonSaysSo) {
  FreshState state("container");
  std::string source = WriteSource(state.path(), "fn.py",
                                   "from mvm import workload\n\n"
                                   "@workload(\"fn\", image=\"oci:" +
                                       images().tool_ref +
                                       "\", isolation=\"container\", timeout_seconds=30)\n"
                                       "def fn():\n    print('never')\n");
  Result r = Mvmctl({"run", source}, "", state.path());
  EXPECT_EQ(r.status, 125) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("its image has no `python3` on its PATH"));
}

constexpr const char* kPythonWorkload = R"py(import os, platform, sys
from mvm import workload

@workload("pyimage", image="oci:%REF%", isolation="%ISOLATION%", timeout_seconds=120)
def main():
    print("python", platform.python_version(), "lang", os.environ.get("LANG"), "uid", os.getuid())
    print("data", open("/srv/data.txt").read().strip(), "motd", os.path.exists("/etc/motd"))
)py";

std::string PythonSource(const fs::path& dir, const std::string& ref,
                         const std::string& isolation) {
  std::string text = kPythonWorkload;
  text.replace(text.find("%REF%"), 5, ref);
  text.replace(text.find("%ISOLATION%"), 11, isolation);
  return WriteSource(dir, "pyimage.py", text);
}

TEST_F(OciE2E, APulledPythonImageRunsAFunctionWorkloadOnTheContainer) {
  FreshState state("container");
  ASSERT_EQ(images().PushPython(), "");
  std::string source = PythonSource(state.path(), images().python_ref, "container");
  Result r = Mvmctl({"run", source}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("python 3.11"));
  EXPECT_THAT(r.out, HasSubstr("lang C.UTF-8 uid 65534"));  // the image's User
  EXPECT_THAT(r.out, HasSubstr("data layer three motd False"));
}

class OciE2EMicrovm : public OciE2E {};

TEST_F(OciE2EMicrovm, APulledPythonImageRunsAFunctionWorkloadOnTheMicrovm) {
  FreshState state("qemu-microvm");
  ASSERT_EQ(images().PushPython(), "");
  std::string source = PythonSource(state.path(), images().python_ref, "microvm");
  Result r = Mvmctl({"run", source, "--backend", "qemu-microvm"}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("python 3.11"));
  EXPECT_THAT(r.out, HasSubstr("lang C.UTF-8 uid 65534"));  // the image's User, applied
  EXPECT_THAT(r.out, HasSubstr("data layer three motd False"));
}

}  // namespace
