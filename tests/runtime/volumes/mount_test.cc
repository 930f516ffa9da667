// Mounting through the volume contract (VolumeBackend::Mount): every registered backend either
// yields the view a sandbox backend takes or, API-only, refuses; a FUSE view is mounted where
// Detach and DetachSandboxViews find it, and is gone after them.

#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/support/os/process.h"
#include "runtime/secrets/secrets.h"
#include "runtime/volumes/encrypted_mount.h"
#include "runtime/volumes/volume.h"
#include "tests/runtime/volumes/s3rver.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::volumes {
namespace {

namespace fs = std::filesystem;
using mvm::testing::TempDir;
using ::testing::HasSubstr;

/// Each backend this build must have, with the view its Mount gives; a backend missing from the
/// registry fails its case, one missing here fails EveryRegisteredBackendHasACase.
const std::set<std::string>& Expected() {
  static const std::set<std::string> names = {"local", "memory", "encrypted", "object"};
  return names;
}

bool IsFuse(const fs::path& dir) {
  struct statfs st {};
  return ::statfs(dir.c_str(), &st) == 0 && st.f_type == 0x65735546;  // FUSE_SUPER_MAGIC
}

TEST(VolumeMount, EveryRegisteredBackendHasACase) {
  std::set<std::string> registered;
  for (const VolumeBackend* backend : All()) {
    EXPECT_TRUE(registered.insert(std::string(backend->name())).second)
        << "registered twice: " << backend->name();
    EXPECT_TRUE(Expected().contains(std::string(backend->name())))
        << "backend `" << backend->name() << "` has no Mount case in this file";
  }
  EXPECT_EQ(registered, Expected());
}

/// An API-only backend: Attach only, the contract's Mount.
class ApiOnlyBackend final : public VolumeBackend {
 public:
  std::string_view name() const override { return "api-only"; }
  std::string_view summary() const override { return "reached through the file operations"; }
  Capabilities capabilities() const override { return {.api_only = true}; }
  ErrorOr<std::unique_ptr<Volume>> Attach(const VolumeSpec&, const AttachContext&) const override {
    return Error{"not here"};
  }
};

TEST(VolumeMount, AnApiOnlyBackendRefusesToMountSayingHowToReachIt) {
  VolumeSpec spec;
  spec.backend = "api-only";
  spec.source = "data";
  spec.target = "/data";
  auto view = ApiOnlyBackend().Mount(spec, AttachContext{});
  ASSERT_FALSE(view);
  EXPECT_THAT(view.error().message, HasSubstr("volume `data` at `/data` is of kind `api-only`"));
  EXPECT_THAT(view.error().message, HasSubstr("API-only"));
  EXPECT_THAT(view.error().message, HasSubstr("`mvmctl fs`"));
  // And so does every registered backend that does not say it is mountable.
  for (const VolumeBackend* backend : All()) {
    if (!backend->capabilities().mountable) {
      spec.backend = std::string(backend->name());
      EXPECT_FALSE(backend->Mount(spec, AttachContext{})) << backend->name();
    }
  }
}

TEST(VolumeMount, AnUnknownKindIsRefusedBeforeItsSourceIsTakenForAPath) {
  VolumeSpec spec;
  spec.backend = "nfs";
  spec.source = "/etc";
  spec.target = "/data";
  auto view = Mount(spec, AttachContext{});
  ASSERT_FALSE(view);
  EXPECT_THAT(view.error().message,
              HasSubstr("volume `/etc` at `/data` is of kind `nfs`, which no sandbox backend"));
}

class VolumeBackendMount : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto found = Find(GetParam());
    ASSERT_TRUE(found) << found.error().message;
    backend_ = *found;
    ASSERT_TRUE(backend_->capabilities().mountable) << GetParam() << " says it is not mountable";
    spec_.backend = GetParam();
    spec_.target = "/data";
    context_.sandbox = "sbx";
    context_.state_dir = state_.path() / "state";
    context_.project_root = state_.path() / "project";
    context_.index = 2;
    fs::create_directories(context_.project_root / "data");
  }
  fs::path Secrets() const { return context_.state_dir / "secrets"; }

  TempDir state_{"mvm-volume-mount"};
  const VolumeBackend* backend_ = nullptr;
  VolumeSpec spec_;
  AttachContext context_;
};

TEST_P(VolumeBackendMount, YieldsItsView) {
  const fs::path view_dir = SandboxMountDir(context_.state_dir, "sbx") / "2";
  if (GetParam() == "local") {
    spec_.source = "data";  // relative to the project
    spec_.read_only = true;
    auto view = backend_->Mount(spec_, context_);
    ASSERT_TRUE(view) << view.error().message;
    EXPECT_EQ(view->kind, MountedView::Kind::kHostDirectory);
    EXPECT_EQ(view->host_dir, fs::canonical(context_.project_root / "data"));
    EXPECT_TRUE(view->read_only);
    EXPECT_FALSE(view->owned_by_sandbox);
    EXPECT_EQ(view->watch, MountedView::Watch::kSharedDirectory);
    EXPECT_TRUE(view->detach_dir.empty());

    spec_.source = "missing";
    spec_.read_only = false;
    auto missing = backend_->Mount(spec_, context_);
    ASSERT_FALSE(missing);
    EXPECT_THAT(
        missing.error().message,
        HasSubstr("volume source `missing` (`" + (context_.project_root / "missing").string() +
                  "`) does not exist; create it or fix `Volume.local(...)`"));
    // A restored VM's volumes are its snapshot's copies: the source need not exist any more.
    context_.from_snapshot = true;
    auto restored = backend_->Mount(spec_, context_);
    ASSERT_TRUE(restored) << restored.error().message;
    EXPECT_TRUE(restored->host_dir.empty());
    EXPECT_FALSE(restored->read_only);
  } else if (GetParam() == "memory") {
    spec_.size_mb = 48;
    spec_.read_only = true;  // a memory volume is always the sandbox's to write
    auto view = backend_->Mount(spec_, context_);
    ASSERT_TRUE(view) << view.error().message;
    EXPECT_EQ(view->kind, MountedView::Kind::kTmpfs);
    EXPECT_EQ(view->size_mb, 48u);
    EXPECT_FALSE(view->read_only);
    EXPECT_EQ(view->watch, MountedView::Watch::kSandboxTmpfs);
    EXPECT_TRUE(view->detach_dir.empty());
    EXPECT_FALSE(fs::exists(context_.state_dir)) << "a sandbox's tmpfs is the sandbox's to make";
  } else {
    const bool object = GetParam() == "object";
    spec_.source = object ? "s3://mvm-test/mounted" : "mounted";
    spec_.read_only = object;
    spec_.size_mb = 16;
    // Refused before anything is made, the secret store included.
    context_.from_snapshot = true;
    context_.owner = MountOwner{0, 0};
    auto restored = backend_->Mount(spec_, context_);
    ASSERT_FALSE(restored);
    EXPECT_THAT(restored.error().message,
                HasSubstr("is " + GetParam() + ", and a full snapshot cannot be restored with " +
                          GetParam() + " volumes yet"));
    context_.from_snapshot = false;
    context_.owner.reset();
    auto no_owner = backend_->Mount(spec_, context_);
    ASSERT_FALSE(no_owner);
    EXPECT_THAT(no_owner.error().message,
                HasSubstr("this sandbox backend does not mount " + GetParam() + " volumes"));
    EXPECT_FALSE(fs::exists(Secrets()));

    if (geteuid() != 0) {
      MVM_MISSING_PREREQUISITE() << "the mounted views are FUSE mounts, which need root";
    }
    const char* tool = object ? "s3fs" : "gocryptfs";
    if (!os::FindProgram(tool)) {
      MVM_MISSING_PREREQUISITE() << tool << " (scripts/bootstrap.sh installs it)";
    }
    std::optional<mvm::testing::S3rver> s3;
    if (object) {
      if (!fs::exists(mvm::testing::S3rver::Program())) {
        MVM_MISSING_PREREQUISITE() << "s3rver is not installed; run scripts/bootstrap.sh";
      }
      fs::create_directories(state_.path() / "s3rver");
      auto started = mvm::testing::S3rver::Start(state_.path() / "s3rver", "mvm-test");
      ASSERT_TRUE(started) << started.error().message;
      s3.emplace(std::move(*started));
      spec_.endpoint = s3->endpoint();
      spec_.credentials_secret = "s3-both";
      // Mount opens the state's store itself: the context lends none.
      auto store = secrets::Store::Open(Secrets());
      ASSERT_TRUE(store) << store.error().message;
      ASSERT_TRUE(store->Set("s3-both", "S3RVER:S3RVER"));
    }
    context_.owner = MountOwner{0, 0};
    auto view = backend_->Mount(spec_, context_);
    ASSERT_TRUE(view) << view.error().message;
    EXPECT_EQ(view->kind, MountedView::Kind::kHostDirectory);
    EXPECT_TRUE(view->owned_by_sandbox);
    EXPECT_EQ(view->read_only, object);
    EXPECT_EQ(view->watch, MountedView::Watch::kWholeView);
    EXPECT_EQ(view->detach_dir, view_dir);
    EXPECT_EQ(view->host_dir.parent_path(), view_dir);
    EXPECT_TRUE(IsFuse(view->host_dir)) << view->host_dir;
    if (!object) {
      // The plaintext view: a file written through it is there, and the key made on first use.
      std::ofstream(view->host_dir / "hello") << "hi";
      EXPECT_TRUE(fs::exists(view->host_dir / "hello"));
      auto store = secrets::Store::Open(Secrets());
      ASSERT_TRUE(store) << store.error().message;
      EXPECT_TRUE(store->Get("volume-mounted")) << "the store's key is in <state>/secrets";
      // Detach of the view itself.
      ASSERT_TRUE(Detach(*view));
    } else {
      // What every end of the sandbox calls (stop, destroy, the watchdog).
      ASSERT_TRUE(DetachSandboxViews(context_.state_dir, "sbx"));
    }
    EXPECT_FALSE(fs::exists(view_dir)) << "detach leaves nothing mounted and no directory";
    EXPECT_TRUE(Detach(*view)) << "detaching twice is Ok";
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, VolumeBackendMount,
                         ::testing::Values("local", "memory", "encrypted", "object"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace mvm::runtime::volumes
